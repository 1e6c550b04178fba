package match_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/advisory/advisorytest"
	"github.com/customs-sec/customs/match"
)

// BenchmarkMatch matches a 10,000-package inventory (Debian binaries by
// source package, npm, Go modules and stdlib, PyPI, Maven, gems, crates...)
// against a synthetic full OSV export, through match.Match as the scan
// pipeline calls it. The goal is under 100 ms per 10,000 packages against
// a full-size database:
//
//	CUSTOMS_BENCH_RECORDS=300000 CUSTOMS_BENCH_CACHE=/tmp/customs-bench \
//	  go test -run '^$' -bench Match -benchtime 20x ./match
//
// The database is imported once per run (minutes at 300,000 records);
// CUSTOMS_BENCH_CACHE keeps it between runs.
func BenchmarkMatch(b *testing.B) {
	cfg, err := advisorytest.BenchConfig()
	if err != nil {
		b.Fatal(err)
	}
	g, err := advisorytest.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	dir := advisorytest.CacheDir()
	if dir == "" {
		dir = b.TempDir() // the parent runs once, so the database outlives every round below
	}
	ctx := context.Background()
	dbPath, err := g.Database(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	db, err := advisory.Open(ctx, dbPath, advisory.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const packages = 10000
	inv := g.Inventory(packages)
	b.Run("records="+strconv.Itoa(cfg.Records)+"/packages="+strconv.Itoa(packages), func(b *testing.B) {
		start := time.Now()
		res, err := match.Match(ctx, db, inv)
		if err != nil {
			b.Fatal(err)
		}
		first := time.Since(start)
		b.ReportAllocs()
		cpu := advisorytest.CPUTime()
		n := len(res.Findings)
		for b.Loop() {
			// The previous result is garbage, as it is after a scan: kept
			// alive, every collection during the next match would mark it.
			res = nil
			if res, err = match.Match(ctx, db, inv); err != nil {
				b.Fatal(err)
			}
		}
		if len(res.Findings) != n {
			b.Fatalf("%d findings, the first match had %d", len(res.Findings), n)
		}
		cpu = advisorytest.CPUTime() - cpu
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N)*10000/packages, "ms/10k-pkgs")
		// CPU time over every core (GC included): the wall time above also
		// measures whoever else shares the machine.
		b.ReportMetric(cpu.Seconds()*1000/float64(b.N)*10000/packages, "cpu-ms/10k-pkgs")
		b.ReportMetric(float64(len(res.Findings)), "findings")
		b.Logf("%d packages, %d findings, first match %v (cold caches)", len(inv.Packages), len(res.Findings), first.Round(time.Millisecond))
	})
}
