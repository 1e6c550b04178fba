package version

import (
	"path/filepath"
	"strings"
	"testing"

	modsemver "golang.org/x/mod/semver"
)

// corpusFiles finds records of the shared advisory corpus, which sits
// beside the repository (../../shared from this package) in CI and on
// developer machines.
func corpusFiles(t *testing.T, pattern string) []string {
	t.Helper()
	for _, dir := range []string{"../../shared/corpus/advisories", "/work/shared/corpus/advisories"} {
		if files, _ := filepath.Glob(filepath.Join(dir, pattern)); len(files) > 0 {
			return files
		}
	}
	t.Skipf("advisory corpus %s not found", pattern)
	return nil
}

func toEvents(r []struct {
	Introduced   string `json:"introduced"`
	Fixed        string `json:"fixed"`
	LastAffected string `json:"last_affected"`
	Limit        string `json:"limit"`
}) []Event {
	evs := make([]Event, len(r))
	for i, e := range r {
		evs[i] = Event{e.Introduced, e.Fixed, e.LastAffected, e.Limit}
	}
	return evs
}

// goNeighbours returns versions on both sides of a Go boundary version:
// just below it (its lowest prerelease, or the previous patch) and just
// above it (the next patch).
func goNeighbours(v string) []string {
	out := []string{v}
	sv := "v" + v
	if !modsemver.IsValid(sv) {
		return out
	}
	if modsemver.Prerelease(sv) == "" {
		out = append(out, v+"-0")
	} else {
		out = append(out, strings.TrimSuffix(v, modsemver.Prerelease(sv))+modsemver.Prerelease(sv)+".0")
	}
	parts := strings.SplitN(strings.TrimPrefix(modsemver.Canonical(sv), "v"), ".", 3)
	patch := strings.SplitN(parts[2], "-", 2)[0]
	if n := len(patch); n > 0 && patch[n-1] < '9' {
		out = append(out, parts[0]+"."+parts[1]+"."+patch[:n-1]+string(patch[n-1]+1))
	}
	if patch != "0" && !strings.HasSuffix(patch, "0") {
		n := len(patch)
		out = append(out, parts[0]+"."+parts[1]+"."+patch[:n-1]+string(patch[n-1]-1))
	}
	return out
}

// TestAffectedGoRecords evaluates every range of the Go records with
// Affected and with an independent interval check whose order comes from
// golang.org/x/mod/semver, on each boundary and its neighbours.
func TestAffectedGoRecords(t *testing.T) {
	s := ForEcosystem("Go")
	checked := 0
	for _, f := range corpusFiles(t, "go/*.json") {
		rec := readOSV(t, f)
		for _, a := range rec.Affected {
			for _, r := range a.Ranges {
				evs := toEvents(r.Events)
				var cands []string
				for _, e := range evs {
					for _, v := range []string{e.Introduced, e.Fixed} {
						if v != "" && v != "0" {
							cands = append(cands, goNeighbours(v)...)
						}
					}
				}
				cands = append(cands, "0.0.0-00010101000000-000000000000", "999.0.0")
				for _, v := range cands {
					got, fixed, err := Affected(s, evs, v)
					if err != nil {
						t.Fatalf("%s %s: Affected(%q): %v", rec.ID, a.Package.Name, v, err)
					}
					want, wantFixed := goIntervals(evs, v)
					if got != want || fixed != wantFixed {
						t.Errorf("%s %s %v: Affected(%q) = %v, %q; want %v, %q", rec.ID, a.Package.Name, evs, v, got, fixed, want, wantFixed)
					}
					checked++
				}
			}
		}
	}
	t.Logf("go: %d (range, version) evaluations checked", checked)
}

// goIntervals is the plain reading of a Go record's range: a list of
// [introduced, fixed) intervals in order, compared with x/mod/semver.
func goIntervals(evs []Event, v string) (bool, string) {
	sv := "v" + v
	intro := ""
	open := false
	for _, e := range evs {
		switch {
		case e.Introduced != "":
			intro, open = e.Introduced, true
		case e.Fixed != "":
			if (intro == "0" || modsemver.Compare(sv, "v"+intro) >= 0) && modsemver.Compare(sv, "v"+e.Fixed) < 0 {
				return true, e.Fixed
			}
			open = false
		}
	}
	if open && (intro == "0" || modsemver.Compare(sv, "v"+intro) >= 0) {
		return true, ""
	}
	return false, ""
}

func TestAffectedXNet(t *testing.T) {
	// GO-2020-0014: golang.org/x/net, introduced 0, fixed at a pseudo-version.
	s := ForEcosystem("Go")
	evs := []Event{{Introduced: "0"}, {Fixed: "0.0.0-20190125091013-d26f9f9a57f3"}}
	for _, c := range []struct {
		v     string
		want  bool
		fixed string
	}{
		{"v0.0.0-20190125002852-4b62a64f59f7", true, "0.0.0-20190125091013-d26f9f9a57f3"},
		{"0.0.0-20190125091013-d26f9f9a57f3", false, ""},
		{"v0.0.0-20190125091014-000000000000", false, ""},
		{"v0.1.0", false, ""},
	} {
		got, fixed, err := Affected(s, evs, c.v)
		if err != nil || got != c.want || fixed != c.fixed {
			t.Errorf("Affected(%q) = %v, %q, %v; want %v, %q", c.v, got, fixed, err, c.want, c.fixed)
		}
	}
}

// TestAffectedDebianRecords uses the Debian 12 records: the fixed version
// is not affected, the same version without its "+deb12uN" security
// suffix, or with '~' appended (deb-version(7): sorts just before), is.
func TestAffectedDebianRecords(t *testing.T) {
	n := 0
	for _, f := range corpusFiles(t, "debian/osv-derived-bookworm/*.json") {
		rec := readOSV(t, f)
		for _, a := range rec.Affected {
			s := ForEcosystem(a.Package.Ecosystem)
			if s == nil || s.Name() != "dpkg" {
				t.Fatalf("%s: ecosystem %q gave %v", rec.ID, a.Package.Ecosystem, s)
			}
			for _, r := range a.Ranges {
				evs := toEvents(r.Events)
				fixed := ""
				for _, e := range evs {
					if e.Fixed != "" {
						fixed = e.Fixed
					}
				}
				if fixed == "" {
					// Open issue: every version is affected, with no fix.
					for _, v := range []string{"0", "1:99.0-1", "2.36-9+deb12u3"} {
						got, fx, err := Affected(s, evs, v)
						if err != nil || !got || fx != "" {
							t.Errorf("%s: Affected(%q) = %v, %q, %v; want affected, no fix", rec.ID, v, got, fx, err)
						}
						n++
					}
					continue
				}
				below := []string{fixed + "~"}
				if i := strings.Index(fixed, "+deb12u"); i > 0 {
					below = append(below, fixed[:i])
				}
				for _, v := range below {
					got, fx, err := Affected(s, evs, v)
					if err != nil || !got || fx != fixed {
						t.Errorf("%s: Affected(%q) = %v, %q, %v; want affected, fixed in %s", rec.ID, v, got, fx, err, fixed)
					}
					n++
				}
				for _, v := range []string{fixed, fixed + "+b1", fixed + "0"} {
					got, _, err := Affected(s, evs, v)
					if err != nil || got {
						t.Errorf("%s: Affected(%q) = %v, %v; want not affected (fixed in %s)", rec.ID, v, got, err, fixed)
					}
					n++
				}
			}
		}
	}
	t.Logf("debian: %d evaluations checked", n)
}

// TestAffectedAlpineRecords: for fixed X-rN, X-r(N-1) and X_rc1-rN are
// affected, X-rN and X-r(N+1) are not.
func TestAffectedAlpineRecords(t *testing.T) {
	n := 0
	for _, f := range corpusFiles(t, "alpine/osv-derived/*.json") {
		rec := readOSV(t, f)
		for _, a := range rec.Affected {
			s := ForEcosystem(a.Package.Ecosystem)
			for _, r := range a.Ranges {
				evs := toEvents(r.Events)
				fixed := evs[len(evs)-1].Fixed
				base, rev, ok := strings.Cut(fixed, "-r")
				if !ok || rev == "" {
					continue
				}
				var affected, notAffected []string
				notAffected = append(notAffected, fixed, base+"-r"+itoa(atoiT(t, rev)+1))
				affected = append(affected, base+"_rc1-r"+rev)
				if rv := atoiT(t, rev); rv > 0 {
					affected = append(affected, base+"-r"+itoa(rv-1))
				}
				for _, v := range affected {
					got, fx, err := Affected(s, evs, v)
					if err != nil || !got || fx != fixed {
						t.Errorf("%s: Affected(%q) = %v, %q, %v; want affected, fixed in %s", rec.ID, v, got, fx, err, fixed)
					}
					n++
				}
				for _, v := range notAffected {
					if got, _, err := Affected(s, evs, v); err != nil || got {
						t.Errorf("%s: Affected(%q) = %v, %v; want not affected", rec.ID, v, got, err)
					}
					n++
				}
			}
		}
	}
	t.Logf("alpine: %d evaluations checked", n)
}

func atoiT(t *testing.T, s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// TestAffectedEcosystemRecords walks the npm, PyPI, Maven and crates.io
// records: each introduced version is affected, each fixed version is
// not, the version just below a fixed one is, and last_affected is
// inclusive.
func TestAffectedEcosystemRecords(t *testing.T) {
	below := map[string]func(string) string{
		"npm":       func(v string) string { return v + "-0" },
		"crates.io": func(v string) string { return v + "-0" },
		"PyPI":      func(v string) string { return v + ".dev0" },
		"Maven":     func(v string) string { return v + "-alpha" },
	}
	n := 0
	for _, dir := range []string{"npm", "pypi", "maven", "crates"} {
		for _, f := range corpusFiles(t, dir+"/*.json") {
			rec := readOSV(t, f)
			for _, a := range rec.Affected {
				s := ForEcosystem(a.Package.Ecosystem)
				if s == nil {
					t.Fatalf("%s: no scheme for %q", rec.ID, a.Package.Ecosystem)
				}
				for _, r := range a.Ranges {
					if r.Type == "GIT" {
						continue
					}
					evs := toEvents(r.Events)
					for _, e := range evs {
						check := func(v string, want bool) {
							t.Helper()
							got, _, err := Affected(s, evs, v)
							if err != nil || got != want {
								t.Errorf("%s %s %v: Affected(%q) = %v, %v; want %v", rec.ID, a.Package.Name, evs, v, got, err, want)
							}
							n++
						}
						// Only simple [introduced, end) ranges have a single
						// obvious answer at each boundary.
						if len(evs) != 2 {
							continue
						}
						switch {
						case e.Introduced != "" && e.Introduced != "0":
							check(e.Introduced, true)
						case e.Fixed != "":
							check(e.Fixed, false)
							if b := below[a.Package.Ecosystem](e.Fixed); s.Valid(b) == nil && (evs[0].Introduced == "0" || mustCmp(t, s, b, evs[0].Introduced) >= 0) {
								check(b, true)
							}
						case e.LastAffected != "":
							check(e.LastAffected, true)
						}
					}
				}
			}
		}
	}
	t.Logf("ecosystems: %d evaluations checked", n)
}

func mustCmp(t *testing.T, s Scheme, a, b string) int {
	t.Helper()
	c, err := s.Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAffectedLastAffected(t *testing.T) {
	// GHSA-29mw-wpgm-hmr9 (lodash.trim): introduced 0, last_affected 4.5.1.
	s := ForEcosystem("npm")
	evs := []Event{{Introduced: "0"}, {LastAffected: "4.5.1"}}
	for v, want := range map[string]bool{"4.5.1": true, "4.5.0": true, "4.5.2-0": false, "4.5.2": false, "0.0.1": true} {
		got, fixed, err := Affected(s, evs, v)
		if err != nil || got != want || fixed != "" {
			t.Errorf("Affected(%q) = %v, %q, %v; want %v and no fix", v, got, fixed, err, want)
		}
	}
}

func TestAffectedRules(t *testing.T) {
	s := ForEcosystem("crates.io")
	cases := []struct {
		name  string
		evs   []Event
		v     string
		want  bool
		fixed string
	}{
		{"all versions", []Event{{Introduced: "0"}}, "0.0.0", true, ""},
		{"unsorted events", []Event{{Fixed: "3.2.5"}, {Introduced: "3.0.0"}, {Fixed: "1.0.2"}, {Introduced: "1.0.0"}}, "3.1.0", true, "3.2.5"},
		{"between ranges", []Event{{Introduced: "1.0.0"}, {Fixed: "1.0.2"}, {Introduced: "3.0.0"}, {Fixed: "3.2.5"}}, "2.0.0", false, ""},
		{"before first", []Event{{Introduced: "1.0.0"}, {Fixed: "1.0.2"}}, "0.9.0", false, ""},
		{"fixed is exclusive", []Event{{Introduced: "0"}, {Fixed: "1.0.2"}}, "1.0.2", false, ""},
		{"prerelease of fix", []Event{{Introduced: "0"}, {Fixed: "1.0.2"}}, "1.0.2-rc.1", true, "1.0.2"},
		{"adjacent ranges", []Event{{Introduced: "0"}, {Fixed: "2.0.0"}, {Introduced: "2.0.0"}, {Fixed: "2.1.0"}}, "2.0.0", true, "2.1.0"},
		{"limit bounds", []Event{{Introduced: "1.0.0"}, {Limit: "2.0.0"}}, "2.5.0", false, ""},
		{"under limit", []Event{{Introduced: "1.0.0"}, {Limit: "2.0.0"}}, "1.5.0", true, ""},
		{"limit star", []Event{{Introduced: "1.0.0"}, {Limit: "*"}}, "9.0.0", true, ""},
		{"two intros one fix", []Event{{Introduced: "1.0.0"}, {Introduced: "1.5.0"}, {Fixed: "2.0.0"}}, "1.2.0", true, "2.0.0"},
		{"build metadata ignored", []Event{{Introduced: "0"}, {Fixed: "1.0.0+b1"}}, "1.0.0+b2", false, ""},
	}
	for _, c := range cases {
		got, fixed, err := Affected(s, c.evs, c.v)
		if err != nil || got != c.want || fixed != c.fixed {
			t.Errorf("%s: Affected(%q) = %v, %q, %v; want %v, %q", c.name, c.v, got, fixed, err, c.want, c.fixed)
		}
	}
	// Errors: bad events, bad versions, no scheme.
	for _, c := range []struct {
		s   Scheme
		evs []Event
		v   string
	}{
		{s, []Event{{Introduced: "1.0.0", Fixed: "2.0.0"}}, "1.5.0"},
		{s, []Event{{}}, "1.5.0"},
		{s, []Event{{Introduced: "0"}, {Fixed: "not-a-version"}}, "1.5.0"},
		{s, []Event{{Introduced: "0"}}, "1.5"},
		{nil, []Event{{Introduced: "0"}}, "1.5.0"},
	} {
		if _, _, err := Affected(c.s, c.evs, c.v); err == nil {
			t.Errorf("Affected(%v, %q): no error", c.evs, c.v)
		}
	}
}

func TestForEcosystem(t *testing.T) {
	for eco, want := range map[string]string{
		"Debian": "dpkg", "Debian:12": "dpkg", "Ubuntu:22.04:LTS": "dpkg", "Ubuntu:Pro:18.04:LTS": "dpkg",
		"Alpine:v3.19": "apk", "Wolfi": "apk", "Chainguard": "apk",
		"Red Hat": "rpm", "Rocky Linux:9": "rpm", "AlmaLinux:8": "rpm", "SUSE:Linux Enterprise Server 15": "rpm",
		"openSUSE:Tumbleweed": "rpm", "Mageia:9": "rpm", "Photon OS:5.0": "rpm",
		"Go": "go", "npm": "npm", "PyPI": "pep440", "Maven": "maven", "RubyGems": "rubygems", "NuGet": "nuget",
		"crates.io": "semver", "Packagist": "composer", "Hex": "semver", "Pub": "semver",
	} {
		s := ForEcosystem(eco)
		if s == nil || s.Name() != want {
			t.Errorf("ForEcosystem(%q) = %v; want %s", eco, s, want)
		}
	}
	for _, eco := range []string{"", "GIT", "debian", "Unknown:1", "Hackage", "CRAN"} {
		if s := ForEcosystem(eco); s != nil {
			t.Errorf("ForEcosystem(%q) = %s; want nil", eco, s.Name())
		}
	}
}
