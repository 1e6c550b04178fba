package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/policy"
	"github.com/customs-sec/customs/server/store"
	"github.com/customs-sec/customs/server/store/storetest"
)

// Shape of the synthetic images: a Debian base every image shares and
// application packages shared by the images of one of benchShapes shapes.
const (
	benchBase   = 120
	benchApp    = 40
	benchShapes = 500
)

// BenchmarkReevaluateAfterDelta stores N synthetic images shaped like real
// ones (a Debian base of 120 packages every image shares, 40 application
// packages shared by the images of one of 500 application shapes), then
// measures advisory deltas of growing size: import, find the images,
// re-judge them package by package, record history.
//
//   - delta=1: the base's most popular package (every image holds it);
//   - delta=10, delta=100: half base packages (every image holds each),
//     half application packages of distinct shapes (N/500 images each).
//
// Each op is one delta of new records (so every op changes every package
// it names). Metrics: images-rejudged/op counts each image the delta
// touches once (what the job reports), image-packages/op once per changed
// package it holds (the work done), changed/op the images whose findings
// changed.
// CUSTOMS_BENCH_IMAGES sets N (default 2000); CUSTOMS_BENCH_DB=postgres
// stores them in PostgreSQL ($CUSTOMS_POSTGRES) instead of SQLite.
func BenchmarkReevaluateAfterDelta(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("CUSTOMS_BENCH_IMAGES")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	dir := b.TempDir()
	url := "sqlite:" + filepath.Join(dir, "s.db")
	if os.Getenv("CUSTOMS_BENCH_DB") == "postgres" {
		url = storetest.Postgres(b)
	}
	s, st, db := judgingServer(b, url, policy.Options{})
	distro := &customs.Distro{ID: "debian", VersionID: "12"}
	setup := time.Now()
	judged := map[int]store.Judgement{}
	var batch []store.NewImage
	for i := range n {
		inv := &customs.Inventory{Distro: distro, Image: customs.Image{ConfigDigest: fmt.Sprintf("sha256:%064d", i), Config: &customs.Config{User: "app"}}}
		for p := range benchBase {
			name := benchBasePackage(p)
			inv.Packages = append(inv.Packages, customs.Package{Name: name, Version: "1.0-1", Type: "deb", Source: name, SourceVersion: "1.0-1", Ecosystem: "Debian:12"})
		}
		for p := range benchApp {
			name := benchAppPackage(i%benchShapes, p)
			inv.Packages = append(inv.Packages, customs.Package{Name: name, Version: "2.0.0", Type: "npm", Ecosystem: "npm", PURL: "pkg:npm/" + name + "@2.0.0"})
		}
		// Images of one shape judge alike: judge each shape once, so that
		// storing 100,000 images does not take most of the run.
		j, ok := judged[i%benchShapes]
		if !ok {
			var err error
			if j, err = s.judge(ctx, inv); err != nil {
				b.Fatal(err)
			}
			judged[i%benchShapes] = j
		}
		batch = append(batch, store.NewImage{Meta: store.ImageMeta{Digest: inv.Image.ID(), Ref: "r/img" + strconv.Itoa(i), Team: "t" + strconv.Itoa(i%20),
			BaseLayer: "sha256:base", BaseTop: 0}, Inventory: inv, Judgement: j})
		if len(batch) == 1000 || i == n-1 {
			if _, err := st.SaveImages(ctx, batch, "scan"); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.Logf("stored %d images in %s", n, time.Since(setup).Round(time.Millisecond))
	// The setup's writes are checkpointed out of the write-ahead log, so the
	// measured change does not pay for them.
	if err := st.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	seq := 0 // record ids stay new across sub-benchmarks and their runs
	for _, size := range []int{1, 10, 100} {
		pkgs := benchDeltaPackages(size, n)
		b.Run("delta="+strconv.Itoa(size), func(b *testing.B) {
			var images, pairs, changed int
			for i := range b.N {
				seq++
				payload := benchRecords(seq, pkgs)
				delta, err := db.ImportReader(ctx, strings.NewReader(payload), advisory.ImportOptions{})
				if err != nil {
					b.Fatal(err)
				}
				id, err := s.enqueueReeval(ctx, delta, "bench")
				if err != nil {
					b.Fatal(err)
				}
				j, err := st.Lease(ctx, "bench", time.Hour)
				if err != nil || j == nil || j.ID != id {
					b.Fatalf("lease: %v %v", j, err)
				}
				var req reevalRequest
				if err := json.Unmarshal([]byte(j.Payload), &req); err != nil {
					b.Fatal(err)
				}
				rs, err := s.reeval(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				st.Finish(ctx, j.ID, "bench", store.JobDone, "")
				if rs.changed == 0 {
					b.Fatalf("delta %d: nothing changed (%+v)", seq, rs)
				}
				images += rs.images
				pairs += rs.pairs
				changed += rs.changed
				if i == 0 {
					b.Logf("%d packages: %d images re-judged (%d image-package pairs), %d changed, %d package groups", len(pkgs), rs.images, rs.pairs, rs.changed, rs.groups)
				}
			}
			b.ReportMetric(float64(n), "images")
			b.ReportMetric(float64(images)/float64(b.N), "images-rejudged/op")
			b.ReportMetric(float64(pairs)/float64(b.N), "image-packages/op")
			b.ReportMetric(float64(changed)/float64(b.N), "changed/op")
		})
	}
}

func benchBasePackage(p int) string {
	if p == 0 {
		return "openssl"
	}
	return fmt.Sprintf("libbase%d", p)
}

func benchAppPackage(shape, p int) string { return fmt.Sprintf("app%d-dep%d", shape, p) }

// benchDeltaPackages names the packages a delta of size changes: the most
// popular base package alone, else half base packages and half application
// packages of distinct shapes that stored images have.
func benchDeltaPackages(size, images int) [][2]string {
	if size == 1 {
		return [][2]string{{"Debian:12", benchBasePackage(0)}}
	}
	var out [][2]string
	for p := range min(size/2, benchBase) {
		out = append(out, [2]string{"Debian:12", benchBasePackage(p)})
	}
	shapes := min(images, benchShapes)
	for k := 0; len(out) < size; k++ {
		out = append(out, [2]string{"npm", benchAppPackage(k%shapes, (k/shapes)%benchApp)})
	}
	return out
}

// benchRecords is one new critical, fixable advisory record per package.
func benchRecords(seq int, pkgs [][2]string) string {
	recs := make([]string, 0, len(pkgs))
	for i, p := range pkgs {
		typ, fixed := "ECOSYSTEM", "1.0-2"
		if p[0] == "npm" {
			typ, fixed = "SEMVER", "2.0.1"
		}
		recs = append(recs, fmt.Sprintf(`{"id":"BENCH-%d-%d","modified":"2026-11-01T00:00:00Z","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
			"affected":[{"package":{"ecosystem":%q,"name":%q},"ranges":[{"type":%q,"events":[{"introduced":"0"},{"fixed":%q}]}]}]}`, seq, i, p[0], p[1], typ, fixed))
	}
	return "[" + strings.Join(recs, ",") + "]"
}
