package image_test

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/internal/testimage"
)

// walkAll walks every layer and returns the entries and warnings seen.
func walkAll(t *testing.T, ref string, opts image.Options) ([]image.Entry, []string, error) {
	t.Helper()
	var warns []string
	var mu sync.Mutex
	opts.Warn = func(s string) { mu.Lock(); warns = append(warns, s); mu.Unlock() }
	img, err := image.Open(context.Background(), ref, opts)
	if err != nil {
		return nil, warns, err
	}
	defer img.Close()
	var entries []image.Entry
	for _, l := range img.Layers {
		err := l.Walk(context.Background(), func(e *image.Entry, r io.Reader) error {
			entries = append(entries, *e)
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if err != nil {
			return entries, warns, err
		}
	}
	return entries, warns, nil
}

// peakHeap samples the Go heap while fn runs and returns the highest value.
// It bounds memory; it does not time anything.
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
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak.Load()
}

func TestPathsThatEscapeAreClampedAndReported(t *testing.T) {
	layer := testimage.LayerTar(t, []testimage.File{
		{Name: "../../etc/passwd", Body: "x"},
		{Name: "/etc/shadow", Body: "y"},
		{Name: "a/../../b", Body: "z"},
		{Name: "./ok/file", Body: "w"},
		{Name: "evil", Type: tar.TypeSymlink, Linkname: "../../../../etc/passwd"},
		{Name: "loop1", Type: tar.TypeSymlink, Linkname: "loop2"},
		{Name: "loop2", Type: tar.TypeSymlink, Linkname: "loop1"},
		{Name: "hard", Type: tar.TypeLink, Linkname: "../../../etc/passwd"},
	})
	// A temp dir of its own: other test packages running at once create
	// and remove customs-* dirs in the shared one.
	t.Setenv("TMPDIR", t.TempDir())
	before := listTemp(t)
	dir := testimage.BuildLayout(t, "x", layer)
	entries, warns, err := walkAll(t, "oci:"+dir+":x", image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]image.Entry{}
	for _, e := range entries {
		got[e.Path] = e
	}
	for _, p := range []string{"etc/passwd", "etc/shadow", "b", "ok/file", "evil", "loop1", "hard"} {
		if _, ok := got[p]; !ok {
			t.Errorf("entry %s missing; have %v", p, keys(got))
		}
	}
	if got["hard"].Link != "etc/passwd" {
		t.Errorf("hard link target %q not clamped", got["hard"].Link)
	}
	joined := strings.Join(warns, "\n")
	for _, want := range []string{`"../../etc/passwd"`, `"a/../../b"`, `hard link "hard"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("no warning naming %s in:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "/etc/shadow") {
		t.Errorf("an absolute name is not an escape, but was reported: %s", joined)
	}
	if after := listTemp(t); after != before {
		t.Errorf("walking wrote to the temp dir:\nbefore %s\nafter  %s", before, after)
	}
}

func listTemp(t *testing.T) string {
	ents, _ := os.ReadDir(os.TempDir())
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "customs") {
			names = append(names, e.Name())
		}
	}
	return strings.Join(names, ",")
}

func keys(m map[string]image.Entry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestWhiteoutsBecomeEntries(t *testing.T) {
	layer := testimage.LayerTar(t, []testimage.File{
		{Name: "etc/.wh.motd"},
		{Name: "opt/cfg/.wh..wh..opq"},
		{Name: ".wh..wh.plnk/123"},
	})
	entries, _, err := walkAll(t, "oci:"+testimage.BuildLayout(t, "x", layer)+":x", image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Kind.String()+" "+e.Path)
	}
	want := "whiteout etc/motd,opaque opt/cfg,dir .wh..wh.plnk"
	if strings.Join(got, ",") != want && strings.Join(got, ",") != "whiteout etc/motd,opaque opt/cfg" {
		t.Errorf("entries %v, want %s", got, want)
	}
}

// TestGzipBomb: a small layer that inflates to gigabytes of zeros is refused
// with a clear error, in bounded memory.
func TestGzipBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 2 GiB stream")
	}
	blob := filepath.Join(t.TempDir(), "bomb.gz")
	f, err := os.Create(blob)
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := kgzip.NewWriterLevel(f, kgzip.BestCompression)
	tw := tar.NewWriter(zw)
	const size = 2 << 30
	tw.WriteHeader(&tar.Header{Name: "zeros", Size: size, Mode: 0o644, Typeflag: tar.TypeReg})
	zero := make([]byte, 1<<20)
	for n := 0; n < size; n += len(zero) {
		tw.Write(zero)
	}
	tw.Close()
	zw.Close()
	f.Close()
	b, _ := os.ReadFile(blob)
	dir := testimage.RawLayout(t, "bomb", [][]byte{b}, "")
	var err2 error
	peak := peakHeap(func() { _, _, err2 = walkAll(t, "oci:"+dir+":bomb", image.Options{}) })
	if err2 == nil || !strings.Contains(err2.Error(), "decompression bomb") {
		t.Fatalf("bomb of %d compressed bytes: error %v", len(b), err2)
	}
	if !strings.Contains(err2.Error(), "layer 1") {
		t.Errorf("error does not name the layer: %v", err2)
	}
	if peak > 256<<20 {
		t.Errorf("peak heap %d MiB", peak>>20)
	}
}

// TestMillionFiles walks a layer of 1,000,000 tiny files in bounded memory.
func TestMillionFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1 GiB layer")
	}
	const n = 1_000_000
	blob := filepath.Join(t.TempDir(), "many.gz")
	f, _ := os.Create(blob)
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, _ := kgzip.NewWriterLevel(bw, kgzip.BestSpeed)
	tw := tar.NewWriter(zw)
	for i := 0; i < n; i++ {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%03d/f%07d", i%1000, i), Size: 1, Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write([]byte{'x'})
	}
	tw.Close()
	zw.Close()
	bw.Flush()
	f.Close()
	b, _ := os.ReadFile(blob)
	dir := testimage.RawLayout(t, "many", [][]byte{b}, "")
	b = nil
	count := 0
	var err error
	peak := peakHeap(func() {
		img, e := image.Open(context.Background(), "oci:"+dir+":many", image.Options{})
		if e != nil {
			err = e
			return
		}
		defer img.Close()
		err = img.Layers[0].Walk(context.Background(), func(e *image.Entry, r io.Reader) error {
			count++
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Errorf("walked %d entries, want %d", count, n)
	}
	if peak > 256<<20 {
		t.Errorf("peak heap %d MiB", peak>>20)
	}
}

func TestDeepDirectory(t *testing.T) {
	var files []testimage.File
	p := ""
	for i := 0; i < 10000; i++ {
		p += "d/"
	}
	files = append(files, testimage.File{Name: p + "leaf", Body: "deep"})
	dir := testimage.BuildLayout(t, "deep", testimage.LayerTar(t, files))
	entries, _, err := walkAll(t, "oci:"+dir+":deep", image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !strings.HasSuffix(entries[0].Path, "/leaf") || strings.Count(entries[0].Path, "/") != 10000 {
		t.Errorf("deep entry not read whole: %d entries", len(entries))
	}
}

func TestCorruptLayers(t *testing.T) {
	good := testimage.Gzip(testimage.LayerTar(t, []testimage.File{{Name: "etc/os-release", Body: strings.Repeat("ID=debian\n", 5000)}}))
	corrupt := append([]byte(nil), good...)
	for i := 20; i < len(corrupt)-20; i += 7 {
		corrupt[i] ^= 0x5a
	}
	for _, tc := range []struct {
		name string
		blob []byte
		want string
	}{
		{"truncated gzip", good[:len(good)/2], "layer 1"},
		{"corrupt gzip", corrupt, "layer 1"},
		{"truncated tar", testimage.Gzip(testimage.LayerTar(t, []testimage.File{{Name: "a", Body: strings.Repeat("x", 4096)}})[:1000]), "layer 1"},
		{"not a tar", testimage.Gzip([]byte(strings.Repeat("garbage ", 1000))), "layer 1"},
		{"xz", append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, make([]byte, 100)...), "xz"},
	} {
		for _, gz := range decoders() {
			t.Run(tc.name+"/"+filepath.Base(gz), func(t *testing.T) {
				t.Setenv("CUSTOMS_GZIP", gz)
				dir := testimage.RawLayout(t, "bad", [][]byte{tc.blob}, "")
				_, _, err := walkAll(t, "oci:"+dir+":bad", image.Options{})
				if err == nil {
					t.Fatal("no error")
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q does not say %q", err, tc.want)
				}
			})
		}
	}
}

func TestTamperedBlobsAreRefused(t *testing.T) {
	layer := testimage.Gzip(testimage.LayerTar(t, []testimage.File{{Name: "etc/hostname", Body: "box"}}))
	tamper := func(t *testing.T, dir, which string) {
		t.Helper()
		raw, _ := os.ReadFile(filepath.Join(dir, "index.json"))
		var digest string
		switch which {
		case "manifest":
			i := strings.Index(string(raw), "sha256:")
			digest = string(raw[i+7 : i+71])
		default:
			m, _ := os.ReadFile(filepath.Join(dir, "blobs", "sha256", manifestHex(raw)))
			key := `"config":`
			if which == "layer" {
				key = `"layers":`
			}
			s := string(m)
			i := strings.Index(s[strings.Index(s, key):], "sha256:") + strings.Index(s, key)
			digest = s[i+7 : i+71]
		}
		p := filepath.Join(dir, "blobs", "sha256", digest)
		b, _ := os.ReadFile(p)
		b[len(b)/2] ^= 1
		os.WriteFile(p, b, 0o644)
	}
	for _, which := range []string{"manifest", "config", "layer"} {
		for _, gz := range decoders() {
			t.Run(which+"/"+filepath.Base(gz), func(t *testing.T) {
				t.Setenv("CUSTOMS_GZIP", gz)
				dir := testimage.RawLayout(t, "x", [][]byte{layer}, "")
				tamper(t, dir, which)
				_, _, err := walkAll(t, "oci:"+dir+":x", image.Options{})
				if err == nil || !strings.Contains(err.Error(), "does not match") {
					t.Fatalf("tampered %s: error %v", which, err)
				}
			})
		}
	}
}

// decoders are the gzip decoders a test runs with (CUSTOMS_GZIP): Go's,
// the default choice ("auto", which keeps small blobs in Go), and igzip
// forced, when it is installed, which reads a layout's blob file itself.
func decoders() []string {
	ds := []string{"go", "auto"}
	if p, err := exec.LookPath("igzip"); err == nil {
		ds = append(ds, p)
	}
	return ds
}

func manifestHex(index []byte) string {
	i := strings.Index(string(index), "sha256:")
	return string(index[i+7 : i+71])
}

// TestBlobWrittenDuringTheWalk writes to a layer's blob file while igzip
// reads it (the decoder and the hasher read the file apart, so the bytes
// inventoried could differ from the bytes hashed): the walk is refused.
func TestBlobWrittenDuringTheWalk(t *testing.T) {
	igzip, err := exec.LookPath("igzip")
	if err != nil {
		t.Skip("igzip not installed: blob files are read through this process, hashed as decoded")
	}
	t.Setenv("CUSTOMS_GZIP", igzip)
	layer := testimage.Gzip(testimage.LayerTar(t, []testimage.File{{Name: "a", Body: "a"}, {Name: "b", Body: "b"}}))
	dir := testimage.RawLayout(t, "x", [][]byte{layer}, "")
	img, err := image.Open(context.Background(), "oci:"+dir+":x", image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	blob := filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(img.Layers[0].Info().Digest, "sha256:"))
	written := false
	err = img.Layers[0].Walk(context.Background(), func(e *image.Entry, r io.Reader) error {
		if !written {
			written = true
			// The same byte written back: the content stays right, but the
			// file was written while being read.
			f, err := os.OpenFile(blob, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			time.Sleep(10 * time.Millisecond) // a later modification time on coarse clocks
			if _, err := f.WriteAt(layer[:1], 0); err != nil {
				return err
			}
		}
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "changed while it was being read") {
		t.Fatalf("error %v", err)
	}
}

// TestTarCutInsideASkippedEntry: a well-formed gzip stream whose tar ends
// inside the content of an entry nobody reads (skipped, not copied: Seek)
// is an error, not a clean end of the layer.
func TestTarCutInsideASkippedEntry(t *testing.T) {
	whole := testimage.LayerTar(t, []testimage.File{{Name: "big", Body: strings.Repeat("x", 300<<10)}, {Name: "after", Body: "y"}})
	blob := testimage.Gzip(whole[:100<<10])
	for _, gz := range decoders() {
		t.Run(filepath.Base(gz), func(t *testing.T) {
			t.Setenv("CUSTOMS_GZIP", gz)
			dir := testimage.RawLayout(t, "cut", [][]byte{blob}, "")
			img, err := image.Open(context.Background(), "oci:"+dir+":cut", image.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			seen := 0
			err = img.Layers[0].Walk(context.Background(), func(e *image.Entry, r io.Reader) error {
				seen++
				return nil // content not read: the walk skips it
			})
			if err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
				t.Fatalf("walk of a cut tar: %v (%d entries)", err, seen)
			}
		})
	}
}
