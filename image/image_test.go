package image_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/internal/testimage"
)

func TestParseReference(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want image.Reference
		err  bool
	}{
		{"oci:/a/b", image.Reference{Transport: image.TransportOCI, Path: "/a/b"}, false},
		{"oci:/a/b:debian-app", image.Reference{Transport: image.TransportOCI, Path: "/a/b", Name: "debian-app"}, false},
		{"oci:dir:sha256:abc", image.Reference{Transport: image.TransportOCI, Path: "dir", Name: "sha256:abc"}, false},
		{"oci-archive:x.tar:v1", image.Reference{Transport: image.TransportOCIArchive, Path: "x.tar", Name: "v1"}, false},
		{"docker-archive:x.tar", image.Reference{Transport: image.TransportDockerArchive, Path: "x.tar"}, false},
		{"dir:/root:fs", image.Reference{Transport: image.TransportDir, Path: "/root:fs"}, false},
		{"docker://alpine:3.19", image.Reference{Transport: image.TransportRegistry, Name: "alpine:3.19"}, false},
		{"localhost:5000/a/b:1", image.Reference{Transport: image.TransportRegistry, Name: "localhost:5000/a/b:1"}, false},
		{"ghcr.io/x/y@sha256:" + strings.Repeat("a", 64), image.Reference{Transport: image.TransportRegistry, Name: "ghcr.io/x/y@sha256:" + strings.Repeat("a", 64)}, false},
		{"", image.Reference{}, true},
		{"oci:", image.Reference{}, true},
		{"dir:", image.Reference{}, true},
		{"oci:a\x00b", image.Reference{}, true},
	} {
		got, err := image.ParseReference(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseReference(%q) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseReference(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// fingerprint walks every layer and describes every entry, so two sources of
// one image can be compared entry by entry.
func fingerprint(t *testing.T, img *image.Image) [][]string {
	t.Helper()
	var out [][]string
	for _, l := range img.Layers {
		var entries []string
		err := l.Walk(context.Background(), func(e *image.Entry, r io.Reader) error {
			n, err := io.Copy(io.Discard, r)
			if err != nil {
				return err
			}
			entries = append(entries, fmt.Sprintf("%s %s %o %d %d link=%s", e.Path, e.Kind, e.Mode, e.Size, n, e.Link))
			return nil
		})
		if err != nil {
			t.Fatalf("walking layer %d: %v", l.Info().Index, err)
		}
		sort.Strings(entries)
		out = append(out, entries)
	}
	return out
}

// TestSourcesConformance opens debian-app from every source customs reads and
// checks they give the same image: identity, layers, config, every entry.
func TestSourcesConformance(t *testing.T) {
	dir := testimage.Layout(t)
	tmp := t.TempDir()
	v1img := testimage.LayoutImage(t, dir, "debian-app")
	wantManifest, _ := v1img.Digest()
	wantConfig, _ := v1img.ConfigName()
	cfg, _ := v1img.ConfigFile()

	archive := filepath.Join(tmp, "app.oci.tar")
	testimage.WriteOCIArchive(t, dir, archive)
	classic := filepath.Join(tmp, "classic.tar")
	testimage.WriteDockerArchive(t, v1img, "corpus/debian-app:latest", classic, testimage.DockerClassic)
	modern := filepath.Join(tmp, "modern.tar")
	testimage.WriteDockerArchive(t, v1img, "corpus/debian-app:latest", modern, testimage.DockerOCI)
	reg := testimage.Registry(t)
	testimage.Push(t, v1img, reg+"/corpus/debian-app:1")

	sources := []struct {
		ref      string
		manifest bool // has the layout's manifest digest
		opts     image.Options
	}{
		{"oci:" + dir + ":debian-app", true, image.Options{}},
		{"oci-archive:" + archive + ":debian-app", true, image.Options{}},
		{"docker-archive:" + classic, false, image.Options{}},
		{"docker-archive:" + modern + ":corpus/debian-app:latest", false, image.Options{}},
		{reg + "/corpus/debian-app:1", true, image.Options{Insecure: true}},
	}
	var want [][]string
	for _, s := range sources {
		t.Run(strings.SplitN(s.ref, ":", 2)[0], func(t *testing.T) {
			img, err := image.Open(context.Background(), s.ref, s.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			if img.Info.ConfigDigest != wantConfig.String() {
				t.Errorf("config digest %s, want %s", img.Info.ConfigDigest, wantConfig)
			}
			if s.manifest && img.Info.ManifestDigest != wantManifest.String() {
				t.Errorf("manifest digest %q, want %s", img.Info.ManifestDigest, wantManifest)
			}
			if img.Info.ID() == "" {
				t.Error("image has no identity")
			}
			if len(img.Layers) != len(cfg.RootFS.DiffIDs) {
				t.Fatalf("%d layers, want %d", len(img.Layers), len(cfg.RootFS.DiffIDs))
			}
			for i, l := range img.Layers {
				if got := l.Info().DiffID; got != cfg.RootFS.DiffIDs[i].String() {
					t.Errorf("layer %d diff ID %s, want %s", i, got, cfg.RootFS.DiffIDs[i])
				}
				if l.Info().Index != i {
					t.Errorf("layer %d has index %d", i, l.Info().Index)
				}
			}
			if img.Info.Config == nil || img.Info.Config.User != cfg.Config.User || len(img.Info.Config.Env) != len(cfg.Config.Env) {
				t.Errorf("config not carried: %+v", img.Info.Config)
			}
			if img.Info.Layers[1].CreatedBy == "" {
				t.Error("layer history not attached")
			}
			fp := fingerprint(t, img)
			if want == nil {
				want = fp
				return
			}
			for i := range want {
				if strings.Join(fp[i], "\n") != strings.Join(want[i], "\n") {
					t.Errorf("layer %d entries differ from the OCI layout's (%d vs %d entries)", i, len(fp[i]), len(want[i]))
				}
			}
		})
	}
}

func TestLayoutWithSeveralImagesNeedsAName(t *testing.T) {
	dir := testimage.Layout(t)
	_, err := image.Open(context.Background(), "oci:"+dir, image.Options{})
	if err == nil {
		t.Fatal("opened a three-image layout without a name")
	}
	for _, want := range []string{"debian-base", "debian-app", "scratch-go"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not list %s", err, want)
		}
	}
	_, err = image.Open(context.Background(), "oci:"+dir+":nope", image.Options{})
	if err == nil || !strings.Contains(err.Error(), "debian-app") {
		t.Errorf("unknown name: error %v should list the images", err)
	}
}

func TestScratchGoDockerMediaTypesInOCILayout(t *testing.T) {
	img, err := image.Open(context.Background(), "oci:"+testimage.Layout(t)+":scratch-go", image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if !strings.Contains(img.Info.MediaType, "docker") {
		t.Errorf("media type %s", img.Info.MediaType)
	}
	if fp := fingerprint(t, img); len(fp) != 1 || len(fp[0]) == 0 {
		t.Errorf("scratch-go layer walk gave %v", fp)
	}
}

// TestPlatformSelection builds a two-platform index and picks from it.
func TestPlatformSelection(t *testing.T) {
	mk := func(arch string) v1.Image {
		img := testimage.BuildImage(t, testimage.LayerTar(t, []testimage.File{{Name: "etc/arch", Body: arch}}))
		cfg, _ := img.ConfigFile()
		cfg = cfg.DeepCopy()
		cfg.Architecture = arch
		img, _ = mutate.ConfigFile(img, cfg)
		return img
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: mk("amd64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: mk("arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "multi"})); err != nil {
		t.Fatal(err)
	}
	reg := testimage.Registry(t)
	if err := pushIndex(reg+"/multi/app:1", idx); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"oci:" + dir + ":multi", reg + "/multi/app:1"} {
		for _, tc := range []struct{ platform, want string }{
			{"linux/arm64", "arm64"}, {"linux/amd64", "amd64"}, {"", runtime.GOARCH},
		} {
			if tc.platform == "" && runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
				continue
			}
			img, err := image.Open(context.Background(), ref, image.Options{Platform: tc.platform, Insecure: true})
			if err != nil {
				t.Fatalf("%s --platform %q: %v", ref, tc.platform, err)
			}
			if img.Info.Architecture != tc.want {
				t.Errorf("%s --platform %q picked %s", ref, tc.platform, img.Info.Architecture)
			}
			img.Close()
		}
		_, err := image.Open(context.Background(), ref, image.Options{Platform: "linux/s390x", Insecure: true})
		if err == nil || !strings.Contains(err.Error(), "linux/arm64") {
			t.Errorf("%s: missing platform should list the available ones, got %v", ref, err)
		}
	}
}
