package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/customs-sec/customs"
)

// layerSpec is what a tar layer needs to know about its blob.
type layerSpec struct {
	info customs.Layer
	// open returns the blob as stored (compressed or not).
	open func() (io.ReadCloser, error)
	// verifyDigest is the digest the blob must have; empty when the source
	// verifies on its own (registry) or has none to check against.
	verifyDigest string
	size         int64
	label        string
	// background: inflate at a lower priority (see yieldToLargestLayer).
	background bool
}

// tarLayer is a layer stored as a (possibly compressed) tar blob.
type tarLayer struct {
	spec layerSpec
	opts *Options
}

func newTarLayer(info customs.Layer, open func() (io.ReadCloser, error), verify string, opts *Options) *tarLayer {
	label := fmt.Sprintf("layer %d (%s)", info.Index+1, shortDigest(firstNonEmpty(info.Digest, info.DiffID)))
	return &tarLayer{spec: layerSpec{info: info, open: open, verifyDigest: verify, size: info.Size, label: label}, opts: opts}
}

func (l *tarLayer) Info() customs.Layer { return l.spec.info }

func (l *tarLayer) Walk(ctx context.Context, fn WalkFunc) error {
	rc, err := l.spec.open()
	if err != nil {
		return fmt.Errorf("%s: opening blob: %w", l.spec.label, err)
	}
	defer rc.Close()
	var progress func(int64)
	if l.opts.Progress != nil {
		idx, total := l.spec.info.Index, l.spec.info.Size
		progress = func(n int64) { l.opts.Progress(idx, n, total) }
	}
	s, err := newLayerStream(rc, l.spec, l.opts.limits(), progress)
	if err != nil {
		return err
	}
	if err := walkTar(ctx, s, l.spec.label, l.opts, fn); err != nil {
		if ctx.Err() != nil {
			s.close()
			return err
		}
		// A blob that does not match its digest explains any error that
		// follows from it, so check the digest before blaming gzip or tar.
		derr := s.decoderError()
		if verr := s.finish(); verr != nil && strings.Contains(verr.Error(), "does not match") {
			return verr
		}
		if derr != nil {
			return derr
		}
		return err
	}
	return s.finish()
}

// walkTar reads a tar stream entry by entry, clamps paths inside the root and
// turns OCI whiteout files into whiteout and opaque entries.
func walkTar(ctx context.Context, r io.Reader, label string, opts *Options, fn WalkFunc) error {
	tr := tar.NewReader(r)
	var e Entry
	last := ""
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if last == "" {
				return fmt.Errorf("%s: reading tar: %w", label, err)
			}
			return fmt.Errorf("%s: reading tar entry after %q: %w", label, last, err)
		}
		p, escaped := CleanPath(hdr.Name)
		if escaped {
			opts.warn("%s: entry %q points outside the root; read as /%s", label, truncate(hdr.Name, 200), truncate(p, 200))
		}
		last = truncate(hdr.Name, 200)
		if p == "" || strings.HasPrefix(p, ".wh..wh.") {
			continue // the root itself, or AUFS bookkeeping (.wh..wh.plnk/, .wh..wh.aufs)
		}
		e = Entry{Path: p, Size: hdr.Size, UID: hdr.Uid, GID: hdr.Gid, ModTime: hdr.ModTime, Mode: tarMode(hdr)}
		dir, base := path.Split(p)
		if strings.HasPrefix(base, ".wh.") {
			switch {
			case base == ".wh..wh..opq":
				e.Kind, e.Path, e.Size = KindOpaque, strings.TrimSuffix(dir, "/"), 0
			case strings.HasPrefix(base, ".wh..wh."):
				continue // other AUFS bookkeeping
			default:
				e.Kind, e.Path, e.Size = KindWhiteout, dir+base[len(".wh."):], 0
			}
			if err := fn(&e, eofReader{}); err != nil {
				return fmt.Errorf("%s: %s: %w", label, truncate(e.Path, 200), err)
			}
			continue
		}
		var content io.Reader = eofReader{}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
			e.Kind = KindFile
			content = tr
		case tar.TypeDir:
			e.Kind, e.Size = KindDir, 0
		case tar.TypeSymlink:
			e.Kind, e.Link, e.Size = KindSymlink, hdr.Linkname, 0
		case tar.TypeLink:
			target, esc := CleanPath(hdr.Linkname)
			if esc {
				opts.warn("%s: hard link %q -> %q points outside the root", label, truncate(hdr.Name, 200), truncate(hdr.Linkname, 200))
			}
			e.Kind, e.Link, e.Size = KindHardlink, target, 0
		default:
			e.Kind, e.Size = KindOther, 0
		}
		if err := fn(&e, content); err != nil {
			return fmt.Errorf("%s: %s: %w", label, truncate(e.Path, 200), err)
		}
	}
}

// CleanPath makes an archive path relative, slash-separated and clean, clamped
// inside the root as container runtimes clamp it; escaped reports whether
// resolving the name would have climbed above the root ("../../etc/passwd").
// A leading slash is common in old tarballs and does not count as escaping.
func CleanPath(name string) (p string, escaped bool) {
	rel := strings.TrimLeft(name, "/")
	depth := 0
	for _, part := range strings.Split(rel, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				escaped = true
			}
		default:
			depth++
		}
	}
	return strings.TrimPrefix(path.Clean("/"+rel), "/"), escaped
}

func tarMode(hdr *tar.Header) fs.FileMode {
	m := fs.FileMode(hdr.Mode & 0o777)
	if hdr.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if hdr.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if hdr.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func shortDigest(d string) string {
	if _, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return d[:len(d)-len(hex)] + hex[:12]
	}
	return d
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
