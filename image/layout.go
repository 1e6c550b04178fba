package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/customs-sec/customs"
)

// blobStore reads the files of an OCI layout, wherever it is kept.
type blobStore interface {
	// open opens a file by its slash path inside the layout ("index.json",
	// "blobs/sha256/...") and gives its size.
	open(name string) (io.ReadCloser, int64, error)
}

// dirStore is an OCI layout directory. os.Root keeps symlinks inside a
// hostile layout from reaching files outside it.
type dirStore struct{ root *os.Root }

func (d dirStore) open(name string) (io.ReadCloser, int64, error) {
	f, err := d.root.Open(name)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s is not a regular file", name)
	}
	return f, st.Size(), nil
}

const refNameAnnotation = "org.opencontainers.image.ref.name"

func openOCILayout(ctx context.Context, r Reference, opts *Options) (*Image, error) {
	st, err := os.Stat(r.Path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory (an OCI archive is oci-archive:%s)", r.Path, r.Path)
	}
	root, err := os.OpenRoot(r.Path)
	if err != nil {
		return nil, err
	}
	img, err := openLayout(ctx, dirStore{root}, r.Name, opts)
	if err != nil {
		root.Close()
		return nil, err
	}
	img.onClose(root.Close)
	return img, nil
}

func openOCIArchive(ctx context.Context, r Reference, opts *Options) (*Image, error) {
	ts, err := openTarStore(r.Path)
	if err != nil {
		return nil, err
	}
	img, err := openLayout(ctx, ts, r.Name, opts)
	if err != nil {
		ts.Close()
		return nil, err
	}
	img.onClose(ts.Close)
	return img, nil
}

// openLayout reads index.json and opens the image named (or the only one).
func openLayout(ctx context.Context, store blobStore, name string, opts *Options) (*Image, error) {
	raw, err := readFile(store, "index.json", opts.limits().MaxMetadataBytes)
	if err != nil {
		return nil, fmt.Errorf("reading index.json: %w", err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing index.json: %w", err)
	}
	desc, err := selectFromLayoutIndex(idx, name, opts.Platform)
	if err != nil {
		return nil, err
	}
	return loadFromDescriptor(ctx, store, desc, opts, 0)
}

func selectFromLayoutIndex(idx *v1.IndexManifest, name, platform string) (v1.Descriptor, error) {
	if name == "" {
		// Signatures and attestations kept beside the image (customs sign
		// and attest write them into layouts) are not images to choose from.
		var images []v1.Descriptor
		for _, d := range idx.Manifests {
			if !isCosignEntry(d) {
				images = append(images, d)
			}
		}
		switch len(images) {
		case 0:
			if len(idx.Manifests) > 0 {
				return v1.Descriptor{}, fmt.Errorf("the layout holds only signatures and attestations (%s), no image", strings.Join(describeManifests(idx.Manifests), ", "))
			}
			return v1.Descriptor{}, fmt.Errorf("the layout's index.json lists no images")
		case 1:
			return images[0], nil
		}
		return v1.Descriptor{}, fmt.Errorf("the layout holds %d images; name one as oci:DIR:REF, one of: %s",
			len(images), strings.Join(describeManifests(images), ", "))
	}
	var found []v1.Descriptor
	for _, d := range idx.Manifests {
		if d.Annotations[refNameAnnotation] == name || d.Digest.String() == strings.TrimPrefix(name, "@") {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		// containerd's export names images in another annotation.
		for _, d := range idx.Manifests {
			if n := d.Annotations["io.containerd.image.name"]; n == name || strings.HasSuffix(n, "/"+name) {
				found = append(found, d)
			}
		}
	}
	switch len(found) {
	case 0:
		return v1.Descriptor{}, fmt.Errorf("no image named %q in the layout; it holds: %s", name, strings.Join(describeManifests(idx.Manifests), ", "))
	case 1:
		return found[0], nil
	}
	// Several images under one name are platform variants of one image.
	return selectPlatform(found, platform)
}

// isCosignEntry says whether a layout entry holds cosign-style signatures
// or attestations of an image rather than an image: named by the signed
// digest as cosign names its tags ("sha256-<hex>.sig", ".att"), or marked
// with the kind annotation `cosign save` writes.
func isCosignEntry(d v1.Descriptor) bool {
	switch d.Annotations["kind"] {
	case "dev.cosignproject.cosign/sigs", "dev.cosignproject.cosign/atts":
		return true
	}
	n := d.Annotations[refNameAnnotation]
	hexPart, ok := strings.CutPrefix(n, "sha256-")
	if !ok {
		return false
	}
	if h, ok := strings.CutSuffix(hexPart, ".sig"); ok {
		hexPart = h
	} else if h, ok := strings.CutSuffix(hexPart, ".att"); ok {
		hexPart = h
	} else {
		return false
	}
	_, err := hex.DecodeString(hexPart)
	return len(hexPart) == 64 && err == nil
}

func describeManifests(ds []v1.Descriptor) []string {
	var out []string
	for _, d := range ds {
		s := d.Annotations[refNameAnnotation]
		if s == "" {
			s = d.Digest.String()
		}
		if d.Platform != nil {
			s += " (" + d.Platform.String() + ")"
		}
		out = append(out, s)
	}
	return out
}

// loadFromDescriptor opens an image manifest, or selects from an index by platform.
func loadFromDescriptor(ctx context.Context, store blobStore, desc v1.Descriptor, opts *Options, depth int) (*Image, error) {
	if depth > 4 {
		return nil, fmt.Errorf("indexes nested more than 4 deep")
	}
	raw, err := readBlob(store, desc.Digest.String(), opts.limits().MaxMetadataBytes)
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", desc.Digest, err)
	}
	mt := desc.MediaType
	if mt == "" {
		mt = sniffMediaType(raw)
	}
	if mt.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("parsing index %s: %w", desc.Digest, err)
		}
		child, err := selectPlatform(idx.Manifests, opts.Platform)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		img, err := loadFromDescriptor(ctx, store, child, opts, depth+1)
		if err == nil && depth == 0 {
			img.Info.IndexDigest = desc.Digest.String()
		}
		return img, err
	}
	if !mt.IsImage() {
		return nil, fmt.Errorf("%s is a %s, not an image manifest", desc.Digest, mt)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing manifest %s: %w", desc.Digest, err)
	}
	rawCfg, err := readBlob(store, m.Config.Digest.String(), opts.limits().MaxMetadataBytes)
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", m.Config.Digest, err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, fmt.Errorf("parsing config %s: %w", m.Config.Digest, err)
	}
	img := &Image{Info: imageInfo(cfg)}
	img.Info.ManifestDigest = desc.Digest.String()
	img.Info.ConfigDigest = m.Config.Digest.String()
	img.Info.MediaType = string(mt)
	if n := desc.Annotations["io.containerd.image.name"]; n != "" {
		img.Info.RepoTags = []string{n}
	}
	layers, err := manifestLayers(m, cfg)
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		digest := l.Digest
		open := func() (io.ReadCloser, error) {
			p, err := blobPath(digest)
			if err != nil {
				return nil, err
			}
			rc, _, err := store.open(p)
			return rc, err
		}
		img.Layers = append(img.Layers, newTarLayer(l, open, l.Digest, opts))
	}
	img.Info.Layers = layers
	return img, nil
}

// manifestLayers pairs manifest layers with the config's diff IDs and history.
func manifestLayers(m *v1.Manifest, cfg *v1.ConfigFile) ([]customs.Layer, error) {
	var layers []customs.Layer
	for _, l := range m.Layers {
		if l.MediaType == types.DockerForeignLayer || strings.Contains(string(l.MediaType), "nondistributable") {
			return nil, fmt.Errorf("layer %s is a foreign (non-distributable) layer; such images are not supported", l.Digest)
		}
		layers = append(layers, customs.Layer{Index: len(layers), Digest: l.Digest.String(), Size: l.Size, MediaType: string(l.MediaType)})
	}
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return nil, fmt.Errorf("manifest lists %d layers but the config has %d diff IDs", len(layers), len(cfg.RootFS.DiffIDs))
	}
	for i := range layers {
		layers[i].DiffID = cfg.RootFS.DiffIDs[i].String()
	}
	attachHistory(layers, cfg)
	return layers, nil
}

// attachHistory gives each layer the build step that made it.
func attachHistory(layers []customs.Layer, cfg *v1.ConfigFile) {
	i := 0
	for _, h := range cfg.History {
		if h.EmptyLayer {
			continue
		}
		if i >= len(layers) {
			return
		}
		layers[i].CreatedBy = h.CreatedBy
		i++
	}
}

// selectPlatform picks the manifest for a platform from an index's entries.
func selectPlatform(ds []v1.Descriptor, want string) (v1.Descriptor, error) {
	spec, err := platformSpec(want)
	if err != nil {
		return v1.Descriptor{}, err
	}
	var candidates []v1.Descriptor
	for _, d := range ds {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		candidates = append(candidates, d)
	}
	if len(candidates) == 1 && candidates[0].Platform == nil {
		return candidates[0], nil
	}
	var available []string
	for _, d := range candidates {
		if d.Platform == nil {
			continue
		}
		available = append(available, d.Platform.String())
		if d.Platform.Satisfies(*spec) {
			return d, nil
		}
	}
	sort.Strings(available)
	return v1.Descriptor{}, fmt.Errorf("no image for platform %s; available: %s (choose with --platform)", spec, strings.Join(available, ", "))
}

func platformSpec(want string) (*v1.Platform, error) {
	if want == "" {
		want = "linux/" + runtime.GOARCH
		if runtime.GOARCH == "arm" {
			want += "/v7"
		}
	}
	p, err := v1.ParsePlatform(want)
	if err != nil {
		return nil, fmt.Errorf("platform %q: %w", want, err)
	}
	return p, nil
}

func sniffMediaType(raw []byte) types.MediaType {
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests []any           `json:"manifests"`
	}
	_ = json.Unmarshal(raw, &probe)
	if probe.MediaType != "" {
		return probe.MediaType
	}
	if probe.Manifests != nil {
		return types.OCIImageIndex
	}
	return types.OCIManifestSchema1
}

// imageInfo converts the OCI config into our image description.
func imageInfo(cfg *v1.ConfigFile) customs.Image {
	info := customs.Image{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	if !cfg.Created.IsZero() {
		t := cfg.Created.UTC()
		info.Created = &t
	}
	c := cfg.Config
	conf := &customs.Config{
		User: c.User, Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd, WorkingDir: c.WorkingDir,
		Labels: c.Labels, StopSignal: c.StopSignal,
	}
	for p := range c.ExposedPorts {
		conf.ExposedPorts = append(conf.ExposedPorts, p)
	}
	sort.Strings(conf.ExposedPorts)
	for v := range c.Volumes {
		conf.Volumes = append(conf.Volumes, v)
	}
	sort.Strings(conf.Volumes)
	if c.Healthcheck != nil {
		conf.Healthcheck = &customs.Healthcheck{Test: c.Healthcheck.Test}
	}
	info.Config = conf
	for _, h := range cfg.History {
		ch := customs.History{CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		if !h.Created.IsZero() {
			t := h.Created.UTC()
			ch.Created = &t
		}
		info.History = append(info.History, ch)
	}
	return info
}

// blobPath checks a digest and gives the layout path of its blob.
func blobPath(digest string) (string, error) {
	alg, hx, ok := strings.Cut(digest, ":")
	want := map[string]int{"sha256": 64, "sha512": 128}[alg]
	if !ok || want == 0 || len(hx) != want {
		return "", fmt.Errorf("invalid digest %q", truncate(digest, 80))
	}
	if _, err := hex.DecodeString(hx); err != nil || strings.ToLower(hx) != hx {
		return "", fmt.Errorf("invalid digest %q", truncate(digest, 80))
	}
	return "blobs/" + alg + "/" + hx, nil
}

// readBlob reads a small blob and checks it against its digest.
func readBlob(store blobStore, digest string, max int64) ([]byte, error) {
	p, err := blobPath(digest)
	if err != nil {
		return nil, err
	}
	raw, err := readFile(store, p, max)
	if err != nil {
		return nil, err
	}
	if got := digestOf(raw, digest); got != digest {
		return nil, fmt.Errorf("content digest %s does not match %s: the blob was altered or corrupted", got, digest)
	}
	return raw, nil
}

func digestOf(raw []byte, like string) string {
	if strings.HasPrefix(like, "sha512:") {
		return fmt.Sprintf("sha512:%x", sha512.Sum512(raw))
	}
	return fmt.Sprintf("sha256:%x", sha256.Sum256(raw))
}

func readFile(store blobStore, name string, max int64) ([]byte, error) {
	rc, size, err := store.open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: not found", name)
		}
		return nil, err
	}
	defer rc.Close()
	if size > max {
		return nil, fmt.Errorf("%s is %d bytes, over the limit of %d", name, size, max)
	}
	return io.ReadAll(io.LimitReader(rc, max))
}
