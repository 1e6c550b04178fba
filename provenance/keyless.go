package provenance

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Keyless trusts certificates issued by a trusted root's Fulcio CA to one
// identity, with the signing time proven by the transparency log (Rekor)
// or a timestamp authority of the same root. Everything is checked offline
// (sigstore-go): signing keyless needs the live Sigstore services and is not
// something customs does.
type Keyless struct {
	// Root is the trusted material: Fulcio CAs, Rekor and CT log keys,
	// timestamp authorities (a trusted_root.json, see LoadTrustedRoot).
	Root root.TrustedMaterial
	// RootID names Root for cache keys (the sha256 of its file).
	RootID string
	// Identity (or IdentityRegexp) must match the certificate's subject
	// alternative name; Issuer (or IssuerRegexp) its OIDC issuer.
	Identity, IdentityRegexp string
	Issuer, IssuerRegexp     string
	// IgnoreSCT skips the certificate transparency check, as cosign's
	// --insecure-ignore-sct does.
	IgnoreSCT bool
}

// LoadTrustedRoot reads a Sigstore trusted_root.json (what `cosign
// trusted-root create` writes or the public-good TUF repository serves).
func LoadTrustedRoot(path string) (root.TrustedMaterial, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("reading trusted root: %w", err)
	}
	if len(b) > 16<<20 {
		return nil, "", fmt.Errorf("trusted root %s is over 16 MiB", path)
	}
	tr, err := root.NewTrustedRootFromJSON(b)
	if err != nil {
		return nil, "", fmt.Errorf("trusted root %s: %w", path, err)
	}
	sum := sha256.Sum256(b)
	return tr, hex.EncodeToString(sum[:]), nil
}

func (k *Keyless) id() string {
	return fmt.Sprintf("%s|%q|%q|%q|%q|%t", k.RootID, k.Identity, k.IdentityRegexp, k.Issuer, k.IssuerRegexp, k.IgnoreSCT)
}

func (k *Keyless) check() error {
	if k.Root == nil {
		return errors.New("keyless verification needs a trusted root (--trusted-root)")
	}
	if k.Identity == "" && k.IdentityRegexp == "" {
		return errors.New("keyless verification needs --certificate-identity (or --certificate-identity-regexp)")
	}
	if k.Issuer == "" && k.IssuerRegexp == "" {
		return errors.New("keyless verification needs --certificate-oidc-issuer (or --certificate-oidc-issuer-regexp)")
	}
	_, err := verify.NewShortCertificateIdentity(k.Issuer, k.IssuerRegexp, k.Identity, k.IdentityRegexp)
	return err
}

// verifier makes the sigstore-go verifier: a transparency log entry (or a
// signed timestamp) is required to date the certificate.
func (k *Keyless) verifier(hasTlog, hasTimestamps bool) (*verify.Verifier, error) {
	var opts []verify.VerifierOption
	switch {
	case hasTlog:
		opts = append(opts, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
	case hasTimestamps:
		opts = append(opts, verify.WithSignedTimestamps(1))
	default:
		return nil, errors.New("keyless signature has neither a transparency log entry nor a signed timestamp to prove when the certificate was valid")
	}
	if !k.IgnoreSCT {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	return verify.NewVerifier(k.Root, opts...)
}

func (k *Keyless) policy(artifact verify.ArtifactPolicyOption) (verify.PolicyBuilder, error) {
	id, err := verify.NewShortCertificateIdentity(k.Issuer, k.IssuerRegexp, k.Identity, k.IdentityRegexp)
	if err != nil {
		return verify.PolicyBuilder{}, err
	}
	return verify.NewPolicy(artifact, verify.WithCertificateIdentity(id)), nil
}

func signerOf(res *verify.VerificationResult) *Signer {
	s := &Signer{}
	if res != nil && res.Signature != nil && res.Signature.Certificate != nil {
		s.Identity = res.Signature.Certificate.SubjectAlternativeName
		s.Issuer = res.Signature.Certificate.Issuer
	}
	return s
}

// legacyEntity is a cosign keyless signature as cosign stores it in a
// signature tag: the certificate, chain and Rekor bundle in annotations.
type legacyEntity struct {
	verify.BaseSignedEntity
	cert          *x509.Certificate
	intermediates []*x509.Certificate
	sig           verify.SignatureContent
	entry         *tlog.Entry
	timestamps    [][]byte
}

func (e *legacyEntity) HasInclusionPromise() bool { return e.entry != nil }
func (e *legacyEntity) HasInclusionProof() bool   { return false }
func (e *legacyEntity) Version() (string, error)  { return "v0.1", nil }
func (e *legacyEntity) VerificationContent() (verify.VerificationContent, error) {
	return &legacyCert{c: bundle.NewCertificate(e.cert), chain: e.intermediates}, nil
}
func (e *legacyEntity) SignatureContent() (verify.SignatureContent, error) { return e.sig, nil }
func (e *legacyEntity) Timestamps() ([][]byte, error)                      { return e.timestamps, nil }
func (e *legacyEntity) TlogEntries() ([]*tlog.Entry, error) {
	if e.entry == nil {
		return nil, nil
	}
	return []*tlog.Entry{e.entry}, nil
}

// legacyCert is the certificate with the intermediates from the chain
// annotation.
type legacyCert struct {
	c     *bundle.Certificate
	chain []*x509.Certificate
}

func (l *legacyCert) CompareKey(k any, tm root.TrustedMaterial) bool { return l.c.CompareKey(k, tm) }
func (l *legacyCert) ValidAtTime(t time.Time, tm root.TrustedMaterial) bool {
	return l.c.ValidAtTime(t, tm)
}
func (l *legacyCert) Certificate() *x509.Certificate      { return l.c.Certificate() }
func (l *legacyCert) Intermediates() []*x509.Certificate  { return l.chain }
func (l *legacyCert) PublicKey() verify.PublicKeyProvider { return nil }

// rekorBundle is cosign's dev.sigstore.cosign/bundle annotation.
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

// maxAnnotationBytes bounds a certificate, chain or bundle annotation.
const maxAnnotationBytes = 64 << 10

func parseLegacyKeyless(ann map[string]string) (*legacyEntity, error) {
	for _, a := range []string{certificateAnnotation, chainAnnotation, rekorBundleAnnotation, rfc3161Annotation} {
		if len(ann[a]) > maxAnnotationBytes {
			return nil, fmt.Errorf("annotation %s is %d bytes, over the %d-byte limit", a, len(ann[a]), maxAnnotationBytes)
		}
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(ann[certificateAnnotation]))
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("certificate annotation is not a PEM certificate: %v", err)
	}
	e := &legacyEntity{cert: certs[0]}
	if c := ann[chainAnnotation]; c != "" {
		chain, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(c))
		if err != nil {
			return nil, fmt.Errorf("chain annotation: %w", err)
		}
		// The chain ends in the root, which must come from the trusted root.
		for _, c := range chain {
			if !bytes.Equal(c.RawIssuer, c.RawSubject) {
				e.intermediates = append(e.intermediates, c)
			}
		}
	}
	if b := ann[rekorBundleAnnotation]; b != "" {
		var rb rekorBundle
		if err := json.Unmarshal([]byte(b), &rb); err != nil {
			return nil, fmt.Errorf("rekor bundle annotation: %w", err)
		}
		body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
		if err != nil {
			return nil, fmt.Errorf("rekor bundle body: %w", err)
		}
		logID, err := hex.DecodeString(rb.Payload.LogID)
		if err != nil {
			return nil, fmt.Errorf("rekor bundle log ID: %w", err)
		}
		e.entry, err = tlog.NewEntry(body, rb.Payload.IntegratedTime, rb.Payload.LogIndex, logID, rb.SignedEntryTimestamp, nil) //nolint:staticcheck // the Rekor v1 entry cosign stores
		if err != nil {
			return nil, fmt.Errorf("rekor bundle entry: %w", err)
		}
	}
	if ts := ann[rfc3161Annotation]; ts != "" {
		var t struct {
			SignedRFC3161Timestamp []byte
		}
		if err := json.Unmarshal([]byte(ts), &t); err != nil {
			return nil, fmt.Errorf("timestamp annotation: %w", err)
		}
		e.timestamps = [][]byte{t.SignedRFC3161Timestamp}
	}
	return e, nil
}

// verifyLegacy verifies a keyless signature stored the cosign way: sig over
// payload by the certificate in the annotations, the certificate issued by
// the trusted Fulcio to the expected identity, at a time the Rekor bundle
// proves.
func (k *Keyless) verifyLegacy(sig, payload []byte, ann map[string]string) (*Signer, error) {
	e, err := parseLegacyKeyless(ann)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(payload)
	e.sig = bundle.NewMessageSignature(sum[:], "SHA2_256", sig)
	v, err := k.verifier(e.entry != nil, len(e.timestamps) > 0)
	if err != nil {
		return nil, err
	}
	pol, err := k.policy(verify.WithArtifact(bytes.NewReader(payload)))
	if err != nil {
		return nil, err
	}
	res, err := v.Verify(e, pol)
	if err != nil {
		return nil, fmt.Errorf("keyless signature: %w", err)
	}
	return signerOf(res), nil
}

// verifyBundle verifies a Sigstore bundle (cosign --new-bundle-format)
// about digest: signed by a trusted key, or keyless. A DSSE statement of
// cosign's signing predicate is a signature; any other statement an
// attestation; a message signature is a signature.
func (v *Verifier) verifyBundle(raw []byte, digest v1.Hash) (*Signature, *Attestation) {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return &Signature{Error: fmt.Sprintf("malformed Sigstore bundle: %v", err)}, nil
	}
	sc, err := b.SignatureContent()
	if err != nil {
		return &Signature{Error: fmt.Sprintf("Sigstore bundle: %v", err)}, nil
	}
	env := sc.EnvelopeContent()
	if env == nil {
		// A message signature over the image's manifest digest.
		s := &Signature{Digest: digest.String()}
		ms := sc.MessageSignatureContent()
		if ms == nil || ms.DigestAlgorithm() != "SHA2_256" || !bytes.Equal(ms.Digest(), mustHex(digest.Hex)) {
			s.Error = "Sigstore bundle's message signature is not over this image's digest"
			return s, nil
		}
		signer, err := v.verifyBundleWith(&b, verify.WithArtifactDigest("sha256", mustHex(digest.Hex)))
		if err != nil {
			s.Error = err.Error()
			return s, nil
		}
		s.Signer, s.Verified = signer, true
		return s, nil
	}
	rawEnv := env.RawEnvelope()
	envJSON, err := json.Marshal(rawEnv)
	if err != nil {
		return &Signature{Error: err.Error()}, nil
	}
	e, err := ParseEnvelope(envJSON)
	if err != nil {
		return &Signature{Error: "Sigstore bundle: " + err.Error()}, nil
	}
	stmt, err := ParseStatement(e.Payload)
	if err != nil {
		return &Signature{Error: "Sigstore bundle: " + err.Error()}, nil
	}
	a := Attestation{PredicateType: stmt.PredicateType}
	signer, err := v.verifyBundleWith(&b, verify.WithArtifactDigest("sha256", mustHex(digest.Hex)))
	if err == nil {
		a.Signer = signer
		a, err = checkStatement(a, e, digest)
	}
	if stmt.PredicateType == cosignSignPredicateType {
		s := &Signature{Signer: a.Signer, Verified: a.Verified, Digest: digest.String()}
		if err != nil {
			s.Error, s.Verified = err.Error(), false
		}
		return s, nil
	}
	if err != nil {
		a.Error, a.Verified, a.Predicate = err.Error(), false, nil
	}
	return nil, &a
}

// verifyBundleWith verifies a bundle's signature with the trusted keys
// (the bundle then carries a key hint, no certificate) or keyless.
func (v *Verifier) verifyBundleWith(b *bundle.Bundle, artifact verify.ArtifactPolicyOption) (*Signer, error) {
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, fmt.Errorf("Sigstore bundle: %w", err)
	}
	if vc.Certificate() == nil {
		// Signed with a key: try each trusted key as the bundle's key.
		for _, k := range v.trust.Keys {
			tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
				return root.NewExpiringKey(k.verifiers[0], time.Time{}, time.Time{}), nil
			})
			// With keys alone customs does what `cosign verify
			// --insecure-ignore-tlog` does: the tlog entry, if any, is not
			// checked (there is no trusted log key to check it with).
			sv, err := verify.NewVerifier(tm, verify.WithCurrentTime())
			if err != nil {
				return nil, err
			}
			if _, err := sv.Verify(&noTlog{b}, verify.NewPolicy(artifact, verify.WithKey())); err == nil {
				return &Signer{Key: k.Name, Fingerprint: k.Fingerprint}, nil
			}
		}
		return nil, fmt.Errorf("Sigstore bundle signature does not verify with any trusted key (%s)", v.keyNames())
	}
	if v.trust.Keyless == nil {
		return nil, errors.New("keyless Sigstore bundle (a certificate), but no trusted root was given (--trusted-root, --certificate-identity, --certificate-oidc-issuer)")
	}
	hasTlog := len(b.GetVerificationMaterial().GetTlogEntries()) > 0
	ts, _ := b.Timestamps()
	sv, err := v.trust.Keyless.verifier(hasTlog, len(ts) > 0)
	if err != nil {
		return nil, err
	}
	pol, err := v.trust.Keyless.policy(artifact)
	if err != nil {
		return nil, err
	}
	res, err := sv.Verify(b, pol)
	if err != nil {
		return nil, fmt.Errorf("keyless Sigstore bundle: %w", err)
	}
	return signerOf(res), nil
}

// noTlog hides a bundle's transparency log entries and timestamps from a
// key-only verification (they are not checked without a trusted root).
type noTlog struct{ *bundle.Bundle }

func (n *noTlog) TlogEntries() ([]*tlog.Entry, error) { return nil, nil }
func (n *noTlog) Timestamps() ([][]byte, error)       { return nil, nil }
func (n *noTlog) HasInclusionPromise() bool           { return false }
func (n *noTlog) HasInclusionProof() bool             { return false }

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}
