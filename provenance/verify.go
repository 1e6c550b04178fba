package provenance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Trust says whose signatures and attestations count.
type Trust struct {
	// Keys are the trusted public keys.
	Keys []*PublicKey
	// Keyless, when set, also trusts certificates from the Fulcio CA of a
	// trusted root, for one identity, checked offline.
	Keyless *Keyless
	// Insecure allows plain HTTP and unverified TLS (loopback registries).
	Insecure bool
	Limits   Limits
}

// id names the trust configuration for cache keys.
func (t Trust) id() string {
	var parts []string
	for _, k := range t.Keys {
		parts = append(parts, k.Fingerprint)
	}
	sort.Strings(parts)
	if t.Keyless != nil {
		parts = append(parts, "keyless", t.Keyless.id())
	}
	l := t.Limits.withDefaults()
	parts = append(parts, fmt.Sprintf("insecure=%t limits=%d/%d/%d/%d", t.Insecure, l.MaxPayloadBytes, l.MaxManifestBytes, l.MaxLayers, l.MaxReferrers))
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(sum[:])
}

func (t Trust) check() error {
	if len(t.Keys) == 0 && t.Keyless == nil {
		return errors.New("no trusted keys (--key) and no keyless identity (--trusted-root with --certificate-identity): nothing could verify")
	}
	if t.Keyless != nil {
		return t.Keyless.check()
	}
	return nil
}

// Evidence is what verification found about one image: every signature and
// attestation there, verified or not, with the reason when not. It is
// JSON-serializable; the policy engine reads it.
type Evidence struct {
	// Image is the reference as given.
	Image string `json:"image"`
	// Digest is the manifest digest verified (a tag is resolved first).
	Digest string `json:"digest"`
	// Ref names the image by digest.
	Ref string `json:"ref"`
	// ResolvedFrom is the reference a tag was resolved from, when it was.
	ResolvedFrom string        `json:"resolved_from,omitempty"`
	Signatures   []Signature   `json:"signatures"`
	Attestations []Attestation `json:"attestations"`
	VerifiedAt   time.Time     `json:"verified_at"`
	// Cached is true when the result came from the cache.
	Cached bool `json:"cached,omitempty"`
}

// Signer says who made a verified signature: a trusted key, or a
// certificate identity.
type Signer struct {
	// Key is the trusted key's file name, Fingerprint its sha256.
	Key         string `json:"key,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Identity and Issuer name a keyless signer (the certificate's subject
	// alternative name and OIDC issuer).
	Identity string `json:"identity,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
}

// Signature is one image signature found.
type Signature struct {
	Verified bool `json:"verified"`
	// Source says where it was found: the tag and layer, or the referrer.
	Source string  `json:"source"`
	Signer *Signer `json:"signer,omitempty"`
	// Digest is the manifest digest the signed payload names.
	Digest          string         `json:"digest,omitempty"`
	DockerReference string         `json:"docker_reference,omitempty"`
	Annotations     map[string]any `json:"annotations,omitempty"`
	Error           string         `json:"error,omitempty"`
}

// Attestation is one attestation found.
type Attestation struct {
	Verified      bool    `json:"verified"`
	Source        string  `json:"source"`
	Signer        *Signer `json:"signer,omitempty"`
	PredicateType string  `json:"predicate_type,omitempty"`
	// Predicate is the statement's predicate, only when verified.
	Predicate json.RawMessage `json:"predicate,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// VerifiedSignatures gives the signatures that verified.
func (e *Evidence) VerifiedSignatures() []Signature {
	var out []Signature
	for _, s := range e.Signatures {
		if s.Verified {
			out = append(out, s)
		}
	}
	return out
}

// VerifiedAttestations gives the attestations that verified, of the
// predicate type uri (all types when empty).
func (e *Evidence) VerifiedAttestations(uri string) []Attestation {
	var out []Attestation
	for _, a := range e.Attestations {
		if a.Verified && (uri == "" || a.PredicateType == uri) {
			out = append(out, a)
		}
	}
	return out
}

// Verifier verifies images against one trust configuration, caching
// results by digest.
type Verifier struct {
	trust Trust
	cache *Cache
}

// NewVerifier makes a verifier; a nil cache means the process-wide one.
func NewVerifier(trust Trust, cache *Cache) (*Verifier, error) {
	if err := trust.check(); err != nil {
		return nil, err
	}
	if cache == nil {
		cache = defaultCache
	}
	return &Verifier{trust: trust, cache: cache}, nil
}

// Verify verifies the signatures and attestations of ref (a digest
// reference, or a tag resolved first) against trust, with the process-wide
// cache: a second call for the same digest and trust does not go back to
// the registry.
func Verify(ctx context.Context, ref string, trust Trust) (*Evidence, error) {
	v, err := NewVerifier(trust, nil)
	if err != nil {
		return nil, err
	}
	return v.Verify(ctx, ref)
}

// Verify verifies ref. A registry it cannot reach, or a reference that does
// not resolve, is an error; a signature that does not verify is evidence
// (Verified false, with Error saying why).
func (v *Verifier) Verify(ctx context.Context, ref string) (*Evidence, error) {
	lim := v.trust.Limits.withDefaults()
	st, err := openStore(ctx, ref, v.trust.Insecure, lim)
	if err != nil {
		return nil, err
	}
	switch s := st.(type) {
	case *registryStore:
		s.lazy = true
	case *layoutStore:
		s.lazy = true
	}
	desc, err := st.resolve(ctx, "")
	if err != nil {
		return nil, err
	}
	key := st.id() + "@" + desc.Digest.String() + "#" + v.trust.id()
	if ev, ok := v.cache.get(key); ok {
		ev.Image = st.String()
		ev.ResolvedFrom = resolvedFrom(st, desc.Digest)
		ev.Cached = true
		return ev, nil
	}
	ev := &Evidence{
		Image: st.String(), Digest: desc.Digest.String(), Ref: st.digestRef(desc.Digest),
		ResolvedFrom: resolvedFrom(st, desc.Digest),
		Signatures:   []Signature{}, Attestations: []Attestation{},
	}
	if err := v.fromTags(ctx, st, desc.Digest, ev, lim); err != nil {
		return nil, err
	}
	if err := v.fromReferrers(ctx, st, desc.Digest, ev, lim); err != nil {
		return nil, err
	}
	ev.VerifiedAt = time.Now().UTC()
	v.cache.put(key, ev)
	return ev, nil
}

func resolvedFrom(st store, d v1.Hash) string {
	s := st.String()
	if strings.Contains(s, d.String()) {
		return ""
	}
	return s
}

// fromTags reads the cosign tags sha256-<hex>.sig and .att.
func (v *Verifier) fromTags(ctx context.Context, st store, digest v1.Hash, ev *Evidence, lim Limits) error {
	for _, tag := range []string{sigTag(digest), attTag(digest)} {
		raw, _, found, err := st.tagged(ctx, tag)
		if err != nil {
			if isFatal(err) {
				return err
			}
			v.addBroken(ev, tag, tag, err)
			continue
		}
		if !found {
			continue
		}
		m, err := parseArtifactManifest(raw, lim)
		if err != nil {
			v.addBroken(ev, tag, tag, fmt.Errorf("malformed signature manifest: %w", err))
			continue
		}
		if err := v.layers(ctx, st, digest, tag, m.Layers, ev, lim); err != nil {
			return err
		}
	}
	return nil
}

// addBroken records a signature or attestation manifest that could not be
// read at all, so the report says so rather than "not signed".
func (v *Verifier) addBroken(ev *Evidence, tag, source string, err error) {
	if strings.HasSuffix(tag, ".att") {
		ev.Attestations = append(ev.Attestations, Attestation{Source: source, Error: err.Error()})
		return
	}
	ev.Signatures = append(ev.Signatures, Signature{Source: source, Error: err.Error()})
}

// layers verifies each layer of a signature or attestation manifest.
func (v *Verifier) layers(ctx context.Context, st store, digest v1.Hash, where string, layers []v1.Descriptor, ev *Evidence, lim Limits) error {
	for i, d := range layers {
		source := fmt.Sprintf("%s layer %d", where, i)
		switch d.MediaType {
		case types.MediaType(SimpleSigningMediaType):
			s, err := v.signatureLayer(ctx, st, digest, d, lim)
			if isFatal(err) {
				return err
			}
			s.Source = source
			if err != nil {
				s.Error = err.Error()
			}
			ev.Signatures = append(ev.Signatures, s)
		case types.MediaType(DSSEMediaType):
			a, err := v.attestationLayer(ctx, st, digest, d, lim)
			if isFatal(err) {
				return err
			}
			a.Source = source
			if err != nil {
				a.Error = err.Error()
			}
			ev.Attestations = append(ev.Attestations, a)
		default:
			e := fmt.Errorf("layer media type %q is neither %s nor %s", truncate(string(d.MediaType), 100), SimpleSigningMediaType, DSSEMediaType)
			v.addBroken(ev, where, source, e)
		}
	}
	return nil
}

// signatureLayer verifies one simple-signing layer: its signature against
// the trusted keys, then that the signed payload names this digest.
func (v *Verifier) signatureLayer(ctx context.Context, st store, digest v1.Hash, d v1.Descriptor, lim Limits) (Signature, error) {
	var s Signature
	b64, ok := d.Annotations[signatureAnnotation]
	if !ok {
		return s, errors.New("no signature annotation (" + signatureAnnotation + ")")
	}
	if len(b64) > 64<<10 {
		return s, fmt.Errorf("signature annotation is %d bytes; not a signature", len(b64))
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return s, fmt.Errorf("signature annotation is not base64: %w", err)
	}
	payload, err := st.blob(ctx, d, lim.MaxPayloadBytes)
	if err != nil {
		return s, fmt.Errorf("payload: %w", err)
	}
	signer, err := v.checkSignature(sig, payload, d.Annotations)
	if err != nil {
		return s, err
	}
	p, err := ParseSimpleSigning(payload)
	if err != nil {
		return s, fmt.Errorf("signature verifies but the payload is malformed: %w", err)
	}
	s.Signer, s.Digest, s.DockerReference, s.Annotations = signer, p.Digest.String(), p.DockerReference, p.Annotations
	if p.Digest != digest {
		return s, fmt.Errorf("signed payload is for %s, not this image (%s): a signature copied from another image or from the tag's old digest", p.Digest, digest)
	}
	s.Verified = true
	return s, nil
}

// checkSignature verifies sig over payload with the trusted keys, or with
// a certificate in the annotations when keyless trust is configured.
func (v *Verifier) checkSignature(sig, payload []byte, ann map[string]string) (*Signer, error) {
	for _, k := range v.trust.Keys {
		if k.verify(sig, payload) == nil {
			return &Signer{Key: k.Name, Fingerprint: k.Fingerprint}, nil
		}
	}
	if ann[certificateAnnotation] != "" {
		if v.trust.Keyless == nil {
			return nil, errors.New("keyless signature (a certificate), but no trusted root was given (--trusted-root, --certificate-identity, --certificate-oidc-issuer)")
		}
		return v.trust.Keyless.verifyLegacy(sig, payload, ann)
	}
	return nil, fmt.Errorf("signature does not verify with any trusted key (%s)", v.keyNames())
}

func (v *Verifier) keyNames() string {
	if len(v.trust.Keys) == 0 {
		return "no keys given"
	}
	var n []string
	for _, k := range v.trust.Keys {
		n = append(n, k.label())
	}
	if len(n) > 5 {
		n = append(n[:5], fmt.Sprintf("and %d more", len(n)-5))
	}
	return "tried " + strings.Join(n, ", ")
}

// attestationLayer verifies one DSSE layer: the envelope's signature, the
// statement's subject, and gives the predicate.
func (v *Verifier) attestationLayer(ctx context.Context, st store, digest v1.Hash, d v1.Descriptor, lim Limits) (Attestation, error) {
	a := Attestation{PredicateType: truncate(d.Annotations[predicateAnnotation], 200)}
	blob, err := st.blob(ctx, d, lim.MaxPayloadBytes)
	if err != nil {
		return a, fmt.Errorf("envelope: %w", err)
	}
	env, err := ParseEnvelope(blob)
	if err != nil {
		return a, err
	}
	var signer *Signer
	for _, k := range v.trust.Keys {
		if env.verifyWith(k) == nil {
			signer = &Signer{Key: k.Name, Fingerprint: k.Fingerprint}
			break
		}
	}
	if signer == nil {
		if d.Annotations[certificateAnnotation] != "" && v.trust.Keyless != nil && len(env.Signatures) > 0 {
			signer, err = v.trust.Keyless.verifyLegacy(env.Signatures[0], envPAE(env), d.Annotations)
			if err != nil {
				return a, err
			}
		} else {
			return a, fmt.Errorf("envelope signature does not verify with any trusted key (%s)", v.keyNames())
		}
	}
	a.Signer = signer
	return checkStatement(a, env, digest)
}

// checkStatement checks a verified envelope's statement: in-toto, about
// this digest; and fills in the predicate.
func checkStatement(a Attestation, env *Envelope, digest v1.Hash) (Attestation, error) {
	if env.PayloadType != InTotoPayloadType {
		return a, fmt.Errorf("envelope payload type is %q, not %s", truncate(env.PayloadType, 100), InTotoPayloadType)
	}
	stmt, err := ParseStatement(env.Payload)
	if err != nil {
		return a, fmt.Errorf("signature verifies but the statement is malformed: %w", err)
	}
	if a.PredicateType != "" && a.PredicateType != stmt.PredicateType {
		return a, fmt.Errorf("layer annotation says predicate type %q, the signed statement says %q", a.PredicateType, truncate(stmt.PredicateType, 200))
	}
	a.PredicateType = stmt.PredicateType
	if !stmt.about(digest.Hex) {
		return a, fmt.Errorf("statement is about %s, not this image (%s)", stmt.subjectDigests(), digest)
	}
	a.Predicate = stmt.Predicate
	a.Verified = true
	return a, nil
}

func envPAE(e *Envelope) []byte {
	return paeOf(e.PayloadType, e.Payload)
}

// fromReferrers reads the OCI 1.1 referrers of digest: cosign's
// experimental OCI 1.1 signatures (the same layers as the tags) and
// Sigstore bundles.
func (v *Verifier) fromReferrers(ctx context.Context, st store, digest v1.Hash, ev *Evidence, lim Limits) error {
	refs, err := st.referrers(ctx, digest)
	if err != nil {
		if isFatal(err) {
			return err
		}
		// A registry without the referrers API answers with an error that
		// says nothing about the image: no referrers.
		return nil
	}
	if len(refs) > lim.MaxReferrers {
		refs = refs[:lim.MaxReferrers]
	}
	for _, d := range refs {
		where := "referrer " + d.Digest.String()
		switch {
		case d.ArtifactType == cosignSigArtifactType || d.ArtifactType == cosignAttArtifactType:
			raw, err := st.manifest(ctx, d)
			if err != nil {
				if isFatal(err) {
					return err
				}
				v.addBroken(ev, "", where, err)
				continue
			}
			m, err := parseArtifactManifest(raw, lim)
			if err != nil {
				v.addBroken(ev, "", where, fmt.Errorf("malformed signature manifest: %w", err))
				continue
			}
			if err := v.layers(ctx, st, digest, where, m.Layers, ev, lim); err != nil {
				return err
			}
		case strings.HasPrefix(d.ArtifactType, bundleArtifactTypePrefix):
			if err := v.bundleReferrer(ctx, st, digest, d, where, ev, lim); err != nil {
				return err
			}
		}
	}
	return nil
}

// Artifact types of referrers cosign writes.
const (
	cosignSigArtifactType    = "application/vnd.dev.cosign.artifact.sig.v1+json"
	cosignAttArtifactType    = "application/vnd.dev.cosign.artifact.att.v1+json"
	bundleArtifactTypePrefix = "application/vnd.dev.sigstore.bundle"
)

// bundleReferrer verifies a Sigstore bundle attached as a referrer: a DSSE
// envelope (an attestation, or cosign's signing statement), or a message
// signature over the digest.
func (v *Verifier) bundleReferrer(ctx context.Context, st store, digest v1.Hash, d v1.Descriptor, where string, ev *Evidence, lim Limits) error {
	raw, err := st.manifest(ctx, d)
	if err != nil {
		if isFatal(err) {
			return err
		}
		v.addBroken(ev, "", where, err)
		return nil
	}
	m, err := parseArtifactManifest(raw, lim)
	if err != nil {
		v.addBroken(ev, "", where, fmt.Errorf("malformed bundle manifest: %w", err))
		return nil
	}
	if len(m.Layers) != 1 {
		v.addBroken(ev, "", where, fmt.Errorf("bundle manifest has %d layers, want 1", len(m.Layers)))
		return nil
	}
	blob, err := st.blob(ctx, m.Layers[0], lim.MaxPayloadBytes)
	if err != nil {
		if isFatal(err) {
			return err
		}
		v.addBroken(ev, "", where, err)
		return nil
	}
	sig, att := v.verifyBundle(blob, digest)
	if sig != nil {
		sig.Source = where
		ev.Signatures = append(ev.Signatures, *sig)
	}
	if att != nil {
		att.Source = where
		ev.Attestations = append(ev.Attestations, *att)
	}
	return nil
}

// paeOf is the DSSE pre-authentication encoding.
func paeOf(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "DSSEv1 %d %s %d ", len(payloadType), payloadType, len(payload))
	b.Write(payload)
	return b.Bytes()
}
