package java_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"hash/crc32"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/java"
	"github.com/customs-sec/customs/internal/catalogertest"
	"github.com/customs-sec/customs/internal/testimage"
)

// peakHeap samples the Go heap while fn runs and returns the highest value
// (as image/hostile_test.go does). It bounds memory; it does not time anything.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak.Load()
}

func heapNow() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// zipFile is one member of an archive built with archive/zip.
type zipFile struct {
	name  string
	body  []byte
	store bool
	raw   []byte // pre-deflated content, written as is
	usize uint64 // declared uncompressed size of raw
	crc   uint32
}

func buildZip(t testing.TB, files []zipFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		if f.raw != nil {
			w, err := zw.CreateRaw(&zip.FileHeader{Name: f.name, Method: zip.Deflate, CRC32: f.crc,
				CompressedSize64: uint64(len(f.raw)), UncompressedSize64: f.usize})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(f.raw)
			continue
		}
		m := zip.Deflate
		if f.store {
			m = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pom(group, artifact, version string) zipFile {
	return zipFile{name: "META-INF/maven/" + group + "/" + artifact + "/pom.properties", body: []byte(pomProperties(group, artifact, version))}
}

// zeros returns a raw deflate stream of units×16 MiB of zeros, and its
// CRC: one sync-flushed run of blocks repeated (each run is byte-aligned and
// refers only to zeros), then a final empty block. 1 GiB costs ~1 MB.
func zeros(t testing.TB, units int) ([]byte, uint32) {
	t.Helper()
	const unit = 16 << 20
	var seg bytes.Buffer
	w, _ := flate.NewWriter(&seg, flate.BestCompression)
	w.Write(make([]byte, unit))
	w.Flush()
	var end bytes.Buffer
	w2, _ := flate.NewWriter(&end, flate.BestCompression)
	w2.Close()
	out := append(bytes.Repeat(seg.Bytes(), units), end.Bytes()...)
	crc := uint32(0)
	z := make([]byte, 1<<20)
	for i := 0; i < units*16; i++ {
		crc = crc32.Update(crc, crc32.IEEETable, z)
	}
	return out, crc
}

func parse(t testing.TB, c java.Cataloger, name string, b []byte, tmp string) (*inspect.Parsed, error) {
	t.Helper()
	f := &inspect.File{Path: name, Entry: &image.Entry{Path: name, Kind: image.KindFile, Size: int64(len(b))}, TempDir: tmp}
	return c.Parse(context.Background(), f, bytes.NewReader(b))
}

func TestZipBomb(t *testing.T) {
	gig, gigCRC := zeros(t, 64)    // 1 GiB
	small, smallCRC := zeros(t, 3) // 48 MiB: honest, but not a zip
	files := []zipFile{
		pom("ok", "ok", "1.0"),
		// Declares 100 bytes, inflates to 1 GiB.
		{name: "META-INF/MANIFEST.MF", raw: gig, usize: 100, crc: gigCRC},
		{name: "META-INF/maven/evil/liar/pom.properties", raw: gig, usize: 50, crc: gigCRC},
		// Declares (truthfully) more than any bound.
		{name: "META-INF/maven/evil/huge/pom.properties", raw: gig, usize: 1 << 30, crc: gigCRC},
		{name: "BOOT-INF/lib/huge.jar", raw: gig, usize: 5 << 30, crc: gigCRC},
		{name: "BOOT-INF/lib/liar.jar", raw: gig, usize: 1 << 20, crc: gigCRC},
	}
	// Many honest 48 MiB members named like jars: together they pass the
	// per-file byte budget.
	for i := 0; i < 24; i++ {
		files = append(files, zipFile{name: fmt.Sprintf("BOOT-INF/lib/big-%d.jar", i), raw: small, usize: 48 << 20, crc: smallCRC})
	}
	bomb := buildZip(t, files)
	t.Logf("bomb: %d bytes, declares over %d GiB", len(bomb), (5<<30+1<<30+1<<20+24*48<<20)>>30)
	tmp := t.TempDir()
	var out *inspect.Parsed
	var err error
	base := heapNow()
	start := time.Now()
	peak := peakHeap(func() { out, err = parse(t, java.Cataloger{}, "app/bomb.jar", bomb, tmp) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("parsed in %v, heap peak %d MiB over a %d MiB baseline", time.Since(start), (peak-base)>>20, base>>20)
	if peak > base+300<<20 {
		t.Errorf("heap grew by %d MiB", (peak-base)>>20)
	}
	if len(out.Packages) != 1 || out.Packages[0].Name != "ok:ok" {
		t.Errorf("packages %v", rows(out.Packages))
	}
	w := strings.Join(out.Warnings, "\n")
	for _, want := range []string{
		`manifest main section longer than`,
		`"META-INF/maven/evil/liar/pom.properties" inflates to more than 65536 bytes`,
		`"META-INF/maven/evil/huge/pom.properties" declares 1073741824 bytes`,
		`/app/bomb.jar!/BOOT-INF/lib/huge.jar: declares 5368709120 bytes`,
		`/app/bomb.jar!/BOOT-INF/lib/liar.jar: inflates past its declared 1048576 bytes`,
		`/app/bomb.jar!/BOOT-INF/lib/big-0.jar: not a zip archive`,
		`the most allowed per file`,
	} {
		if !strings.Contains(w, want) {
			t.Errorf("no warning %q in:\n%s", want, w)
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
}

// nestedJar builds a jar nested depth levels deep, each level with its own
// pom.properties, alternately stored and deflated.
func nestedJar(t testing.TB, depth int) []byte {
	t.Helper()
	var inner []byte
	for i := depth - 1; i >= 0; i-- {
		files := []zipFile{pom("lvl", fmt.Sprintf("level-%d", i), "1.0")}
		if inner != nil {
			files = append(files, zipFile{name: fmt.Sprintf("lib/level-%d.jar", i+1), body: inner, store: i%2 == 0})
		}
		inner = buildZip(t, files)
	}
	return inner
}

func TestDeepNesting(t *testing.T) {
	b := nestedJar(t, 50)
	out, err := parse(t, java.Cataloger{}, "app/deep.jar", b, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Packages) != 17 {
		t.Errorf("%d packages; want levels 0-16: %v", len(out.Packages), rows(out.Packages))
	}
	last := out.Packages[len(out.Packages)-1]
	if last.Name != "lvl:level-16" || strings.Count(last.Locations[0], "!/") != 16 {
		t.Errorf("deepest %s at %s", last.Name, last.Locations[0])
	}
	w := strings.Join(out.Warnings, "\n")
	if len(out.Warnings) != 1 || !strings.Contains(w, "!/lib/level-16.jar: 1 nested archives more than 16 levels deep; not read") {
		t.Errorf("warnings %q", w)
	}
	// A smaller bound is honoured too.
	out, _ = parse(t, java.Cataloger{Limits: java.Limits{MaxDepth: 2}}, "app/deep.jar", b, t.TempDir())
	if len(out.Packages) != 3 {
		t.Errorf("MaxDepth 2: %v", rows(out.Packages))
	}
}

func TestNotZipAndTruncated(t *testing.T) {
	real := nestedJar(t, 3)
	if b, err := os.ReadFile("/usr/share/java/guava.jar"); err == nil {
		real = b
	}
	zeroed := bytes.Clone(real)
	for i := 1000; i < len(zeroed)/2; i++ {
		zeroed[i] = 0
	}
	layer := testimage.LayerTar(t, []testimage.File{
		{Name: "app/notzip.jar", Body: "#!/bin/sh\necho this is not a jar\n"},
		{Name: "app/empty.jar", Body: ""},
		{Name: "app/half.jar", Body: string(real[:len(real)/2])},
		{Name: "app/cut.jar", Body: string(real[:len(real)-10])},
		{Name: "app/eocd-only.jar", Body: "PK\x05\x06" + strings.Repeat("\x00", 18)},
		{Name: "app/lying-eocd.jar", Body: "PK\x05\x06\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00"},
		{Name: "app/zeroed.jar", Body: string(zeroed)},
	})
	inv := catalogertest.Inventory(t, []inspect.Cataloger{java.Cataloger{}}, layer)
	w := strings.Join(inv.Warnings, "\n")
	for _, want := range []string{
		"java: /app/notzip.jar (layer 1): not a zip archive", "java: /app/empty.jar (layer 1): not a zip archive",
		"java: /app/half.jar (layer 1): not a zip archive", "java: /app/cut.jar (layer 1): not a zip archive",
		"java: /app/lying-eocd.jar (layer 1): not a zip archive",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("no warning %q in:\n%s", want, w)
		}
	}
	for _, p := range inv.Packages {
		if p.Locations[0] != "/app/zeroed.jar" {
			t.Errorf("package from a broken archive: %s at %v", p.Name, p.Locations)
		}
	}
	t.Logf("zeroed jar: %d packages; warnings:\n%s", len(inv.Packages), w)
}

func TestManyEntries(t *testing.T) {
	const n = 100000
	files := make([]zipFile, 0, n+1)
	for i := 0; i < n; i++ {
		files = append(files, zipFile{name: fmt.Sprintf("com/example/gen/C%06d.class", i), store: true})
	}
	files = append(files, pom("com.example", "many", "1.0"))
	b := buildZip(t, files) // over 65535 entries: archive/zip writes zip64 end records
	base := heapNow()
	var out *inspect.Parsed
	var err error
	peak := peakHeap(func() { out, err = parse(t, java.Cataloger{}, "app/many.jar", b, t.TempDir()) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d entries (%d MiB): heap peak %d MiB over baseline", n+1, len(b)>>20, (peak-base)>>20)
	// The archive itself is in memory; the directory must not add much.
	if grow := int64(peak) - int64(base) - int64(len(b)); grow > 48<<20 {
		t.Errorf("heap grew by %d MiB beyond the archive", grow>>20)
	}
	if len(out.Packages) != 1 || out.Packages[0].Name != "com.example:many" || len(out.Warnings) != 0 {
		t.Errorf("packages %v warnings %v", rows(out.Packages), out.Warnings)
	}
	out, _ = parse(t, java.Cataloger{Limits: java.Limits{MaxEntries: 50000}}, "app/many.jar", b, t.TempDir())
	if len(out.Packages) != 0 || !strings.Contains(strings.Join(out.Warnings, ";"), "more than 50000 entries; the rest not read") {
		t.Errorf("MaxEntries: packages %v warnings %v", rows(out.Packages), out.Warnings)
	}
}

func TestEntryNamesInLocations(t *testing.T) {
	inner := buildZip(t, []zipFile{pom("g", "inner", "1")})
	b := buildZip(t, []zipFile{
		{name: "../../../etc/x!/evil.jar", body: inner},
		{name: "/abs/inner.jar", body: inner, store: true},
		{name: "dir/\x1b[31mred\n.jar", body: inner},
		{name: "bad\xff.jar", body: inner},
	})
	out, err := parse(t, java.Cataloger{}, "app/t.jar", b, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var locs []string
	for _, p := range out.Packages {
		locs = append(locs, p.Locations[0])
	}
	want := []string{"/app/t.jar!/etc/x%21/evil.jar", "/app/t.jar!/abs/inner.jar", "/app/t.jar!/dir/[31mred.jar", "/app/t.jar!/bad\uFFFD.jar"}
	if strings.Join(locs, "|") != strings.Join(want, "|") {
		t.Errorf("locations\n got %q\nwant %q", locs, want)
	}
}

// testTemporaryFiles sends archives too large for memory to f.TempDir and
// checks they are removed, and that a file over MaxOnDisk is refused.
func testTemporaryFiles(t *testing.T, f fixtures) {
	tmp := t.TempDir()
	c := java.Cataloger{Limits: java.Limits{MaxInMemory: 1024}}
	out, err := parse(t, c, "srv/app.ear", f.ear, tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Packages) != 4 || len(out.Warnings) != 0 {
		t.Errorf("packages %v warnings %v", rows(out.Packages), out.Warnings)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
	max := int64(len(f.ear) - 1)
	out, err = parse(t, java.Cataloger{Limits: java.Limits{MaxInMemory: 1024, MaxOnDisk: max}}, "srv/app.ear", f.ear, tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Packages) != 0 || len(out.Warnings) != 1 || out.Warnings[0] != fmt.Sprintf("larger than %d bytes; not read", max) {
		t.Errorf("MaxOnDisk: packages %v warnings %v", rows(out.Packages), out.Warnings)
	}
	// Nested archives held in memory are bounded too: past MaxHeld they
	// go to disk and are still read.
	out, _ = parse(t, java.Cataloger{Limits: java.Limits{MaxHeld: 1}}, "srv/app.ear", f.ear, tmp)
	if len(out.Packages) != 4 || len(out.Warnings) != 0 {
		t.Errorf("MaxHeld: packages %v warnings %v", rows(out.Packages), out.Warnings)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func testLimits(t *testing.T, f fixtures) {
	out, _ := parse(t, java.Cataloger{Limits: java.Limits{MaxBytes: 2000}}, "srv/app.ear", f.ear, t.TempDir())
	if !strings.Contains(strings.Join(out.Warnings, ";"), "read 2000 uncompressed bytes, the most allowed per file") {
		t.Errorf("MaxBytes: warnings %v", out.Warnings)
	}
	out, _ = parse(t, java.Cataloger{Limits: java.Limits{MaxPackages: 2}}, "srv/app.ear", f.ear, t.TempDir())
	if len(out.Packages) != 2 || !strings.Contains(strings.Join(out.Warnings, ";"), "more than 2 packages in one file") {
		t.Errorf("MaxPackages: packages %v warnings %v", rows(out.Packages), out.Warnings)
	}
	out, _ = parse(t, java.Cataloger{Limits: java.Limits{MaxTotalEntries: 10}}, "srv/app.ear", f.ear, t.TempDir())
	if !strings.Contains(strings.Join(out.Warnings, ";"), "more than 10 archive entries in one file") {
		t.Errorf("MaxTotalEntries: warnings %v", out.Warnings)
	}
}

// TestOverlappingNestedArchives: many directory entries pointing at the
// same stored nested jar (the overlapping-entry zip bomb) cost entries and
// packages, both bounded.
func TestOverlappingNestedArchives(t *testing.T) {
	inner := buildZip(t, []zipFile{pom("g", "a", "1")})
	var files []zipFile
	for i := 0; i < 3000; i++ {
		files = append(files, zipFile{name: fmt.Sprintf("lib/x%d.jar", i), body: inner, store: true})
	}
	b := buildZip(t, files)
	out, err := parse(t, java.Cataloger{Limits: java.Limits{MaxPackages: 1000}}, "app/o.jar", b, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Packages) != 1000 || !strings.Contains(strings.Join(out.Warnings, ";"), "more than 1000 packages") {
		t.Errorf("%d packages, warnings %v", len(out.Packages), out.Warnings)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := nestedJar(t, 3)
	f := &inspect.File{Path: "a.jar", Entry: &image.Entry{Kind: image.KindFile, Size: int64(len(b))}}
	if _, err := (java.Cataloger{}).Parse(ctx, f, bytes.NewReader(b)); err == nil {
		t.Error("no error after cancellation")
	}
}
