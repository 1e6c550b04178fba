package provenance

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"

	"github.com/customs-sec/customs/internal/testimage"
)

const testPass = "pw"

// keyPair writes a customs key pair to dir and loads it.
func keyPair(t *testing.T, dir string) (priv *PrivateKey, keyPath, pubPath string) {
	t.Helper()
	privPEM, pubPEM, err := GenerateKeyPair([]byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	keyPath, pubPath = filepath.Join(dir, "customs.key"), filepath.Join(dir, "customs.pub")
	if err := os.WriteFile(keyPath, privPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubPath, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	priv, err = LoadPrivateKey(keyPath, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	return priv, keyPath, pubPath
}

func pubKeys(t *testing.T, paths ...string) []*PublicKey {
	t.Helper()
	ks, err := LoadPublicKeys(paths)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// pushImage pushes a small distinct image to reg/repo:tag and returns its digest.
func pushImage(t *testing.T, ref, content string) v1.Hash {
	t.Helper()
	img := testimage.BuildImage(t, testimage.LayerTar(t, []testimage.File{{Name: "etc/marker", Body: content}}))
	testimage.Push(t, img, ref)
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// cosign runs the real cosign binary, offline.
func cosign(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := testimage.Tool(t, "cosign")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD="+testPass, "HOME="+home, "SIGSTORE_NO_CACHE=true", "TUF_ROOT="+filepath.Join(home, "tuf"))
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustVerify(t *testing.T, ref string, trust Trust) *Evidence {
	t.Helper()
	trust.Insecure = true
	v, err := NewVerifier(trust, NewCache(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := v.Verify(context.Background(), ref)
	if err != nil {
		t.Fatalf("verify %s: %v", ref, err)
	}
	return ev
}

func errorsOf(ev *Evidence) string {
	var out []string
	for _, s := range ev.Signatures {
		out = append(out, "sig "+s.Source+": "+s.Error)
	}
	for _, a := range ev.Attestations {
		out = append(out, "att "+a.Source+": "+a.Error)
	}
	return strings.Join(out, "\n")
}

func TestCosignVerifiesCustomsSignatureAndAttestation(t *testing.T) {
	testimage.Tool(t, "cosign")
	reg := testimage.Registry(t)
	ref := reg + "/t/a:1"
	d := pushImage(t, ref, "a")
	dir := t.TempDir()
	key, _, pub := keyPair(t, dir)
	ctx := context.Background()

	res, err := Sign(ctx, ref, key, SignOptions{Insecure: true, Annotations: map[string]string{"team": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != d.String() || res.Stored != sigTag(d) {
		t.Fatalf("sign result %+v, want digest %s", res, d)
	}
	if out, err := cosign(t, "verify", "--key", pub, "--insecure-ignore-tlog=true", "--allow-http-registry", ref); err != nil {
		t.Fatalf("cosign verify rejects customs' signature: %v\n%s", err, out)
	} else if !strings.Contains(out, d.String()) || !strings.Contains(out, `"team":"x"`) {
		t.Fatalf("cosign verify output lacks the digest or annotation:\n%s", out)
	}
	// Signing again with the same key changes nothing (as cosign).
	res2, err := Sign(ctx, ref, key, SignOptions{Insecure: true, Annotations: map[string]string{"team": "x"}})
	if err != nil || !res2.Unchanged {
		t.Fatalf("second sign: %+v, %v; want unchanged", res2, err)
	}

	for _, tc := range []struct{ typ, pred string }{
		{"slsaprovenance", `{"buildType":"https://example.com/build@v1","builder":{"id":"https://example.com/builder"}}`},
		{"cyclonedx", `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}`},
		{"custom", `free text`},
	} {
		if _, err := Attest(ctx, ref, key, tc.typ, []byte(tc.pred), AttestOptions{Insecure: true}); err != nil {
			t.Fatalf("attest %s: %v", tc.typ, err)
		}
		out, err := cosign(t, "verify-attestation", "--key", pub, "--type", tc.typ, "--insecure-ignore-tlog=true", "--allow-http-registry", ref)
		if err != nil {
			t.Fatalf("cosign verify-attestation --type %s rejects customs' attestation: %v\n%s", tc.typ, err, out)
		}
	}
	// A wrong key fails in cosign too: the signature is real, not accepted by accident.
	_, _, otherPub := keyPair(t, t.TempDir())
	if out, err := cosign(t, "verify", "--key", otherPub, "--insecure-ignore-tlog=true", "--allow-http-registry", ref); err == nil {
		t.Fatalf("cosign verify accepted the wrong key:\n%s", out)
	}
	// customs reads its own: one signature, three attestations, with predicates.
	ev := mustVerify(t, ref, Trust{Keys: pubKeys(t, pub)})
	if len(ev.VerifiedSignatures()) != 1 || len(ev.VerifiedAttestations("")) != 3 {
		t.Fatalf("evidence %+v\n%s", ev, errorsOf(ev))
	}
	slsa := ev.VerifiedAttestations("https://slsa.dev/provenance/v0.2")
	if len(slsa) != 1 || !bytes.Contains(slsa[0].Predicate, []byte("https://example.com/builder")) {
		t.Fatalf("slsa attestation %+v", slsa)
	}
	if ev.ResolvedFrom != ref || ev.Digest != d.String() {
		t.Fatalf("resolved %q -> %s, want %s -> %s", ev.ResolvedFrom, ev.Digest, ref, d)
	}
}

func TestCustomsVerifiesCosign(t *testing.T) {
	testimage.Tool(t, "cosign")
	reg := testimage.Registry(t)
	ref := reg + "/t/b:1"
	d := pushImage(t, ref, "b")
	kdir := t.TempDir()
	if out, err := cosign(t, "generate-key-pair", "--output-key-prefix", filepath.Join(kdir, "cosign")); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	ckey, cpub := filepath.Join(kdir, "cosign.key"), filepath.Join(kdir, "cosign.pub")
	if out, err := cosign(t, "sign", "--key", ckey, "--tlog-upload=false", "--allow-http-registry", "-y", "-a", "build=42", ref); err != nil {
		t.Fatalf("cosign sign: %v\n%s", err, out)
	}
	pred := filepath.Join(t.TempDir(), "pred.json")
	os.WriteFile(pred, []byte(`{"buildType":"https://example.com/build@v1","builder":{"id":"https://example.com/builder"}}`), 0o644)
	if out, err := cosign(t, "attest", "--key", ckey, "--type", "slsaprovenance", "--predicate", pred, "--tlog-upload=false", "--allow-http-registry", "-y", ref); err != nil {
		t.Fatalf("cosign attest: %v\n%s", err, out)
	}
	sbom := filepath.Join(t.TempDir(), "sbom.json")
	os.WriteFile(sbom, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","version":1}`), 0o644)
	if out, err := cosign(t, "attest", "--key", ckey, "--type", "cyclonedx", "--predicate", sbom, "--tlog-upload=false", "--allow-http-registry", "-y", ref); err != nil {
		t.Fatalf("cosign attest cyclonedx: %v\n%s", err, out)
	}

	ev := mustVerify(t, ref, Trust{Keys: pubKeys(t, cpub)})
	sigs := ev.VerifiedSignatures()
	if len(sigs) != 1 || sigs[0].Digest != d.String() || sigs[0].Annotations["build"] != "42" || sigs[0].Signer.Key != "cosign.pub" {
		t.Fatalf("signatures %+v\n%s", ev.Signatures, errorsOf(ev))
	}
	if a := ev.VerifiedAttestations("https://slsa.dev/provenance/v0.2"); len(a) != 1 || !bytes.Contains(a[0].Predicate, []byte("example.com/builder")) {
		t.Fatalf("slsa attestations %+v\n%s", ev.Attestations, errorsOf(ev))
	}
	if a := ev.VerifiedAttestations("https://cyclonedx.org/bom"); len(a) != 1 {
		t.Fatalf("cyclonedx attestations %+v\n%s", ev.Attestations, errorsOf(ev))
	}

	// Wrong key: everything is found, nothing verifies, and it says why.
	_, _, otherPub := keyPair(t, t.TempDir())
	ev = mustVerify(t, ref, Trust{Keys: pubKeys(t, otherPub)})
	if len(ev.VerifiedSignatures()) != 0 || len(ev.Signatures) != 1 || !strings.Contains(ev.Signatures[0].Error, "does not verify with any trusted key") {
		t.Fatalf("wrong key: %+v", ev.Signatures)
	}
	if len(ev.VerifiedAttestations("")) != 0 || len(ev.Attestations) != 2 {
		t.Fatalf("wrong key attestations: %+v", ev.Attestations)
	}

	// Keys cross over: customs signs with cosign's key, cosign with customs'.
	ck, err := LoadPrivateKey(ckey, []byte(testPass))
	if err != nil {
		t.Fatalf("customs cannot read cosign's key: %v", err)
	}
	ref2 := reg + "/t/c:1"
	pushImage(t, ref2, "c")
	if _, err := Sign(context.Background(), ref2, ck, SignOptions{Insecure: true}); err != nil {
		t.Fatal(err)
	}
	if out, err := cosign(t, "verify", "--key", cpub, "--insecure-ignore-tlog=true", "--allow-http-registry", ref2); err != nil {
		t.Fatalf("cosign rejects customs' signature with cosign's key: %v\n%s", err, out)
	}
	_, ukey, upub := keyPair(t, t.TempDir())
	if out, err := cosign(t, "sign", "--key", ukey, "--tlog-upload=false", "--allow-http-registry", "-y", ref2); err != nil {
		t.Fatalf("cosign cannot sign with customs' key: %v\n%s", err, out)
	}
	ev = mustVerify(t, ref2, Trust{Keys: pubKeys(t, upub, cpub)})
	if n := len(ev.VerifiedSignatures()); n != 2 {
		t.Fatalf("want 2 valid signatures (customs with cosign's key, cosign with customs' key), got %d\n%s", n, errorsOf(ev))
	}
}

// rewriteTag replaces the image under repo:tag by fn's result.
func rewriteTag(t *testing.T, reg, repo, tag string, fn func(v1.Image) v1.Image) {
	t.Helper()
	r, _ := name.ParseReference(reg+"/"+repo+":"+tag, name.Insecure)
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, fn(img)); err != nil {
		t.Fatal(err)
	}
}

func copyTag(t *testing.T, reg, repo, from, to string) {
	t.Helper()
	src, _ := name.ParseReference(reg+"/"+repo+":"+from, name.Insecure)
	dst, _ := name.ParseReference(reg+"/"+repo+":"+to, name.Insecure)
	img, err := remote.Image(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}
}

// relayer rebuilds a signature image with each layer's bytes passed through fn.
func relayer(t *testing.T, img v1.Image, fn func(int, []byte) []byte) v1.Image {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	out := emptySignatures()
	for i, d := range m.Layers {
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		rc, _ := l.Compressed()
		var buf bytes.Buffer
		buf.ReadFrom(rc)
		rc.Close()
		nl := static.NewLayer(fn(i, buf.Bytes()), d.MediaType)
		if out, err = mutate.Append(out, mutate.Addendum{Layer: nl, Annotations: d.Annotations, MediaType: d.MediaType}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestVerifyRejects(t *testing.T) {
	reg := testimage.Registry(t)
	ctx := context.Background()
	key, _, pub := keyPair(t, t.TempDir())
	trust := Trust{Keys: pubKeys(t, pub)}
	ref := reg + "/t/a:1"
	d1 := pushImage(t, ref, "one")
	if _, err := Sign(ctx, ref, key, SignOptions{Insecure: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Attest(ctx, ref, key, "slsaprovenance1", []byte(`{"buildDefinition":{"buildType":"x","externalParameters":{}},"runDetails":{"builder":{"id":"b"}}}`), AttestOptions{Insecure: true}); err != nil {
		t.Fatal(err)
	}
	if ev := mustVerify(t, ref, trust); len(ev.VerifiedSignatures()) != 1 || len(ev.VerifiedAttestations("https://slsa.dev/provenance/v1")) != 1 {
		t.Fatalf("baseline does not verify:\n%s", errorsOf(ev))
	}

	t.Run("tampered payload", func(t *testing.T) {
		r := reg + "/t/tamper:1"
		d := pushImage(t, r, "tamper")
		if _, err := Sign(ctx, r, key, SignOptions{Insecure: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := Attest(ctx, r, key, "custom", []byte("hello"), AttestOptions{Insecure: true}); err != nil {
			t.Fatal(err)
		}
		rewriteTag(t, reg, "t/tamper", sigTag(d), func(img v1.Image) v1.Image {
			return relayer(t, img, func(_ int, b []byte) []byte {
				return bytes.Replace(b, []byte(`"optional":null`), []byte(`"optional":{"x":"y"}`), 1)
			})
		})
		rewriteTag(t, reg, "t/tamper", attTag(d), func(img v1.Image) v1.Image {
			return relayer(t, img, func(_ int, b []byte) []byte {
				var env map[string]any
				json.Unmarshal(b, &env)
				env["payload"] = strings.Replace(env["payload"].(string), "A", "B", 1)
				out, _ := json.Marshal(env)
				return out
			})
		})
		ev := mustVerify(t, r, trust)
		if len(ev.VerifiedSignatures()) != 0 || len(ev.Signatures) != 1 || !strings.Contains(ev.Signatures[0].Error, "does not verify") {
			t.Fatalf("tampered signature: %+v", ev.Signatures)
		}
		if len(ev.VerifiedAttestations("")) != 0 || len(ev.Attestations) != 1 || ev.Attestations[0].Error == "" {
			t.Fatalf("tampered attestation: %+v", ev.Attestations)
		}
	})

	t.Run("signature and attestation of the tag's old digest", func(t *testing.T) {
		// The tag moves to new content; its old signature does not follow.
		d2 := pushImage(t, ref, "two")
		ev := mustVerify(t, ref, trust)
		if ev.Digest != d2.String() || len(ev.Signatures) != 0 {
			t.Fatalf("moved tag: %+v", ev)
		}
		// Copying the old signature and attestation to the new digest's tags
		// does not make them valid: they name the old digest.
		copyTag(t, reg, "t/a", sigTag(d1), sigTag(d2))
		copyTag(t, reg, "t/a", attTag(d1), attTag(d2))
		ev = mustVerify(t, ref, trust)
		if len(ev.VerifiedSignatures()) != 0 || len(ev.Signatures) != 1 || !strings.Contains(ev.Signatures[0].Error, "signed payload is for "+d1.String()) {
			t.Fatalf("copied signature: %+v", ev.Signatures)
		}
		if len(ev.VerifiedAttestations("")) != 0 || len(ev.Attestations) != 1 || !strings.Contains(ev.Attestations[0].Error, "statement is about "+d1.String()) {
			t.Fatalf("copied attestation: %+v", ev.Attestations)
		}
		// The old digest still verifies by digest.
		if ev := mustVerify(t, reg+"/t/a@"+d1.String(), trust); len(ev.VerifiedSignatures()) != 1 {
			t.Fatalf("old digest: %s", errorsOf(ev))
		}
	})

	t.Run("hostile signature tags", func(t *testing.T) {
		r := reg + "/t/hostile:1"
		d := pushImage(t, r, "hostile")
		sigRef, _ := name.ParseReference(reg+"/t/hostile:"+sigTag(d), name.Insecure)
		attRef, _ := name.ParseReference(reg+"/t/hostile:"+attTag(d), name.Insecure)
		// A huge payload layer, a layer of another media type, a layer
		// without its annotation, a garbage signature.
		huge := static.NewLayer(bytes.Repeat([]byte("x"), 2<<20), types.MediaType(SimpleSigningMediaType))
		img := emptySignatures()
		for _, a := range []mutate.Addendum{
			{Layer: huge, Annotations: map[string]string{signatureAnnotation: "AAAA"}},
			{Layer: static.NewLayer([]byte("{}"), "application/octet-stream")},
			{Layer: static.NewLayer([]byte("{}"), types.MediaType(SimpleSigningMediaType))},
			{Layer: static.NewLayer([]byte("{}"), types.MediaType(SimpleSigningMediaType)), Annotations: map[string]string{signatureAnnotation: "!!not base64"}},
		} {
			var err error
			if img, err = mutate.Append(img, a); err != nil {
				t.Fatal(err)
			}
		}
		if err := remote.Write(sigRef, img); err != nil {
			t.Fatal(err)
		}
		// The attestation tag holds an index, not a signature image.
		if err := remote.WriteIndex(attRef, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})); err != nil {
			t.Fatal(err)
		}
		ev := mustVerify(t, r, trust)
		if len(ev.VerifiedSignatures()) != 0 || len(ev.Signatures) != 4 {
			t.Fatalf("hostile signatures: %s", errorsOf(ev))
		}
		for i, want := range []string{"over the 1048576-byte limit", "media type", "no signature annotation", "not base64"} {
			if !strings.Contains(ev.Signatures[i].Error, want) || !strings.Contains(ev.Signatures[i].Source, sigTag(d)) {
				t.Errorf("signature %d: %q from %q, want %q", i, ev.Signatures[i].Error, ev.Signatures[i].Source, want)
			}
		}
		if len(ev.Attestations) != 1 || !strings.Contains(ev.Attestations[0].Error, "malformed signature manifest") {
			t.Fatalf("attestation index: %+v", ev.Attestations)
		}
		// A signature manifest over the manifest limit is refused, not read.
		small := trust
		small.Limits.MaxManifestBytes = 1000
		if ev := mustVerify(t, r, small); len(ev.Signatures) == 0 || !strings.Contains(ev.Signatures[0].Error, "limit") {
			t.Fatalf("oversized manifest: %s", errorsOf(ev))
		}
	})
}

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(n string, b []byte) string {
		p := filepath.Join(dir, n)
		os.WriteFile(p, b, 0o644)
		return p
	}
	_, _, pub := keyPair(t, t.TempDir())
	p384, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	for _, tc := range []struct {
		name, want string
		body       []byte
	}{
		{"garbage.pub", "no PEM block", []byte("not a key")},
		{"wrongcurve.pub", "P-224", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})},
		{"truncated.pub", "parsing public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der[:20]})},
		{"private.pub", "private key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: []byte("x")})},
		{"huge.pub", "not a key", bytes.Repeat([]byte("A"), maxKeyFileBytes+10)},
	} {
		_, err := LoadPublicKeys([]string{write(tc.name, tc.body)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := LoadPrivateKey(filepath.Join(filepath.Dir(pub), "customs.key"), []byte("wrong")); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("wrong passphrase: %v", err)
	}
	// A directory of keys: every .pub; a bad one is an error, not skipped.
	kd := t.TempDir()
	b, _ := os.ReadFile(pub)
	os.WriteFile(filepath.Join(kd, "a.pub"), b, 0o644)
	if ks, err := LoadPublicKeys([]string{kd}); err != nil || len(ks) != 1 {
		t.Fatalf("key dir: %v %v", ks, err)
	}
	os.WriteFile(filepath.Join(kd, "b.pub"), []byte("junk"), 0o644)
	if _, err := LoadPublicKeys([]string{kd}); err == nil {
		t.Fatal("bad key in directory accepted")
	}
}

func TestLayoutSignVerifyAndCache(t *testing.T) {
	ctx := context.Background()
	dir := testimage.BuildLayout(t, "app", testimage.LayerTar(t, []testimage.File{{Name: "x", Body: "y"}}))
	key, _, pub := keyPair(t, t.TempDir())
	ref := "oci:" + dir + ":app"
	res, err := Sign(ctx, ref, key, SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Attest(ctx, ref, key, "cyclonedx", []byte(`{"bomFormat":"CycloneDX"}`), AttestOptions{}); err != nil {
		t.Fatal(err)
	}
	cache := NewCache(time.Minute, 10)
	v, err := NewVerifier(Trust{Keys: pubKeys(t, pub)}, cache)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := v.Verify(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.VerifiedSignatures()) != 1 || len(ev.VerifiedAttestations(""+"https://cyclonedx.org/bom")) != 1 || ev.Cached {
		t.Fatalf("layout evidence: %+v\n%s", ev, errorsOf(ev))
	}
	// The second verification of the digest is served from the cache: the
	// layout's signatures are gone, yet the result stands.
	os.RemoveAll(filepath.Join(dir, "blobs"))
	os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]}`), 0o644)
	ev, err = v.Verify(ctx, "oci:"+dir+":"+res.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Cached || len(ev.VerifiedSignatures()) != 1 {
		t.Fatalf("not cached: %+v", ev)
	}
	// Another trust configuration is another cache entry.
	_, _, pub2 := keyPair(t, t.TempDir())
	v2, _ := NewVerifier(Trust{Keys: pubKeys(t, pub2)}, cache)
	if ev, err := v2.Verify(ctx, "oci:"+dir+":"+res.Digest); err != nil || ev.Cached {
		t.Fatalf("other trust served from cache: %+v %v", ev, err)
	}
}

func TestCosignVerifiesLayoutSignature(t *testing.T) {
	testimage.Tool(t, "cosign")
	ctx := context.Background()
	dir := testimage.BuildLayout(t, "app", testimage.LayerTar(t, []testimage.File{{Name: "x", Body: "layout"}}))
	key, _, pub := keyPair(t, t.TempDir())
	res, err := Sign(ctx, "oci:"+dir+":app", key, SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// cosign reads signatures in a layout through cosign load: push the
	// layout's image and its .sig manifest to a registry, then verify.
	reg := testimage.Registry(t)
	img := testimage.LayoutImage(t, dir, "app")
	testimage.Push(t, img, reg+"/t/layout:1")
	sig := testimage.LayoutImage(t, dir, res.Stored)
	testimage.Push(t, sig, reg+"/t/layout:"+res.Stored)
	if out, err := cosign(t, "verify", "--key", pub, "--insecure-ignore-tlog=true", "--allow-http-registry", reg+"/t/layout:1"); err != nil {
		t.Fatalf("cosign rejects the layout's signature: %v\n%s", err, out)
	}
}

// TestKeylessLegacyOffline verifies a keyless signature stored the cosign
// way (certificate, chain and Rekor bundle in annotations) offline, against
// sigstore-go's virtual Sigstore (a real Fulcio-style CA and Rekor-style log
// key made for the test; the live services cannot run here).
func TestKeylessLegacyOffline(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	reg := testimage.Registry(t)
	ref := reg + "/t/keyless:1"
	d := pushImage(t, ref, "keyless")
	payload, err := simpleSigning(reg+"/t/keyless", d, nil)
	if err != nil {
		t.Fatal(err)
	}
	const who, iss = "dev@example.com", "https://issuer.example.com"
	ent, err := vs.Sign(who, iss, payload)
	if err != nil {
		t.Fatal(err)
	}
	vc, _ := ent.VerificationContent()
	sc, _ := ent.SignatureContent()
	tles, _ := ent.TlogEntries()
	tle := tles[0].TransparencyLogEntry()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vc.Certificate().Raw})
	var chain []byte
	for _, ca := range vs.FulcioCertificateAuthorities() {
		fca := ca.(*root.FulcioCertificateAuthority)
		for _, c := range append(fca.Intermediates, fca.Root) {
			chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
	}
	var rb rekorBundle
	rb.Payload.Body = base64.StdEncoding.EncodeToString(tle.GetCanonicalizedBody())
	rb.Payload.IntegratedTime, rb.Payload.LogIndex = tle.GetIntegratedTime(), tle.GetLogIndex()
	rb.Payload.LogID = hex.EncodeToString(tle.GetLogId().GetKeyId())
	// The signed entry timestamp, as Rekor returns it to cosign.
	rb.SignedEntryTimestamp, err = vs.RekorSignPayload(tlog.RekorPayload{Body: rb.Payload.Body, IntegratedTime: rb.Payload.IntegratedTime, LogIndex: rb.Payload.LogIndex, LogID: rb.Payload.LogID})
	if err != nil {
		t.Fatal(err)
	}
	rbJSON, _ := json.Marshal(rb)
	img, err := mutate.Append(emptySignatures(), mutate.Addendum{
		Layer: static.NewLayer(payload, types.MediaType(SimpleSigningMediaType)),
		Annotations: map[string]string{
			signatureAnnotation:   base64.StdEncoding.EncodeToString(sc.Signature()),
			certificateAnnotation: string(certPEM),
			chainAnnotation:       string(chain),
			rekorBundleAnnotation: string(rbJSON),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	testimage.Push(t, img, reg+"/t/keyless:"+sigTag(d))

	keyless := func(identity string) Trust {
		return Trust{Keyless: &Keyless{Root: vs, RootID: "virtual", Identity: identity, Issuer: iss, IgnoreSCT: true}}
	}
	ev := mustVerify(t, ref, keyless(who))
	if s := ev.VerifiedSignatures(); len(s) != 1 || s[0].Signer.Identity != who || s[0].Signer.Issuer != iss {
		t.Fatalf("keyless: %+v\n%s", ev.Signatures, errorsOf(ev))
	}
	ev = mustVerify(t, ref, keyless("mallory@example.com"))
	if len(ev.VerifiedSignatures()) != 0 || !strings.Contains(ev.Signatures[0].Error, "keyless signature") {
		t.Fatalf("wrong identity accepted: %+v", ev.Signatures)
	}
	// Without the Rekor bundle there is nothing to date the certificate by.
	img2, _ := mutate.Append(emptySignatures(), mutate.Addendum{
		Layer: static.NewLayer(payload, types.MediaType(SimpleSigningMediaType)),
		Annotations: map[string]string{
			signatureAnnotation:   base64.StdEncoding.EncodeToString(sc.Signature()),
			certificateAnnotation: string(certPEM),
		},
	})
	testimage.Push(t, img2, reg+"/t/keyless:"+sigTag(d))
	ev = mustVerify(t, ref, keyless(who))
	if len(ev.VerifiedSignatures()) != 0 || !strings.Contains(ev.Signatures[0].Error, "transparency log") {
		t.Fatalf("undated keyless signature accepted: %+v", ev.Signatures)
	}
}
