package policy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/customs-sec/customs"
)

// Effects of a policy on one vulnerability finding.
const (
	EffectNone     = ""
	EffectWarn     = "warn"
	EffectExcepted = "excepted"
	EffectDeny     = Deny
)

// FindingLocal says whether what the policy makes of a vulnerability
// finding depends on that finding alone (and the clock), never on the rest
// of the image: true for the built-in set with settings, and exceptions not
// scoped to an image, but no user policies (which may weigh findings
// together). The server then judges a changed finding once for every image
// holding it instead of re-running the policy per image.
func (e *Engine) FindingLocal() bool {
	for _, p := range e.policies {
		if !strings.HasPrefix(p, "builtin:") {
			return false
		}
	}
	for _, x := range e.exceptions {
		if x.Image != "" {
			return false
		}
	}
	return true
}

// FindingEffects evaluates findings on their own (an image holding nothing
// else) and returns each one's effect, in order, and the deny reasons they
// raise. Only meaningful when FindingLocal.
func (e *Engine) FindingEffects(ctx context.Context, findings []customs.Finding, now time.Time) ([]string, []Reason, error) {
	if !e.FindingLocal() {
		return nil, nil, fmt.Errorf("the policy set is not finding-local")
	}
	ev := NewEvidence(&customs.Inventory{}, &customs.ScanResult{Findings: findings}, nil, 0, now)
	v := e.Evaluate(ctx, ev)
	if len(v.Errors) > 0 {
		return nil, nil, fmt.Errorf("evaluating findings: %s", strings.Join(v.Errors, "; "))
	}
	eff := FindingEffects(v)
	out := make([]string, len(findings))
	for i, f := range findings {
		out[i] = eff[FindingKey(f)]
	}
	var deny []Reason
	for _, r := range v.Deny {
		if _, ok := r.Target["vulnerability"]; ok {
			deny = append(deny, r)
		}
	}
	return out, deny, nil
}

// FindingKey names a finding the way a reason's target does.
func FindingKey(f customs.Finding) string {
	return f.ID + "\x00" + f.Package.Name + "\x00" + f.Package.PURL
}

func reasonKey(r Reason) (string, bool) {
	id, ok := r.Target["vulnerability"].(string)
	if !ok {
		return "", false
	}
	name, _ := r.Target["package"].(string)
	purl, _ := r.Target["purl"].(string)
	return id + "\x00" + name + "\x00" + purl, true
}

// FindingEffects maps the findings a verdict's reasons are about (by
// FindingKey) to the strongest effect on each: deny, excepted, warn.
func FindingEffects(v *Verdict) map[string]string {
	out := map[string]string{}
	set := func(rs []Reason, eff string) {
		for _, r := range rs {
			if k, ok := reasonKey(r); ok && rank(eff) > rank(out[k]) {
				out[k] = eff
			}
		}
	}
	set(v.Warn, EffectWarn)
	set(v.Excepted, EffectExcepted)
	set(v.Deny, EffectDeny)
	return out
}

func rank(eff string) int {
	switch eff {
	case EffectDeny:
		return 3
	case EffectExcepted:
		return 2
	case EffectWarn:
		return 1
	}
	return 0
}

// BaseDecision is the decision a verdict would have without its
// vulnerability findings: deny when another reason denies, or evaluation
// failed and failures deny.
func BaseDecision(v *Verdict) string {
	for _, r := range v.Deny {
		if _, ok := reasonKey(r); !ok {
			return Deny
		}
	}
	if v.Decision == Deny && len(v.Errors) > 0 {
		return Deny
	}
	return Allow
}
