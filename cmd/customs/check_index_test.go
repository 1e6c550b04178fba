package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/customs-sec/customs/internal/testimage"
)

// TestCheckCountsIndexSignature: a tag naming a multi-platform index is
// signed at the index (what `cosign sign TAG` does; the real cosign signs here). check picks one
// platform's image from it and must count that signature: before, it looked
// only at the platform manifest's digest and called the image unsigned.
func TestCheckCountsIndexSignature(t *testing.T) {
	layout := testimage.Layout(t)
	amd := testimage.LayoutImage(t, layout, "debian-base")
	arm := testimage.LayoutImage(t, layout, "scratch-go")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	ref := testimage.Registry(t) + "/multi/app:1"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	key, pub := keyPair(t, t.TempDir())

	verdict := func() (signatures []map[string]any, denies []string) {
		t.Helper()
		stdout, stderr, _ := runCustoms(t, "check", "--insecure", "--platform", "linux/amd64", "--key", pub, "-f", "json", ref)
		var v struct {
			Evidence struct {
				Signatures []map[string]any `json:"signatures"`
			} `json:"evidence"`
			Violations []struct {
				ID string `json:"id"`
			} `json:"violations"`
			Deny []struct {
				ID string `json:"id"`
			} `json:"deny"`
		}
		if err := json.Unmarshal([]byte(stdout), &v); err != nil {
			t.Fatalf("check output is not JSON: %v\n%s\n%s", err, stdout, stderr)
		}
		for _, d := range append(v.Violations, v.Deny...) {
			denies = append(denies, d.ID)
		}
		return v.Evidence.Signatures, denies
	}
	if _, denies := verdict(); !strings.Contains(strings.Join(denies, " "), "signature") {
		t.Fatalf("unsigned index: check did not deny for the signature rule: %v", denies)
	}
	// The real cosign signs the tag, as a user would: it signs the digest
	// the tag names, the index.
	t.Setenv("COSIGN_PASSWORD", attestPass)
	if out, stderr, err := cosignRun(t, "sign", "--key", key, "--tlog-upload=false", "--allow-http-registry", "-y", ref); err != nil {
		t.Fatalf("cosign sign: %v\n%s%s", err, out, stderr)
	}
	sigs, denies := verdict()
	if strings.Contains(strings.Join(denies, " "), "signature") {
		t.Fatalf("index signed: check still denies for the signature rule: %v (signatures %v)", denies, sigs)
	}
	h, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range sigs {
		if s["verified"] == true && s["digest"] == h.String() {
			found = true
		}
	}
	if !found {
		t.Fatalf("no verified signature of the index %s among %v", h, sigs)
	}
}
