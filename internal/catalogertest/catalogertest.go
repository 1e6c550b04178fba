// Package catalogertest runs catalogers over small images a test builds, the
// way a scan runs them: through a real OCI layout, the layer walk and the
// merge of layers, so a cataloger's test exercises what users get.
package catalogertest

import (
	"context"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/pipeline"
)

// Inventory writes layers (tar streams, bottom first) as an image in an OCI
// layout and inventories it with cats (nil: every cataloger a scan runs).
func Inventory(t testing.TB, cats []inspect.Cataloger, layers ...[]byte) *customs.Inventory {
	t.Helper()
	dir := testimage.BuildLayout(t, "test", layers...)
	inv, err := pipeline.Inventory(context.Background(), "oci:"+dir+":test", pipeline.Options{Catalogers: cats})
	if err != nil {
		t.Fatalf("inventory of the test image: %v", err)
	}
	return inv
}

// Files is Inventory with each layer given as its files.
func Files(t testing.TB, cats []inspect.Cataloger, layers ...[]testimage.File) *customs.Inventory {
	t.Helper()
	tars := make([][]byte, len(layers))
	for i, l := range layers {
		tars[i] = testimage.LayerTar(t, l)
	}
	return Inventory(t, cats, tars...)
}
