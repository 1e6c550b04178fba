package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/policy"
)

// CheckSchema names the check report format.
const CheckSchema = "customs.check/v1"

// CheckReport is what `customs check -f json` writes: the verdict, a
// summary, and the evidence document the policies read.
type CheckReport struct {
	Schema   string           `json:"schema"`
	Image    string           `json:"image"`
	ImageID  string           `json:"image_id"`
	Decision string           `json:"decision"`
	Deny     []policy.Reason  `json:"deny"`
	Warn     []policy.Reason  `json:"warn"`
	Allow    []policy.Reason  `json:"allow,omitempty"`
	Excepted []policy.Reason  `json:"excepted,omitempty"`
	Errors   []string         `json:"errors,omitempty"`
	Policies []string         `json:"policies"`
	Summary  CheckSummary     `json:"summary"`
	Evidence *policy.Evidence `json:"evidence"`
}

// CheckSummary counts what the evidence holds.
type CheckSummary struct {
	Vulnerabilities   customs.Summary `json:"vulnerabilities"`
	Secrets           int             `json:"secrets"`
	Misconfigurations int             `json:"misconfigurations"`
	Signatures        int             `json:"signatures"`
	Packages          int             `json:"packages"`
}

// WriteVerdict writes a verdict in a format: table, json or sarif.
func WriteVerdict(w io.Writer, v *policy.Verdict, ev *policy.Evidence, f Format, opts Options) error {
	switch f {
	case JSON:
		rep := CheckReport{Schema: CheckSchema, Image: ev.Image.Ref, ImageID: ev.Image.ID, Decision: v.Decision, Deny: v.Deny, Warn: v.Warn,
			Allow: v.Allow, Excepted: v.Excepted, Errors: v.Errors, Policies: v.Policies, Evidence: ev,
			Summary: CheckSummary{Vulnerabilities: ev.Summary, Secrets: len(ev.Secrets), Misconfigurations: len(ev.Misconfigurations),
				Signatures: len(ev.Signatures), Packages: len(ev.Packages)}}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case Table:
		return verdictTable(w, v, ev, opts)
	case SARIF:
		return verdictSARIF(w, v, ev)
	}
	return fmt.Errorf("unknown check format %q (table, json, sarif)", f)
}

func verdictTable(w io.Writer, v *policy.Verdict, ev *policy.Evidence, opts Options) error {
	c := func(code, s string) string {
		if !opts.Color {
			return s
		}
		return code + s + ansiReset
	}
	head := c(ansiBold+"\033[32m", "ALLOW")
	if v.Decision == policy.Deny {
		head = c(ansiBold+ansiRed, "DENY")
	}
	fmt.Fprintf(w, "%s  %s (%s)\n", head, ev.Image.Ref, shortDigest(ev.Image.ID))
	fmt.Fprintf(w, "%d reasons to deny, %d warnings, %d excepted; %d vulnerabilities, %d secrets, %d misconfigurations, %d signatures\n",
		len(v.Deny), len(v.Warn), len(v.Excepted), ev.Summary.Total, len(ev.Secrets), len(ev.Misconfigurations), len(ev.Signatures))
	section := func(title, color string, rs []policy.Reason) {
		if len(rs) == 0 {
			return
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, c(ansiBold, title))
		for _, r := range rs {
			fmt.Fprintf(w, "  %s %-22s %s\n", c(color, fmt.Sprintf("%-8s", firstNonEmpty(r.Severity, "-"))), r.ID, r.Message)
			if r.Fix != "" {
				fmt.Fprintf(w, "  %s %-22s fix: %s\n", strings.Repeat(" ", 8), "", r.Fix)
			}
			if r.Exception != nil {
				fmt.Fprintf(w, "  %s %-22s excepted until %s: %s\n", strings.Repeat(" ", 8), "", r.Exception.Expires, r.Exception.Reason)
			}
		}
	}
	section("Deny", ansiRed, v.Deny)
	section("Warn", ansiYellow, v.Warn)
	section("Excepted", ansiGray, v.Excepted)
	for _, e := range v.Errors {
		fmt.Fprintln(w, c(ansiRed, "policy error: ")+e)
	}
	return nil
}

func verdictSARIF(w io.Writer, v *policy.Verdict, ev *policy.Evidence) error {
	rep, err := sarif.New(sarif.Version210)
	if err != nil {
		return err
	}
	run := sarif.NewRunWithInformationURI("customs", "https://github.com/customs-sec/customs")
	seen := map[string]bool{}
	add := func(r policy.Reason, level string) {
		id := firstNonEmpty(r.ID, "policy")
		if !seen[id] {
			seen[id] = true
			run.AddRule(id).WithShortDescription(sarif.NewMultiformatMessageString(id)).
				WithTextHelp(firstNonEmpty(r.Fix, r.Message)).
				WithProperties(sarif.Properties{"tags": []string{"policy", "security"}, "policy": r.Policy})
		}
		loc := "image"
		if l, ok := r.Target["location"].(string); ok && strings.HasPrefix(l, "/") {
			loc = strings.TrimPrefix(l, "/")
		}
		msg := r.Message
		if r.Fix != "" {
			msg += "\nFix: " + r.Fix
		}
		res := run.CreateResultForRule(id).WithLevel(level).WithMessage(sarif.NewTextMessage(msg))
		res.AddLocation(sarif.NewLocationWithPhysicalLocation(sarif.NewPhysicalLocation().
			WithArtifactLocation(sarif.NewSimpleArtifactLocation(loc).WithUriBaseId("ROOTPATH")).WithRegion(sarif.NewSimpleRegion(1, 1))))
	}
	for _, r := range v.Deny {
		add(r, "error")
	}
	for _, r := range v.Warn {
		add(r, "warning")
	}
	rep.AddRun(run)
	return rep.PrettyWrite(w)
}
