// Package testimage gives tests real images: the shared corpus (../shared/corpus,
// or $CUSTOMS_CORPUS), the same images written in every format customs reads
// (OCI archive, both docker save layouts, a loopback registry), and small
// synthetic images built layer by layer for hostile-input tests.
package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Corpus returns the shared corpus directory, skipping the test when it is
// absent (a user's clone has no ../shared) unless CUSTOMS_REQUIRE_CORPUS=1.
func Corpus(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CUSTOMS_CORPUS")
	if dir == "" {
		dir = filepath.Join(ModuleRoot(t), "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "images", "oci", "index.json")); err != nil {
		if os.Getenv("CUSTOMS_REQUIRE_CORPUS") == "1" {
			t.Fatalf("corpus not found at %s (CUSTOMS_REQUIRE_CORPUS=1)", dir)
		}
		t.Skipf("corpus not found at %s; set CUSTOMS_CORPUS", dir)
	}
	return dir
}

// Layout is the corpus OCI layout holding debian-base, debian-app, scratch-go.
func Layout(t testing.TB) string { return filepath.Join(Corpus(t), "images", "oci") }

// ModuleRoot finds the directory holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Require skips (or, with CUSTOMS_REQUIRE_TRUTH_TOOLS=1, fails) when an
// external tool a test takes truth from is missing.
func Require(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CUSTOMS_REQUIRE_TRUTH_TOOLS") == "1" {
			t.Fatalf("%s not found (CUSTOMS_REQUIRE_TRUTH_TOOLS=1)", tool)
		}
		t.Skipf("%s not found; install it to run this test", tool)
	}
	return p
}

// LayoutImage loads one image of an OCI layout by ref name.
func LayoutImage(t testing.TB, dir, ref string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == ref {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("no image %q in %s", ref, dir)
	return nil
}

// WriteOCIArchive tars an OCI layout directory (an oci-archive).
func WriteOCIArchive(t testing.TB, layoutDir, dst string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(layoutDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(layoutDir, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			defer src.Close()
			_, err = io.Copy(tw, src)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// DockerStyle picks a docker save layout.
type DockerStyle int

const (
	// DockerClassic is docker save before Docker 25: <id>/layer.tar
	// (uncompressed), <id>/json, <config-hex>.json, manifest.json, repositories.
	DockerClassic DockerStyle = iota
	// DockerOCI is Docker 25+: an OCI layout (index.json, blobs/sha256/...) in
	// the tar, with manifest.json pointing into blobs/.
	DockerOCI
)

// WriteDockerArchive writes img as docker save would, tagged tag.
func WriteDockerArchive(t testing.TB, img v1.Image, tag, dst string, style DockerStyle) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	addStream := func(name string, size int64, r io.Reader) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, r); err != nil {
			t.Fatal(err)
		}
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfgName, _ := img.ConfigName()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	e := entry{RepoTags: []string{tag}}
	uncompressed := func(l v1.Layer) ([]byte, v1.Hash) {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		h, _, _ := v1.SHA256(bytes.NewReader(b))
		return b, h
	}
	switch style {
	case DockerClassic:
		e.Config = cfgName.Hex + ".json"
		add(e.Config, rawCfg)
		parent := ""
		for i, l := range layers {
			b, h := uncompressed(l)
			id := fmt.Sprintf("%x", h.Hex+parent)[:64]
			add(id+"/VERSION", []byte("1.0"))
			meta := map[string]any{"id": id}
			if parent != "" {
				meta["parent"] = parent
			}
			mj, _ := json.Marshal(meta)
			add(id+"/json", mj)
			addStream(id+"/layer.tar", int64(len(b)), bytes.NewReader(b))
			e.Layers = append(e.Layers, id+"/layer.tar")
			parent = id
			_ = i
		}
		repo, tg, _ := strings.Cut(tag, ":")
		rj, _ := json.Marshal(map[string]map[string]string{repo: {tg: parent}})
		add("repositories", rj)
	case DockerOCI:
		e.Config = "blobs/sha256/" + cfgName.Hex
		add(e.Config, rawCfg)
		// Docker 25+ stores layers uncompressed, so its manifest names the
		// uncompressed digests.
		var descs []v1.Descriptor
		for _, l := range layers {
			b, h := uncompressed(l)
			addStream("blobs/sha256/"+h.Hex, int64(len(b)), bytes.NewReader(b))
			e.Layers = append(e.Layers, "blobs/sha256/"+h.Hex)
			descs = append(descs, v1.Descriptor{MediaType: "application/vnd.oci.image.layer.v1.tar", Size: int64(len(b)), Digest: h})
		}
		m := v1.Manifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.manifest.v1+json",
			Config: v1.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Size: int64(len(rawCfg)), Digest: cfgName}, Layers: descs}
		mj, _ := json.Marshal(m)
		mh, _, _ := v1.SHA256(bytes.NewReader(mj))
		add("blobs/sha256/"+mh.Hex, mj)
		idx := v1.IndexManifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json", Manifests: []v1.Descriptor{{
			MediaType: "application/vnd.oci.image.manifest.v1+json", Size: int64(len(mj)), Digest: mh,
			Annotations: map[string]string{"io.containerd.image.name": "docker.io/library/" + tag, "org.opencontainers.image.ref.name": strings.SplitN(tag, ":", 2)[1]},
		}}}
		ij, _ := json.Marshal(idx)
		add("index.json", ij)
		add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	}
	mf, _ := json.Marshal([]entry{e})
	add("manifest.json", mf)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// Registry starts go-containerregistry's registry on a loopback port for the
// test's lifetime and returns its host:port.
func Registry(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))}}
	srv.Start()
	t.Cleanup(srv.Close)
	return ln.Addr().String()
}

// Push writes img to ref (plain HTTP, loopback).
func Push(t testing.TB, img v1.Image, ref string) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

// File is one entry of a synthetic layer.
type File struct {
	Name     string
	Body     string
	Mode     int64
	Type     byte // tar.TypeReg when zero
	Linkname string
}

// LayerTar builds an uncompressed layer tar from entries, in order.
func LayerTar(t testing.TB, files []File) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		typ := f.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{Name: f.Name, Mode: mode, Typeflag: typ, Linkname: f.Linkname, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(f.Body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := io.WriteString(tw, f.Body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// BuildLayout writes an image made of the given gzipped layer tars to a new
// OCI layout under t.TempDir(), named ref, and returns the layout directory.
func BuildLayout(t testing.TB, ref string, layers ...[]byte) string {
	t.Helper()
	img := BuildImage(t, layers...)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		t.Fatal(err)
	}
	return dir
}

// BuildImage makes an image of layer tars (uncompressed; gzipped here).
func BuildImage(t testing.TB, layers ...[]byte) v1.Image {
	t.Helper()
	img := empty.Image
	for _, l := range layers {
		b := l
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "test layer"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// RawLayout writes an OCI layout whose layers are the given blobs exactly as
// given (possibly corrupt or lying), for hostile-input tests. The config
// claims the blobs' own digests as diff IDs.
func RawLayout(t testing.TB, ref string, blobs [][]byte, layerMediaType string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) v1.Hash {
		h, _, _ := v1.SHA256(bytes.NewReader(b))
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", h.Hex), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return h
	}
	cfg := v1.ConfigFile{OS: "linux", Architecture: runtime.GOARCH, RootFS: v1.RootFS{Type: "layers"}}
	var descs []v1.Descriptor
	for _, b := range blobs {
		h := put(b)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, h)
		descs = append(descs, v1.Descriptor{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: int64(len(b)), Digest: h})
		if layerMediaType != "" {
			descs[len(descs)-1].MediaType = types.MediaType("application/vnd.oci.image.layer.v1." + layerMediaType)
		}
	}
	cj, _ := json.Marshal(cfg)
	ch := put(cj)
	m := v1.Manifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.manifest.v1+json",
		Config: v1.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Size: int64(len(cj)), Digest: ch}, Layers: descs}
	mj, _ := json.Marshal(m)
	mh := put(mj)
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json", Manifests: []v1.Descriptor{{
		MediaType: "application/vnd.oci.image.manifest.v1+json", Size: int64(len(mj)), Digest: mh,
		Annotations: map[string]string{"org.opencontainers.image.ref.name": ref},
	}}}
	ij, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), ij, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Unpack gives the root filesystem of a corpus image as umoci (an
// independent implementation, whiteouts applied) unpacks it. Unpacked trees
// are kept by manifest digest in the temp dir and shared between tests.
func Unpack(t testing.TB, ref string) string {
	t.Helper()
	umoci := Require(t, "umoci")
	dir := Layout(t)
	img := LayoutImage(t, dir, ref)
	d, _ := img.Digest()
	cache := filepath.Join(os.TempDir(), "customs-test-rootfs", d.Hex)
	if _, err := os.Stat(filepath.Join(cache, "rootfs")); err == nil {
		return filepath.Join(cache, "rootfs")
	}
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(cache), "unpack-")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(tmp) // umoci wants to create it
	out, err := exec.Command(umoci, "unpack", "--rootless", "--image", dir+":"+ref, tmp).CombinedOutput()
	if err != nil {
		// umoci refuses Docker media types inside an OCI layout (scratch-go).
		// For a single-layer image GNU tar gives the same tree.
		layers, lerr := img.Layers()
		if lerr != nil || len(layers) != 1 {
			t.Fatalf("umoci unpack %s: %v\n%s", ref, err, out)
		}
		ld, _ := layers[0].Digest()
		os.MkdirAll(filepath.Join(tmp, "rootfs"), 0o755)
		if out, err := exec.Command("tar", "-xzf", filepath.Join(dir, "blobs", ld.Algorithm, ld.Hex), "-C", filepath.Join(tmp, "rootfs")).CombinedOutput(); err != nil {
			t.Fatalf("umoci unpack %s failed, and so did tar: %v\n%s", ref, err, out)
		}
	}
	if err := os.Rename(tmp, cache); err != nil {
		os.RemoveAll(tmp) // another test unpacked it first
	}
	return filepath.Join(cache, "rootfs")
}

// Tool finds an external tool on PATH or in the tool cache
// ($TOOLS_CACHE, default ~/.cache/customs-tools), skipping (or failing,
// with CUSTOMS_REQUIRE_TRUTH_TOOLS=1) when it is absent.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	dir := os.Getenv("TOOLS_CACHE")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "customs-tools")
	}
	p := filepath.Join(dir, name)
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		return p
	}
	return Require(t, name)
}
