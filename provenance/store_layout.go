package provenance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"

	"github.com/customs-sec/customs/image"
)

// cosign save marks the manifests of a layout with this annotation.
const (
	cosignKindAnnotation = "kind"
	cosignKindSigs       = "dev.cosignproject.cosign/sigs"
	cosignKindAtts       = "dev.cosignproject.cosign/atts"
)

// layoutStore keeps signatures beside the image in an OCI layout: manifests
// named sha256-<hex>.sig / .att by their ref name annotation.
type layoutStore struct {
	ref  image.Reference
	dir  string
	name string
	lim  Limits
	// resolved is the ref name of the image resolve found, for payloads.
	resolved string
	// lazy accepts a digest not listed in index.json (the child of an
	// index), for verify.
	lazy bool
}

func openLayoutStore(r image.Reference, lim Limits) (*layoutStore, error) {
	st, err := os.Stat(r.Path)
	if err != nil {
		return nil, fmt.Errorf("opening OCI layout: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory (signatures are kept in an OCI layout directory)", r.Path)
	}
	return &layoutStore{ref: r, dir: r.Path, name: strings.TrimPrefix(r.Name, "@"), lim: lim}, nil
}

func (s *layoutStore) String() string          { return s.ref.String() }
func (s *layoutStore) id() string              { return "oci:" + s.dir }
func (s *layoutStore) dockerReference() string { return s.resolved }
func (s *layoutStore) digestRef(d v1.Hash) string {
	return string(image.TransportOCI) + ":" + s.dir + ":" + d.String()
}

// open opens a file of the layout; os.Root keeps symlinks in a hostile
// layout from reaching outside it.
func (s *layoutStore) open(name string, limit int64) ([]byte, error) {
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, content(fmt.Errorf("%s is not a regular file", name))
	}
	if st.Size() > limit {
		return nil, content(fmt.Errorf("%s is %d bytes, over the %d-byte limit", name, st.Size(), limit))
	}
	return readLimited(f, limit, name)
}

func (s *layoutStore) index() (*v1.IndexManifest, error) {
	raw, err := s.open("index.json", s.lim.MaxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("reading %s/index.json: %w", s.dir, err)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, content(fmt.Errorf("parsing %s/index.json: %w", s.dir, err))
	}
	return im, nil
}

// isProvenance says whether a layout entry holds signatures or attestations
// rather than an image a user would name.
func isProvenance(d v1.Descriptor) bool {
	n := d.Annotations[refNameAnnotation]
	if strings.HasPrefix(n, "sha256-") && (strings.HasSuffix(n, ".sig") || strings.HasSuffix(n, ".att")) {
		return true
	}
	k := d.Annotations[cosignKindAnnotation]
	if k == cosignKindSigs || k == cosignKindAtts {
		return true
	}
	// Only the artifact types of signatures and attestations: an ordinary
	// image may carry an artifactType too (OCI 1.1 writers set it).
	return isProvenanceArtifactType(d.ArtifactType)
}

func isProvenanceArtifactType(t string) bool {
	return t == cosignSigArtifactType || t == cosignAttArtifactType || strings.HasPrefix(t, bundleArtifactTypePrefix) ||
		t == "application/vnd.in-toto+json" || t == "application/vnd.dsse.envelope.v1+json"
}

func (s *layoutStore) resolve(ctx context.Context, platform string) (v1.Descriptor, error) {
	im, err := s.index()
	if err != nil {
		return v1.Descriptor{}, err
	}
	var found []v1.Descriptor
	for _, d := range im.Manifests {
		switch {
		case s.name == "":
			if !isProvenance(d) {
				found = append(found, d)
			}
		case d.Annotations[refNameAnnotation] == s.name || d.Digest.String() == s.name:
			found = append(found, d)
		}
	}
	if len(found) == 0 && s.name != "" {
		for _, d := range im.Manifests {
			if n := d.Annotations["io.containerd.image.name"]; n == s.name || strings.HasSuffix(n, "/"+s.name) {
				found = append(found, d)
			}
		}
	}
	if len(found) == 0 && s.lazy {
		if h, err := v1.NewHash(s.name); err == nil {
			return v1.Descriptor{Digest: h}, nil
		}
	}
	var desc v1.Descriptor
	switch {
	case len(found) == 1:
		desc = found[0]
	case len(found) == 0 && s.name == "":
		return v1.Descriptor{}, fmt.Errorf("the layout %s holds no image", s.dir)
	case len(found) == 0:
		return v1.Descriptor{}, fmt.Errorf("no image named %q in the layout %s", s.name, s.dir)
	case platform != "":
		desc, err = selectPlatform(&v1.IndexManifest{Manifests: found}, platform)
		if err != nil {
			return v1.Descriptor{}, err
		}
	default:
		return v1.Descriptor{}, fmt.Errorf("the layout %s holds %d images; name one as oci:%s:REF", s.dir, len(found), s.dir)
	}
	s.resolved = desc.Annotations[refNameAnnotation]
	if n := desc.Annotations["io.containerd.image.name"]; n != "" {
		s.resolved = n
	}
	if platform == "" || !desc.MediaType.IsIndex() {
		return desc, nil
	}
	raw, err := s.manifest(ctx, desc)
	if err != nil {
		return v1.Descriptor{}, err
	}
	child, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing index %s: %w", desc.Digest, err)
	}
	return selectPlatform(child, platform)
}

func (s *layoutStore) tagged(ctx context.Context, tag string) ([]byte, v1.Descriptor, bool, error) {
	im, err := s.index()
	if err != nil {
		return nil, v1.Descriptor{}, false, err
	}
	var desc *v1.Descriptor
	for i, d := range im.Manifests {
		if d.Annotations[refNameAnnotation] == tag {
			desc = &im.Manifests[i]
		}
	}
	if desc == nil {
		// A layout written by `cosign save` holds one image and marks its
		// signatures by kind; the payload digest check keeps them honest.
		kind := cosignKindSigs
		if strings.HasSuffix(tag, ".att") {
			kind = cosignKindAtts
		}
		for i, d := range im.Manifests {
			if d.Annotations[cosignKindAnnotation] == kind {
				desc = &im.Manifests[i]
			}
		}
	}
	if desc == nil {
		return nil, v1.Descriptor{}, false, nil
	}
	raw, err := s.manifest(ctx, *desc)
	if err != nil {
		return nil, v1.Descriptor{}, false, err
	}
	return raw, *desc, true, nil
}

func (s *layoutStore) manifest(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	return s.blob(ctx, d, s.lim.MaxManifestBytes)
}

func (s *layoutStore) blob(ctx context.Context, d v1.Descriptor, limit int64) ([]byte, error) {
	if d.Size > limit {
		return nil, content(fmt.Errorf("blob %s is %d bytes, over the %d-byte limit", d.Digest, d.Size, limit))
	}
	if d.Digest.Algorithm != "sha256" || len(d.Digest.Hex) != 64 || strings.ContainsAny(d.Digest.Hex, "/\\.") {
		return nil, content(fmt.Errorf("unsupported digest %q", d.Digest))
	}
	b, err := s.open("blobs/sha256/"+d.Digest.Hex, limit)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, content(fmt.Errorf("blob %s: not in the layout", d.Digest))
		}
		return nil, content(fmt.Errorf("reading blob %s: %w", d.Digest, err))
	}
	if got, _, _ := v1.SHA256(bytes.NewReader(b)); got != d.Digest {
		return nil, content(fmt.Errorf("blob %s has digest %s", d.Digest, got))
	}
	return b, nil
}

// referrers finds the layout's manifests whose subject is d. A layout has
// no referrers API, so each candidate manifest is read (bounded).
func (s *layoutStore) referrers(ctx context.Context, d v1.Hash) ([]v1.Descriptor, error) {
	im, err := s.index()
	if err != nil {
		return nil, err
	}
	var out []v1.Descriptor
	checked := 0
	for _, desc := range im.Manifests {
		if desc.Digest == d || !desc.MediaType.IsImage() && desc.MediaType != "" {
			continue
		}
		if checked++; checked > s.lim.MaxReferrers {
			break
		}
		raw, err := s.manifest(ctx, desc)
		if err != nil {
			continue
		}
		var m struct {
			Subject *v1.Descriptor `json:"subject"`
		}
		if err := json.Unmarshal(raw, &m); err != nil || m.Subject == nil || m.Subject.Digest != d {
			continue
		}
		out = append(out, desc)
	}
	return out, nil
}

func (s *layoutStore) base(ctx context.Context, tag string, desc v1.Descriptor) (v1.Image, error) {
	p, err := layout.FromPath(s.dir)
	if err != nil {
		return nil, fmt.Errorf("opening layout %s: %w", s.dir, err)
	}
	return p.Image(desc.Digest)
}

func (s *layoutStore) write(ctx context.Context, tag string, img v1.Image) error {
	p, err := layout.FromPath(s.dir)
	if err != nil {
		return fmt.Errorf("opening layout %s: %w", s.dir, err)
	}
	if err := p.ReplaceImage(img, match.Annotation(refNameAnnotation, tag), layout.WithAnnotations(map[string]string{refNameAnnotation: tag})); err != nil {
		return fmt.Errorf("writing %s to layout %s: %w", tag, s.dir, err)
	}
	return nil
}
