package inspect

import (
	"bytes"
	"debug/buildinfo"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/customs-sec/customs/inspect/internal/elfsect"
)

// systemELF lists this machine's larger ELF programs and libraries.
func systemELF(t *testing.T, limit int) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{"/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/sbin"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() || fi.Size() < 64<<10 {
				continue
			}
			b := make([]byte, 4)
			f, err := os.Open(p)
			if err != nil {
				continue
			}
			f.Read(b)
			f.Close()
			if string(b) == "\x7fELF" {
				out = append(out, p)
			}
			if len(out) >= limit {
				return out
			}
		}
	}
	return out
}

// capture reads a whole file through captureSparse, as a layer walk would.
func capture(t *testing.T, b []byte) (*Sparse, bool) {
	t.Helper()
	var arena []byte
	s, rest, ok, err := captureSparse(bytes.NewReader(b), int64(len(b)), &arena, make([]byte, 4096))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		all := new(bytes.Buffer)
		all.ReadFrom(rest)
		if !bytes.Equal(all.Bytes(), b) {
			t.Fatal("a file copied whole lost bytes to the failed plan")
		}
	}
	return s, ok
}

// TestSparseKeepsTheSectionTable captures this machine's ELF files as a
// layer walk would: where a file is kept sparsely, its section table reads
// the same as from the whole file (what the Go and Rust catalogers decide
// by), and bytes outside what was kept are refused, not invented.
func TestSparseKeepsTheSectionTable(t *testing.T) {
	files := systemELF(t, 400)
	if len(files) < 20 {
		t.Skip("too few ELF files on this machine")
	}
	sparse := 0
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		want, werr := elfsect.Sections(bytes.NewReader(b), int64(len(b)))
		s, ok := capture(t, b)
		if !ok {
			continue
		}
		sparse++
		got, gerr := elfsect.Sections(s, s.Size())
		if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(got, want) || s.Missed() {
			t.Fatalf("%s: sections %v (%v), from the whole file %v (%v); missed %v", p, names(got), gerr, names(want), werr, s.Missed())
		}
		kept := 0
		for _, part := range s.parts {
			kept += len(part.data)
			if !bytes.Equal(part.data, b[part.off:part.off+int64(len(part.data))]) {
				t.Fatalf("%s: kept bytes at %d differ from the file's", p, part.off)
			}
		}
		if kept > sparseBudget {
			t.Fatalf("%s: kept %d bytes", p, kept)
		}
		if len(s.parts) > 1 { // a gap: reading it is refused and remembered
			gap := s.parts[0].off + int64(len(s.parts[0].data))
			v := *s
			if _, err := v.ReadAt(make([]byte, 1), gap); !errors.Is(err, ErrNotKept) || !v.Missed() {
				t.Fatalf("%s: reading the gap at %d: %v", p, gap, err)
			}
		}
	}
	if sparse < 10 {
		t.Fatalf("only %d of %d files were kept sparsely", sparse, len(files))
	}
	t.Logf("%d of %d ELF files kept sparsely, their section tables intact", sparse, len(files))
}

func names(secs []elfsect.Section) []string {
	var out []string
	for _, s := range secs {
		out = append(out, s.Name)
	}
	return out
}

// TestSparseGoBinaries: a Go binary (this test's own) carries Go's build
// ID note and is copied whole; with the note removed it is kept sparsely
// and its build information still reads from the writable segment.
func TestSparseGoBinaries(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := capture(t, b); ok {
		t.Fatal("a Go binary with its build ID note was kept sparsely")
	}
	objcopy, err := exec.LookPath("objcopy")
	if err != nil {
		t.Skip("no objcopy to remove the note")
	}
	// A small Go program: its writable segment fits what a sparse capture keeps.
	gofmt := filepath.Join(os.Getenv("GOROOT"), "bin", "gofmt")
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		gofmt = filepath.Join(string(bytes.TrimSpace(out)), "bin", "gofmt")
	}
	noNote := filepath.Join(t.TempDir(), "gofmt")
	if out, err := exec.Command(objcopy, "-R", ".note.go.buildid", gofmt, noNote).CombinedOutput(); err != nil {
		t.Skipf("objcopy: %v %s", err, out)
	}
	b, err = os.ReadFile(noNote)
	if err != nil {
		t.Fatal(err)
	}
	want, err := buildinfo.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := capture(t, b)
	if !ok {
		t.Skip("this gofmt's writable segment is over the budget")
	}
	got, err := buildinfo.Read(s)
	if err != nil || got.String() != want.String() {
		t.Fatalf("build information from the sparse copy: %v\n%v\nwant\n%v", err, got, want)
	}
}

func FuzzCaptureSparse(f *testing.F) {
	for _, p := range []string{"/usr/bin/true", "/usr/bin/bash"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b[:min(len(b), 2<<10)]) // headers; small, so new inputs minimize fast
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var arena []byte
		s, rest, ok, err := captureSparse(bytes.NewReader(b), int64(len(b)), &arena, make([]byte, 512))
		if err != nil || !ok {
			if rest != nil {
				all := new(bytes.Buffer)
				all.ReadFrom(rest)
				if !bytes.Equal(all.Bytes(), b) {
					t.Fatal("a file copied whole lost bytes")
				}
			}
			return
		}
		elfsect.Sections(s, s.Size())
		p := make([]byte, 64)
		for off := int64(0); off < s.Size(); off += 4096 {
			s.ReadAt(p, off)
		}
	})
}
