// Package inspect is the inspect stage: it walks every layer of an image once,
// offers each file to the catalogers that want it, and merges what they found
// into the image's inventory, seeing the filesystem exactly as a container
// would (whiteouts and opaque directories applied) while remembering which
// layer wrote what.
//
// A cataloger reads one kind of file (a package database, a lock file, a
// binary) and lives in a folder of its own under inspect/; the list of them is
// in inspect/catalogers.
package inspect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
)

// Cataloger finds packages (or other facts) in the files of one ecosystem.
type Cataloger interface {
	// Name identifies the cataloger ("dpkg", "go-binary").
	Name() string
	// Wants says whether to read a file. It sees only the path and metadata
	// and is asked about every entry of every layer, so it must be cheap.
	Wants(path string, e *image.Entry) bool
	// Parse reads one wanted file, bounding what it reads. Parse is called
	// from several goroutines at once (layers are read in parallel).
	Parse(ctx context.Context, f *File, r io.Reader) (*Parsed, error)
	// Collect turns what Parse found, in every layer, into packages. Results
	// say whether their file survives in the final filesystem. It is called
	// once, after all layers.
	Collect(ctx context.Context, env *Env, results []Result) ([]customs.Package, []string)
}

// DistroDetector is a cataloger that tells the image's distribution. Its
// Collect runs before the others, so they can name packages for the distro.
type DistroDetector interface {
	Cataloger
	Distro(results []Result) *customs.Distro
}

// FactCollector is implemented by catalogers that find facts other than
// packages (secrets, file modes). Merge asks them after Collect.
type FactCollector interface {
	CollectFacts(ctx context.Context, env *Env, results []Result) Facts
}

// Facts are what a FactCollector found.
type Facts struct {
	Secrets    []customs.Secret
	FileIssues []customs.FileIssue
	Warnings   []string
}

// HeaderFilter is implemented by catalogers that decide on a file's first
// bytes (magic numbers) after Wants said yes to its path: the walk peeks at
// most HeaderSize bytes once and offers the file only to catalogers whose
// WantsHeader agrees, so an ELF file no one wants is never buffered.
type HeaderFilter interface {
	WantsHeader(path string, header []byte) bool
}

// HeaderSize is how many leading bytes WantsHeader sees (fewer for a shorter file).
const HeaderSize = 512

// File is a wanted file, as offered to Parse.
type File struct {
	Path    string // relative, slash-separated: "var/lib/dpkg/status"
	Entry   *image.Entry
	Layer   int
	TempDir string // a scan-private directory for catalogers that need a file on disk
}

// Parsed is what a cataloger read from one file.
type Parsed struct {
	Packages []customs.Package `json:"packages,omitempty"`
	// Values are cataloger-specific facts (a dpkg .list file's paths, a
	// copyright file's licenses) that Collect combines.
	Values   []string         `json:"values,omitempty"`
	Distro   *customs.Distro  `json:"distro,omitempty"`
	Secrets  []customs.Secret `json:"secrets,omitempty"`
	Warnings []string         `json:"warnings,omitempty"`
}

// Result is a parsed file with where it came from.
type Result struct {
	Cataloger string     `json:"cataloger"`
	Path      string     `json:"path"`
	Layer     int        `json:"layer"`
	Kind      image.Kind `json:"kind"`
	Mode      uint32     `json:"mode"`
	Size      int64      `json:"size"`
	UID       int        `json:"uid"`
	GID       int        `json:"gid"`
	Parsed    *Parsed    `json:"parsed"`
	Visible   bool       `json:"-"`
	Hidden    *HiddenBy  `json:"-"`
}

// HiddenBy says which layer removed a file from the final filesystem.
type HiddenBy struct {
	Layer int
	How   string // "whiteout", "opaque", "replaced"
}

// Env is what Collect knows about the whole image.
type Env struct {
	Distro *customs.Distro
	Layers []customs.Layer
}

// HiddenRef names the layer that removed a result's file, if one did.
func (e *Env) HiddenRef(r Result) *customs.LayerRef {
	if r.Hidden == nil {
		return nil
	}
	ref := e.LayerRef(r.Hidden.Layer)
	return &ref
}

// LayerRef names layer i.
func (e *Env) LayerRef(i int) customs.LayerRef {
	if i >= 0 && i < len(e.Layers) {
		l := e.Layers[i]
		return customs.LayerRef{Index: i, DiffID: l.DiffID, Digest: l.Digest}
	}
	return customs.LayerRef{Index: i}
}

// LayerResult is what one layer contributed: its parsed files and what it
// deleted or replaced. It depends only on the layer's content and the set of
// catalogers, so it can be kept by diff ID and never computed again.
type LayerResult struct {
	Index   int      `json:"index"`
	DiffID  string   `json:"diff_id"`
	Results []Result `json:"results"`
	// Paths are FNV-64a hashes of every entry path, sorted; NonDirs only of
	// entries that are not directories (such an entry hides a lower
	// directory's contents). Whiteouts and Opaque likewise, for the paths
	// deleted and the directories made opaque.
	Paths     []uint64 `json:"paths"`
	NonDirs   []uint64 `json:"non_dirs"`
	Whiteouts []uint64 `json:"whiteouts"`
	Opaque    []uint64 `json:"opaque"`
	Entries   int      `json:"entries"`
	Warnings  []string `json:"warnings,omitempty"`
}

// LayerCache keeps layer results by diff ID (the server's content-addressed
// index). Implementations must be safe for concurrent use.
type LayerCache interface {
	Get(ctx context.Context, key string) (*LayerResult, bool)
	Put(ctx context.Context, key string, lr *LayerResult)
}

// Inspector inspects images with a set of catalogers.
type Inspector struct {
	Catalogers []Cataloger
	// Parallel is how many layers are read at once (default: GOMAXPROCS).
	Parallel int
	// Cache, when set, is asked for a layer's result before reading it.
	Cache LayerCache
	// CacheKey distinguishes cataloger sets sharing one cache.
	CacheKey string
	// SharedBufferLimit bounds the in-memory copy of a file that several
	// catalogers want (default 1 MiB); larger files go to a temporary file.
	SharedBufferLimit int64
	// OnLayerRead is told each time a layer is actually read (not cached).
	OnLayerRead func(index int, diffID string)
	// Now stamps the inventory; defaults to time.Now.
	Now func() time.Time
}

// Inspect reads every layer of img once and returns its inventory.
func (in *Inspector) Inspect(ctx context.Context, img *image.Image) (*customs.Inventory, error) {
	tmp, err := os.MkdirTemp("", "customs-inspect-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	layers := img.Layers
	lrs := make([]*LayerResult, len(layers))
	errs := make([]error, len(layers))
	order := make([]int, len(layers))
	for i := range order {
		order[i] = i
	}
	// Largest first: the biggest layer is the critical path.
	sort.SliceStable(order, func(a, b int) bool { return layers[order[a]].Info().Size > layers[order[b]].Info().Size })
	par := in.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for _, i := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			lrs[i], errs[i] = in.layer(ctx, layers[i], i, tmp)
			if errs[i] != nil {
				cancel()
			}
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("reading layer %d: %w", i+1, err)
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	inv := Merge(ctx, in.Catalogers, img.Info, lrs)
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	inv.Created = now().UTC()
	return inv, nil
}

func (in *Inspector) layer(ctx context.Context, l image.Layer, index int, tmp string) (*LayerResult, error) {
	info := l.Info()
	key := ""
	if in.Cache != nil && info.DiffID != "" {
		key = info.DiffID + "|" + in.CacheKey
		if lr, ok := in.Cache.Get(ctx, key); ok {
			return reindexed(lr, index), nil
		}
	}
	read := func() (*LayerResult, error) {
		if in.OnLayerRead != nil {
			in.OnLayerRead(index, info.DiffID)
		}
		lr, err := in.readLayer(ctx, l, index, tmp)
		if err != nil {
			return nil, err
		}
		if key != "" {
			in.Cache.Put(ctx, key, lr)
		}
		return lr, nil
	}
	if sc, ok := in.Cache.(*SharedCache); ok && key != "" {
		lr, err := sc.once(ctx, key, read)
		if err != nil {
			return nil, err
		}
		return reindexed(lr, index), nil
	}
	return read()
}

// reindexed is a copy of a layer's result, read for another image or in
// another place, as layer index of this one.
func reindexed(lr *LayerResult, index int) *LayerResult {
	c := *lr
	c.Index = index
	c.Results = slices.Clone(lr.Results)
	for i := range c.Results {
		c.Results[i].Layer = index
	}
	return &c
}

// readLayer is the single pass over one layer.
func (in *Inspector) readLayer(ctx context.Context, l image.Layer, index int, tmp string) (*LayerResult, error) {
	info := l.Info()
	lr := &LayerResult{Index: index, DiffID: info.DiffID}
	cats := in.Catalogers
	var wanted []int
	links := map[string]string{} // hardlink path -> target, for wanted links
	shared := in.SharedBufferLimit
	if shared <= 0 {
		// Larger shared files (executables both the Go and Rust catalogers
		// read) spill to a scan-private temp file: holding a 10 MB binary per
		// layer in memory, twice, was most of a scan's peak memory.
		shared = 1 << 20
	}
	// The layer's in-memory copy of a shared file or sparse capture of
	// one (one file at a time: the same storage serves both), reused.
	var buf []byte
	var scratch [64 << 10]byte
	var header [HeaderSize]byte
	err := l.Walk(ctx, func(e *image.Entry, content io.Reader) error {
		lr.Entries++
		h := HashPath(e.Path)
		switch e.Kind {
		case image.KindWhiteout:
			lr.Whiteouts = append(lr.Whiteouts, h)
			return nil
		case image.KindOpaque:
			lr.Opaque = append(lr.Opaque, h)
			return nil
		}
		lr.Paths = append(lr.Paths, h)
		if e.Kind != image.KindDir {
			lr.NonDirs = append(lr.NonDirs, h)
		}
		wanted = wanted[:0]
		for i, c := range cats {
			if c.Wants(e.Path, e) {
				wanted = append(wanted, i)
			}
		}
		if len(wanted) == 0 {
			return nil
		}
		if e.Kind == image.KindHardlink {
			links[e.Path] = e.Link
			return nil
		}
		if e.Kind == image.KindFile {
			var err error
			if wanted, content, err = filterByHeader(cats, wanted, e.Path, content, header[:]); err != nil {
				return err
			}
			if len(wanted) == 0 {
				return nil
			}
		}
		f := &File{Path: e.Path, Entry: e, Layer: index, TempDir: tmp}
		var readers []io.Reader
		cleanup := func() {}
		if len(wanted) > 1 && e.Size > shared && allSparse(cats, wanted) {
			// A large ELF file (every cataloger wanting it reads only its
			// headers and tables): kept in those parts, not copied whole.
			s, rest, ok, err := captureSparse(content, e.Size, &buf, scratch[:])
			if err != nil {
				lr.Warnings = append(lr.Warnings, fmt.Sprintf("/%s (layer %d): %v", e.Path, index+1, err))
				return nil
			}
			if ok {
				for range wanted {
					view := *s // each its own record of missed reads
					readers = append(readers, &view)
				}
			}
			content = rest
		}
		if readers == nil {
			var err error
			if readers, cleanup, err = fanOut(content, e, len(wanted), shared, &buf, tmp); err != nil {
				lr.Warnings = append(lr.Warnings, fmt.Sprintf("/%s (layer %d): %v", e.Path, index+1, err))
				return nil
			}
		}
		defer cleanup()
		for k, ci := range wanted {
			c := cats[ci]
			parsed, err := safeParse(ctx, c, f, readers[k])
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				lr.Warnings = append(lr.Warnings, fmt.Sprintf("%s: skipped /%s (layer %d): %v", c.Name(), e.Path, index+1, err))
				continue
			}
			if parsed == nil {
				continue
			}
			for _, w := range parsed.Warnings {
				lr.Warnings = append(lr.Warnings, fmt.Sprintf("%s: /%s (layer %d): %s", c.Name(), e.Path, index+1, w))
			}
			parsed.Warnings = nil
			lr.Results = append(lr.Results, Result{
				Cataloger: c.Name(), Path: e.Path, Layer: index, Kind: e.Kind, Mode: uint32(e.Mode),
				Size: e.Size, UID: e.UID, GID: e.GID, Parsed: parsed,
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A wanted hard link shares its target's content: repeat the target's
	// results under the link's path.
	if len(links) > 0 {
		byPath := map[string][]Result{}
		for _, r := range lr.Results {
			byPath[r.Path] = append(byPath[r.Path], r)
		}
		for p, target := range links {
			for _, r := range byPath[target] {
				r.Path = p
				lr.Results = append(lr.Results, r)
			}
		}
	}
	for _, s := range [][]uint64{lr.Paths, lr.NonDirs, lr.Whiteouts, lr.Opaque} {
		slices.Sort(s)
	}
	lr.Paths, lr.NonDirs = slices.Compact(lr.Paths), slices.Compact(lr.NonDirs)
	return lr, nil
}

// allSparse says whether every wanting cataloger reads ELF files sparsely.
func allSparse(cats []Cataloger, wanted []int) bool {
	for _, ci := range wanted {
		if _, ok := cats[ci].(SparseELF); !ok {
			return false
		}
	}
	return true
}

// safeParse runs a cataloger's Parse, turning a panic (a parser's bug met
// on a hostile file) into that file's error: the file is skipped with a
// warning that names it, and the scan goes on.
func safeParse(ctx context.Context, c Cataloger, f *File, r io.Reader) (parsed *Parsed, err error) {
	defer func() {
		if p := recover(); p != nil {
			parsed, err = nil, fmt.Errorf("the %s parser failed: %v", c.Name(), p)
		}
	}()
	return c.Parse(ctx, f, r)
}

// filterByHeader asks header-filtering catalogers about a file's first bytes
// and returns the catalogers that still want it, with a reader that replays
// the peeked bytes.
func filterByHeader(cats []Cataloger, wanted []int, p string, content io.Reader, buf []byte) ([]int, io.Reader, error) {
	filtering := false
	for _, ci := range wanted {
		if _, ok := cats[ci].(HeaderFilter); ok {
			filtering = true
			break
		}
	}
	if !filtering {
		return wanted, content, nil
	}
	n, err := io.ReadFull(content, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	head := buf[:n]
	keep := wanted[:0]
	for _, ci := range wanted {
		if hf, ok := cats[ci].(HeaderFilter); ok && !hf.WantsHeader(p, head) {
			continue
		}
		keep = append(keep, ci)
	}
	return keep, io.MultiReader(bytes.NewReader(head), content), nil
}

// fanOut gives n catalogers their own reader of one file's content: the
// stream itself for one, a shared copy for several.
func fanOut(content io.Reader, e *image.Entry, n int, limit int64, buf *[]byte, tmp string) ([]io.Reader, func(), error) {
	if n == 1 {
		return []io.Reader{content}, func() {}, nil
	}
	out := make([]io.Reader, n)
	if e.Size <= limit {
		if int64(cap(*buf)) < e.Size {
			// Grown by doubling, but never past the limit: a bytes.Buffer
			// doubled a 0.9 MiB copy into 2 MiB, per layer being read.
			*buf = make([]byte, min(max(e.Size, 2*int64(cap(*buf))), limit))
		}
		b := (*buf)[:e.Size]
		if _, err := io.ReadFull(content, b); err != nil {
			return nil, nil, err
		}
		for i := range out {
			out[i] = bytes.NewReader(b)
		}
		return out, func() {}, nil
	}
	f, err := os.CreateTemp(tmp, "shared-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	size, err := io.Copy(f, content)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	for i := range out {
		out[i] = io.NewSectionReader(f, 0, size)
	}
	return out, cleanup, nil
}

// HashPath is the 64-bit FNV-1a hash of a path; layers keep hashes, not
// paths, of the entries they hold (8 bytes an entry even for million-file
// layers).
func HashPath(p string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(p))
	return h.Sum64()
}

func has(sorted []uint64, h uint64) bool {
	_, ok := slices.BinarySearch(sorted, h)
	return ok
}

// hiddenBy says which upper layer, if any, removes path (written by layer)
// from the final filesystem.
func hiddenBy(p string, layer int, lrs []*LayerResult) *HiddenBy {
	self := HashPath(p)
	var ancestors []uint64
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		ancestors = append(ancestors, HashPath(d))
	}
	for j := layer + 1; j < len(lrs); j++ {
		u := lrs[j]
		if has(u.Whiteouts, self) {
			return &HiddenBy{Layer: j, How: "whiteout"}
		}
		if has(u.Paths, self) {
			return &HiddenBy{Layer: j, How: "replaced"}
		}
		for _, a := range ancestors {
			switch {
			case has(u.Whiteouts, a):
				return &HiddenBy{Layer: j, How: "whiteout"}
			case has(u.Opaque, a):
				return &HiddenBy{Layer: j, How: "opaque"}
			case has(u.NonDirs, a):
				return &HiddenBy{Layer: j, How: "replaced"}
			}
		}
	}
	return nil
}

// Merge applies the layers in order and asks each cataloger for its packages.
func Merge(ctx context.Context, cats []Cataloger, info customs.Image, lrs []*LayerResult) *customs.Inventory {
	inv := &customs.Inventory{Schema: customs.InventorySchema, Tool: customs.Tool{Name: "customs", Version: customs.Version()}, Image: info}
	byCat := map[string][]Result{}
	for _, lr := range lrs {
		inv.Warnings = append(inv.Warnings, lr.Warnings...)
		for _, r := range lr.Results {
			r.Hidden = hiddenBy(r.Path, lr.Index, lrs)
			r.Visible = r.Hidden == nil
			byCat[r.Cataloger] = append(byCat[r.Cataloger], r)
		}
	}
	env := &Env{Layers: info.Layers}
	for _, c := range cats {
		if d, ok := c.(DistroDetector); ok && env.Distro == nil {
			env.Distro = d.Distro(byCat[c.Name()])
			if env.Distro != nil && env.Distro.Layer != nil {
				ref := env.LayerRef(env.Distro.Layer.Index)
				env.Distro.Layer = &ref
			}
		}
	}
	inv.Distro = env.Distro
	for _, c := range cats {
		pkgs, warns := c.Collect(ctx, env, byCat[c.Name()])
		for i := range pkgs {
			if pkgs[i].FoundBy == "" {
				pkgs[i].FoundBy = c.Name()
			}
			if pkgs[i].Locations == nil {
				pkgs[i].Locations = []string{}
			}
		}
		inv.Packages = append(inv.Packages, pkgs...)
		inv.Warnings = append(inv.Warnings, warns...)
		if fc, ok := c.(FactCollector); ok {
			f := fc.CollectFacts(ctx, env, byCat[c.Name()])
			inv.Secrets = append(inv.Secrets, f.Secrets...)
			inv.FileIssues = append(inv.FileIssues, f.FileIssues...)
			inv.Warnings = append(inv.Warnings, f.Warnings...)
		}
	}
	if inv.Packages == nil {
		inv.Packages = []customs.Package{}
	}
	SortPackages(inv.Packages)
	return inv
}

// SortPackages orders packages for stable output.
func SortPackages(p []customs.Package) {
	sort.SliceStable(p, func(i, j int) bool {
		a, b := p[i], p[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return strings.Join(a.Locations, ",") < strings.Join(b.Locations, ",")
	})
}
