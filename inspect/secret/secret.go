// Package secret finds credentials in images: in the text files of every
// layer (a file written in one layer and deleted in a later one still ships
// in the image, so every layer's copy is read) and in the image
// configuration (environment, labels, build history). Rules are data
// (rules.yaml, extendable by users); a keyword must appear before a rule's
// regular expression runs; matches are masked to their first and last
// characters, so the full secret never reaches a report or a log.
package secret

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
)

//go:embed rules.yaml
var builtinRules []byte

// MaxFileSize is the largest file scanned; secrets hide in configuration,
// not in multi-megabyte files.
const MaxFileSize = 2 << 20

// Rule is one kind of secret.
type Rule struct {
	ID         string   `yaml:"id"`
	Category   string   `yaml:"category"`
	Title      string   `yaml:"title"`
	Severity   string   `yaml:"severity"`
	Keywords   []string `yaml:"keywords"`
	Regex      string   `yaml:"regex"`
	Paths      []string `yaml:"paths"`
	MinEntropy float64  `yaml:"min_entropy"`
	Allow      []string `yaml:"allow"`
	Disabled   bool     `yaml:"disabled"`

	re       *regexp.Regexp
	paths    []*regexp.Regexp
	allow    []*regexp.Regexp
	keywords [][]byte
	group    int
}

type ruleFile struct {
	Rules  []Rule `yaml:"rules"`
	Config struct {
		NameRegex   string   `yaml:"name_regex"`
		AllowValues []string `yaml:"allow_values"`
	} `yaml:"config"`
	Allow struct {
		Paths []string `yaml:"paths"`
		// Rules maps a rule id to paths where it does not apply.
		Rules map[string][]string `yaml:"rules"`
	} `yaml:"allow"`
}

// Rules is a compiled rule set.
type Rules struct {
	rules       []*Rule
	allowPaths  []*regexp.Regexp
	ruleAllow   map[string][]*regexp.Regexp
	configName  *regexp.Regexp
	configAllow []*regexp.Regexp
}

// LoadRules compiles the built-in rules, then each extra file in order:
// a rule with a known id replaces it (or, with disabled: true, removes it),
// a new id adds a rule, allow lists extend.
func LoadRules(extra ...string) (*Rules, error) { return loadRules(builtinRules, extra...) }

// BuiltinRules returns the built-in rule file (rules.yaml).
func BuiltinRules() []byte { return append([]byte(nil), builtinRules...) }

// CompileRules compiles a rule file's contents alone, without the built-in rules.
func CompileRules(data []byte) (*Rules, error) { return loadRules(data) }

func loadRules(baseData []byte, extra ...string) (*Rules, error) {
	var files []ruleFile
	names := []string{"(built-in)"}
	var base ruleFile
	if err := yaml.Unmarshal(baseData, &base); err != nil {
		return nil, fmt.Errorf("secret rules: %w", err)
	}
	files = append(files, base)
	for _, p := range extra {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var f ruleFile
		if err := yaml.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("secret rules %s: %w", p, err)
		}
		files = append(files, f)
		names = append(names, p)
	}
	rs := &Rules{ruleAllow: map[string][]*regexp.Regexp{}}
	byID := map[string]int{}
	for i, f := range files {
		if err := rs.add(f, byID); err != nil {
			return nil, fmt.Errorf("secret rules %s: %w", names[i], err)
		}
	}
	live := rs.rules[:0]
	for _, r := range rs.rules {
		if r != nil {
			live = append(live, r)
		}
	}
	rs.rules = live
	return rs, nil
}

// add merges one rule file: a rule with a known id replaces (or, disabled,
// removes) the earlier one.
func (rs *Rules) add(f ruleFile, byID map[string]int) error {
	for i := range f.Rules {
		r := f.Rules[i]
		if r.ID == "" {
			return fmt.Errorf("rule %d has no id", i+1)
		}
		if at, ok := byID[r.ID]; ok {
			if r.Disabled {
				rs.rules[at] = nil
				continue
			}
			if err := r.compile(); err != nil {
				return fmt.Errorf("rule %s: %w", r.ID, err)
			}
			rs.rules[at] = &r
			continue
		}
		if r.Disabled {
			continue
		}
		if err := r.compile(); err != nil {
			return fmt.Errorf("rule %s: %w", r.ID, err)
		}
		byID[r.ID] = len(rs.rules)
		rs.rules = append(rs.rules, &r)
	}
	for _, p := range f.Allow.Paths {
		re, err := regexp.Compile(p)
		if err != nil {
			return fmt.Errorf("secret allow path %q: %w", p, err)
		}
		rs.allowPaths = append(rs.allowPaths, re)
	}
	for id, ps := range f.Allow.Rules {
		for _, p := range ps {
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("secret allow path %q for %s: %w", p, id, err)
			}
			rs.ruleAllow[id] = append(rs.ruleAllow[id], re)
		}
	}
	if f.Config.NameRegex != "" {
		re, err := regexp.Compile(f.Config.NameRegex)
		if err != nil {
			return fmt.Errorf("secret config name_regex: %w", err)
		}
		rs.configName = re
	}
	for _, p := range f.Config.AllowValues {
		re, err := regexp.Compile(p)
		if err != nil {
			return fmt.Errorf("secret config allow_values %q: %w", p, err)
		}
		rs.configAllow = append(rs.configAllow, re)
	}
	return nil
}

func (r *Rule) compile() error {
	var err error
	if r.re, err = regexp.Compile(r.Regex); err != nil {
		return fmt.Errorf("secret rule %s: %w", r.ID, err)
	}
	r.group = r.re.SubexpIndex("secret")
	for _, p := range r.Paths {
		re, err := regexp.Compile(p)
		if err != nil {
			return fmt.Errorf("secret rule %s path %q: %w", r.ID, p, err)
		}
		r.paths = append(r.paths, re)
	}
	for _, a := range r.Allow {
		re, err := regexp.Compile(a)
		if err != nil {
			return fmt.Errorf("secret rule %s allow %q: %w", r.ID, a, err)
		}
		r.allow = append(r.allow, re)
	}
	for _, k := range r.Keywords {
		r.keywords = append(r.keywords, bytes.ToLower([]byte(k)))
	}
	if r.Severity == "" {
		r.Severity = customs.SeverityHigh
	}
	return nil
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// Finding is a secret found in some text, before it is placed in an image.
type Finding struct {
	Rule  *Rule
	Line  int
	Match string // masked
}

// Scan finds secrets in one file's content. p is the file's path (relative,
// slash-separated) for rules limited to some paths.
func (rs *Rules) Scan(p string, content []byte) []Finding {
	if matchAny(rs.allowPaths, p) {
		return nil
	}
	var lower []byte
	var out []Finding
	for _, r := range rs.rules {
		if len(r.paths) > 0 && !matchAny(r.paths, p) {
			continue
		}
		if matchAny(rs.ruleAllow[r.ID], p) {
			continue
		}
		if len(r.keywords) > 0 {
			if lower == nil {
				lower = bytes.ToLower(content)
			}
			hit := false
			for _, k := range r.keywords {
				if bytes.Contains(lower, k) {
					hit = true
					break
				}
			}
			if !hit {
				continue
			}
		}
		for _, loc := range r.re.FindAllSubmatchIndex(content, 100) {
			start, end := loc[0], loc[1]
			if r.group > 0 && loc[2*r.group] >= 0 {
				start, end = loc[2*r.group], loc[2*r.group+1]
			}
			s := strings.TrimSpace(string(content[start:end]))
			if matchAny(r.allow, s) {
				continue
			}
			if r.MinEntropy > 0 && Entropy(s) < r.MinEntropy {
				continue
			}
			out = append(out, Finding{Rule: r, Line: 1 + bytes.Count(content[:loc[0]], []byte{'\n'}), Match: Mask(s)})
		}
	}
	return out
}

// Mask keeps a secret's first and last characters and hides the rest.
func Mask(s string) string {
	s = strings.Join(strings.Fields(s), "")
	n := len(s)
	switch {
	case n == 0:
		return ""
	case n < 8:
		return strings.Repeat("*", n)
	case n < 16:
		return s[:1] + strings.Repeat("*", n-2) + s[n-1:]
	}
	shown := 3
	if n > 40 {
		return s[:shown] + "…(" + fmt.Sprint(n) + " characters)…" + s[n-2:]
	}
	return s[:shown] + strings.Repeat("*", n-shown-2) + s[n-2:]
}

// Entropy is the Shannon entropy of s in bits per character.
func Entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h := 0.0
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// Cataloger scans the text files of every layer.
type Cataloger struct {
	Rules *Rules
}

// New returns a cataloger with the built-in rules plus extra rule files.
func New(extra ...string) (*Cataloger, error) {
	rs, err := LoadRules(extra...)
	if err != nil {
		return nil, err
	}
	return &Cataloger{Rules: rs}, nil
}

// binaryExt are extensions never worth reading for secrets.
var binaryExt = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".ico": true, ".svg": false, ".woff": true, ".woff2": true, ".ttf": true,
	".gz": true, ".xz": true, ".bz2": true, ".zst": true, ".zip": true, ".jar": true, ".whl": true, ".so": true, ".a": true, ".o": true,
	".mo": true, ".pyc": true, ".class": true, ".db": true, ".sqlite": true, ".deb": true, ".rpm": true, ".apk": true,
}

// Name implements inspect.Cataloger.
func (*Cataloger) Name() string { return "secret" }

// Wants implements inspect.Cataloger: regular files up to MaxFileSize.
func (*Cataloger) Wants(p string, e *image.Entry) bool {
	if e.Kind != image.KindFile || e.Size == 0 || e.Size > MaxFileSize {
		return false
	}
	return !binaryExt[strings.ToLower(path.Ext(p))]
}

// WantsHeader implements inspect.HeaderFilter: text only (no NUL byte in
// the first bytes).
func (*Cataloger) WantsHeader(p string, h []byte) bool { return bytes.IndexByte(h, 0) < 0 }

// Parse implements inspect.Cataloger.
func (c *Cataloger) Parse(ctx context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	b, err := inspect.ReadAll(r, MaxFileSize)
	if err != nil {
		return nil, err
	}
	fs := c.Rules.Scan(f.Path, b)
	if len(fs) == 0 {
		return nil, nil
	}
	out := &inspect.Parsed{}
	for _, x := range fs {
		out.Secrets = append(out.Secrets, customs.Secret{RuleID: x.Rule.ID, Category: x.Rule.Category, Title: x.Rule.Title,
			Severity: x.Rule.Severity, Location: "/" + f.Path, Line: x.Line, Match: x.Match})
	}
	return out, nil
}

// Collect implements inspect.Cataloger; secrets are not packages.
func (*Cataloger) Collect(context.Context, *inspect.Env, []inspect.Result) ([]customs.Package, []string) {
	return nil, nil
}

// CollectFacts implements inspect.FactCollector: every secret of every
// layer, with the layer that removed its file when one did.
func (*Cataloger) CollectFacts(ctx context.Context, env *inspect.Env, results []inspect.Result) inspect.Facts {
	var f inspect.Facts
	for _, r := range results {
		if r.Parsed == nil {
			continue
		}
		for _, s := range r.Parsed.Secrets {
			s.Layer = env.LayerRef(r.Layer)
			s.DeletedIn = env.HiddenRef(r)
			f.Secrets = append(f.Secrets, s)
		}
	}
	return f
}
