package provenance

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// PEM block types of private keys, as cosign writes them. cosign writes
// SIGSTORE since v2 and still reads COSIGN; so do we.
const (
	pemTypeSigstorePrivate = "ENCRYPTED SIGSTORE PRIVATE KEY"
	pemTypeCosignPrivate   = "ENCRYPTED COSIGN PRIVATE KEY"
	pemTypePublic          = "PUBLIC KEY"
)

// maxKeyFileBytes bounds a key file: a PEM key is well under 1 KiB; anything
// larger is not a key.
const maxKeyFileBytes = 64 << 10

// PublicKey is a trusted public key: ECDSA on P-256, P-384 or P-521.
type PublicKey struct {
	// Name says where the key came from (its file name), for reports.
	Name string
	// Fingerprint is "sha256:" and the hex SHA-256 of the key's PKIX DER
	// encoding (what `openssl pkey -pubin -outform DER | sha256sum` gives).
	Fingerprint string
	key         *ecdsa.PublicKey
	// verifiers holds the curve's own hash first (what cosign signs with),
	// then SHA-256 (what `cosign verify` assumes unless told otherwise), so a
	// P-384 signature made either way verifies.
	verifiers []signature.Verifier
}

// PrivateKey is a signing key loaded from an encrypted PEM file.
type PrivateKey struct {
	signer signature.SignerVerifier
	// Public is the matching public key.
	Public *PublicKey
}

// GenerateKeyPair makes an ECDSA P-256 key pair (what `cosign
// generate-key-pair` makes) and returns the private key encrypted with
// passphrase in cosign's PEM format, and the public key in PEM.
func GenerateKeyPair(passphrase []byte) (privatePEM, publicPEM []byte, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating key: %w", err)
	}
	return MarshalPrivateKey(priv, passphrase)
}

// MarshalPrivateKey encrypts an ECDSA private key with passphrase the way
// cosign does (PKCS #8, scrypt N=2^16, nacl/secretbox, PEM type ENCRYPTED
// SIGSTORE PRIVATE KEY) and gives the public key's PEM beside it.
func MarshalPrivateKey(priv *ecdsa.PrivateKey, passphrase []byte) (privatePEM, publicPEM []byte, err error) {
	if err := checkCurve(priv.Curve); err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding private key: %w", err)
	}
	enc, err := encrypted.Encrypt(der, passphrase)
	if err != nil {
		return nil, nil, fmt.Errorf("encrypting private key: %w", err)
	}
	privatePEM = pem.EncodeToMemory(&pem.Block{Type: pemTypeSigstorePrivate, Bytes: enc})
	publicPEM, err = cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("encoding public key: %w", err)
	}
	return privatePEM, publicPEM, nil
}

// ParsePrivateKey decrypts a private key in cosign's encrypted PEM format.
func ParsePrivateKey(pemBytes, passphrase []byte) (*PrivateKey, error) {
	block, rest := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("not a PEM private key (no PEM block found)")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected data after the PEM private key")
	}
	switch block.Type {
	case pemTypeSigstorePrivate, pemTypeCosignPrivate:
	case "EC PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return nil, fmt.Errorf("the key is an unencrypted %q; customs and cosign sign with encrypted keys only: convert it with `cosign import-key-pair --key FILE`", block.Type)
	default:
		return nil, fmt.Errorf("PEM block %q is not a cosign private key (want %q)", block.Type, pemTypeSigstorePrivate)
	}
	der, err := encrypted.Decrypt(block.Bytes, passphrase)
	if err != nil {
		if strings.Contains(err.Error(), "decryption failed") {
			return nil, errors.New("decrypting private key: wrong passphrase")
		}
		return nil, fmt.Errorf("decrypting private key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parsing decrypted private key: %w", err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, unsupportedKey(k)
	}
	if err := checkCurve(priv.Curve); err != nil {
		return nil, err
	}
	// LoadDefaultSignerVerifier picks the curve's hash (SHA-256 for P-256,
	// SHA-384 for P-384), as cosign's own signing does.
	sv, err := signature.LoadDefaultSignerVerifier(priv)
	if err != nil {
		return nil, fmt.Errorf("loading private key: %w", err)
	}
	pub, err := newPublicKey(&priv.PublicKey, "")
	if err != nil {
		return nil, err
	}
	return &PrivateKey{signer: sv, Public: pub}, nil
}

// LoadPrivateKey reads and decrypts a private key file.
func LoadPrivateKey(path string, passphrase []byte) (*PrivateKey, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePrivateKey(b, passphrase)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	k.Public.Name = filepath.Base(path)
	return k, nil
}

// sign signs message with the key's default hash.
func (k *PrivateKey) sign(message []byte) ([]byte, error) {
	return k.signer.SignMessage(bytes.NewReader(message))
}

// ParsePublicKey reads a PEM public key ("PUBLIC KEY", PKIX), as cosign
// writes it in cosign.pub.
func ParsePublicKey(pemBytes []byte, name string) (*PublicKey, error) {
	block, rest := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("not a PEM public key (no PEM block found)")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected data after the PEM public key")
	}
	switch block.Type {
	case pemTypePublic:
	case pemTypeSigstorePrivate, pemTypeCosignPrivate, "EC PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY":
		return nil, fmt.Errorf("this is a private key (%s); verification takes the public key (the .pub file)", block.Type)
	case "CERTIFICATE":
		return nil, errors.New("this is a certificate, not a public key; for keyless verification use --trusted-root with --certificate-identity and --certificate-oidc-issuer")
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key (want %q)", block.Type, pemTypePublic)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing public key: %w", err)
	}
	ec, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, unsupportedKey(k)
	}
	return newPublicKey(ec, name)
}

func newPublicKey(ec *ecdsa.PublicKey, name string) (*PublicKey, error) {
	if err := checkCurve(ec.Curve); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(ec)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	pk := &PublicKey{Name: name, Fingerprint: "sha256:" + hex.EncodeToString(sum[:]), key: ec}
	hashes := []crypto.Hash{curveHash(ec.Curve)}
	if hashes[0] != crypto.SHA256 {
		hashes = append(hashes, crypto.SHA256)
	}
	for _, h := range hashes {
		v, err := signature.LoadECDSAVerifier(ec, h)
		if err != nil {
			return nil, fmt.Errorf("loading public key: %w", err)
		}
		pk.verifiers = append(pk.verifiers, v)
	}
	return pk, nil
}

// PEM gives the key in PEM, as cosign writes cosign.pub.
func (k *PublicKey) PEM() ([]byte, error) { return cryptoutils.MarshalPublicKeyToPEM(k.key) }

// verify checks an ECDSA signature over message.
func (k *PublicKey) verify(sig, message []byte) error {
	var err error
	for _, v := range k.verifiers {
		if err = v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(message)); err == nil {
			return nil
		}
	}
	return err
}

func (k *PublicKey) label() string {
	if k.Name != "" {
		return k.Name + " (" + k.Fingerprint + ")"
	}
	return k.Fingerprint
}

// LoadPublicKeys reads trusted public keys from files and directories. A
// directory contributes every *.pub and *.pem file in it (not recursively);
// a file that is there but is not a usable key is an error, so a typo in a
// trust store never silently shrinks it.
func LoadPublicKeys(paths []string) ([]*PublicKey, error) {
	var keys []*PublicKey
	seen := map[string]bool{}
	add := func(path string) error {
		b, err := readKeyFile(path)
		if err != nil {
			return err
		}
		k, err := ParsePublicKey(b, filepath.Base(path))
		if err != nil {
			return fmt.Errorf("public key %s: %w", path, err)
		}
		if !seen[k.Fingerprint] {
			seen[k.Fingerprint] = true
			keys = append(keys, k)
		}
		return nil
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("reading key: %w", err)
		}
		if !st.IsDir() {
			if err := add(p); err != nil {
				return nil, err
			}
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("reading key directory: %w", err)
		}
		var names []string
		for _, e := range ents {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if e.Type().IsRegular() && (ext == ".pub" || ext == ".pem") {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		if len(names) == 0 {
			return nil, fmt.Errorf("key directory %s holds no *.pub or *.pem files", p)
		}
		for _, n := range names {
			if err := add(filepath.Join(p, n)); err != nil {
				return nil, err
			}
		}
	}
	return keys, nil
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading key: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading key %s: %w", path, err)
	}
	if len(b) > maxKeyFileBytes {
		return nil, fmt.Errorf("key file %s is over %d KiB; not a key", path, maxKeyFileBytes>>10)
	}
	return b, nil
}

func checkCurve(c elliptic.Curve) error {
	switch c {
	case elliptic.P256(), elliptic.P384(), elliptic.P521():
		return nil
	}
	return fmt.Errorf("unsupported ECDSA curve %s: customs uses P-256 (and reads P-384, P-521)", c.Params().Name)
}

func curveHash(c elliptic.Curve) crypto.Hash {
	switch c {
	case elliptic.P384():
		return crypto.SHA384
	case elliptic.P521():
		return crypto.SHA512
	}
	return crypto.SHA256
}

// unsupportedKey says plainly why an RSA or Ed25519 key is refused: cosign
// accepts them, but customs keeps to the one algorithm family both tools
// default to, so a key that works here works everywhere cosign runs.
func unsupportedKey(k any) error {
	switch k := k.(type) {
	case *rsa.PublicKey, *rsa.PrivateKey:
		return errors.New("RSA keys are not supported: customs signs and verifies with ECDSA keys (P-256, as `customs key generate` and `cosign generate-key-pair` make; P-384 and P-521 also read)")
	case ed25519.PublicKey, ed25519.PrivateKey:
		return errors.New("Ed25519 keys are not supported: customs signs and verifies with ECDSA keys (P-256, as `customs key generate` and `cosign generate-key-pair` make; P-384 and P-521 also read)")
	default:
		return fmt.Errorf("unsupported key type %T: customs uses ECDSA keys (P-256, P-384, P-521)", k)
	}
}
