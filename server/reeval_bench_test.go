package server

import (
	"context"
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
)

// BenchmarkReevaluateAfterDelta stores N synthetic images shaped like real
// ones (a Debian base of 120 packages every image shares, 40 application
// packages of its own), then measures one advisory delta touching the
// base's most popular package: import, find the images, re-judge them all
// from their stored inventories, record history.
// CUSTOMS_BENCH_IMAGES sets N (default 1000).
func BenchmarkReevaluateAfterDelta(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("CUSTOMS_BENCH_IMAGES")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	dir := b.TempDir()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	db, err := advisory.Open(ctx, filepath.Join(dir, "a.db"), advisory.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	eng, err := policy.New(ctx, policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{Store: st, DB: db, Policy: eng})
	if err != nil {
		b.Fatal(err)
	}
	distro := &customs.Distro{ID: "debian", VersionID: "12"}
	setup := time.Now()
	judged := map[int]store.Judgement{}
	var batch []store.NewImage
	for i := range n {
		inv := &customs.Inventory{Distro: distro, Image: customs.Image{ConfigDigest: fmt.Sprintf("sha256:%064d", i), Config: &customs.Config{User: "app"}}}
		for p := range 120 {
			name := fmt.Sprintf("libbase%d", p)
			if p == 0 {
				name = "openssl"
			}
			inv.Packages = append(inv.Packages, customs.Package{Name: name, Version: "1.0-1", Type: "deb", Source: name, SourceVersion: "1.0-1", Ecosystem: "Debian:12"})
		}
		for p := range 40 {
			name := fmt.Sprintf("app%d-dep%d", i%500, p)
			inv.Packages = append(inv.Packages, customs.Package{Name: name, Version: "2.0.0", Type: "npm", Ecosystem: "npm", PURL: "pkg:npm/" + name + "@2.0.0"})
		}
		// Images of one shape judge alike: judge each shape once, so that
		// storing 100,000 images does not take most of the run.
		j, ok := judged[i%500]
		if !ok {
			if j, err = s.judge(ctx, inv); err != nil {
				b.Fatal(err)
			}
			judged[i%500] = j
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
	b.ResetTimer()
	for i := range b.N {
		rec := `{"id":"BENCH-` + strconv.Itoa(i) + `","modified":"2026-11-01T00:00:00Z","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
			"affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0-2"}]}]}]}`
		delta, err := db.ImportReader(ctx, strings.NewReader(rec), advisory.ImportOptions{})
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
		res, err := s.reevalJob(ctx, "bench", j)
		if err != nil {
			b.Fatal(err)
		}
		st.Finish(ctx, j.ID, "bench", store.JobDone, res)
		if i == 0 {
			b.Logf("%s", res)
		}
	}
	b.ReportMetric(float64(n), "images")
}
