package provenance

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/customs-sec/customs/image"
)

// An image whose index entry carries an artifactType of its own (OCI 1.1
// writers set one) is still the image a bare oci:DIR names; only signature
// and attestation entries are passed over.
func TestLayoutResolvePassesOverProvenanceOnly(t *testing.T) {
	hash := func(c string) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(c, 64)} }
	img := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: hash("a"), Size: 10, ArtifactType: "application/vnd.example.app.v1"}
	entries := []v1.Descriptor{
		img,
		{MediaType: types.OCIManifestSchema1, Digest: hash("b"), Size: 10, ArtifactType: cosignSigArtifactType},
		{MediaType: types.OCIManifestSchema1, Digest: hash("c"), Size: 10, ArtifactType: "application/vnd.dev.sigstore.bundle.v0.3+json"},
		{MediaType: types.OCIManifestSchema1, Digest: hash("d"), Size: 10, Annotations: map[string]string{cosignKindAnnotation: cosignKindAtts}},
		{MediaType: types.OCIManifestSchema1, Digest: hash("e"), Size: 10, Annotations: map[string]string{refNameAnnotation: "sha256-" + hash("a").Hex + ".sig"}},
	}
	dir := t.TempDir()
	raw, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: entries})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := openLayoutStore(image.Reference{Transport: image.TransportOCI, Path: dir}, Limits{}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.resolve(context.Background(), "")
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if got.Digest != img.Digest {
		t.Fatalf("resolved %s, want the image %s", got.Digest, img.Digest)
	}
}
