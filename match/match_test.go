package match_test

import (
	"context"
	"encoding/json"
	"fmt"
	"go/version"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/semver"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/match"
	"github.com/customs-sec/customs/pipeline"
)

var (
	dbOnce sync.Once
	dbPath string
	dbErr  error
)

// corpusDB imports the whole real advisory sample once per test binary.
func corpusDB(t *testing.T) *advisory.DB {
	t.Helper()
	dir := filepath.Join(testimage.Corpus(t), "advisories")
	dbOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "customs-match-test-")
		if err != nil {
			dbErr = err
			return
		}
		dbPath = filepath.Join(tmp, "a.db")
		db, err := advisory.Open(context.Background(), dbPath, advisory.Options{})
		if err != nil {
			dbErr = err
			return
		}
		defer db.Close()
		_, dbErr = db.Import(context.Background(), []string{dir}, advisory.ImportOptions{})
	})
	if dbErr != nil {
		t.Fatal(dbErr)
	}
	db, err := advisory.Open(context.Background(), dbPath, advisory.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dbPath != "" {
		os.RemoveAll(filepath.Dir(dbPath))
	}
	os.Exit(code)
}

func scanCorpus(t *testing.T, ref string) (*customs.Inventory, *match.Result) {
	t.Helper()
	inv, err := pipeline.Inventory(context.Background(), "oci:"+testimage.Layout(t)+":"+ref, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := match.Match(context.Background(), corpusDB(t), inv)
	if err != nil {
		t.Fatal(err)
	}
	return inv, res
}

// govulncheckDB writes the corpus Go records as a local Go vulnerability
// database (index/*.json plus ID/*.json), the layout govulncheck -db reads.
func govulncheckDB(t *testing.T) string {
	t.Helper()
	src := filepath.Join(testimage.Corpus(t), "advisories", "go")
	dst := t.TempDir()
	os.MkdirAll(filepath.Join(dst, "index"), 0o755)
	os.MkdirAll(filepath.Join(dst, "ID"), 0o755)
	files, _ := filepath.Glob(filepath.Join(src, "*.json"))
	type entry struct {
		ID       string `json:"id"`
		Modified string `json:"modified"`
		Fixed    string `json:"fixed,omitempty"`
	}
	modules := map[string][]entry{}
	var vulns []map[string]any
	for _, f := range files {
		b, _ := os.ReadFile(f)
		var r advisory.Record
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, "ID", r.ID+".json"), b, 0o644)
		mod := "2026-01-01T00:00:00Z" // the corpus zeroes modified; govulncheck only orders by it
		vulns = append(vulns, map[string]any{"id": r.ID, "modified": mod, "aliases": r.Aliases})
		for _, a := range r.Affected {
			e := entry{ID: r.ID, Modified: mod}
			for _, rg := range a.Ranges {
				for _, ev := range rg.Events {
					if ev.Fixed != "" {
						e.Fixed = ev.Fixed
					}
				}
			}
			modules[a.Package.Name] = append(modules[a.Package.Name], e)
		}
	}
	var mods []map[string]any
	for p, v := range modules {
		mods = append(mods, map[string]any{"path": p, "vulns": v})
	}
	wj := func(name string, v any) {
		b, _ := json.Marshal(v)
		os.WriteFile(filepath.Join(dst, "index", name), b, 0o644)
	}
	wj("db.json", map[string]string{"modified": "2026-08-21T00:00:00Z"})
	wj("modules.json", mods)
	wj("vulns.json", vulns)
	return dst
}

// TestGoBinariesMatchGovulncheck: for the corpus Go binaries, the Go
// advisories reported are exactly those govulncheck reports at module level
// from the same records.
func TestGoBinariesMatchGovulncheck(t *testing.T) {
	gvc := testimage.Tool(t, "govulncheck")
	vdb := govulncheckDB(t)
	for _, tc := range []struct{ ref, path string }{{"debian-app", "usr/local/bin/goapp"}, {"scratch-go", "goapp"}} {
		t.Run(tc.ref, func(t *testing.T) {
			bin := filepath.Join(testimage.Unpack(t, tc.ref), tc.path)
			out, err := exec.Command(gvc, "-mode=binary", "-scan=module", "-db=file://"+vdb, "-format=json", bin).Output()
			if err != nil && len(out) == 0 {
				t.Fatalf("govulncheck: %v", err)
			}
			truth := map[string]bool{}
			dec := json.NewDecoder(strings.NewReader(string(out)))
			for dec.More() {
				var msg struct {
					Finding *struct {
						OSV string `json:"osv"`
					} `json:"finding"`
				}
				if err := dec.Decode(&msg); err != nil {
					t.Fatal(err)
				}
				if msg.Finding != nil {
					truth[msg.Finding.OSV] = true
				}
			}
			_, res := scanCorpus(t, tc.ref)
			ours := map[string]bool{}
			for _, f := range res.Findings {
				if f.Locations[0] == "/"+tc.path {
					for _, r := range f.Records {
						ours[r] = true
					}
				}
			}
			if len(truth) == 0 {
				t.Fatal("govulncheck found nothing: the test database is wrong")
			}
			var missing, extra []string
			for id := range truth {
				if !ours[id] {
					missing = append(missing, id)
				}
			}
			for id := range ours {
				if !truth[id] {
					extra = append(extra, id)
				}
			}
			sort.Strings(missing)
			sort.Strings(extra)
			if len(missing)+len(extra) > 0 {
				t.Errorf("govulncheck reports %d, we report %d; missing %v extra %v", len(truth), len(ours), missing, extra)
			}
		})
	}
}

// compareTool asks the package manager's own rules whether installed < fixed.
func installedBelowFixed(t *testing.T, f customs.Finding) (bool, string) {
	t.Helper()
	switch f.Package.Type {
	case customs.TypeDeb:
		v := firstNonEmpty(f.Package.SourceVersion, f.Installed)
		err := exec.Command("dpkg", "--compare-versions", v, "lt", f.Fixed).Run()
		return err == nil, "dpkg --compare-versions " + v + " lt " + f.Fixed
	case customs.TypeNPM:
		node := testimage.Require(t, "node")
		dir := filepath.Join(filepath.Dir(testimage.Tool(t, "govulncheck")), "npm-semver", "node_modules", "semver")
		out, err := exec.Command(node, "-e", `console.log(require(process.argv[1]).lt(process.argv[2], process.argv[3]))`, dir, f.Installed, f.Fixed).Output()
		if err != nil {
			t.Skipf("node semver unavailable: %v", err)
		}
		return strings.TrimSpace(string(out)) == "true", "semver.lt"
	case customs.TypeGo:
		if f.Package.Name == "stdlib" {
			return version.Compare("go"+f.Installed, "go"+f.Fixed) < 0, "go/version.Compare"
		}
		fixed := f.Fixed
		if !strings.HasPrefix(fixed, "v") {
			fixed = "v" + fixed
		}
		return semver.Compare(f.Installed, fixed) < 0, "x/mod/semver.Compare"
	}
	return true, "no reference tool"
}

// TestFixedFindingsAgreeWithPackageManagers: every finding with a fix has an
// installed version below the fix by the package manager's own rules.
func TestFixedFindingsAgreeWithPackageManagers(t *testing.T) {
	testimage.Require(t, "dpkg")
	_, res := scanCorpus(t, "debian-app")
	checked := map[string]int{}
	for _, f := range res.Findings {
		if f.Status != customs.StatusFixed {
			continue
		}
		ok, how := installedBelowFixed(t, f)
		if !ok {
			t.Errorf("%s in %s %s: fixed %s is not above installed (%s)", f.ID, f.Package.Name, f.Installed, f.Fixed, how)
		}
		checked[f.Package.Type]++
	}
	for _, typ := range []string{customs.TypeNPM, customs.TypeGo} {
		if checked[typ] == 0 {
			t.Errorf("no fixed %s findings checked", typ)
		}
	}
}

// TestRealRecordsBothWays takes real records and asserts each is found for
// a version inside its range and not found at the fixed version the record
// itself names.
func TestRealRecordsBothWays(t *testing.T) {
	db := corpusDB(t)
	debian := &customs.Distro{ID: "debian", VersionID: "12"}
	for _, tc := range []struct {
		id, dir, typ, name, source, below string
	}{
		{"DEBIAN-CVE-2024-2961", "debian/osv-derived-bookworm", customs.TypeDeb, "libc6", "glibc", "2.36-9+deb12u4"},
		{"DEBIAN-CVE-2023-38545", "debian/osv-derived-bookworm", customs.TypeDeb, "libcurl4", "curl", "7.88.1-10+deb12u3"},
		{"GHSA-p6mc-m468-83gw", "npm", customs.TypeNPM, "lodash", "", "4.17.15"},
		{"GO-2022-0969", "go", customs.TypeGo, "stdlib", "", "1.19.0"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(testimage.Corpus(t), "advisories", tc.dir, tc.id+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var r advisory.Record
			json.Unmarshal(b, &r)
			fixed := ""
			for _, a := range r.Affected {
				for _, rg := range a.Ranges {
					for _, e := range rg.Events {
						if e.Fixed != "" && fixed == "" {
							if ok, _ := installedBelowFixed(t, customs.Finding{Package: customs.PackageRef{Type: tc.typ, Name: tc.name}, Installed: tc.below, Fixed: e.Fixed}); ok {
								fixed = e.Fixed // the first fix above the installed version
							}
						}
					}
				}
			}
			if fixed == "" {
				t.Fatalf("%s has no fix above %s", tc.id, tc.below)
			}
			for _, v := range []string{tc.below, fixed} {
				p := customs.Package{Name: tc.name, Version: v, Type: tc.typ, Source: tc.source, SourceVersion: v, Locations: []string{"/x"}}
				switch tc.typ {
				case customs.TypeDeb:
					p.Ecosystem = "Debian:12"
				case customs.TypeNPM:
					p.Ecosystem = "npm"
				case customs.TypeGo:
					p.Ecosystem = "Go"
				}
				res, err := match.Match(context.Background(), db, &customs.Inventory{Distro: debian, Packages: []customs.Package{p}})
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, f := range res.Findings {
					for _, r := range f.Records {
						if r == tc.id {
							found = true
							if f.Fixed == "" || f.Status != customs.StatusFixed {
								t.Errorf("%s at %s: status %s fixed %q", tc.id, v, f.Status, f.Fixed)
							}
						}
					}
				}
				if want := v == tc.below; found != want {
					t.Errorf("%s %s %s: found=%v, want %v", tc.id, tc.name, v, found, want)
				}
			}
		})
	}
}

func TestDistributionStatuses(t *testing.T) {
	_, res := scanCorpus(t, "debian-app")
	got := map[string]string{}
	for _, f := range res.Findings {
		got[f.ID+" "+f.Package.Source] = f.Status
	}
	// From the Debian tracker files: CVE-2023-7008 is <no-dsa> for systemd in
	// bookworm, CVE-2024-5535 <postponed> for openssl.
	for key, want := range map[string]string{
		"CVE-2023-7008 systemd": customs.StatusWillNotFix,
		"CVE-2024-5535 openssl": customs.StatusFixDeferred,
		"CVE-2023-45853 zlib":   customs.StatusAffected,
	} {
		if got[key] != want {
			t.Errorf("%s: status %q, want %q", key, got[key], want)
		}
	}
}

func TestEndOfLifeFromSupportList(t *testing.T) {
	db, err := advisory.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"), advisory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "security-support-ended.deb12"), []byte("# comment\npdns-recursor   4.8.8-1+deb12u1   2025-10-01  No security support upstream\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "r.json"), []byte(`{"id":"DEBIAN-CVE-2099-0001","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"pdns-recursor"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}`), 0o644)
	if _, err := db.Import(context.Background(), []string{dir}, advisory.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	inv := &customs.Inventory{Packages: []customs.Package{{Name: "pdns-recursor", Version: "4.8.8-1+deb12u1", Type: customs.TypeDeb, Ecosystem: "Debian:12", Source: "pdns-recursor", SourceVersion: "4.8.8-1+deb12u1"}}}
	res, err := match.Match(context.Background(), db, inv)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Status != customs.StatusEndOfLife || !strings.Contains(res.Findings[0].StatusNote, "2025-10-01") {
		t.Errorf("findings %+v", res.Findings)
	}
}

// TestAliasesMerge: a GO record and a GHSA record for one CVE are one finding.
func TestAliasesMerge(t *testing.T) {
	db, err := advisory.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"), advisory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := t.TempDir()
	rec := func(id string, aliases []string, vector string) string {
		al, _ := json.Marshal(aliases)
		sev := ""
		if vector != "" {
			sev = fmt.Sprintf(`"severity":[{"type":"CVSS_V3","score":%q}],`, vector)
		}
		return fmt.Sprintf(`{"id":%q,"modified":"2026-01-01T00:00:00Z","aliases":%s,%s"affected":[{"package":{"ecosystem":"Go","name":"golang.org/x/text"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.7"}]}]}]}`, id, al, sev)
	}
	os.WriteFile(filepath.Join(dir, "go.json"), []byte(rec("GO-2021-0113", []string{"CVE-2021-38561"}, "")), 0o644)
	os.WriteFile(filepath.Join(dir, "ghsa.json"), []byte(rec("GHSA-ppp9-7jff-5vj2", []string{"CVE-2021-38561"}, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H")), 0o644)
	// A record of the CVE itself, for another package: not a hit, but the
	// ids it links to the CVE (a DSA no record has) join the finding.
	cve := strings.Replace(rec("CVE-2021-38561", []string{"DSA-5000-1", "GO-2021-0113"}, ""), "golang.org/x/text", "golang.org/x/other", 1)
	os.WriteFile(filepath.Join(dir, "cve.json"), []byte(cve), 0o644)
	if _, err := db.Import(context.Background(), []string{dir}, advisory.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	inv := &customs.Inventory{Packages: []customs.Package{{Name: "golang.org/x/text", Version: "v0.3.3", Type: customs.TypeGo, Ecosystem: "Go"}}}
	res, err := match.Match(context.Background(), db, inv)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 {
		t.Fatalf("%d findings, want one merged: %+v", len(res.Findings), res.Findings)
	}
	// The same when the CVE record is a hit too, for the other package:
	// x/text's finding still gets the DSA through it.
	both := &customs.Inventory{Packages: append(inv.Packages, customs.Package{Name: "golang.org/x/other", Version: "v0.3.3", Type: customs.TypeGo, Ecosystem: "Go"})}
	res2, err := match.Match(context.Background(), db, both)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res2.Findings {
		if f.Package.Name == "golang.org/x/text" && !slices.Contains(f.Aliases, "DSA-5000-1") {
			t.Errorf("with the CVE record a hit for another package, x/text's finding lost the DSA: %v", f.Aliases)
		}
	}
	f := res.Findings[0]
	if f.ID != "CVE-2021-38561" || strings.Join(f.Aliases, ",") != "DSA-5000-1,GHSA-ppp9-7jff-5vj2,GO-2021-0113" {
		t.Errorf("id %s aliases %v", f.ID, f.Aliases)
	}
	// CVSS 3.1 AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H scores 7.5 per the spec's formula.
	if f.Severity != customs.SeverityHigh || len(f.CVSS) != 1 || f.CVSS[0].Score != 7.5 || f.Fixed != "v0.3.7" {
		t.Errorf("severity %s cvss %+v fixed %s", f.Severity, f.CVSS, f.Fixed)
	}
}

func TestScoreVector(t *testing.T) {
	// Reference scores from the FIRST calculators for these vectors.
	for vec, want := range map[string]float64{
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": 9.8,
		// roundup(6.42*0.22 + 8.22*0.55*0.44*0.27*0.62) = roundup(1.745)
		"CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N":                    1.8,
		"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N":                    6.1,
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N": 9.3,
	} {
		c, ok := match.ScoreVector(vec)
		if !ok || c.Score != want {
			t.Errorf("%s: %v %v, want %v", vec, c.Score, ok, want)
		}
	}
	for _, bad := range []string{"", "CVSS:3.1/AV:X", "AV:N/AC:L/Au:N/C:P/I:P/A:P", "CVSS:9.9/x"} {
		if _, ok := match.ScoreVector(bad); ok {
			t.Errorf("%q scored", bad)
		}
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// TestSnapshotAndDatabaseMatchAlike matches the corpus images through the
// database's match snapshot and through SQLite alone (a copy of the file
// without its snapshot): the results are the same.
func TestSnapshotAndDatabaseMatchAlike(t *testing.T) {
	snap := corpusDB(t)
	copyPath := filepath.Join(t.TempDir(), "a.db")
	b, err := os.ReadFile(snap.Path())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(copyPath, b, 0o644)
	plain, err := advisory.Open(context.Background(), copyPath, advisory.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := os.Stat(advisory.SnapshotPath(snap.Path())); err != nil {
		t.Fatal("the corpus database has no snapshot:", err)
	}
	for _, ref := range []string{"debian-app", "debian-base", "scratch-go"} {
		inv, viaSnapshot := scanCorpus(t, ref)
		viaSQLite, err := match.Match(context.Background(), plain, inv)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.MarshalIndent(viaSnapshot, "", " ")
		want, _ := json.MarshalIndent(viaSQLite, "", " ")
		if len(viaSQLite.Findings) == 0 && ref != "scratch-go" {
			t.Fatalf("%s: no findings", ref)
		}
		if string(got) != string(want) {
			t.Errorf("%s: %d findings through the snapshot, %d through SQLite, or they differ", ref, len(viaSnapshot.Findings), len(viaSQLite.Findings))
		}
	}
}
