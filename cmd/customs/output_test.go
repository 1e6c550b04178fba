//go:build unix

package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/customs-sec/customs/internal/testimage"
)

// TestOutputFileKinds writes a report (-o) to a named pipe, through a
// symbolic link and over a private file: the pipe is written, not replaced
// by a file (as a rename would replace /dev/null), the link still points
// at the file it named, and the file keeps its permissions.
func TestOutputFileKinds(t *testing.T) {
	image := "oci:" + filepath.Join(testimage.ModuleRoot(t), "examples", "demo", "image") + ":demo"
	dir := t.TempDir()
	sbom := func(out string) {
		t.Helper()
		if _, stderr, err := runCustoms(t, "sbom", image, "-q", "-o", out); err != nil {
			t.Fatalf("sbom -o %s: %v\n%s", out, err, stderr)
		}
	}
	isReport := func(b []byte) {
		t.Helper()
		var v struct{ Packages []json.RawMessage }
		if err := json.Unmarshal(b, &v); err != nil || len(v.Packages) == 0 {
			t.Fatalf("not an inventory (%v): %.80q", err, b)
		}
	}

	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- b
	}()
	sbom(fifo)
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the named pipe was replaced: %v %v", fi.Mode(), err)
	}
	select {
	case b := <-got:
		isReport(b)
	case <-time.After(time.Minute): // a guard against hanging, not a timing check
		t.Fatal("nothing was written to the named pipe")
	}

	target := filepath.Join(dir, "report.json")
	os.WriteFile(target, []byte("old"), 0o600)
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink("report.json", link); err != nil {
		t.Fatal(err)
	}
	sbom(link)
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(target)
	isReport(b)
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
		t.Errorf("the report's mode became %v, was 0600", fi.Mode().Perm())
	}

	// A link to a report not written yet: the report is created where
	// it points.
	dangling := filepath.Join(dir, "next.json")
	os.Symlink("sub/next-report.json", dangling)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	sbom(dangling)
	b, _ = os.ReadFile(filepath.Join(dir, "sub", "next-report.json"))
	isReport(b)

	fresh := filepath.Join(dir, "new.json")
	sbom(fresh)
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("a new report: %v %v", fi.Mode(), err)
	}
}
