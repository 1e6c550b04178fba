package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
				st, err := store.Open(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				db, err := advisory.Open(ctx, filepath.Join(t.TempDir(), "adv.db"), advisory.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				eng, err := policy.New(ctx, opts)
				if err != nil {
					t.Fatal(err)
				}
				if !eng.FindingLocal() {
					t.Fatal("the built-in policy should be finding-local")
				}
				s, err := New(Config{Store: st, DB: db, Policy: eng})
				if err != nil {
					t.Fatal(err)
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
	if total == 0 && step == "second half added" {
		t.Fatalf("%s: no findings at all; the test proves nothing", step)
	}
}
