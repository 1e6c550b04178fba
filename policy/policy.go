// Package policy is the judge stage: it evaluates Rego policies (OPA, as a
// library) over one evidence document per image (what inspect, match and
// provenance found) and returns a verdict: allow or deny, with every reason,
// the rule that gave it and how to fix it. A built-in policy set covers the
// common rules; users add their own Rego and tune the built-in rules with
// data files. Exceptions (with a reason and an expiry date) are applied to
// any policy's reasons and stop applying by themselves once expired.
//
// An evaluation that fails (a syntax error, a runtime error, a timeout)
// denies unless the caller chooses otherwise: a broken policy never allows by
// accident.
package policy

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"sigs.k8s.io/yaml"
)

//go:embed builtin/*.rego
var builtinFS embed.FS

// Query is where decisions are read: every package under customs.policy may
// define deny, warn and allow.
const Query = "data.customs.policy"

// Decisions.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Reason is one item a policy emitted.
type Reason struct {
	ID       string         `json:"id"`
	Message  string         `json:"msg"`
	Severity string         `json:"severity,omitempty"`
	Fix      string         `json:"fix,omitempty"`
	Target   map[string]any `json:"target,omitempty"`
	// Policy is the Rego package that emitted it.
	Policy string `json:"policy"`
	// Exception is the exception that waived a deny, when one did.
	Exception *Exception `json:"exception,omitempty"`
}

// Exception waives deny reasons of one rule, for a reason, until a date.
type Exception struct {
	Rule    string `json:"rule"`              // the reason id: vulnerability, secret, root-user, ...
	ID      string `json:"id,omitempty"`      // a vulnerability id or alias, a secret's location, a check id
	Package string `json:"package,omitempty"` // a package name or purl prefix
	Image   string `json:"image,omitempty"`   // an image reference or digest
	Reason  string `json:"reason"`
	Expires string `json:"expires"` // YYYY-MM-DD or RFC 3339
}

// Verdict is the judgement on one image.
type Verdict struct {
	Decision string   `json:"decision"`
	Deny     []Reason `json:"deny"`
	Warn     []Reason `json:"warn"`
	Allow    []Reason `json:"allow,omitempty"`
	// Excepted are deny reasons an active exception waived.
	Excepted []Reason `json:"excepted,omitempty"`
	// Errors are evaluation failures; with the default error mode they deny.
	Errors      []string  `json:"errors,omitempty"`
	Policies    []string  `json:"policies"`
	EvaluatedAt time.Time `json:"evaluated_at"`
}

// Options configure an Engine.
type Options struct {
	// Dirs hold user .rego files (and .json/.yaml data files).
	Dirs []string
	// DataFiles are YAML or JSON documents merged into data (settings,
	// exceptions): {"customs": {"settings": {...}, "exceptions": [...]}}.
	DataFiles []string
	// NoBuiltin leaves out the built-in policy set.
	NoBuiltin bool
	// Timeout bounds one evaluation (default 10s).
	Timeout time.Duration
	// OnError is the decision when evaluation fails: Deny (default) or Allow.
	OnError string
	// MaxReasons bounds what one evaluation may return (default 10000).
	MaxReasons int
}

// Engine is a compiled, prepared policy set: compile once, evaluate many
// images.
type Engine struct {
	query      rego.PreparedEvalQuery
	policies   []string
	exceptions []Exception
	opts       Options
}

// unsafeBuiltins are denied to policies: a policy may not reach the network
// or read the host.
var unsafeBuiltins = map[string]struct{}{
	"http.send": {}, "net.lookup_ip_addr": {}, "opa.runtime": {}, "rego.parse_module": {}, "trace": {},
}

// New compiles the built-in policy (unless NoBuiltin), the user's policies
// and data, and prepares the query.
func New(ctx context.Context, opts Options) (*Engine, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.OnError == "" {
		opts.OnError = Deny
	}
	if opts.OnError != Deny && opts.OnError != Allow {
		return nil, fmt.Errorf("on-error must be %q or %q, not %q", Deny, Allow, opts.OnError)
	}
	if opts.MaxReasons == 0 {
		opts.MaxReasons = 10000
	}
	modules, err := Modules(opts.Dirs, !opts.NoBuiltin)
	if err != nil {
		return nil, err
	}
	data := map[string]any{}
	for _, d := range opts.Dirs {
		if err := loadDataDir(d, data); err != nil {
			return nil, err
		}
	}
	for _, f := range opts.DataFiles {
		if err := loadDataFile(f, data); err != nil {
			return nil, err
		}
	}
	e := &Engine{opts: opts}
	if e.exceptions, err = exceptionsFrom(data); err != nil {
		return nil, err
	}
	args := []func(*rego.Rego){
		rego.Query(Query),
		rego.Store(inmem.NewFromObject(data)),
		rego.StrictBuiltinErrors(true),
		rego.UnsafeBuiltins(unsafeBuiltins),
		rego.SetRegoVersion(ast.RegoV1),
	}
	names := make([]string, 0, len(modules))
	for name := range modules {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		args = append(args, rego.Module(name, modules[name]))
		e.policies = append(e.policies, name)
	}
	if e.query, err = rego.New(args...).PrepareForEval(ctx); err != nil {
		return nil, fmt.Errorf("compiling policies: %w", err)
	}
	return e, nil
}

// Modules reads the .rego files of dirs (tests excluded), plus the built-in
// set when asked.
func Modules(dirs []string, builtin bool) (map[string]string, error) {
	mods := map[string]string{}
	if builtin {
		err := fs.WalkDir(builtinFS, "builtin", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") {
				return err
			}
			b, err := builtinFS.ReadFile(p)
			mods["builtin:"+p] = string(b)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") {
				return err
			}
			b, err := readBounded(p)
			if err != nil {
				return err
			}
			mods[p] = string(b)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading policies in %s: %w", dir, err)
		}
	}
	return mods, nil
}

// BuiltinFiles returns the built-in policy set and its tests, by file name.
func BuiltinFiles() map[string]string {
	out := map[string]string{}
	ents, _ := builtinFS.ReadDir("builtin")
	for _, e := range ents {
		b, _ := builtinFS.ReadFile("builtin/" + e.Name())
		out[e.Name()] = string(b)
	}
	return out
}

func readBounded(p string) ([]byte, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if fi.Size() > 4<<20 {
		return nil, fmt.Errorf("%s is %d bytes; policy and data files are limited to 4 MiB", p, fi.Size())
	}
	return os.ReadFile(p)
}

func loadDataDir(dir string, data map[string]any) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(p) {
		case ".json", ".yaml", ".yml":
			return loadDataFile(p, data)
		}
		return nil
	})
}

// loadDataFile merges a YAML or JSON document into data.
func loadDataFile(p string, data map[string]any) error {
	b, err := readBounded(p)
	if err != nil {
		return err
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return fmt.Errorf("data file %s: %w", p, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(j, &doc); err != nil {
		return fmt.Errorf("data file %s: must be an object: %w", p, err)
	}
	merge(data, doc)
	return nil
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				merge(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
}

func exceptionsFrom(data map[string]any) ([]Exception, error) {
	c, _ := data["customs"].(map[string]any)
	raw, ok := c["exceptions"]
	if !ok {
		return nil, nil
	}
	b, _ := json.Marshal(raw)
	var out []Exception
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("customs.exceptions: %w", err)
	}
	for i, e := range out {
		if e.Rule == "" || e.Reason == "" || e.Expires == "" {
			return nil, fmt.Errorf("customs.exceptions[%d]: rule, reason and expires are required (an exception without an end never ends)", i)
		}
		if _, err := expiry(e.Expires); err != nil {
			return nil, fmt.Errorf("customs.exceptions[%d]: %w", i, err)
		}
	}
	return out, nil
}

func expiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expires %q: want YYYY-MM-DD or RFC 3339", s)
	}
	return t.Add(24*time.Hour - time.Nanosecond), nil // the whole day
}

// Evaluate judges one evidence document. It never returns an error: a
// failure is recorded in the verdict and decides by OnError.
func (e *Engine) Evaluate(ctx context.Context, ev *Evidence) *Verdict {
	v := &Verdict{Policies: e.policies, EvaluatedAt: ev.Now, Deny: []Reason{}, Warn: []Reason{}}
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	input, err := ev.Value()
	if err != nil {
		v.Errors = append(v.Errors, "building the evidence document: "+err.Error())
		return e.decide(v)
	}
	rs, err := e.query.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		msg := err.Error()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			msg = fmt.Sprintf("policy evaluation did not finish within %s: %v", e.opts.Timeout, err)
		}
		v.Errors = append(v.Errors, msg)
		return e.decide(v)
	}
	if len(rs) == 1 && len(rs[0].Expressions) == 1 {
		count := 0
		e.collect(rs[0].Expressions[0].Value, "customs.policy", v, &count, 0)
		if count > e.opts.MaxReasons {
			v.Errors = append(v.Errors, fmt.Sprintf("policies returned more than %d reasons; the rest were dropped", e.opts.MaxReasons))
		}
	}
	e.applyExceptions(v, ev)
	return e.decide(v)
}

func (e *Engine) decide(v *Verdict) *Verdict {
	v.Decision = Allow
	if len(v.Deny) > 0 || (len(v.Errors) > 0 && e.opts.OnError == Deny) {
		v.Decision = Deny
	}
	sortReasons(v.Deny)
	sortReasons(v.Warn)
	return v
}

func sortReasons(rs []Reason) {
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].ID != rs[j].ID {
			return rs[i].ID < rs[j].ID
		}
		return rs[i].Message < rs[j].Message
	})
}

// collect walks the decision tree (package -> deny/warn/allow) and gathers reasons.
func (e *Engine) collect(val any, pkg string, v *Verdict, count *int, depth int) {
	obj, ok := val.(map[string]any)
	if !ok || depth > 16 {
		return
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		child := obj[k]
		var dst *[]Reason
		switch k {
		case "deny":
			dst = &v.Deny
		case "warn":
			dst = &v.Warn
		case "allow":
			dst = &v.Allow
		}
		if dst == nil {
			if _, isObj := child.(map[string]any); isObj {
				e.collect(child, pkg+"."+k, v, count, depth+1)
			}
			continue
		}
		items, ok := child.([]any)
		if !ok {
			if b, isBool := child.(bool); isBool && k == "deny" && b {
				items = []any{"deny is true"}
			} else {
				continue
			}
		}
		for _, it := range items {
			if *count++; *count > e.opts.MaxReasons {
				return
			}
			*dst = append(*dst, toReason(it, pkg))
		}
	}
}

func toReason(it any, pkg string) Reason {
	r := Reason{Policy: pkg}
	switch x := it.(type) {
	case string:
		r.Message = x
	case map[string]any:
		r.ID, _ = x["id"].(string)
		r.Message, _ = x["msg"].(string)
		if r.Message == "" {
			r.Message, _ = x["message"].(string)
		}
		r.Severity, _ = x["severity"].(string)
		r.Fix, _ = x["fix"].(string)
		r.Target, _ = x["target"].(map[string]any)
	default:
		b, _ := json.Marshal(x)
		r.Message = string(b)
	}
	if len(r.Message) > 4096 {
		r.Message = r.Message[:4096] + "…"
	}
	return r
}

// applyExceptions moves deny reasons an active exception matches to
// Excepted, and warns about exceptions that expired.
func (e *Engine) applyExceptions(v *Verdict, ev *Evidence) {
	if len(e.exceptions) == 0 {
		return
	}
	kept := v.Deny[:0]
	for _, r := range v.Deny {
		if x := e.matching(r, ev); x != nil {
			r.Exception = x
			v.Excepted = append(v.Excepted, r)
			continue
		}
		kept = append(kept, r)
	}
	v.Deny = kept
	for i := range e.exceptions {
		x := &e.exceptions[i]
		if end, _ := expiry(x.Expires); ev.Now.After(end) {
			v.Warn = append(v.Warn, Reason{ID: "exception-expired", Policy: "customs",
				Message: fmt.Sprintf("the exception for %s %s%s expired on %s and no longer applies (%s)", x.Rule, x.ID, pkgNote(x.Package), x.Expires, x.Reason),
				Fix:     "fix what it waived, or renew the exception with a new expiry date and reason"})
		}
	}
}

func pkgNote(p string) string {
	if p == "" {
		return ""
	}
	return " in " + p
}

func (e *Engine) matching(r Reason, ev *Evidence) *Exception {
	for i := range e.exceptions {
		x := &e.exceptions[i]
		if x.Rule != r.ID {
			continue
		}
		if end, _ := expiry(x.Expires); ev.Now.After(end) {
			continue
		}
		if x.ID != "" && !targetNames(r.Target, x.ID) {
			continue
		}
		if x.Package != "" {
			name, _ := r.Target["package"].(string)
			purl, _ := r.Target["purl"].(string)
			if name != x.Package && !strings.HasPrefix(purl, x.Package) {
				continue
			}
		}
		if x.Image != "" && x.Image != ev.Image.Ref && x.Image != ev.Image.ManifestDigest && x.Image != ev.Image.ConfigDigest {
			continue
		}
		return x
	}
	return nil
}

// targetNames says whether a reason's target carries an id: a
// vulnerability or one of its aliases, a secret's location, a check.
func targetNames(t map[string]any, id string) bool {
	for _, k := range []string{"vulnerability", "location", "check", "secret", "label", "registry"} {
		if s, _ := t[k].(string); s == id {
			return true
		}
	}
	if al, ok := t["aliases"].([]any); ok {
		for _, a := range al {
			if s, _ := a.(string); s == id {
				return true
			}
		}
	}
	return false
}

// jsonValue converts any JSON-marshalable value to an OPA value.
func jsonValue(v any) (ast.Value, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return ast.ValueFromReader(bytes.NewReader(b))
}
