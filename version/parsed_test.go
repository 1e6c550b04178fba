package version

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// checkParsed checks that Parse(s, a) agrees with s on a and that its
// Compare(b) answers what s.Compare(a, b) answered (c, err), errors
// included, since matching reports them.
func checkParsed(t *testing.T, s Scheme, a, b string, c int, err error) {
	t.Helper()
	p, perr := Parse(s, a)
	if verr := s.Valid(a); (perr == nil) != (verr == nil) || (perr != nil && perr.Error() != verr.Error()) {
		t.Fatalf("%s: Parse(%q) error %v, Valid says %v", s.Name(), a, perr, verr)
	}
	if perr != nil {
		return
	}
	pc, perr := p.Compare(b)
	if pc != c || (perr == nil) != (err == nil) || (perr != nil && perr.Error() != err.Error()) {
		t.Fatalf("%s: Parse(%q).Compare(%q) = %d, %v; Compare gives %d, %v", s.Name(), a, b, pc, perr, c, err)
	}
	if eq := p.Equal(b); eq != (err == nil && c == 0) {
		t.Fatalf("%s: Parse(%q).Equal(%q) = %v; Compare gives %d, %v", s.Name(), a, b, eq, c, err)
	}
}

// TestParsedAgreesWithCompare compares, in every scheme, each pair of the
// versions found in the test data (the upstream vectors and version lists,
// valid or not) through Parse and through Compare.
func TestParsedAgreesWithCompare(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		t.Fatal(err)
	}
	// Version-looking words of every file: enough variety for every scheme,
	// most of them invalid in most schemes, which checks the errors too.
	word := regexp.MustCompile(`[0-9A-Za-z.:~+^_!=-]+`)
	seen := map[string]bool{}
	var words []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range word.FindAllString(string(b), -1) {
			if !seen[w] && len(words) < 2000 {
				seen[w] = true
				words = append(words, w)
			}
		}
	}
	schemes := []Scheme{dpkgScheme{}, rpmScheme{}, apkScheme{}, semverScheme{}, goScheme{}, npmScheme{},
		pep440Scheme{}, mavenScheme{}, rubygemsScheme{}, nugetScheme{}, composerScheme{}}
	for _, s := range schemes {
		// Each word against a stride of the others keeps this quick.
		for i, a := range words {
			for j := i % 7; j < len(words); j += 97 {
				c, err := s.Compare(a, words[j])
				checkParsed(t, s, a, words[j], c, err)
			}
		}
	}
	t.Logf("%d versions in %d schemes", len(words), len(schemes))
}

// TestParsedEqual checks Equal on versions that are equal without being
// the same string, where reading only the leading number must not decide.
func TestParsedEqual(t *testing.T) {
	for _, c := range []struct {
		s    Scheme
		a, b string
		want bool
	}{
		{dpkgScheme{}, "0:1.0-1", "1.0-1", true},
		{dpkgScheme{}, "01.0-1", "1.0-1", true},
		{dpkgScheme{}, "1:1.0-1", "1.0-1", false},
		{dpkgScheme{}, "2:1.0", "1:2.0", false},
		{pep440Scheme{}, "0!1.0", "1.0.0", true},
		{pep440Scheme{}, "v01.0", "1", true},
		{pep440Scheme{}, "1.0a1", "1.0alpha1", true},
		{pep440Scheme{}, "1!1.0", "1.0", false},
		{pep440Scheme{}, " 1.0", "1.0", true},
		{npmScheme{}, "v01.2.3", "=1.2.3", true},
		{npmScheme{}, "1.2.3+build", "1.2.3", true},
		{npmScheme{}, " 1.2.3", "2.2.3", false},
		{goScheme{}, "v1", "1.0.0", true},
		{goScheme{}, "go1.20", "1.20.0", true},
		{goScheme{}, "v2.0.0+incompatible", "2.0.0", true},
		{semverScheme{}, "1.0.0+b", "1.0.0", true},
		{semverScheme{}, "1.0.0", "10.0.0", false},
	} {
		p, err := Parse(c.s, c.a)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Equal(c.b); got != c.want {
			t.Errorf("%s: Parse(%q).Equal(%q) = %v, want %v", c.s.Name(), c.a, c.b, got, c.want)
		}
		cmp, err := c.s.Compare(c.a, c.b)
		checkParsed(t, c.s, c.a, c.b, cmp, err)
	}
}

// TestMavenPlainCompare checks the shortcut for plain numeric versions
// against ComparableVersion's item lists on every pair of a set of them.
func TestMavenPlainCompare(t *testing.T) {
	vs := []string{"0", "1", "01", "1.0", "1.0.0", "1.0.0.0.1", "1.1", "1.01", "1.10", "1.9", "2", "2.0.0",
		"10", "9.99", "0.0.1", "1234567890", "123456789", "1.1234567890123456789", "1.1234567890123456788",
		"0001.0000", "3.0.0.0.0.0.0.0.0.1"}
	for _, a := range vs {
		for _, b := range vs {
			la, lb := parseMaven(a), parseMaven(b)
			want := sign(mvCompare(&la, &lb))
			if got, ok := mavenPlainCompare(a, b); !ok || got != want {
				t.Errorf("mavenPlainCompare(%q, %q) = %d, %v; item lists say %d", a, b, got, ok, want)
			}
		}
	}
	for _, v := range []string{"", ".1", "1.", "1..2", "1.0-1", "1.0a", "1.0.RELEASE"} {
		if _, ok := mavenPlainCompare(v, "1"); ok {
			t.Errorf("mavenPlainCompare(%q, ...) took the shortcut", v)
		}
	}
}
