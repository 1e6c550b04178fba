package version

import (
	"strings"
	"testing"
)

// Schemes whose reference tool does not run here are checked against the
// upstream projects' own published test vectors (see testdata/README.md).

func TestAPKUpstreamVectors(t *testing.T) {
	s := apkScheme{}
	n := 0
	for _, l := range readLines(t, "apk_version.data") {
		l, _, _ = strings.Cut(l, "#")
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("bad line %q", l)
		}
		a, op, b := f[0], f[1], f[2]
		got, err := s.Compare(a, b)
		if s.Valid(a) != nil || s.Valid(b) != nil {
			// The data compares a few versions apk_version_validate()
			// rejects ("1.0bc", "23_foo"); we refuse to order those.
			if err == nil {
				t.Errorf("Compare(%q, %q) = %d; want an error for an invalid version", a, b, got)
			}
			continue
		}
		want := map[string]int{"<": -1, "=": 0, ">": 1}[op]
		if err != nil || got != want {
			t.Errorf("Compare(%q, %q) = %d, %v; apk-tools test data says %s", a, b, got, err, op)
		}
		if back, _ := s.Compare(b, a); back != -want {
			t.Errorf("Compare(%q, %q) = %d; want %d", b, a, back, -want)
		}
		n++
	}
	t.Logf("apk: %d upstream vectors checked", n)
	for _, v := range []string{"1.0bc", "23_foo", "1.0_", "1.0-r", "1.0-rx", "1.0~", "1.0~ABC", "a1", "", "1.0.", "1..0", "1.0a.1", "1.0_p1.2", "1.0-r1-r2", "1.0-r1_p1", "1.0~abc~def"} {
		if s.Valid(v) == nil {
			t.Errorf("Valid(%q) = nil; apk-tools rejects it", v)
		}
	}
	for _, v := range []string{"1.0~abc123", "1.0_alpha1_pre2", "1.0_p1~f00d-r3", "0", "1.0a_rc1-r0"} {
		if err := s.Valid(v); err != nil {
			t.Errorf("Valid(%q) = %v; apk-tools accepts it", v, err)
		}
	}
}

// readVectors reads tab-separated vector lines.
func readVectors(t *testing.T, name string) [][]string {
	t.Helper()
	var out [][]string
	for _, l := range readLines(t, name) {
		out = append(out, strings.Split(l, "\t"))
	}
	return out
}

func TestNuGetUpstreamVectors(t *testing.T) {
	s := nugetScheme{}
	n := 0
	for _, f := range readVectors(t, "nuget_vectors.txt") {
		n++
		switch f[0] {
		case "valid":
			if err := s.Valid(f[1]); err != nil {
				t.Errorf("Valid(%q) = %v; NuGet accepts it", f[1], err)
			}
		case "invalid":
			if s.Valid(f[1]) == nil {
				t.Errorf("Valid(%q) = nil; NuGet rejects it", f[1])
			}
		case "<", "=":
			want := map[string]int{"<": -1, "=": 0}[f[0]]
			got, err := s.Compare(f[1], f[2])
			if err != nil || got != want {
				t.Errorf("Compare(%q, %q) = %d, %v; NuGet's tests say %s", f[1], f[2], got, err, f[0])
			}
			if back, _ := s.Compare(f[2], f[1]); back != -want {
				t.Errorf("Compare(%q, %q) = %d; want %d", f[2], f[1], back, -want)
			}
		default:
			t.Fatalf("bad vector %q", f)
		}
	}
	t.Logf("nuget: %d upstream vectors checked", n)
}

func TestComposerUpstreamVectors(t *testing.T) {
	n := 0
	for _, f := range readVectors(t, "composer_vectors.txt") {
		n++
		norm, branch, ok := composerNormalize(f[0])
		got := norm
		switch {
		case !ok:
			got = "!invalid"
		case branch:
			got = "!branch"
		}
		if got != f[1] {
			t.Errorf("normalize(%q) = %q; composer/semver's tests say %q", f[0], got, f[1])
		}
	}
	// Orders composer/semver's ComparatorTest and PHP's version_compare
	// documentation spell out.
	s := composerScheme{}
	for _, p := range [][2]string{
		{"1.25.0", "1.26.0"}, {"1.0.0-beta", "1.0.0"}, {"1.0.0-alpha", "1.0.0-beta"}, {"1.0.0-RC1", "1.0.0"},
		{"1.0.0-dev", "1.0.0-alpha"}, {"1.0.0", "1.0.0-p1"}, {"1.0.0-beta2", "1.0.0-beta10"}, {"v1.0", "1.0.1"},
		{"1.0.x-dev", "1.1.0"}, {"1.0.0", "1.0.x-dev"},
	} {
		if c, err := s.Compare(p[0], p[1]); err != nil || c != -1 {
			t.Errorf("Compare(%q, %q) = %d, %v; want -1", p[0], p[1], c, err)
		}
	}
	t.Logf("composer: %d upstream normalization vectors checked", n)
}
