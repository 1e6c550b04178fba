package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func FuzzWalkTar(f *testing.F) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "etc/os-release", Size: 10, Mode: 0o644, Typeflag: tar.TypeReg},
		{Name: "../../x", Size: 0, Typeflag: tar.TypeReg},
		{Name: "a/.wh.b", Typeflag: tar.TypeReg},
		{Name: "c/.wh..wh..opq", Typeflag: tar.TypeReg},
		{Name: "l", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink},
		{Name: "h", Linkname: "../etc/os-release", Typeflag: tar.TypeLink},
	} {
		tw.WriteHeader(h)
		if h.Size > 0 {
			tw.Write([]byte("ID=debian\n"))
		}
	}
	tw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0}, 1024))
	f.Fuzz(func(t *testing.T, b []byte) {
		opts := &Options{}
		_ = walkTar(context.Background(), bytes.NewReader(b), "fuzz", opts, func(e *Entry, r io.Reader) error {
			if strings.HasPrefix(e.Path, "/") || strings.HasPrefix(e.Path, "../") || e.Path == ".." {
				t.Fatalf("path %q escapes", e.Path)
			}
			_, err := io.Copy(io.Discard, io.LimitReader(r, 1<<20))
			return err
		})
	})
}

func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"a/b", "../../etc/passwd", "/abs", "./x/../y", "a//b/", "..", ".wh..wh..opq"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, _ := CleanPath(s)
		if strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../") {
			t.Fatalf("CleanPath(%q) = %q escapes", s, p)
		}
		if q, _ := CleanPath(p); q != p {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, p, q)
		}
	})
}
