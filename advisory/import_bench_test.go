package advisory_test

import (
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/advisory/advisorytest"
)

// BenchmarkImportOSV imports a synthetic full OSV export (an all.zip built
// from the real sample's shapes by advisorytest) the way `customs db import`
// does, into a fresh database each iteration. It reports records/s and the
// resulting database size, raw and compressed, since peers quote their
// downloads compressed: Trivy's trivy-db is ~51 MB (gzip'd tar) and Grype's
// v6 database ~65 MB (zstd).
//
//	CUSTOMS_BENCH_RECORDS=300000 go test -run '^$' -bench ImportOSV -benchtime 1x ./advisory
//
// The default (advisorytest.DefaultRecords) keeps a plain -bench run quick.
// CUSTOMS_BENCH_CACHE=dir keeps the generated zip between runs.
func BenchmarkImportOSV(b *testing.B) {
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
		dir = b.TempDir() // the parent runs once, so the zip outlives every round below
	}
	zipPath, st, err := g.Export(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("records="+strconv.Itoa(st.Records), func(b *testing.B) {
		ctx := context.Background()
		var dbPath string
		cpu := advisorytest.CPUTime()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dbPath = filepath.Join(b.TempDir(), "advisories.db")
			b.StartTimer()
			db, err := advisory.Open(ctx, dbPath, advisory.Options{})
			if err != nil {
				b.Fatal(err)
			}
			delta, err := db.Import(ctx, []string{zipPath}, advisory.ImportOptions{Source: "osv"})
			if err != nil {
				b.Fatal(err)
			}
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if len(delta.Skipped) > 0 {
				b.Fatalf("%d records skipped, first: %s", len(delta.Skipped), delta.Skipped[0])
			}
			if n := len(delta.Added) + len(delta.Withdrawn); n != st.Records {
				b.Fatalf("imported %d records, generated %d", n, st.Records)
			}
			b.StartTimer()
		}
		b.StopTimer()
		cpu = advisorytest.CPUTime() - cpu // setup included: small beside an import
		b.ReportMetric(float64(st.Records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		fi, err := os.Stat(dbPath)
		if err != nil {
			b.Fatal(err)
		}
		gz, zs := compressedSizes(b, dbPath)
		b.ReportMetric(mb(fi.Size()), "db-MB")
		// The match snapshot is written beside it by every import (and
		// rebuilt locally, never downloaded).
		if si, err := os.Stat(advisory.SnapshotPath(dbPath)); err == nil {
			b.ReportMetric(mb(si.Size()), "snapshot-MB")
		} else {
			b.Fatal("no match snapshot:", err)
		}
		b.ReportMetric(mb(gz), "db-gzip-MB")
		b.ReportMetric(mb(zs), "db-zstd-MB")
		b.Logf("export: %d records (%d affected entries), %.0f MB JSON, %.0f MB zip, templates from %q; by ecosystem %v",
			st.Records, st.Affected, mb(st.RawBytes), mb(st.ZipBytes), g.Corpus(), st.Ecosystems)
		b.Logf("database %.1f MB raw, %.1f MB gzip -6, %.1f MB zstd -3 (%.0f bytes/record); peers' downloads: Trivy ~51 MB compressed, Grype ~65 MB",
			mb(fi.Size()), mb(gz), mb(zs), float64(fi.Size())/float64(st.Records))
	})
}

// compressedSizes measures the database as a download would ship it.
func compressedSizes(b *testing.B, path string) (gz, zs int64) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var gzc, zsc counter
	zw := gzip.NewWriter(&gzc)
	ze, err := zstd.NewWriter(&zsc, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(io.MultiWriter(zw, ze), f); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := ze.Close(); err != nil {
		b.Fatal(err)
	}
	return gzc.n, zsc.n
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func mb(n int64) float64 { return float64(n) / 1e6 }
