package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/provenance"
)

const attestPass = "scan-attest-pass"

// runCustoms runs the customs command line in-process.
func runCustoms(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb}
	root := a.rootCommand()
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err = root.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

// keyPair writes an encrypted customs key pair to dir.
func keyPair(t *testing.T, dir string) (key, pub string) {
	t.Helper()
	priv, pubPEM, err := provenance.GenerateKeyPair([]byte(attestPass))
	if err != nil {
		t.Fatal(err)
	}
	key, pub = filepath.Join(dir, "customs.key"), filepath.Join(dir, "customs.pub")
	if err := os.WriteFile(key, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return key, pub
}

// corpusAdvisories builds an advisory database from the corpus's Go and
// Debian advisories.
func corpusAdvisories(t *testing.T) string {
	t.Helper()
	adv := filepath.Join(testimage.Corpus(t), "advisories")
	path := filepath.Join(t.TempDir(), "advisories.db")
	db, err := advisory.Open(context.Background(), path, advisory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Import(context.Background(), []string{filepath.Join(adv, "go"), filepath.Join(adv, "debian", "osv-derived-bookworm")}, advisory.ImportOptions{}); err != nil {
		db.Close()
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// cosignRun runs the real cosign, offline, with a throwaway home.
func cosignRun(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin := testimage.Tool(t, "cosign")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "SIGSTORE_NO_CACHE=true", "TUF_ROOT="+filepath.Join(home, "tuf"))
	cmd.Dir = t.TempDir()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

func findingIDs(fs []customs.Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ID+" "+f.Package.Name+" "+f.Package.Version)
	}
	sort.Strings(ids)
	return ids
}

// TestScanAttestVerifiedByCosign: `customs scan --attest KEY` on an image in
// a registry attaches the scan result as an in-toto attestation that the
// real cosign verifies with the public key, about the scanned digest, with
// the findings customs reported as its predicate.
func TestScanAttestVerifiedByCosign(t *testing.T) {
	testimage.Tool(t, "cosign")
	img := testimage.LayoutImage(t, testimage.Layout(t), "scratch-go")
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	reg := testimage.Registry(t)
	ref := reg + "/customs/scratch-go:1"
	testimage.Push(t, img, ref)
	dbPath := corpusAdvisories(t)
	kdir := t.TempDir()
	key, pub := keyPair(t, kdir)
	t.Setenv("CUSTOMS_PASSWORD", attestPass)

	stdout, stderr, err := runCustoms(t, "scan", "--db", dbPath, "--insecure", "-f", "json", "--attest", key, ref)
	if err != nil {
		t.Fatalf("customs scan --attest: %v\n%s", err, stderr)
	}
	var res customs.ScanResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("scan output is not the JSON result: %v\n%s", err, stdout)
	}
	if len(res.Findings) == 0 {
		t.Fatalf("scratch-go has no findings against the corpus advisories; the test would prove nothing\n%s", stdout)
	}
	if res.Image.ManifestDigest != digest.String() {
		t.Fatalf("scanned %s, pushed %s", res.Image.ManifestDigest, digest)
	}
	if !strings.Contains(stderr, "attested the scan result to "+reg+"/customs/scratch-go@"+digest.String()) {
		t.Errorf("stderr does not say where the attestation went:\n%s", stderr)
	}

	out, cerr, err := cosignRun(t, "verify-attestation", "--key", pub, "--type", provenance.ScanPredicateType,
		"--insecure-ignore-tlog=true", "--allow-http-registry", ref)
	if err != nil {
		t.Fatalf("cosign verify-attestation rejects the scan attestation: %v\n%s\n%s", err, out, cerr)
	}
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("cosign verified %d attestations, want 1:\n%s", len(lines), out)
	}
	if err := json.Unmarshal([]byte(lines[0]), &env); err != nil {
		t.Fatalf("cosign output is not a DSSE envelope: %v\n%s", err, out)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate customs.ScanResult `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatalf("statement: %v\n%s", err, payload)
	}
	if env.PayloadType != provenance.InTotoPayloadType || st.PredicateType != provenance.ScanPredicateType {
		t.Fatalf("payload type %q, predicate type %q", env.PayloadType, st.PredicateType)
	}
	if len(st.Subject) != 1 || "sha256:"+st.Subject[0].Digest["sha256"] != digest.String() {
		t.Fatalf("subject %+v, want the scanned digest %s", st.Subject, digest)
	}
	got, want := findingIDs(st.Predicate.Findings), findingIDs(res.Findings)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the attested findings differ from the reported ones:\nattested:\n%s\nreported:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	t.Logf("cosign verified the attestation of %d findings about %s", len(got), digest)
	if st.Predicate.Image.ManifestDigest != digest.String() || !reflect.DeepEqual(st.Predicate.Summary, res.Summary) {
		t.Fatalf("predicate image %s summary %+v; reported %+v", st.Predicate.Image.ManifestDigest, st.Predicate.Summary, res.Summary)
	}

	// Another key fails in cosign: the attestation is verified, not merely found.
	_, otherPub := keyPair(t, t.TempDir())
	if out, _, err := cosignRun(t, "verify-attestation", "--key", otherPub, "--type", provenance.ScanPredicateType,
		"--insecure-ignore-tlog=true", "--allow-http-registry", ref); err == nil {
		t.Fatalf("cosign verify-attestation accepted another key:\n%s", out)
	}
}

// TestScanAttestRefusedBeforeScanning: an image with nowhere to keep an
// attestation, or a key that does not open, fails before any scan.
func TestScanAttestRefusedBeforeScanning(t *testing.T) {
	key, _ := keyPair(t, t.TempDir())
	missingDB := filepath.Join(t.TempDir(), "none.db") // never reached
	t.Setenv("CUSTOMS_PASSWORD", attestPass)
	_, _, err := runCustoms(t, "scan", "--db", missingDB, "--attest", key, "dir:"+t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "nowhere to keep") {
		t.Fatalf("scan --attest of a dir: image: %v", err)
	}
	t.Setenv("CUSTOMS_PASSWORD", "wrong")
	_, _, err = runCustoms(t, "scan", "--db", missingDB, "--attest", key, "oci:"+t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "--attest") {
		t.Fatalf("scan --attest with a wrong passphrase: %v", err)
	}
}
