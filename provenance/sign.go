package provenance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// SignOptions tune Sign.
type SignOptions struct {
	// Insecure allows plain HTTP and unverified TLS (loopback test registries).
	Insecure bool
	// Platform signs the matching child of a multi-platform index
	// ("linux/amd64") instead of the index itself.
	Platform string
	// Annotations go into the payload's "optional" section, as
	// `cosign sign -a key=value` puts them.
	Annotations map[string]string
	Limits      Limits
}

// AttestOptions tune Attest.
type AttestOptions struct {
	Insecure bool
	Platform string
	// Replace drops the image's earlier attestations of the same predicate
	// type, as `cosign attest --replace` does.
	Replace bool
	// Now stamps the "custom" predicate (time.Now when nil).
	Now    func() time.Time
	Limits Limits
}

// Result says what Sign or Attest wrote.
type Result struct {
	// Image is the reference as given.
	Image string `json:"image"`
	// Digest is the manifest digest that was signed (a tag is resolved first).
	Digest string `json:"digest"`
	// Ref names the signed image by digest.
	Ref string `json:"ref"`
	// Stored names where the signature or attestation was written.
	Stored string `json:"stored"`
	// Unchanged is true when an identical signature by the same key was
	// already there, so nothing was written (cosign does the same).
	Unchanged bool `json:"unchanged,omitempty"`
}

// Sign signs the image ref with key and stores the signature as cosign does.
func Sign(ctx context.Context, ref string, key *PrivateKey, opts SignOptions) (*Result, error) {
	lim := opts.Limits.withDefaults()
	st, err := openStore(ctx, ref, opts.Insecure, lim)
	if err != nil {
		return nil, err
	}
	desc, err := st.resolve(ctx, opts.Platform)
	if err != nil {
		return nil, err
	}
	payload, err := simpleSigning(st.dockerReference(), desc.Digest, opts.Annotations)
	if err != nil {
		return nil, fmt.Errorf("building payload: %w", err)
	}
	sig, err := key.sign(payload)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", desc.Digest, err)
	}
	b64 := base64.StdEncoding.EncodeToString(sig)
	layer := static.NewLayer(payload, types.MediaType(SimpleSigningMediaType))
	// An existing layer with this very payload, signed by this key, makes a
	// new one redundant (ECDSA signatures differ each time, payloads do not).
	dup := func(d v1.Descriptor, _ []byte) bool {
		old, err := base64.StdEncoding.DecodeString(d.Annotations[signatureAnnotation])
		return err == nil && key.Public.verify(old, payload) == nil
	}
	tag := sigTag(desc.Digest)
	unchanged, err := appendLayer(ctx, st, tag, layer, map[string]string{signatureAnnotation: b64}, dup, nil, lim)
	if err != nil {
		return nil, err
	}
	return &Result{Image: st.String(), Digest: desc.Digest.String(), Ref: st.digestRef(desc.Digest), Stored: tag, Unchanged: unchanged}, nil
}

// Attest makes an in-toto statement of predicate (a file's contents) with
// the predicate type named by typ (cosign's --type names, "customs", or a
// URI), signs it with key in a DSSE envelope and stores it as cosign does.
func Attest(ctx context.Context, ref string, key *PrivateKey, typ string, predicate []byte, opts AttestOptions) (*Result, error) {
	lim := opts.Limits.withDefaults()
	uri, err := PredicateType(typ)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, ref, opts.Insecure, lim)
	if err != nil {
		return nil, err
	}
	desc, err := st.resolve(ctx, opts.Platform)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	stmt, err := statement(typ, predicate, desc.Digest.Hex, st.dockerReference(), now())
	if err != nil {
		return nil, err
	}
	env, err := signEnvelope(key, InTotoPayloadType, stmt)
	if err != nil {
		return nil, err
	}
	if int64(len(env)) > lim.MaxPayloadBytes {
		return nil, fmt.Errorf("the attestation is %d bytes, over the %d-byte limit verifiers enforce (customs and cosign read at most 1 MiB by default)", len(env), lim.MaxPayloadBytes)
	}
	layer := static.NewLayer(env, types.MediaType(DSSEMediaType))
	dup := func(d v1.Descriptor, blob []byte) bool {
		if d.Annotations[predicateAnnotation] != uri {
			return false
		}
		e, err := ParseEnvelope(blob)
		return err == nil && bytes.Equal(e.Payload, stmt) && e.verifyWith(key.Public) == nil
	}
	var replace func(v1.Descriptor) bool
	if opts.Replace {
		replace = func(d v1.Descriptor) bool { return d.Annotations[predicateAnnotation] == uri }
	}
	tag := attTag(desc.Digest)
	// cosign writes an empty signature annotation on attestation layers.
	ann := map[string]string{signatureAnnotation: "", predicateAnnotation: uri}
	unchanged, err := appendLayer(ctx, st, tag, layer, ann, dup, replace, lim)
	if err != nil {
		return nil, err
	}
	return &Result{Image: st.String(), Digest: desc.Digest.String(), Ref: st.digestRef(desc.Digest), Stored: tag, Unchanged: unchanged}, nil
}

// AttestScan attests a customs scan result (any JSON-serializable value)
// about the image ref, with the predicate type ScanPredicateType, signed by
// the encrypted key at keyPath. It is what `customs scan --attest` calls.
func AttestScan(ctx context.Context, ref, keyPath string, passphrase []byte, result any, insecure bool) error {
	key, err := LoadPrivateKey(keyPath, passphrase)
	if err != nil {
		return err
	}
	pred, err := json.Marshal(result)
	if err != nil {
		return fmt.Errorf("encoding scan result: %w", err)
	}
	_, err = Attest(ctx, ref, key, "customs", pred, AttestOptions{Insecure: insecure})
	return err
}

// emptySignatures is the image cosign starts a signature tag from: an OCI
// manifest with an OCI config and no layers.
func emptySignatures() v1.Image {
	return mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
}

// appendLayer adds layer to the image under tag (creating it), keeping the
// layers there unless replace drops them. When dup finds an equivalent
// layer already there, nothing is written and it returns true.
func appendLayer(ctx context.Context, st store, tag string, layer v1.Layer, ann map[string]string,
	dup func(v1.Descriptor, []byte) bool, replace func(v1.Descriptor) bool, lim Limits) (bool, error) {
	raw, desc, found, err := st.tagged(ctx, tag)
	if err != nil {
		return false, err
	}
	img := emptySignatures()
	if found {
		m, err := parseArtifactManifest(raw, lim)
		if err != nil {
			return false, fmt.Errorf("%s already holds something that is not a signature image (%v); refusing to overwrite it", tag, err)
		}
		if m.Config.Size > lim.MaxManifestBytes {
			return false, fmt.Errorf("%s: config is %d bytes, over the limit; refusing to append to it", tag, m.Config.Size)
		}
		if len(m.Layers) >= lim.MaxLayers {
			return false, fmt.Errorf("%s already holds %d layers, the most customs reads; remove old ones first", tag, len(m.Layers))
		}
		newMT, _ := layer.MediaType()
		for _, d := range m.Layers {
			if d.MediaType != newMT || d.Size > lim.MaxPayloadBytes || (replace != nil && replace(d)) {
				continue
			}
			if newMT == types.MediaType(SimpleSigningMediaType) {
				// Identical payloads have identical digests: only those can be duplicates.
				if dg, _ := layer.Digest(); dg != d.Digest {
					continue
				}
			}
			if blob, err := st.blob(ctx, d, lim.MaxPayloadBytes); err == nil && dup(d, blob) {
				return true, nil
			} else if isFatal(err) {
				return false, err
			}
		}
		base, err := st.base(ctx, tag, desc)
		if err != nil {
			return false, err
		}
		for _, d := range m.Layers {
			if replace != nil && replace(d) {
				continue
			}
			l, err := base.LayerByDigest(d.Digest)
			if err != nil {
				return false, fmt.Errorf("reading existing layer %s of %s: %w", d.Digest, tag, err)
			}
			if img, err = mutate.Append(img, mutate.Addendum{Layer: l, Annotations: d.Annotations, MediaType: d.MediaType}); err != nil {
				return false, fmt.Errorf("keeping existing layer %s of %s: %w", d.Digest, tag, err)
			}
		}
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, Annotations: ann})
	if err != nil {
		return false, fmt.Errorf("adding layer: %w", err)
	}
	return false, st.write(ctx, tag, img)
}

// parseArtifactManifest reads a signature or attestation manifest
// (untrusted input): an image manifest with a bounded number of layers.
func parseArtifactManifest(raw []byte, lim Limits) (*v1.Manifest, error) {
	lim = lim.withDefaults()
	if int64(len(raw)) > lim.MaxManifestBytes {
		return nil, fmt.Errorf("manifest is %d bytes, over the %d MiB limit", len(raw), lim.MaxManifestBytes>>20)
	}
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	if probe.MediaType.IsIndex() || len(probe.Manifests) > 0 {
		return nil, errors.New("it is an index, not an image manifest")
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest schemaVersion is %d, not 2", m.SchemaVersion)
	}
	if len(m.Layers) > lim.MaxLayers {
		return nil, fmt.Errorf("manifest has %d layers, over the limit of %d", len(m.Layers), lim.MaxLayers)
	}
	return m, nil
}
