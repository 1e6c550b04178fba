package gobinary_test

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/gobinary"
	"github.com/customs-sec/customs/inspect/rust"
	"github.com/customs-sec/customs/internal/catalogertest"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/pipeline"
)

// goVersionM is the truth: what `go version -m` says a binary holds, as
// "module version" lines plus "stdlib X".
func goVersionM(t *testing.T, bin string) []string {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	var lines []string
	for i, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		switch {
		case i == 0 && len(f) >= 2:
			lines = append(lines, "stdlib "+strings.TrimPrefix(f[1], "go"))
		case len(f) >= 3 && f[0] == "dep":
			lines = append(lines, f[1]+" "+f[2])
		case len(f) >= 3 && f[0] == "=>": // replacement of the previous dep
			lines[len(lines)-1] = f[1] + " " + f[2]
		case len(f) >= 2 && f[0] == "mod":
			lines = append(lines, f[1]+" "+f[2])
		}
	}
	sort.Strings(lines)
	return lines
}

// buildProgram compiles a small program that uses a module from the local
// module cache (offline), with extra go build flags.
func buildProgram(t *testing.T, env []string, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	// The probe needs the x/text customs itself builds with: that version is
	// in the module cache wherever customs' tests run, so GOPROXY=off works.
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "golang.org/x/text").Output()
	if err != nil {
		t.Fatalf("go list -m golang.org/x/text: %v", err)
	}
	version := strings.TrimSpace(string(out))
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/probe\n\ngo 1.22\n\nrequire golang.org/x/text "+version+"\n"), 0o644)
	sums, err := os.ReadFile(filepath.Join(testimage.ModuleRoot(t), "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	var probeSums []string
	for _, l := range strings.Split(string(sums), "\n") {
		if strings.HasPrefix(l, "golang.org/x/text "+version+" ") || strings.HasPrefix(l, "golang.org/x/text "+version+"/") {
			probeSums = append(probeSums, l)
		}
	}
	os.WriteFile(filepath.Join(dir, "go.sum"), []byte(strings.Join(probeSums, "\n")+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(`package main

import (
	"fmt"

	"golang.org/x/text/language"
)

func main() { fmt.Println(language.English) }
`), 0o644)
	bin := filepath.Join(dir, "probe")
	cmd := exec.Command("go", append(append([]string{"build", "-o", bin}, flags...), ".")...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local"), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe offline: %v\n%s", err, out)
	}
	return bin
}

func inventory(t *testing.T, files ...testimage.File) *customs.Inventory {
	t.Helper()
	inv := catalogertest.Inventory(t, []inspect.Cataloger{gobinary.New()}, testimage.LayerTar(t, files))
	return inv
}

func ours(inv *customs.Inventory, location string) []string {
	var lines []string
	for _, p := range inv.Packages {
		if p.Locations[0] == location {
			lines = append(lines, p.Name+" "+p.Version)
		}
	}
	sort.Strings(lines)
	return lines
}

func TestBinariesMatchGoVersionM(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   []string
		flags []string
		mode  int64
		edit  func(t *testing.T, elf []byte)
	}{
		{"plain", nil, nil, 0o755, nil},
		{"stripped static trimpath", []string{"CGO_ENABLED=0"}, []string{"-trimpath", "-ldflags=-s -w"}, 0o755, nil},
		{"not executable (streamed)", nil, []string{"-ldflags=-s -w"}, 0o644, nil},
		{"pie", nil, []string{"-buildmode=pie"}, 0o755, nil},
		// The system linker lays the sections out; .go.buildinfo must survive it.
		{"cgo, external linker", []string{"CGO_ENABLED=1"}, []string{"-ldflags=-linkmode=external"}, 0o755, nil},
		// No section headers at all (as sstrip leaves a binary): found by
		// searching the data segment, not by the section's name.
		{"no section headers", []string{"CGO_ENABLED=0"}, nil, 0o755, dropSectionHeaders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if slices.Contains(tc.env, "CGO_ENABLED=1") {
				testimage.Require(t, "gcc") // a cgo build needs a C compiler
			}
			bin := buildProgram(t, tc.env, tc.flags...)
			b, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(t, b)
				if err := os.WriteFile(bin, b, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			want := goVersionM(t, bin)
			file := testimage.File{Name: "usr/local/bin/probe", Body: string(b), Mode: tc.mode}
			// With the Rust cataloger also wanting the binary, the file is
			// shared and read with random access (parseAt).
			// A library (not executable, .so) is shared too.
			lib := testimage.File{Name: "usr/lib/libprobe.so", Body: string(b), Mode: 0o644}
			shared := catalogertest.Inventory(t, []inspect.Cataloger{gobinary.New(), rust.Cataloger{}}, testimage.LayerTar(t, []testimage.File{file, lib}))
			for _, loc := range []string{"/usr/local/bin/probe", "/usr/lib/libprobe.so"} {
				if got := ours(shared, loc); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s shared with the Rust cataloger: got\n%s\nwant (go version -m)\n%s", loc, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
			inv := inventory(t, file)
			got := ours(inv, "/usr/local/bin/probe")
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got\n%s\nwant (go version -m)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for _, p := range inv.Packages {
				if p.Ecosystem != "Go" || p.Type != customs.TypeGo || !strings.HasPrefix(p.PURL, "pkg:golang/") {
					t.Errorf("package %+v", p)
				}
				if p.Name == "stdlib" && (p.Metadata["build.GOOS"] != "linux" || p.Metadata["go_version"] == "") {
					t.Errorf("stdlib build settings %v", p.Metadata)
				}
			}
		})
	}
}

// dropSectionHeaders zeroes a 64-bit little-endian ELF file's section
// header fields (e_shoff, e_shnum, e_shstrndx), as sstrip does; the
// sections' bytes stay where the program headers map them.
func dropSectionHeaders(t *testing.T, b []byte) {
	if len(b) < 64 || string(b[:4]) != "\x7fELF" || b[4] != 2 || b[5] != 1 {
		t.Fatalf("not a 64-bit little-endian ELF file")
	}
	clear(b[0x28:0x30]) // e_shoff
	clear(b[0x3c:0x40]) // e_shnum, e_shstrndx
	if f, err := elf.NewFile(bytes.NewReader(b)); err != nil || len(f.Sections) != 0 {
		t.Fatalf("section headers still read: %v", err)
	}
}

func TestCorpusBinaries(t *testing.T) {
	rootfs := testimage.Unpack(t, "debian-app")
	inv, err := pipeline.Inventory(context.Background(), "oci:"+testimage.Layout(t)+":debian-app", pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := goVersionM(t, filepath.Join(rootfs, "usr/local/bin/goapp"))
	got := ours(inv, "/usr/local/bin/goapp")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("goapp: got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range inv.Packages {
		if p.Locations[0] == "/usr/local/bin/goapp" && p.Layer.Index != 1 {
			t.Errorf("%s attributed to layer %d, the binary came with layer 2", p.Name, p.Layer.Index)
		}
	}
	sg := testimage.Unpack(t, "scratch-go")
	inv, err = pipeline.Inventory(context.Background(), "oci:"+testimage.Layout(t)+":scratch-go", pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want = goVersionM(t, filepath.Join(sg, "goapp"))
	if got := ours(inv, "/goapp"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("scratch-go (stripped, static): got %v want %v", got, want)
	}
}

func TestNotGoAndBrokenBinaries(t *testing.T) {
	elf := "\x7fELF" + strings.Repeat("\x00", 4000)
	trick := "\x7fELF" + strings.Repeat("x", 3000) + "\xff Go buildinf:" + strings.Repeat("\x00", 100)
	truncated := "\x7fELF" + strings.Repeat("x", 3000) + "\xff Go buildinf:\x08\x02"
	inv := inventory(t,
		testimage.File{Name: "bin/notgo", Body: elf, Mode: 0o755},
		testimage.File{Name: "lib/trick.so", Body: trick, Mode: 0o644},
		testimage.File{Name: "bin/trick", Body: trick, Mode: 0o755},
		testimage.File{Name: "bin/truncated", Body: truncated, Mode: 0o644},
		testimage.File{Name: "etc/text", Body: strings.Repeat("hello ", 1000), Mode: 0o755},
	)
	if len(inv.Packages) != 0 {
		t.Errorf("packages from non-Go files: %+v", inv.Packages)
	}
}

func TestGoMod(t *testing.T) {
	mod := `module example.com/app

go 1.21

require (
	github.com/gin-gonic/gin v1.9.1
	golang.org/x/net v0.17.0 // indirect
	example.com/local v0.0.0
)

replace golang.org/x/net => golang.org/x/net v0.23.0

replace example.com/local => ../local
`
	out, err := gobinary.ParseGoMod("go.mod", []byte(mod))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]customs.Package{}
	for _, p := range out.Packages {
		got[p.Name] = p
		if p.Metadata["confidence"] != "low" {
			t.Errorf("%s not marked low confidence", p.Name)
		}
	}
	if got["golang.org/x/net"].Version != "v0.23.0" || got["golang.org/x/net"].Metadata["indirect"] != "true" {
		t.Errorf("x/net %+v", got["golang.org/x/net"])
	}
	if got["example.com/local"].Metadata["replaced_by"] != "../local" || got["github.com/gin-gonic/gin"].Version != "v1.9.1" {
		t.Errorf("packages %+v", out.Packages)
	}
}

func TestToolchainVersion(t *testing.T) {
	for in, want := range map[string]string{"go1.20.14": "1.20.14", "go1.22.1 X:boringcrypto": "1.22.1", "go1.21rc2": "1.21rc2", "devel go1.23-abc123": "1.23-abc123", "": "", "gccgo": ""} {
		if got := gobinary.ToolchainVersion(in); got != want {
			t.Errorf("%q: %q want %q", in, got, want)
		}
	}
}
