package provenance

import (
	"bytes"
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/customs-sec/customs/image"
)

// registryStore keeps signatures in the image's repository, as cosign does.
type registryStore struct {
	ref  name.Reference
	repo name.Repository
	opts []remote.Option
	lim  Limits
	// lazy trusts a digest reference without asking the registry (verify:
	// the signatures are looked up by digest anyway).
	lazy bool
}

func openRegistryStore(ctx context.Context, ref string, insecure bool, lim Limits) (*registryStore, error) {
	r, err := image.ParseRegistryReference(ref, insecure)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	return &registryStore{ref: r, repo: r.Context(), opts: remoteOptions(ctx, insecure, lim), lim: lim}, nil
}

func (s *registryStore) String() string          { return s.ref.String() }
func (s *registryStore) id() string              { return "registry:" + s.repo.Name() }
func (s *registryStore) dockerReference() string { return s.repo.Name() }
func (s *registryStore) digestRef(d v1.Hash) string {
	return s.repo.Name() + "@" + d.String()
}

func (s *registryStore) resolve(ctx context.Context, platform string) (v1.Descriptor, error) {
	if platform == "" {
		// A digest names itself; a tag costs one HEAD request (which
		// registries do not count against pull limits).
		if d, ok := s.ref.(name.Digest); ok && s.lazy {
			h, err := v1.NewHash(d.DigestStr())
			if err != nil {
				return v1.Descriptor{}, fmt.Errorf("%s: %w", s.ref, err)
			}
			return v1.Descriptor{Digest: h}, nil
		}
		if desc, err := remote.Head(s.ref, s.opts...); err == nil {
			return *desc, nil
		}
	}
	desc, err := remote.Get(s.ref, s.opts...)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("resolving %s: %w", s.ref, err)
	}
	if platform == "" || !desc.MediaType.IsIndex() {
		return desc.Descriptor, nil
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing index %s: %w", desc.Digest, err)
	}
	return selectPlatform(im, platform)
}

func (s *registryStore) tagged(ctx context.Context, tag string) ([]byte, v1.Descriptor, bool, error) {
	desc, err := remote.Get(s.repo.Tag(tag), s.opts...)
	if err != nil {
		if isNotFound(err) {
			return nil, v1.Descriptor{}, false, nil
		}
		return nil, v1.Descriptor{}, false, fmt.Errorf("reading %s:%s: %w", s.repo, tag, err)
	}
	return desc.Manifest, desc.Descriptor, true, nil
}

func (s *registryStore) manifest(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	if d.Size > s.lim.MaxManifestBytes {
		return nil, content(fmt.Errorf("manifest %s is %d bytes, over the %d MiB limit", d.Digest, d.Size, s.lim.MaxManifestBytes>>20))
	}
	// go-containerregistry checks the digest of a manifest fetched by digest.
	desc, err := remote.Get(s.repo.Digest(d.Digest.String()), s.opts...)
	if err != nil {
		if isNotFound(err) {
			return nil, content(fmt.Errorf("manifest %s: not found", d.Digest))
		}
		return nil, fmt.Errorf("reading manifest %s: %w", d.Digest, err)
	}
	return desc.Manifest, nil
}

func (s *registryStore) blob(ctx context.Context, d v1.Descriptor, limit int64) ([]byte, error) {
	if d.Size > limit {
		return nil, content(fmt.Errorf("blob %s is %d bytes, over the %d-byte limit", d.Digest, d.Size, limit))
	}
	l, err := remote.Layer(s.repo.Digest(d.Digest.String()), s.opts...)
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", d.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		if isNotFound(err) {
			return nil, content(fmt.Errorf("blob %s: not found", d.Digest))
		}
		return nil, fmt.Errorf("reading blob %s: %w", d.Digest, err)
	}
	defer rc.Close()
	b, err := readLimited(rc, limit, "blob "+d.Digest.String())
	if err != nil {
		if isFatal(err) {
			return nil, fmt.Errorf("reading blob %s: %w", d.Digest, err)
		}
		return nil, content(fmt.Errorf("reading blob %s: %w", d.Digest, err))
	}
	if got, _, _ := v1.SHA256(bytes.NewReader(b)); got != d.Digest {
		return nil, content(fmt.Errorf("blob %s has digest %s", d.Digest, got))
	}
	return b, nil
}

func (s *registryStore) referrers(ctx context.Context, d v1.Hash) ([]v1.Descriptor, error) {
	idx, err := remote.Referrers(s.repo.Digest(d.String()), s.opts...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing referrers of %s: %w", d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, content(fmt.Errorf("listing referrers of %s: %w", d, err))
	}
	return im.Manifests, nil
}

func (s *registryStore) base(ctx context.Context, tag string, _ v1.Descriptor) (v1.Image, error) {
	desc, err := remote.Get(s.repo.Tag(tag), s.opts...)
	if err != nil {
		return nil, fmt.Errorf("reading %s:%s: %w", s.repo, tag, err)
	}
	return desc.Image()
}

func (s *registryStore) write(ctx context.Context, tag string, img v1.Image) error {
	if err := remote.Write(s.repo.Tag(tag), img, s.opts...); err != nil {
		return fmt.Errorf("writing %s:%s: %w", s.repo, tag, err)
	}
	return nil
}
