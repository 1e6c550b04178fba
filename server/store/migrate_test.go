package store

import (
	"context"
	"slices"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/policy"
	"github.com/customs-sec/customs/server/store/storetest"
)

// TestMigrationKeepsVersion1Images stores an image the way schema 1 did
// (documents in the images row, an (ecosystem, name) index and a row per
// finding id), migrates, and asserts nothing stored is lost: the documents
// read back, the image is found by its package (as one to re-judge whole)
// and by its vulnerability, and re-judging it moves it to the new index.
func TestMigrationKeepsVersion1Images(t *testing.T) {
	storetest.Each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		old, err := openAt(ctx, url, 1)
		if err != nil {
			t.Fatal(err)
		}
		pkg := customs.Package{Name: "libssl3", Version: "3.0.11-1", Type: "deb", Ecosystem: "Debian:12", Source: "openssl", SourceVersion: "3.0.11-1", PURL: "pkg:deb/debian/libssl3@3.0.11-1"}
		inv := &customs.Inventory{Distro: &customs.Distro{ID: "debian", VersionID: "12"}, Packages: []customs.Package{pkg},
			Image: customs.Image{ConfigDigest: "sha256:v1"}}
		f := customs.Finding{ID: "CVE-2024-0001", Aliases: []string{"DSA-1"}, Package: pkg.Ref(), Installed: pkg.Version, Fixed: "3.0.11-2", Severity: customs.SeverityHigh}
		scan := &customs.ScanResult{Findings: []customs.Finding{f}}
		verdict := &policy.Verdict{Decision: policy.Deny, Deny: []policy.Reason{{ID: "vulnerability", Target: map[string]any{"vulnerability": f.ID, "package": pkg.Name, "purl": pkg.PURL}}}}
		invB, _ := old.pack(inv)
		scanB, _ := old.pack(scan)
		verB, _ := old.pack(verdict)
		var id int64
		if err := old.db.QueryRowContext(ctx, old.q(`INSERT INTO images(digest, ref, repository, tags, team, environment, owner, base_layer, inventory, scan, verdict,
			decision, critical, high, medium, low, fixable, created_at, updated_at) VALUES ('sha256:v1', 'r/v1:1', 'r/v1', '', 'web', '', '', '', ?, ?, ?, 'deny', 0, 1, 0, 0, 1, 1, 1)
			RETURNING id`), invB, scanB, verB).Scan(&id); err != nil {
			t.Fatal(err)
		}
		for _, k := range [][2]string{{"Debian:12", "libssl3"}, {"Debian:12", "openssl"}} {
			if _, err := old.db.ExecContext(ctx, old.q(`INSERT INTO image_packages(image_id, ecosystem, name) VALUES (?, ?, ?)`), id, k[0], k[1]); err != nil {
				t.Fatal(err)
			}
		}
		for _, v := range []string{f.ID, "DSA-1"} {
			if _, err := old.db.ExecContext(ctx, old.q(`INSERT INTO image_vulns(image_id, vuln, package, severity, fixed) VALUES (?, ?, 'libssl3', 'high', '3.0.11-2')`), id, v); err != nil {
				t.Fatal(err)
			}
		}
		old.Close()

		s, err := Open(ctx, url)
		if err != nil {
			t.Fatalf("migrating a version 1 database: %v", err)
		}
		defer s.Close()
		d, err := s.Image(ctx, "sha256:v1", true)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Inventory.Packages) != 1 || d.Inventory.Packages[0].Name != "libssl3" || len(d.Scan.Findings) != 1 || d.Verdict.Decision != policy.Deny || d.High != 1 {
			t.Fatalf("documents after migrating: %+v", d)
		}
		groups, legacy, err := s.AffectedGroups(ctx, [][2]string{{"Debian:12", "openssl"}})
		if err != nil || len(groups) != 0 || !slices.Equal(legacy, []int64{id}) {
			t.Fatalf("a version 1 image must be re-judged whole: groups %v legacy %v (%v)", groups, legacy, err)
		}
		if vi, err := s.VulnerabilityImages(ctx, "DSA-1", nil); err != nil || len(vi) != 1 {
			t.Fatalf("looking a version 1 image up by an alias: %v %v", vi, err)
		}

		if err := s.UpdateJudgement(ctx, id, d.Inventory, Judgement{Scan: scan, Verdict: verdict}, "refresh", nil, nil, false); err != nil {
			t.Fatal(err)
		}
		groups, legacy, err = s.AffectedGroups(ctx, [][2]string{{"Debian:12", "openssl"}})
		if err != nil || len(groups) != 1 || groups[0].Images != 1 || len(legacy) != 0 {
			t.Fatalf("after re-judging, the image is in the package index: groups %v legacy %v (%v)", groups, legacy, err)
		}
		keys, err := s.VulnKeysOf(ctx, id)
		if err != nil || !slices.Equal(keys, []string{f.ID + " libssl3"}) {
			t.Fatalf("findings after re-judging: %v %v", keys, err)
		}
		if vi, err := s.VulnerabilityImages(ctx, "DSA-1", nil); err != nil || len(vi) != 1 {
			t.Fatalf("looking the image up by an alias after re-judging: %v %v", vi, err)
		}
	})
}
