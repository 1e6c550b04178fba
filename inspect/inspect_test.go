package inspect_test

import (
	"archive/tar"
	"context"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/internal/testimage"
)

// probe wants every file under watch/ and reports one package per visible
// file, named by path, versioned by content, in the layer that wrote it.
type probe struct{}

func (probe) Name() string { return "probe" }
func (probe) Wants(p string, e *image.Entry) bool {
	return strings.HasPrefix(p, "watch/") && (e.Kind == image.KindFile || e.Kind == image.KindHardlink)
}
func (probe) Parse(_ context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	b, err := inspect.ReadAll(r, 1<<10)
	if err != nil {
		return nil, err
	}
	return &inspect.Parsed{Packages: []customs.Package{{Name: f.Path, Version: string(b), Type: "probe"}}}, nil
}
func (probe) Collect(_ context.Context, env *inspect.Env, rs []inspect.Result) ([]customs.Package, []string) {
	return inspect.VisiblePackages(env, rs), nil
}

func inventory(t *testing.T, layers ...[]testimage.File) map[string]customs.Package {
	t.Helper()
	var tars [][]byte
	for _, l := range layers {
		tars = append(tars, testimage.LayerTar(t, l))
	}
	dir := testimage.BuildLayout(t, "x", tars...)
	img, err := image.Open(context.Background(), "oci:"+dir+":x", image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	inv, err := (&inspect.Inspector{Catalogers: []inspect.Cataloger{probe{}}}).Inspect(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]customs.Package{}
	for _, p := range inv.Packages {
		out[strings.TrimPrefix(p.Locations[0], "/")] = p
	}
	return out
}

func names(m map[string]customs.Package) string {
	var s []string
	for k, p := range m {
		s = append(s, k+"="+p.Version+"@"+string(rune('0'+p.Layer.Index)))
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

func TestMergeAppliesLayersInOrder(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layers [][]testimage.File
		want   string
	}{
		{"later layer replaces a file",
			[][]testimage.File{{{Name: "watch/a", Body: "1"}}, {{Name: "watch/a", Body: "2"}}},
			"watch/a=2@1"},
		{"whiteout deletes a file",
			[][]testimage.File{{{Name: "watch/a", Body: "1"}, {Name: "watch/b", Body: "1"}}, {{Name: "watch/.wh.a"}}},
			"watch/b=1@0"},
		{"whiteout of a directory deletes what is under it",
			[][]testimage.File{{{Name: "watch/d/a", Body: "1"}, {Name: "watch/e", Body: "1"}}, {{Name: "watch/.wh.d"}}},
			"watch/e=1@0"},
		{"opaque directory hides lower contents but keeps its own",
			[][]testimage.File{{{Name: "watch/d/a", Body: "1"}, {Name: "watch/d/b", Body: "1"}}, {{Name: "watch/d/.wh..wh..opq"}, {Name: "watch/d/c", Body: "2"}}},
			"watch/d/c=2@1"},
		{"a file replacing a directory hides its contents",
			[][]testimage.File{{{Name: "watch/d/a", Body: "1"}}, {{Name: "watch/d", Body: "2"}}},
			"watch/d=2@1"},
		{"a symlink replacing a directory hides its contents",
			[][]testimage.File{{{Name: "watch/d/a", Body: "1"}}, {{Name: "watch/d", Type: tar.TypeSymlink, Linkname: "/tmp"}}},
			""},
		{"a directory entry in a later layer merges",
			[][]testimage.File{{{Name: "watch/d/a", Body: "1"}}, {{Name: "watch/d", Type: tar.TypeDir}, {Name: "watch/d/b", Body: "2"}}},
			"watch/d/a=1@0 watch/d/b=2@1"},
		{"deleted then added again",
			[][]testimage.File{{{Name: "watch/a", Body: "1"}}, {{Name: "watch/.wh.a"}}, {{Name: "watch/a", Body: "3"}}},
			"watch/a=3@2"},
		{"a whiteout in a lower layer does not hide a later file",
			[][]testimage.File{{{Name: "watch/.wh.a"}}, {{Name: "watch/a", Body: "2"}}},
			"watch/a=2@1"},
		{"a hard link shares its target's content",
			[][]testimage.File{{{Name: "watch/a", Body: "1"}, {Name: "watch/h", Type: tar.TypeLink, Linkname: "watch/a"}}},
			"watch/a=1@0 watch/h=1@0"},
		{"an unrelated whiteout with a similar name does not hide",
			[][]testimage.File{{{Name: "watch/ab", Body: "1"}}, {{Name: "watch/.wh.a"}}},
			"watch/ab=1@0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(inventory(t, tc.layers...)); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestFirstListedAttributesToTheIntroducingLayer(t *testing.T) {
	env := &inspect.Env{Layers: []customs.Layer{{Index: 0, DiffID: "sha256:0"}, {Index: 1, DiffID: "sha256:1"}, {Index: 2, DiffID: "sha256:2"}}}
	pk := func(name, ver string) customs.Package { return customs.Package{Name: name, Version: ver} }
	copies := []inspect.Result{
		{Path: "db", Layer: 0, Parsed: &inspect.Parsed{Packages: []customs.Package{pk("a", "1"), pk("b", "1")}}},
		{Path: "db", Layer: 1, Parsed: &inspect.Parsed{Packages: []customs.Package{pk("a", "1"), pk("b", "2"), pk("c", "1")}}},
		{Path: "db", Layer: 2, Visible: true, Parsed: &inspect.Parsed{Packages: []customs.Package{pk("a", "1"), pk("b", "2"), pk("c", "1"), pk("d", "1")}}},
	}
	got := map[string]int{}
	for _, p := range inspect.FirstListed(env, copies, func(p customs.Package) string { return p.Name + "=" + p.Version }) {
		got[p.Name] = p.Layer.Index
		if p.Layer.DiffID != env.Layers[p.Layer.Index].DiffID {
			t.Errorf("%s: diff ID %s", p.Name, p.Layer.DiffID)
		}
	}
	want := map[string]int{"a": 0, "b": 1, "c": 1, "d": 2}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s attributed to layer %d, want %d", k, got[k], v)
		}
	}
}

func TestLineReaderCutsLongLines(t *testing.T) {
	in := "short\n" + strings.Repeat("x", 10<<20) + "\nafter\nlast"
	lr := inspect.NewLineReader(strings.NewReader(in), 1000)
	var got []string
	for {
		l, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(l))
	}
	if len(got) != 4 || got[0] != "short" || len(got[1]) != 1000 || got[2] != "after" || got[3] != "last" {
		t.Errorf("lines: %d, first %q, second len %d", len(got), got[0], len(got[1]))
	}
	if lr.Truncated != 1 {
		t.Errorf("truncated %d", lr.Truncated)
	}
}
