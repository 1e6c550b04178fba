package version

import (
	"strings"
	"testing"

	modsemver "golang.org/x/mod/semver"
)

// TestSemVerAgainstXMod checks strict SemVer 2.0.0 against x/mod/semver,
// which implements the same precedence (with a "v" prefix and shorthands
// that strict SemVer lacks), on the crates.io versions of the advisory
// corpus and a list of edge cases.
func TestSemVerAgainstXMod(t *testing.T) {
	var vs []string
	for _, f := range corpusFiles(t, "crates/*.json") {
		for _, a := range readOSV(t, f).Affected {
			for _, r := range a.Ranges {
				for _, e := range r.Events {
					for _, v := range []string{e.Introduced, e.Fixed, e.LastAffected} {
						if v != "" {
							vs = append(vs, v)
						}
					}
				}
			}
		}
	}
	for _, l := range readLines(t, "go_versions.txt") {
		vs = append(vs, strings.TrimPrefix(l, "v"))
	}
	vs = append(vs, readLines(t, "npm_versions_sample.txt")...)
	n := 0
	for _, p := range pairsFrom(vs) {
		got, err := semverScheme{}.Compare(p.a, p.b)
		va, vb := "v"+p.a, "v"+p.b
		strict := func(s string) bool {
			return modsemver.IsValid("v"+s) && strings.Count(strings.SplitN(strings.SplitN(s, "-", 2)[0], "+", 2)[0], ".") == 2
		}
		if !strict(p.a) || !strict(p.b) {
			if err == nil {
				t.Errorf("Compare(%q, %q) = %d; not strict SemVer", p.a, p.b, got)
			}
			continue
		}
		n++
		if err != nil {
			t.Errorf("Compare(%q, %q): %v", p.a, p.b, err)
		} else if want := modsemver.Compare(va, vb); got != want {
			t.Errorf("Compare(%q, %q) = %d, x/mod says %d", p.a, p.b, got, want)
		}
	}
	t.Logf("semver: %d pairs checked against golang.org/x/mod/semver", n)
	// The precedence example of SemVer 2.0.0, section 11.
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"}
	for i := 0; i+1 < len(order); i++ {
		if c, err := (semverScheme{}).Compare(order[i], order[i+1]); err != nil || c != -1 {
			t.Errorf("Compare(%q, %q) = %d, %v; want -1", order[i], order[i+1], c, err)
		}
	}
}
