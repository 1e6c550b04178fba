package pipeline_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/pipeline"
)

func key(p customs.Package, withLayer bool) string {
	k := strings.Join([]string{p.Type, p.Name, p.Version, p.Arch, p.Source, p.SourceVersion, p.PURL, strings.Join(p.Locations, ",")}, "|")
	if withLayer {
		k += "|" + p.Layer.DiffID
	}
	return k
}

func keys(inv *customs.Inventory, withLayer bool) map[string]bool {
	m := map[string]bool{}
	for _, p := range inv.Packages {
		m[key(p, withLayer)] = true
	}
	return m
}

// TestEverySourceGivesTheSameInventory reads debian-app from each source
// customs supports; the packages (and, where the source has layers, their
// layers) must be the same.
func TestEverySourceGivesTheSameInventory(t *testing.T) {
	dir := testimage.Layout(t)
	tmp := t.TempDir()
	img := testimage.LayoutImage(t, dir, "debian-app")
	testimage.WriteOCIArchive(t, dir, filepath.Join(tmp, "a.tar"))
	testimage.WriteDockerArchive(t, img, "corpus/app:1", filepath.Join(tmp, "c.tar"), testimage.DockerClassic)
	testimage.WriteDockerArchive(t, img, "corpus/app:1", filepath.Join(tmp, "m.tar"), testimage.DockerOCI)
	reg := testimage.Registry(t)
	testimage.Push(t, img, reg+"/corpus/app:1")

	want, err := pipeline.Inventory(context.Background(), "oci:"+dir+":debian-app", pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Packages) < 100 || want.Distro == nil {
		t.Fatalf("reference inventory has %d packages, distro %v", len(want.Packages), want.Distro)
	}
	wantKeys := keys(want, true)
	for _, ref := range []string{
		"oci-archive:" + filepath.Join(tmp, "a.tar") + ":debian-app",
		"docker-archive:" + filepath.Join(tmp, "c.tar"),
		"docker-archive:" + filepath.Join(tmp, "m.tar"),
		reg + "/corpus/app:1",
	} {
		got, err := pipeline.Inventory(context.Background(), ref, pipeline.Options{Image: image.Options{Insecure: true}})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		gotKeys := keys(got, true)
		if len(gotKeys) != len(wantKeys) {
			t.Errorf("%s: %d packages, want %d", ref, len(gotKeys), len(wantKeys))
		}
		for k := range wantKeys {
			if !gotKeys[k] {
				t.Errorf("%s: missing %s", ref, k)
				break
			}
		}
	}
	// An unpacked root filesystem has no layers, but the same packages.
	rootfs := testimage.Unpack(t, "debian-app")
	got, err := pipeline.Inventory(context.Background(), "dir:"+rootfs, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	gotKeys, wantNoLayer := keys(got, false), keys(want, false)
	if len(gotKeys) != len(wantNoLayer) {
		t.Errorf("dir: %d packages, want %d", len(gotKeys), len(wantNoLayer))
	}
	for k := range wantNoLayer {
		if !gotKeys[k] {
			t.Errorf("dir: missing %s", k)
			break
		}
	}
}

func TestSBOMReferenceReadsBack(t *testing.T) {
	dir := testimage.Layout(t)
	want, err := pipeline.Inventory(context.Background(), "oci:"+dir+":debian-base", pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.Inventory(context.Background(), "sbom:"+filepath.Join(t.TempDir(), "missing.json"), pipeline.Options{}); err == nil {
		t.Error("a missing SBOM file gave no error")
	}
	_ = want
}
