package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-sec/customs"
)

// tarStore reads files of a tar archive in place: one pass over the headers
// records where each file's data starts, and reads then seek there. (ggcr's
// tarball package rescans the archive for every blob it opens.)
type tarStore struct {
	f     *os.File
	files map[string]tarFile
	links map[string]string
}

type tarFile struct{ off, size int64 }

const maxArchiveEntries = 1 << 20

func openTarStore(name string) (*tarStore, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory, not an archive (an OCI layout directory is oci:%s)", name, name)
	}
	ts := &tarStore{f: f, files: map[string]tarFile{}, links: map[string]string{}}
	tr := tar.NewReader(f)
	for n := 0; ; n++ {
		if n > maxArchiveEntries {
			f.Close()
			return nil, fmt.Errorf("%s: more than %d entries", name, maxArchiveEntries)
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not a readable tar archive: %w", name, err)
		}
		p, _ := CleanPath(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				f.Close()
				return nil, err
			}
			ts.files[p] = tarFile{off: off, size: hdr.Size}
		case tar.TypeSymlink:
			target := hdr.Linkname
			if !strings.HasPrefix(target, "/") {
				target = path.Join(path.Dir(p), target)
			}
			ts.links[p], _ = CleanPath(target)
		case tar.TypeLink:
			ts.links[p], _ = CleanPath(hdr.Linkname)
		}
	}
	if len(ts.files) == 0 {
		f.Close()
		return nil, fmt.Errorf("%s: the archive holds no files", name)
	}
	return ts, nil
}

func (t *tarStore) open(name string) (io.ReadCloser, int64, error) {
	name, _ = CleanPath(name)
	for hops := 0; hops < 16; hops++ {
		if tf, ok := t.files[name]; ok {
			return io.NopCloser(io.NewSectionReader(t.f, tf.off, tf.size)), tf.size, nil
		}
		target, ok := t.links[name]
		if !ok {
			break
		}
		name = target
	}
	return nil, 0, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
}

func (t *tarStore) has(name string) bool {
	_, _, err := t.open(name)
	return err == nil
}

func (t *tarStore) Close() error { return t.f.Close() }

// dockerManifestEntry is one image of a docker save archive's manifest.json.
type dockerManifestEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// openDockerArchive reads `docker save` output: the classic layout
// (<id>/layer.tar) and Docker 25+'s OCI layout inside the tar, both described
// by manifest.json.
func openDockerArchive(ctx context.Context, r Reference, opts *Options) (*Image, error) {
	ts, err := openTarStore(r.Path)
	if err != nil {
		return nil, err
	}
	img, err := loadDockerArchive(ts, r.Name, opts)
	if err != nil {
		ts.Close()
		return nil, err
	}
	img.onClose(ts.Close)
	return img, nil
}

func loadDockerArchive(ts *tarStore, name string, opts *Options) (*Image, error) {
	max := opts.limits().MaxMetadataBytes
	raw, err := readFile(ts, "manifest.json", max)
	if err != nil {
		return nil, fmt.Errorf("not a docker save archive: %w", err)
	}
	var entries []dockerManifestEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("parsing manifest.json: %w", err)
	}
	entry, err := selectDockerEntry(entries, name)
	if err != nil {
		return nil, err
	}
	rawCfg, err := readFile(ts, entry.Config, max)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfgDigest := digestOf(rawCfg, "sha256:")
	if want := digestFromBlobPath(entry.Config); want != "" && want != cfgDigest {
		return nil, fmt.Errorf("config %s: content digest %s does not match", entry.Config, cfgDigest)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, fmt.Errorf("parsing config %s: %w", entry.Config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(entry.Layers) {
		return nil, fmt.Errorf("manifest.json lists %d layers but the config has %d diff IDs", len(entry.Layers), len(cfg.RootFS.DiffIDs))
	}
	img := &Image{Info: imageInfo(cfg)}
	img.Info.ConfigDigest = cfgDigest
	img.Info.RepoTags = entry.RepoTags
	// Docker 25+ also writes index.json; its manifest gives the image a
	// manifest digest and the layers their blob digests.
	var m *v1.Manifest
	if ts.has("index.json") {
		m, img.Info.ManifestDigest, img.Info.MediaType = findManifestForConfig(ts, cfgDigest, max)
	}
	for i, lp := range entry.Layers {
		info := customs.Layer{Index: i, DiffID: cfg.RootFS.DiffIDs[i].String()}
		_, size, err := ts.open(lp)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		info.Size = size
		verify := digestFromBlobPath(lp)
		if m != nil && i < len(m.Layers) {
			info.Digest, info.MediaType = m.Layers[i].Digest.String(), string(m.Layers[i].MediaType)
		}
		if verify == "" && !isCompressedAt(ts, lp) {
			// A classic layer.tar is the uncompressed layer: its digest is the diff ID.
			verify = info.DiffID
		}
		if info.Digest == "" {
			info.Digest = firstNonEmpty(verify, info.DiffID)
		}
		lp := lp
		img.Layers = append(img.Layers, newTarLayer(info, func() (io.ReadCloser, error) {
			rc, _, err := ts.open(lp)
			return rc, err
		}, verify, opts))
		img.Info.Layers = append(img.Info.Layers, info)
	}
	attachHistory(img.Info.Layers, cfg)
	for i := range img.Layers {
		img.Layers[i].(*tarLayer).spec.info.CreatedBy = img.Info.Layers[i].CreatedBy
	}
	return img, nil
}

func selectDockerEntry(entries []dockerManifestEntry, name string) (dockerManifestEntry, error) {
	if len(entries) == 0 {
		return dockerManifestEntry{}, fmt.Errorf("manifest.json lists no images")
	}
	if name == "" {
		if len(entries) == 1 {
			return entries[0], nil
		}
		var all []string
		for i, e := range entries {
			all = append(all, fmt.Sprintf("@%d %s", i, strings.Join(e.RepoTags, ",")))
		}
		return dockerManifestEntry{}, fmt.Errorf("the archive holds %d images; name one as docker-archive:FILE:TAG or :@N, one of: %s", len(entries), strings.Join(all, "; "))
	}
	if strings.HasPrefix(name, "@") {
		var i int
		if _, err := fmt.Sscanf(name, "@%d", &i); err == nil && i >= 0 && i < len(entries) {
			return entries[i], nil
		}
		return dockerManifestEntry{}, fmt.Errorf("no image %s in the archive (it holds %d)", name, len(entries))
	}
	for _, e := range entries {
		for _, t := range e.RepoTags {
			if t == name || strings.TrimPrefix(t, "docker.io/library/") == name || strings.TrimPrefix(t, "docker.io/") == name {
				return e, nil
			}
		}
	}
	return dockerManifestEntry{}, fmt.Errorf("no image tagged %q in the archive", name)
}

func findManifestForConfig(ts *tarStore, cfgDigest string, max int64) (*v1.Manifest, string, string) {
	raw, err := readFile(ts, "index.json", max)
	if err != nil {
		return nil, "", ""
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, "", ""
	}
	for i, d := range idx.Manifests {
		if i > 64 || !d.MediaType.IsImage() {
			continue
		}
		rawM, err := readBlob(ts, d.Digest.String(), max)
		if err != nil {
			continue
		}
		m, err := v1.ParseManifest(bytes.NewReader(rawM))
		if err == nil && m.Config.Digest.String() == cfgDigest {
			return m, d.Digest.String(), string(d.MediaType)
		}
	}
	return nil, "", ""
}

// digestFromBlobPath gives the digest a blobs/<alg>/<hex> path promises.
func digestFromBlobPath(p string) string {
	p, _ = CleanPath(p)
	parts := strings.Split(p, "/")
	if len(parts) == 3 && parts[0] == "blobs" {
		d := parts[1] + ":" + parts[2]
		if _, err := blobPath(d); err == nil {
			return d
		}
	}
	return ""
}

func isCompressedAt(ts *tarStore, name string) bool {
	rc, _, err := ts.open(name)
	if err != nil {
		return false
	}
	defer rc.Close()
	var magic [4]byte
	n, _ := io.ReadFull(rc, magic[:])
	b := magic[:n]
	return bytes.HasPrefix(b, []byte{0x1f, 0x8b}) || bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd})
}
