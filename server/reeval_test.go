package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/pipeline"
	"github.com/customs-sec/customs/policy"
	"github.com/customs-sec/customs/server/store"
	"github.com/customs-sec/customs/server/store/storetest"
)

// TestIncrementalReevaluationAgreesWithFullJudgement applies advisory
// changes package by package (the fast path) to real images and variants
// of them, then judges every image whole from its inventory (the slow,
// obviously right path) and asserts both left the same decision, counts
// and findings, through additions, withdrawals and a re-added record.
func TestIncrementalReevaluationAgreesWithFullJudgement(t *testing.T) {
	corpus := testimage.Corpus(t)
	layout := filepath.Join(corpus, "images", "oci")
	advisories := filepath.Join(corpus, "advisories")
	var records []string
	for _, dir := range []string{"debian/osv-derived-bookworm", "go", "npm"} {
		fs, _ := filepath.Glob(filepath.Join(advisories, dir, "*.json"))
		records = append(records, fs...)
	}
	sort.Strings(records)
	if len(records) < 20 {
		t.Fatalf("only %d advisory records under %s", len(records), advisories)
	}
	ctx := context.Background()
	var invs []*customs.Inventory
	for _, ref := range []string{"debian-base", "debian-app"} {
		inv, err := pipeline.Inventory(ctx, "oci:"+layout+":"+ref, pipeline.Options{Catalogers: pipeline.CheckCatalogers(nil)})
		if err != nil {
			t.Fatal(err)
		}
		invs = append(invs, inv)
	}
	// Variants: another image on the same base with an older copy of a
	// package (a different package group), and one sharing the app layer.
	for i, src := range invs {
		v := *src
		v.Image.ConfigDigest = fmt.Sprintf("sha256:%064d", i+1)
		v.Image.ManifestDigest = ""
		v.Packages = append([]customs.Package(nil), src.Packages...)
		for k := range v.Packages {
			if v.Packages[k].Type == customs.TypeDeb && k%7 == 0 {
				v.Packages[k].Version += "~old"
				v.Packages[k].SourceVersion = v.Packages[k].Version
			}
		}
		invs = append(invs, &v)
	}

	engines := map[string]policy.Options{"defaults": {}}
	data := filepath.Join(t.TempDir(), "vulns-only.yaml")
	os.WriteFile(data, []byte("customs:\n  settings:\n    signature: {enabled: false}\n    root_user: {enabled: false}\n    secrets: {enabled: false}\n    misconfigurations: {enabled: false}\n"+
		"    vulnerabilities: {severities: [critical, high, medium]}\n  exceptions:\n  - {rule: vulnerability, id: CVE-2023-4911, reason: test, expires: 2999-01-01}\n"), 0o644)
	engines["vulnerabilities only"] = policy.Options{DataFiles: []string{data}}
	// Every built-in rule on: rules about the image itself must not leak
	// into what a finding is judged to be.
	all := filepath.Join(t.TempDir(), "all-rules.yaml")
	os.WriteFile(all, []byte("customs:\n  settings:\n    registries: {enabled: true, allowed: [registry.example]}\n    base_images: {enabled: true, allowed: [debian]}\n"+
		"    image_age: {enabled: true, max_days: 1}\n    required_labels: {enabled: true}\n    vulnerabilities: {fix_age_days: 30}\n"), 0o644)
	engines["every rule"] = policy.Options{DataFiles: []string{all}}

	storetest.Each(t, func(t *testing.T, url string) {
		for name, opts := range engines {
			t.Run(name, func(t *testing.T) {
				s, st, db := judgingServer(t, url, opts)
				if !s.cfg.Policy.FindingLocal() {
					t.Fatal("the built-in policy should be finding-local")
				}
				var first, second []string
				for i, r := range records {
					if i%2 == 0 {
						first = append(first, r)
					} else {
						second = append(second, r)
					}
				}
				if _, err := db.Import(ctx, first, advisory.ImportOptions{}); err != nil {
					t.Fatal(err)
				}
				for i, inv := range invs {
					if _, err := s.storeInventory(ctx, inv, scanRequest{Ref: fmt.Sprintf("r/img%d:1", i), Team: "t"}, "scan"); err != nil {
						t.Fatal(err)
					}
				}
				apply := func(step string, delta *advisory.Delta) {
					t.Helper()
					id, err := s.enqueueReeval(ctx, delta, step)
					if err != nil || id == 0 {
						t.Fatalf("%s: no re-evaluation queued (%v)", step, err)
					}
					j, err := st.Lease(ctx, "test", time.Hour)
					if err != nil || j == nil {
						t.Fatalf("%s: lease: %v %v", step, j, err)
					}
					res, err := s.reevalJob(ctx, "test", j)
					if err != nil {
						t.Fatalf("%s: %v", step, err)
					}
					st.Finish(ctx, j.ID, "test", store.JobDone, res)
					t.Logf("%s: %s", step, res)
					agree(t, ctx, s, invs, step)
				}
				delta, err := db.Import(ctx, second, advisory.ImportOptions{})
				if err != nil {
					t.Fatal(err)
				}
				apply("second half added", delta)
				stale := 0
				for _, inv := range invs {
					if d, err := st.Image(ctx, inv.Image.ID(), false); err == nil && d.Stale {
						stale++
					}
				}
				if stale == 0 {
					t.Fatal("no image was updated package by package (none is stale): the test compared the whole path with itself")
				}
				// Withdraw every other record of the second half.
				var withdrawn strings.Builder
				for i, p := range second {
					if i%2 == 1 {
						continue
					}
					var rec map[string]any
					b, _ := os.ReadFile(p)
					if err := json.Unmarshal(b, &rec); err != nil {
						t.Fatal(err)
					}
					rec["withdrawn"], rec["modified"] = "2026-11-20T00:00:00Z", "2026-11-20T00:00:00Z"
					b, _ = json.Marshal(rec)
					withdrawn.Write(b)
					withdrawn.WriteString("\n")
				}
				var changes int
				for _, line := range strings.Split(strings.TrimSpace(withdrawn.String()), "\n") {
					d, err := db.ImportReader(ctx, strings.NewReader(line), advisory.ImportOptions{})
					if err != nil {
						t.Fatal(err)
					}
					if !d.Empty() {
						changes++
						apply("withdrawal", d)
					}
				}
				if changes == 0 {
					t.Fatal("withdrawing records changed nothing")
				}
				// Every image stored judged as a whole again changes nothing:
				// the refresh of stale documents records no history.
				for _, inv := range invs {
					d, err := st.Image(ctx, inv.Image.ID(), false)
					if err != nil {
						t.Fatal(err)
					}
					before := len(d.History)
					if _, err := s.reevalImage(ctx, d.ID, "refresh"); err != nil {
						t.Fatal(err)
					}
					d, _ = st.Image(ctx, inv.Image.ID(), false)
					if len(d.History) != before || d.Stale {
						t.Fatalf("%s: refreshing after incremental changes recorded %d new history entries (stale %v)", inv.Image.ID(), len(d.History)-before, d.Stale)
					}
				}
			})
		}
	})
}

// agree asserts every image's stored state equals a whole judgement.
func agree(t *testing.T, ctx context.Context, s *Server, invs []*customs.Inventory, step string) {
	t.Helper()
	total := 0
	for _, inv := range invs {
		d, err := s.st.Image(ctx, inv.Image.ID(), false)
		if err != nil {
			t.Fatal(err)
		}
		j, err := s.judge(ctx, inv)
		if err != nil {
			t.Fatal(err)
		}
		want := store.VulnKeys(j.Scan)
		got, err := s.st.VulnKeysOf(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			a, r := diff(want, got)
			t.Fatalf("%s, %s: findings differ from a whole judgement: stored has extra %v, lacks %v", step, d.Ref, r, a)
		}
		c, h, m, l, fx := 0, 0, 0, 0, 0
		for _, f := range j.Scan.Findings {
			switch f.Severity {
			case customs.SeverityCritical:
				c++
			case customs.SeverityHigh:
				h++
			case customs.SeverityMedium:
				m++
			case customs.SeverityLow:
				l++
			}
			if f.Fixed != "" {
				fx++
			}
		}
		if d.Decision != j.Verdict.Decision || d.Critical != c || d.High != h || d.Medium != m || d.Low != l || d.Fixable != fx {
			t.Fatalf("%s, %s: stored %s %d/%d/%d/%d fixable %d, whole judgement %s %d/%d/%d/%d fixable %d", step, d.Ref,
				d.Decision, d.Critical, d.High, d.Medium, d.Low, d.Fixable, j.Verdict.Decision, c, h, m, l, fx)
		}
		for _, f := range j.Scan.Findings {
			for _, a := range f.Aliases {
				vi, err := s.st.VulnerabilityImages(ctx, a, nil)
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, v := range vi {
					found = found || v.Digest == d.Digest
				}
				if !found {
					t.Fatalf("%s, %s: looking up alias %s of %s does not find the image", step, d.Ref, a, f.ID)
				}
			}
		}
		total += len(want)
	}
	// No findings are kept for a package under a signature no image holds.
	if n, err := s.st.UnheldPackageVulns(ctx); err != nil || n != 0 {
		t.Fatalf("%s: %d stored findings belong to package groups no image is in (%v)", step, n, err)
	}
	if total == 0 && step == "second half added" {
		t.Fatalf("%s: no findings at all; the test proves nothing", step)
	}
}

// TestReevaluationDropsFindingsNoImageHolds moves images from one findings
// signature of a package to another, by package (an advisory change) and
// whole (images stored again), and asserts the findings stored under a
// signature are deleted once no image holds it, and kept while one does,
// with every image's findings still those of a whole judgement.
func TestReevaluationDropsFindingsNoImageHolds(t *testing.T) {
	ctx := context.Background()
	distro := &customs.Distro{ID: "debian", VersionID: "12"}
	inventory := func(i int, opensslVersion string) *customs.Inventory {
		inv := &customs.Inventory{Distro: distro, Image: customs.Image{ConfigDigest: fmt.Sprintf("sha256:%064d", i), Config: &customs.Config{User: "app"}}}
		for _, p := range []struct{ name, version string }{{"openssl", opensslVersion}, {"zlib", "1.0-1"}} {
			inv.Packages = append(inv.Packages, customs.Package{Name: p.name, Version: p.version, Type: "deb", Source: p.name, SourceVersion: p.version, Ecosystem: "Debian:12"})
		}
		return inv
	}
	record := func(id, pkg, fixed, withdrawn string) string {
		w := ""
		if withdrawn != "" {
			w = `"withdrawn":"` + withdrawn + `",`
		}
		return `{"id":"` + id + `","modified":"2026-11-0` + map[bool]string{true: "2", false: "1"}[withdrawn != ""] + `T00:00:00Z",` + w +
			`"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],` +
			`"affected":[{"package":{"ecosystem":"Debian:12","name":"` + pkg + `"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"` + fixed + `"}]}]}]}`
	}
	storetest.Each(t, func(t *testing.T, url string) {
		s, st, db := judgingServer(t, url, policy.Options{})
		if _, err := db.ImportReader(ctx, strings.NewReader("["+record("CVE-2026-0001", "openssl", "1.0-2", "")+","+record("CVE-2026-0002", "zlib", "1.0-2", "")+"]"), advisory.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		invs := []*customs.Inventory{inventory(0, "1.0-1"), inventory(1, "1.0-1"), inventory(2, "1.0-1")}
		for i, inv := range invs {
			if _, err := s.storeInventory(ctx, inv, scanRequest{Ref: fmt.Sprintf("r/img%d:1", i), Team: "t"}, "scan"); err != nil {
				t.Fatal(err)
			}
		}
		agree(t, ctx, s, invs, "stored")
		openssl := [][2]string{{"Debian:12", "openssl"}}
		group := func(step string) store.PackageGroup {
			t.Helper()
			gs, _, err := st.AffectedGroups(ctx, openssl)
			if err != nil || len(gs) != 1 {
				t.Fatalf("%s: openssl groups %+v (%v), want one", step, gs, err)
			}
			return gs[0]
		}
		rowsOf := func(g store.PackageGroup) int {
			t.Helper()
			vs, err := st.PackageVulns(ctx, g.PackageID, g.Sig)
			if err != nil {
				t.Fatal(err)
			}
			return len(vs)
		}
		apply := func(step string, payload string) {
			t.Helper()
			delta, err := db.ImportReader(ctx, strings.NewReader(payload), advisory.ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var req reevalRequest
			for _, k := range delta.Packages {
				req.Packages = append(req.Packages, [2]string{k.Ecosystem, k.Name})
			}
			req.Cause = step
			if _, err := s.reeval(ctx, req); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			agree(t, ctx, s, invs, step)
		}

		// By package: every image moves off the first signature at once.
		first := group("stored")
		if first.Images != 3 || rowsOf(first) != 1 {
			t.Fatalf("stored: openssl group %+v with %d findings, want 3 images and 1 finding", first, rowsOf(first))
		}
		apply("advisory added", record("CVE-2026-0003", "openssl", "1.0-3", ""))
		second := group("advisory added")
		if second.Sig == first.Sig || second.Images != 3 || rowsOf(second) != 2 {
			t.Fatalf("advisory added: openssl group %+v with %d findings, want 3 images and 2 findings", second, rowsOf(second))
		}
		if n := rowsOf(first); n != 0 {
			t.Fatalf("advisory added: %d findings still stored under the signature no image holds", n)
		}

		// Whole: images stored again with openssl fixed leave the signature
		// one by one; its findings stay while an image holds it.
		for i := range invs {
			invs[i] = inventory(i, "1.0-3")
			if _, err := s.storeInventory(ctx, invs[i], scanRequest{Ref: fmt.Sprintf("r/img%d:2", i), Team: "t"}, "rescan"); err != nil {
				t.Fatal(err)
			}
			agree(t, ctx, s, invs, "rescan")
			if want := map[bool]int{true: 0, false: 2}[i == len(invs)-1]; rowsOf(second) != want {
				t.Fatalf("rescan of image %d: %d findings stored under the old signature, want %d", i, rowsOf(second), want)
			}
		}

		// By package again, for an image left on the old version: a
		// withdrawal moves it to a smaller set of findings.
		invs[0] = inventory(0, "1.0-1")
		if _, err := s.storeInventory(ctx, invs[0], scanRequest{Ref: "r/img0:3", Team: "t"}, "downgrade"); err != nil {
			t.Fatal(err)
		}
		held := groupOf(t, st, openssl, 1)
		if rowsOf(held) != 2 {
			t.Fatalf("downgrade: openssl group %+v with %d findings, want 2", held, rowsOf(held))
		}
		apply("withdrawal", record("CVE-2026-0003", "openssl", "1.0-3", "2026-11-02T00:00:00Z"))
		if rowsOf(held) != 0 {
			t.Fatalf("withdrawal: %d findings still stored under the signature no image holds", rowsOf(held))
		}
		now := groupOf(t, st, openssl, 1)
		if rowsOf(now) != 1 {
			t.Fatalf("withdrawal: openssl group %+v with %d findings, want 1", now, rowsOf(now))
		}

		// Findings lost under a signature images hold (a writer racing the
		// collection): the next change cannot move those images' counts by
		// a difference and re-judges them whole.
		raw := rawDB(t, url)
		if _, err := raw.ExecContext(ctx, rebind(url, `DELETE FROM package_vulns WHERE package_id = ? AND sig = ?`), now.PackageID, now.Sig); err != nil {
			t.Fatal(err)
		}
		apply("after a loss", record("CVE-2026-0004", "openssl", "1.0-4", ""))
	})
}

// rawDB opens the database behind a store URL directly.
func rawDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", url
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		driver, dsn = "sqlite", "file:"+path+"?_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rebind turns ? placeholders into $N for PostgreSQL.
// judgingServer is a server (workers not started) on the store at url, with
// a fresh advisory database and a policy engine made from opts; all three
// close when the test ends.
func judgingServer(t testing.TB, url string, opts policy.Options) (*Server, *store.Store, *advisory.DB) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := advisory.Open(ctx, filepath.Join(t.TempDir(), "adv.db"), advisory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	eng, err := policy.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Store: st, DB: db, Policy: eng})
	if err != nil {
		t.Fatal(err)
	}
	return s, st, db
}

func rebind(url, q string) string {
	if strings.HasPrefix(url, "sqlite:") {
		return q
	}
	for n := 1; strings.Contains(q, "?"); n++ {
		q = strings.Replace(q, "?", "$"+strconv.Itoa(n), 1)
	}
	return q
}

// groupOf returns the one group of the packages whose images number n.
func groupOf(t *testing.T, st *store.Store, keys [][2]string, n int) store.PackageGroup {
	t.Helper()
	gs, _, err := st.AffectedGroups(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.PackageGroup
	for _, g := range gs {
		if g.Images == n {
			out = append(out, g)
		}
	}
	if len(out) != 1 {
		t.Fatalf("groups %+v: want exactly one of %d images", gs, n)
	}
	return out[0]
}

// TestOneDeltaIsOneChangePerImage applies a delta naming two packages that
// both images hold: each image is counted once, gets one history entry
// naming both findings, and one announcement of each kind (a finding's
// vulnerability.new each, one rebuild.recommended with both bumps, one
// verdict change), as judging it whole would give.
func TestOneDeltaIsOneChangePerImage(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, url string) {
		data := filepath.Join(t.TempDir(), "permissive.yaml")
		os.WriteFile(data, []byte("customs:\n  settings:\n    signature: {enabled: false}\n    root_user: {enabled: false}\n    secrets: {enabled: false}\n    misconfigurations: {enabled: false}\n"), 0o644)
		s, st, db := judgingServer(t, url, policy.Options{DataFiles: []string{data}})
		distro := &customs.Distro{ID: "debian", VersionID: "12"}
		var invs []*customs.Inventory
		for i := range 2 {
			inv := &customs.Inventory{Distro: distro, Image: customs.Image{ConfigDigest: fmt.Sprintf("sha256:%064d", i), Config: &customs.Config{User: "app"}}}
			for _, name := range []string{"openssl", "zlib", fmt.Sprintf("own%d", i)} {
				inv.Packages = append(inv.Packages, customs.Package{Name: name, Version: "1.0-1", Type: "deb", Source: name, SourceVersion: "1.0-1", Ecosystem: "Debian:12"})
			}
			if _, err := s.storeInventory(ctx, inv, scanRequest{Ref: fmt.Sprintf("r/img%d:1", i), Team: "t"}, "scan"); err != nil {
				t.Fatal(err)
			}
			invs = append(invs, inv)
		}
		hook := &store.Webhook{URL: "http://127.0.0.1:1/", Secret: "0123456789abcdef"}
		if err := st.CreateWebhook(ctx, hook); err != nil {
			t.Fatal(err)
		}
		var recs []string
		for _, p := range []string{"openssl", "zlib"} {
			recs = append(recs, `{"id":"CVE-2026-`+p+`","modified":"2026-11-01T00:00:00Z","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],`+
				`"affected":[{"package":{"ecosystem":"Debian:12","name":"`+p+`"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0-2"}]}]}]}`)
		}
		delta, err := db.ImportReader(ctx, strings.NewReader("["+strings.Join(recs, ",")+"]"), advisory.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		req := reevalRequest{Cause: "two packages"}
		for _, k := range delta.Packages {
			req.Packages = append(req.Packages, [2]string{k.Ecosystem, k.Name})
		}
		rs, err := s.reeval(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if rs.images != 2 || rs.changed != 2 || rs.pairs != 4 {
			t.Fatalf("stats %+v: want 2 images, 2 changed, 4 image-package pairs", rs)
		}
		agree(t, ctx, s, invs, "two packages")
		ds, err := st.Deliveries(ctx, hook.ID, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		events := map[string][]map[string]any{}
		for _, d := range ds {
			var ev map[string]any
			if err := json.Unmarshal([]byte(d.Payload), &ev); err != nil {
				t.Fatal(err)
			}
			img, _ := ev["image"].(map[string]any)
			events[fmt.Sprint(img["digest"], " ", ev["event"])] = append(events[fmt.Sprint(img["digest"], " ", ev["event"])], ev)
		}
		for _, inv := range invs {
			d, err := st.Image(ctx, inv.Image.ID(), false)
			if err != nil {
				t.Fatal(err)
			}
			last := d.History[len(d.History)-1]
			added := append([]string(nil), last.Added...)
			sort.Strings(added)
			if len(d.History) != 2 || last.Cause != "two packages" || last.Decision != policy.Deny ||
				strings.Join(added, ",") != "CVE-2026-openssl openssl,CVE-2026-zlib zlib" {
				t.Errorf("%s: history %+v: want the scan and one entry adding both findings", d.Ref, d.History)
			}
			digest := inv.Image.ID()
			if n := len(events[digest+" "+EventVulnerabilityNew]); n != 2 {
				t.Errorf("%s: %d vulnerability.new events, want 2", d.Ref, n)
			}
			if rb := events[digest+" "+EventRebuildRecommended]; len(rb) != 1 || len(rb[0]["bumps"].([]any)) != 2 {
				t.Errorf("%s: rebuild.recommended events %v: want one naming both bumps", d.Ref, rb)
			}
			if vc := events[digest+" "+EventVerdictChanged]; len(vc) != 1 || vc[0]["from"] != policy.Allow || vc[0]["to"] != policy.Deny {
				t.Errorf("%s: verdict_changed events %v: want one, allow to deny", d.Ref, vc)
			}
		}
		if len(ds) != 8 {
			t.Errorf("%d deliveries, want 8 (4 per image)", len(ds))
		}

		// A delta too large for one set (here: every change its own set,
		// and its own chunk of groups) still counts each image once, and
		// ends where one set would.
		defer func(pairs, chunk int) { reevalSetPairs, reevalChunk = pairs, chunk }(reevalSetPairs, reevalChunk)
		reevalSetPairs, reevalChunk = 1, 1
		recs = recs[:0]
		for _, p := range []string{"openssl", "zlib"} {
			recs = append(recs, `{"id":"CVE-2026-`+p+`-2","modified":"2026-11-01T00:00:00Z","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"}],`+
				`"affected":[{"package":{"ecosystem":"Debian:12","name":"`+p+`"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}`)
		}
		if _, err := db.ImportReader(ctx, strings.NewReader("["+strings.Join(recs, ",")+"]"), advisory.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		req.Cause = "two sets"
		if rs, err = s.reeval(ctx, req); err != nil {
			t.Fatal(err)
		}
		if rs.images != 2 || rs.changed != 2 || rs.pairs != 4 {
			t.Fatalf("two sets: stats %+v: want 2 images, 2 changed, 4 image-package pairs", rs)
		}
		agree(t, ctx, s, invs, "two sets")
		for _, inv := range invs {
			d, err := st.Image(ctx, inv.Image.ID(), false)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.History) != 4 {
				t.Errorf("%s: %d history entries, want 4 (one per set)", d.Ref, len(d.History))
			}
		}
	})
}
