package image_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/provenance"
)

// signLayout signs and attests the image ref (oci:DIR:NAME) with customs'
// provenance package, which keeps the signature and attestation in the
// layout as entries named sha256-<hex>.sig and .att.
func signLayout(t *testing.T, ref string) {
	t.Helper()
	ctx := context.Background()
	privPEM, _, err := provenance.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := provenance.ParsePrivateKey(privPEM, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provenance.Sign(ctx, ref, key, provenance.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := provenance.Attest(ctx, ref, key, "customs", []byte(`{"findings":[]}`), provenance.AttestOptions{}); err != nil {
		t.Fatal(err)
	}
}

func layoutRefNames(t *testing.T, dir string) []string {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range im.Manifests {
		names = append(names, d.Annotations["org.opencontainers.image.ref.name"])
	}
	return names
}

// TestSignedLayoutOpensWithoutAName: a layout holding one image and the
// signature and attestation `customs sign` / `customs attest` wrote beside
// it still opens as oci:DIR (and as an oci-archive of it): those entries
// are not images to choose between.
func TestSignedLayoutOpensWithoutAName(t *testing.T) {
	dir := testimage.BuildLayout(t, "app", testimage.LayerTar(t, []testimage.File{{Name: "etc/marker", Body: "signed"}}))
	want := testimage.LayoutImage(t, dir, "app")
	digest, err := want.Digest()
	if err != nil {
		t.Fatal(err)
	}
	signLayout(t, "oci:"+dir+":app")
	names := layoutRefNames(t, dir)
	tag := strings.Replace(digest.String(), ":", "-", 1)
	if strings.Join(names, " ") != "app "+tag+".sig "+tag+".att" {
		t.Fatalf("the layout's entries are %q, want the image, its .sig and its .att", names)
	}
	archive := filepath.Join(t.TempDir(), "signed.tar")
	testimage.WriteOCIArchive(t, dir, archive)

	for _, ref := range []string{"oci:" + dir, "oci-archive:" + archive} {
		img, err := image.Open(context.Background(), ref, image.Options{})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		info := img.Info
		img.Close()
		if info.ManifestDigest != digest.String() {
			t.Errorf("%s opened %s, want the image %s", ref, info.ManifestDigest, digest)
		}
	}
	// Named, the signature entry is still reachable as it is.
	img, err := image.Open(context.Background(), "oci:"+dir+":"+tag+".sig", image.Options{})
	if err != nil {
		t.Fatalf("opening the .sig entry by name: %v", err)
	}
	img.Close()
}

// TestSignedLayoutOfSeveralImagesListsOnlyImages: with two images and
// their signatures, oci:DIR still needs a name, and the error offers the
// images, not the signature entries.
func TestSignedLayoutOfSeveralImagesListsOnlyImages(t *testing.T) {
	dir := testimage.BuildLayout(t, "one", testimage.LayerTar(t, []testimage.File{{Name: "a", Body: "1"}}))
	signLayout(t, "oci:"+dir+":one")
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	two := testimage.BuildImage(t, testimage.LayerTar(t, []testimage.File{{Name: "b", Body: "2"}}))
	if err := p.AppendImage(two, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "two"})); err != nil {
		t.Fatal(err)
	}
	_, err = image.Open(context.Background(), "oci:"+dir, image.Options{})
	if err == nil {
		t.Fatal("opened a layout of two images without a name")
	}
	if msg := err.Error(); !strings.Contains(msg, "holds 2 images") || !strings.Contains(msg, "one") || !strings.Contains(msg, "two") || strings.Contains(msg, ".sig") || strings.Contains(msg, ".att") {
		t.Errorf("error %q should offer the two images and no signature entries", msg)
	}
}

// TestOnlySignaturesIsNoImage: a layout left with nothing but a cosign-named
// entry says so, rather than opening the signature as the image.
func TestOnlySignaturesIsNoImage(t *testing.T) {
	dir := testimage.BuildLayout(t, "sha256-"+strings.Repeat("ab", 32)+".sig", testimage.LayerTar(t, []testimage.File{{Name: "a", Body: "1"}}))
	_, err := image.Open(context.Background(), "oci:"+dir, image.Options{})
	if err == nil || !strings.Contains(err.Error(), "only signatures and attestations") {
		t.Fatalf("a layout of only a .sig entry: %v", err)
	}
	// A ref name that merely looks alike is an image.
	dir = testimage.BuildLayout(t, "sha256-notadigest.sig", testimage.LayerTar(t, []testimage.File{{Name: "a", Body: "1"}}))
	img, err := image.Open(context.Background(), "oci:"+dir, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
}
