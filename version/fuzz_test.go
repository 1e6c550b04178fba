package version

import (
	"strings"
	"testing"
)

// fuzzScheme checks the properties every scheme must keep on any input:
// no panic, an error exactly when Valid rejects either side, results in
// {-1, 0, 1}, Compare(a, a) == 0 and Compare(b, a) == -Compare(a, b), and
// a Parsed a compares with b as Compare does.
func fuzzScheme(f *testing.F, s Scheme, seeds []string) {
	for i, a := range seeds {
		f.Add(a, seeds[(i+1)%len(seeds)])
		f.Add(a, a)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ea, eb := s.Valid(a), s.Valid(b)
		c, err := s.Compare(a, b)
		checkParsed(t, s, a, b, c, err)
		if (ea != nil || eb != nil) != (err != nil) {
			t.Fatalf("Compare(%q, %q) error %v, but Valid gave %v, %v", a, b, err, ea, eb)
		}
		if err != nil {
			if c != 0 {
				t.Fatalf("Compare(%q, %q) = %d with error %v", a, b, c, err)
			}
			return
		}
		if c < -1 || c > 1 {
			t.Fatalf("Compare(%q, %q) = %d", a, b, c)
		}
		if self, err := s.Compare(a, a); err != nil || self != 0 {
			t.Fatalf("Compare(%q, %q) = %d, %v", a, a, self, err)
		}
		if back, err := s.Compare(b, a); err != nil || back != -c {
			t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d, %v", a, b, c, b, a, back, err)
		}
	})
}

func FuzzDPKG(f *testing.F) {
	fuzzScheme(f, dpkgScheme{}, []string{"1:2.36-9+deb12u3", "7.88.1-10+deb12u4", "3.0.13-1~deb12u1",
		"1.34+dfsg-1.2+deb12u1", "2.2.40-1.1+b1", "1.0~rc1", "0:1.0", "1.0-", "a1", "1:", "1.0 x"})
}

func FuzzRPM(f *testing.F) {
	fuzzScheme(f, rpmScheme{}, []string{"0:2.28-189.5.el8_6", "1:1.1.1k-6.el8_5", "3.6.8-45.el8",
		"1.0~rc1-1.fc35", "1.0^20230101git1a2b3c-1", "2.0.7-23.el7", ":1.0", "1.0-", ""})
}

func FuzzAPK(f *testing.F) {
	fuzzScheme(f, apkScheme{}, []string{"1.36.1-r15", "3.1.4-r5", "1.2.3_rc1-r0", "2.9.11_pre20061021-r2",
		"1.0_p10-r0", "0.1.0_alpha_pre2", "1.0~abc123-r1", "1.0bc", "23_foo"})
}

func FuzzSemVer(f *testing.F) {
	fuzzScheme(f, semverScheme{}, []string{"1.0.0", "0.10.48", "1.0.0-alpha.1", "1.0.0-rc.1+build.5",
		"0.0.0-0", "01.0.0", "1.0", "v1.0.0"})
}

func FuzzGo(f *testing.F) {
	fuzzScheme(f, goScheme{}, []string{"1.20.14", "v0.0.0-20190125091013-d26f9f9a57f3", "go1.21rc2",
		"1.21rc2", "go1.21", "1.21.0-0", "v2.0.0+incompatible", "v1.2", "go1.21.0-bigcorp", "(devel)"})
}

func FuzzNPM(f *testing.F) {
	fuzzScheme(f, npmScheme{}, []string{"4.17.21", "v1.2.3", "=1.2.3", "1.2.3-beta.1", "5.0.0-dev.20230101",
		"1.2.3beta", "01.2.3", "1.2.34.x", "1.2.3-9007199254740993", " 1.2.3 "})
}

func FuzzPEP440(f *testing.F) {
	fuzzScheme(f, pep440Scheme{}, []string{"2.31.0", "1.0RC1", "1.0-1", "v1.0", "1!2.0.post1.dev3+local.7",
		"1.0a1.dev1", "0.0.0.dev1679001168836", "1.0.dev", "1.0+ubuntu-1", "foo"})
}

func FuzzMaven(f *testing.F) {
	fuzzScheme(f, mavenScheme{}, []string{"5.2.20.RELEASE", "1.0-SNAPSHOT", "2.0.0.M1", "1.0.0.Final",
		"1-alpha-123", "31.1-jre", "9.4.51.v20230217", "1.0.00000000000000000000.5", "1..1"})
}

func FuzzRubyGems(f *testing.F) {
	fuzzScheme(f, rubygemsScheme{}, []string{"7.0.4", "1.0.0.rc1", "1.0.a", "1.0-1", "", " 2.0 ", "1.0--",
		"3.2.0.beta2"})
}

func FuzzNuGet(f *testing.F) {
	fuzzScheme(f, nugetScheme{}, []string{"1.0.0", "1.0.0.1", "1.0.0-beta.1+meta", "2", "1.01-RC-1",
		"1.0.0-BETA", "1.2.3-X.y3+0", "1.4.7-", "  1.022-Beta"})
}

func FuzzComposer(f *testing.F) {
	fuzzScheme(f, composerScheme{}, []string{"v1.0.0", "1.0.0-RC1", "1.0.x-dev", "2010-01-02", "1.0.0-p1",
		"dev-main", "1.0.0+build", "1.0 as 2.0", "1.0@beta", "1.0.0.0-beta1"})
}

// TestHostileInputs feeds every scheme inputs of 10 MB and with 100k
// separators. The test has no time limit of its own: it shows that
// parsing is linear and does not panic or recurse without bound.
func TestHostileInputs(t *testing.T) {
	big := 10 << 20
	inputs := []string{
		strings.Repeat("1", big),
		"1" + strings.Repeat(".1", 100000),
		"1" + strings.Repeat(".", 100000),
		strings.Repeat("1-", big/2),
		strings.Repeat("1a", big/2),
		"1.0-" + strings.Repeat("a", big),
		strings.Repeat("~", big),
		strings.Repeat("^", big),
		"1.0" + strings.Repeat("_alpha", 100000),
		"1.2.3-" + strings.Repeat("a.", 100000) + "a",
		strings.Repeat(" ", big) + "1.0",
		strings.Repeat("\x00", 1000),
	}
	schemes := []Scheme{dpkgScheme{}, rpmScheme{}, apkScheme{}, semverScheme{}, goScheme{}, npmScheme{},
		pep440Scheme{}, mavenScheme{}, rubygemsScheme{}, nugetScheme{}, composerScheme{}}
	for _, s := range schemes {
		for _, in := range inputs {
			_ = s.Valid(in)
			_, _ = s.Compare(in, in)
			_, _ = s.Compare(in, "1.0")
			_, _ = s.Compare("1.0", in)
		}
	}
}
