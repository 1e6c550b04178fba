package inspect_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

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
// the first scan inside its read of the shared layer.
type gate struct{ release chan struct{} }

func (gate) Name() string                        { return "gate" }
func (gate) Wants(p string, _ *image.Entry) bool { return p == "gate" }
func (g gate) Collect(context.Context, *inspect.Env, []inspect.Result) ([]customs.Package, []string) {
	return nil, nil
}
func (g gate) Parse(ctx context.Context, _ *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &inspect.Parsed{Values: []string{"seen"}}, nil
}

// TestSharedCacheReadsALayerOnce runs two scans of images that share their
// first layer at once, the first held inside its read of that layer until
// the second has found it missing from the cache: with a SharedCache the
// second waits for the first's read instead of reading the layer again,
// and both inventories still place the layer's files.
func TestSharedCacheReadsALayerOnce(t *testing.T) {
	shared := testimage.LayerTar(t, []testimage.File{{Name: "gate", Body: "x"}, {Name: "etc/os-release", Body: "ID=debian\nVERSION_ID=\"12\"\n"}})
	a := testimage.BuildLayout(t, "a", shared, testimage.LayerTar(t, []testimage.File{{Name: "a", Body: "a"}}))
	b := testimage.BuildLayout(t, "b", shared, testimage.LayerTar(t, []testimage.File{{Name: "b", Body: "b"}}))
	for _, tc := range []struct {
		name              string
		shared            bool
		asksBeforeRelease int
		wantReads         int
	}{{"plain cache", false, 2, 2}, {"shared cache", true, 3, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			var once sync.Once
			var mu sync.Mutex
			misses := map[string]int{}
			mc := &mapCache{m: map[string]*inspect.LayerResult{}}
			mc.asked = func(key string) {
				mu.Lock()
				defer mu.Unlock()
				misses[key]++
				// Released once the second scan has found the layer missing
				// (a SharedCache asks once more itself, inside its flight).
				if misses[key] == tc.asksBeforeRelease {
					once.Do(func() { close(release) })
				}
			}
			var cache inspect.LayerCache = mc
			if tc.shared {
				cache = inspect.NewSharedCache(mc)
			}
			var reads sync.Map // diff ID -> *int
			var readMu sync.Mutex
			opts := pipeline.Options{Cache: cache, CacheKey: "t", Catalogers: []inspect.Cataloger{osrelease.Detector{}, gate{release}},
				OnLayerRead: func(_ int, diffID string) {
					readMu.Lock()
					defer readMu.Unlock()
					n, _ := reads.LoadOrStore(diffID, new(int))
					*n.(*int)++
				}}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			invs := make([]*customs.Inventory, 2)
			for i, dir := range []string{a + ":a", b + ":b"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					invs[i], errs[i] = pipeline.Inventory(context.Background(), "oci:"+dir, opts)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
				// Each image knows the shared layer's files, read or waited for.
				if d := invs[i].Distro; d == nil || d.ID != "debian" || d.VersionID != "12" {
					t.Errorf("image %d: distro %+v", i, d)
				}
			}
			most := 0
			reads.Range(func(_, v any) bool {
				most = max(most, *v.(*int))
				return true
			})
			if most != tc.wantReads {
				t.Errorf("the shared layer was read %d times, want %d", most, tc.wantReads)
			}
		})
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
