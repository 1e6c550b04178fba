package inspect_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/osrelease"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/pipeline"
)

// mapCache is an in-memory LayerCache that tells when a key is asked for.
type mapCache struct {
	mu    sync.Mutex
	m     map[string]*inspect.LayerResult
	asked func(key string)
}

func (c *mapCache) Get(_ context.Context, key string) (*inspect.LayerResult, bool) {
	c.asked(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	lr, ok := c.m[key]
	return lr, ok
}

func (c *mapCache) Put(_ context.Context, key string, lr *inspect.LayerResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = lr
}

// gate is a cataloger whose Parse of /gate waits until released: it holds
// the first scan inside its read of the shared layer. It reports the layer
// it found /gate in as a package, so a test sees which index each image
// gives the shared layer.
type gate struct{ release chan struct{} }

func (gate) Name() string                        { return "gate" }
func (gate) Wants(p string, _ *image.Entry) bool { return p == "gate" }
func (g gate) Collect(_ context.Context, _ *inspect.Env, rs []inspect.Result) ([]customs.Package, []string) {
	var out []customs.Package
	for _, r := range rs {
		out = append(out, customs.Package{Name: "gate", Version: strconv.Itoa(r.Layer), Type: "gate"})
	}
	return out, nil
}
func (g gate) Parse(ctx context.Context, _ *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &inspect.Parsed{Values: []string{"seen"}}, nil
}

// sharedLayerScans scans two images at once that share one layer (image
// a's first, image b's second), with a cache whose gate holds scan a
// inside its read of that layer until the layer has been asked of the
// cache asks times (so scan b has found it missing). It returns the
// inventories (nil where a scan failed, with its error) and how many times
// the shared layer was read.
func sharedLayerScans(t *testing.T, a, b string, shared bool, asks int) ([2]*customs.Inventory, [2]error, int) {
	t.Helper()
	// Scan a starts first; b starts once a has asked for the layer asks-1
	// times (it is reading it), and a's read goes on after b has asked.
	release, startB := make(chan struct{}), make(chan struct{})
	var releaseOnce, startOnce sync.Once
	var mu sync.Mutex
	misses := map[string]int{}
	mc := &mapCache{m: map[string]*inspect.LayerResult{}}
	mc.asked = func(key string) {
		mu.Lock()
		defer mu.Unlock()
		misses[key]++
		if misses[key] == asks-1 {
			startOnce.Do(func() { close(startB) })
		}
		if misses[key] == asks {
			releaseOnce.Do(func() { close(release) })
		}
	}
	var cache inspect.LayerCache = mc
	if shared {
		cache = inspect.NewSharedCache(mc)
	}
	reads := map[string]int{}
	opts := pipeline.Options{Cache: cache, CacheKey: "t", Catalogers: []inspect.Cataloger{osrelease.Detector{}, gate{release}},
		OnLayerRead: func(_ int, diffID string) {
			mu.Lock()
			defer mu.Unlock()
			reads[diffID]++
		}}
	var invs [2]*customs.Inventory
	var errs [2]error
	var wg sync.WaitGroup
	for i, ref := range []string{a, b} {
		if i == 1 {
			select {
			case <-startB:
			case <-time.After(time.Minute): // a failed before reading the layer
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			invs[i], errs[i] = pipeline.Inventory(context.Background(), "oci:"+ref, opts)
		}()
	}
	wg.Wait()
	most := 0
	for _, n := range reads {
		most = max(most, n)
	}
	return invs, errs, most
}

// TestSharedCacheReadsALayerOnce: with a SharedCache the scan that finds
// the shared layer missing while another reads it waits for that read
// instead of reading the layer again; both inventories place the layer's
// files at their own image's index of it.
func TestSharedCacheReadsALayerOnce(t *testing.T) {
	shared := testimage.LayerTar(t, []testimage.File{{Name: "gate", Body: "x"}, {Name: "etc/os-release", Body: "ID=debian\nVERSION_ID=\"12\"\n"}})
	a := testimage.BuildLayout(t, "a", shared, testimage.LayerTar(t, []testimage.File{{Name: "a", Body: "a"}})) + ":a"
	b := testimage.BuildLayout(t, "b", testimage.LayerTar(t, []testimage.File{{Name: "b", Body: "b"}}), shared) + ":b"
	for _, tc := range []struct {
		name      string
		shared    bool
		asks      int // a SharedCache asks once more itself, inside its flight
		wantReads int
	}{{"plain cache", false, 2, 2}, {"shared cache", true, 3, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			invs, errs, reads := sharedLayerScans(t, a, b, tc.shared, tc.asks)
			if reads != tc.wantReads {
				t.Errorf("the shared layer was read %d times, want %d", reads, tc.wantReads)
			}
			for i, wantIndex := range []string{"0", "1"} {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				if d := invs[i].Distro; d == nil || d.ID != "debian" || d.VersionID != "12" {
					t.Errorf("image %d: distro %+v", i, d)
				}
				var at []string
				for _, p := range invs[i].Packages {
					if p.Name == "gate" {
						at = append(at, p.Version)
					}
				}
				if len(at) != 1 || at[0] != wantIndex {
					t.Errorf("image %d: the shared layer's file found in layers %v, want [%s]", i, at, wantIndex)
				}
			}
		})
	}
}

// TestSharedCacheLeaderFails: when the scan reading the shared layer fails
// (its own copy of the blob is corrupt), the scan waiting for it reads the
// layer itself rather than failing too.
func TestSharedCacheLeaderFails(t *testing.T) {
	shared := testimage.LayerTar(t, []testimage.File{{Name: "gate", Body: strings.Repeat("x", 1<<16)}, {Name: "etc/os-release", Body: "ID=debian\n"}})
	a := testimage.BuildLayout(t, "a", shared)
	b := testimage.BuildLayout(t, "b", shared) + ":b"
	corruptFirstLayer(t, a)
	invs, errs, _ := sharedLayerScans(t, a+":a", b, true, 3)
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "does not match") {
		t.Errorf("the corrupt image: %v", errs[0])
	}
	if errs[1] != nil || invs[1].Distro == nil {
		t.Errorf("the sound image failed with the other's error: %v", errs[1])
	}
}

// corruptFirstLayer flips a byte in the middle of an OCI layout's first
// layer blob, in place (its digest no longer matches).
func corruptFirstLayer(t *testing.T, dir string) {
	t.Helper()
	var idx struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	var man struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	blob := func(d string) string { return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")) }
	raw, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) == 0 {
		t.Fatalf("index: %v", err)
	}
	raw, _ = os.ReadFile(blob(idx.Manifests[0].Digest))
	if err := json.Unmarshal(raw, &man); err != nil || len(man.Layers) == 0 {
		t.Fatalf("manifest: %v", err)
	}
	p := blob(man.Layers[0].Digest)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// panicky is a cataloger whose parser panics on the files it wants.
type panicky struct{}

func (panicky) Name() string                        { return "panicky" }
func (panicky) Wants(p string, _ *image.Entry) bool { return p == "boom" }
func (panicky) Parse(context.Context, *inspect.File, io.Reader) (*inspect.Parsed, error) {
	panic("index out of range")
}
func (panicky) Collect(context.Context, *inspect.Env, []inspect.Result) ([]customs.Package, []string) {
	return nil, nil
}

// TestParserPanicSkipsTheFile checks that a parser's panic on one file
// costs that file, with a warning naming it, not the scan.
func TestParserPanicSkipsTheFile(t *testing.T) {
	dir := testimage.BuildLayout(t, "p", testimage.LayerTar(t, []testimage.File{
		{Name: "boom", Body: "x"}, {Name: "etc/os-release", Body: "ID=alpine\nVERSION_ID=3.20.0\n"}}))
	inv, err := pipeline.Inventory(context.Background(), "oci:"+dir+":p", pipeline.Options{Catalogers: []inspect.Cataloger{panicky{}, osrelease.Detector{}}})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Distro == nil || inv.Distro.ID != "alpine" {
		t.Errorf("the rest of the layer was not read: distro %+v", inv.Distro)
	}
	found := false
	for _, w := range inv.Warnings {
		found = found || (strings.Contains(w, "/boom") && strings.Contains(w, "panicky"))
	}
	if !found {
		t.Errorf("no warning names the file: %q", inv.Warnings)
	}
}
