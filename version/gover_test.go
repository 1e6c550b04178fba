package version

import (
	"encoding/json"
	"go/version"
	"os"
	"strings"
	"testing"

	modsemver "golang.org/x/mod/semver"
)

// goCorpusVersions reads every version in the Go vulnerability records of
// the shared advisory corpus (OSV writes them without the "v").
func goCorpusVersions(t *testing.T) []string {
	t.Helper()
	files := corpusFiles(t, "go/*.json")
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		for _, a := range readOSV(t, f).Affected {
			for _, r := range a.Ranges {
				for _, e := range r.Events {
					for _, v := range []string{e.Introduced, e.Fixed, e.LastAffected} {
						if v != "" && v != "0" && !seen[v] {
							seen[v] = true
							out = append(out, v)
						}
					}
				}
			}
		}
	}
	return out
}

func TestGoAgainstXMod(t *testing.T) {
	vs := goCorpusVersions(t)
	vs = append(vs, readLines(t, "go_versions.txt")...)
	var ps []pair
	for _, p := range pairsFrom(vs) {
		ps = append(ps, p)
	}
	n := 0
	for _, p := range ps {
		for _, q := range []pair{p, {"v" + p.a, "v" + p.b}, {p.a, "v" + p.b}} {
			va, vb := q.a, q.b
			if !strings.HasPrefix(va, "v") {
				va = "v" + va
			}
			if !strings.HasPrefix(vb, "v") {
				vb = "v" + vb
			}
			got, err := goScheme{}.Compare(q.a, q.b)
			okA, okB := modsemver.IsValid(va), modsemver.IsValid(vb)
			if !okA || !okB {
				// Not module versions; the toolchain test covers "1.21rc2".
				if err == nil && !isToolchainForm(q.a) && !isToolchainForm(q.b) {
					t.Errorf("Compare(%q, %q) = %d; x/mod rejects it", q.a, q.b, got)
				}
				continue
			}
			n++
			if err != nil {
				t.Errorf("Compare(%q, %q): %v; x/mod accepts both", q.a, q.b, err)
			} else if want := modsemver.Compare(va, vb); got != want {
				t.Errorf("Compare(%q, %q) = %d, x/mod says %d", q.a, q.b, got, want)
			}
		}
	}
	t.Logf("go: %d pairs checked against golang.org/x/mod/semver", n)
}

func isToolchainForm(s string) bool {
	_, ok := parseGoToolchain(strings.TrimPrefix(s, "go"), strings.HasPrefix(s, "go"))
	return ok
}

func TestGoToolchainAgainstGoVersion(t *testing.T) {
	// Every Go release and prerelease name, and forms go/version accepts.
	var vs []string
	for minor := 0; minor <= 26; minor++ {
		m := "1." + itoa(minor)
		if minor == 0 {
			vs = append(vs, "go1")
		} else {
			vs = append(vs, "go"+m)
		}
		for _, pre := range []string{"beta1", "beta2", "rc1", "rc2", "rc3", "alpha1", "rc", "x1"} {
			vs = append(vs, "go"+m+pre)
		}
		for patch := 0; patch <= 14; patch += 3 {
			vs = append(vs, "go"+m+"."+itoa(patch))
		}
	}
	vs = append(vs, "go2", "go1.21.0-bigcorp", "go1.22.3-0", "go1.9.2rc2", "go1.021", "go1.21.", "go1.21rc01")
	n := 0
	for _, a := range vs {
		for _, b := range vs {
			got, err := goScheme{}.Compare(a, b)
			if !version.IsValid(a) || !version.IsValid(b) {
				if err == nil {
					t.Errorf("Compare(%q, %q) = %d; go/version rejects it", a, b, got)
				}
				continue
			}
			n++
			if err != nil {
				t.Errorf("Compare(%q, %q): %v; go/version accepts both", a, b, err)
			} else if want := version.Compare(a, b); got != want {
				t.Errorf("Compare(%q, %q) = %d, go/version says %d", a, b, got, want)
			}
		}
	}
	t.Logf("go: %d toolchain pairs checked against go/version", n)

	// The vulnerability database's spelling of the same versions.
	s := goScheme{}
	for _, p := range [][3]string{
		{"go1.21rc2", "1.21.0-rc.2", "0"}, {"1.21rc2", "1.21.0-rc.2", "0"}, {"go1.20.14", "1.20.14", "0"},
		{"go1.20", "1.20.0", "0"}, {"go1.21", "1.21.0-0", "0"}, {"go1.21.0", "v1.21.0", "0"},
		{"go1.21beta1", "1.21.0-0", "1"}, {"go1.22.3", "1.22.3+incompatible", "0"},
	} {
		got, err := s.Compare(p[0], p[1])
		if err != nil || itoa(got) != p[2] {
			t.Errorf("Compare(%q, %q) = %d, %v; want %s", p[0], p[1], got, err, p[2])
		}
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// osvRecord is the part of an OSV record the tests read.
type osvRecord struct {
	ID       string `json:"id"`
	Affected []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Type   string `json:"type"`
			Events []struct {
				Introduced   string `json:"introduced"`
				Fixed        string `json:"fixed"`
				LastAffected string `json:"last_affected"`
				Limit        string `json:"limit"`
			} `json:"events"`
		} `json:"ranges"`
		Versions []string `json:"versions"`
	} `json:"affected"`
}

func readOSV(t *testing.T, path string) osvRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r osvRecord
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}
