package image

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// RemoteOptions gives the go-containerregistry options every registry access
// of customs uses: the docker config.json credential chain, a context, and
// for --insecure plain HTTP and unverified TLS.
func RemoteOptions(ctx context.Context, insecure bool) []remote.Option {
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithUserAgent("customs"),
	}
	if insecure {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for --insecure
		opts = append(opts, remote.WithTransport(t))
	}
	return opts
}

// ParseRegistryReference parses a registry reference, allowing plain HTTP when insecure.
func ParseRegistryReference(ref string, insecure bool) (name.Reference, error) {
	var nopts []name.Option
	if insecure {
		nopts = append(nopts, name.Insecure)
	}
	return name.ParseReference(ref, nopts...)
}

func openRegistry(ctx context.Context, r Reference, opts *Options) (*Image, error) {
	ref, err := ParseRegistryReference(r.Name, opts.Insecure)
	if err != nil {
		return nil, err
	}
	ropts := RemoteOptions(ctx, opts.Insecure)
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return nil, err
	}
	var img v1.Image
	digest, indexDigest := desc.Digest, ""
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		child, err := selectPlatform(im.Manifests, opts.Platform)
		if err != nil {
			return nil, err
		}
		if img, err = idx.Image(child.Digest); err != nil {
			return nil, err
		}
		digest = child.Digest
		indexDigest = desc.Digest.String()
	} else if img, err = desc.Image(); err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if int64(len(rawCfg)) > opts.limits().MaxMetadataBytes {
		return nil, fmt.Errorf("config is %d bytes, over the limit", len(rawCfg))
	}
	if got := digestOf(rawCfg, m.Config.Digest.String()); got != m.Config.Digest.String() {
		return nil, fmt.Errorf("config content digest %s does not match %s", got, m.Config.Digest)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, fmt.Errorf("parsing config: %w", err)
	}
	out := &Image{Info: imageInfo(cfg)}
	out.Info.ManifestDigest = digest.String()
	out.Info.IndexDigest = indexDigest
	out.Info.ConfigDigest = m.Config.Digest.String()
	out.Info.MediaType = string(m.MediaType)
	out.Info.RepoDigests = []string{ref.Context().Name() + "@" + digest.String()}
	if t, ok := ref.(name.Tag); ok {
		out.Info.RepoTags = []string{t.Name()}
	}
	layers, err := manifestLayers(m, cfg)
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		h, err := v1.NewHash(l.Digest)
		if err != nil {
			return nil, err
		}
		rl, err := img.LayerByDigest(h)
		if err != nil {
			return nil, err
		}
		// go-containerregistry checks the digest of what it streams.
		out.Layers = append(out.Layers, newTarLayer(l, func() (io.ReadCloser, error) { return rl.Compressed() }, "", opts))
	}
	out.Info.Layers = layers
	return out, nil
}
