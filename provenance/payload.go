package provenance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Media types and annotations cosign uses.
const (
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	DSSEMediaType          = "application/vnd.dsse.envelope.v1+json"
	InTotoPayloadType      = "application/vnd.in-toto+json"

	signatureAnnotation   = "dev.cosignproject.cosign/signature"
	certificateAnnotation = "dev.sigstore.cosign/certificate"
	chainAnnotation       = "dev.sigstore.cosign/chain"
	rekorBundleAnnotation = "dev.sigstore.cosign/bundle"
	rfc3161Annotation     = "dev.sigstore.cosign/rfc3161timestamp"
	predicateAnnotation   = "predicateType"
	refNameAnnotation     = "org.opencontainers.image.ref.name"
)

// Limits bound what is read from a registry or layout: everything there is
// untrusted, and a signature tag may point at anything.
type Limits struct {
	// MaxPayloadBytes bounds one simple-signing payload, DSSE envelope or
	// Sigstore bundle (default 1 MiB).
	MaxPayloadBytes int64
	// MaxManifestBytes bounds one manifest, index or referrers list
	// (default 16 MiB).
	MaxManifestBytes int64
	// MaxLayers bounds the signatures or attestations read from one
	// manifest (default 1000).
	MaxLayers int
	// MaxReferrers bounds the referrers examined for one image (default 256).
	MaxReferrers int
}

// The default limits, used where a field of Limits is zero.
const (
	DefaultMaxPayloadBytes  = 1 << 20
	DefaultMaxManifestBytes = 16 << 20
	DefaultMaxLayers        = 1000
	DefaultMaxReferrers     = 256
)

func (l Limits) withDefaults() Limits {
	if l.MaxPayloadBytes <= 0 {
		l.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if l.MaxManifestBytes <= 0 {
		l.MaxManifestBytes = DefaultMaxManifestBytes
	}
	if l.MaxLayers <= 0 {
		l.MaxLayers = DefaultMaxLayers
	}
	if l.MaxReferrers <= 0 {
		l.MaxReferrers = DefaultMaxReferrers
	}
	return l
}

// simpleSigning builds the payload cosign signs for an image: the "critical"
// section binds the signature to the manifest digest.
func simpleSigning(dockerReference string, digest v1.Hash, annotations map[string]string) ([]byte, error) {
	var optional map[string]any
	if len(annotations) > 0 {
		optional = map[string]any{}
		for k, v := range annotations {
			optional[k] = v
		}
	}
	return json.Marshal(payload.SimpleContainerImage{
		Critical: payload.Critical{
			Identity: payload.Identity{DockerReference: dockerReference},
			Image:    payload.Image{DockerManifestDigest: digest.String()},
			Type:     payload.CosignSignatureType,
		},
		Optional: optional,
	})
}

// SignedPayload is what a simple-signing payload claims.
type SignedPayload struct {
	DockerReference string
	Digest          v1.Hash
	Annotations     map[string]any
}

// ParseSimpleSigning reads a simple-signing payload (untrusted input) and
// checks its shape: the type cosign writes and a well-formed digest.
func ParseSimpleSigning(b []byte) (*SignedPayload, error) {
	if len(b) > DefaultMaxPayloadBytes {
		return nil, fmt.Errorf("payload is %d bytes, over the %d-byte limit", len(b), DefaultMaxPayloadBytes)
	}
	var p payload.SimpleContainerImage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("parsing simple-signing payload: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parsing simple-signing payload: data after the JSON object")
	}
	if p.Critical.Type != payload.CosignSignatureType {
		return nil, fmt.Errorf("simple-signing payload has type %q, not %q", truncate(p.Critical.Type, 80), payload.CosignSignatureType)
	}
	d := p.Critical.Image.DockerManifestDigest
	h, err := v1.NewHash(d)
	if err != nil {
		return nil, fmt.Errorf("simple-signing payload digest %q: %w", truncate(d, 80), err)
	}
	if h.Algorithm != "sha256" {
		return nil, fmt.Errorf("simple-signing payload digest %q: only sha256 digests are supported", truncate(d, 80))
	}
	return &SignedPayload{DockerReference: p.Critical.Identity.DockerReference, Digest: h, Annotations: p.Optional}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// sigTag and attTag name the tags cosign stores signatures and attestations
// under: sha256:abc... becomes sha256-abc....sig.
func sigTag(d v1.Hash) string { return strings.Replace(d.String(), ":", "-", 1) + ".sig" }
func attTag(d v1.Hash) string { return strings.Replace(d.String(), ":", "-", 1) + ".att" }
