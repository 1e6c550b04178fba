package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/customs-sec/customs"
)

// dirLayer is an unpacked root filesystem seen as a single layer. Files are
// opened through os.Root, so a symlink in the tree never leads outside it.
type dirLayer struct {
	path string
	opts *Options
}

func openDir(r Reference, opts *Options) (*Image, error) {
	st, err := os.Stat(r.Path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", r.Path)
	}
	abs, err := filepath.Abs(r.Path)
	if err != nil {
		return nil, err
	}
	info := customs.Layer{Index: 0, DiffID: "", MediaType: "directory"}
	return &Image{
		Info:   customs.Image{Layers: []customs.Layer{info}},
		Layers: []Layer{&dirLayer{path: abs, opts: opts}},
	}, nil
}

func (d *dirLayer) Info() customs.Layer { return customs.Layer{Index: 0, MediaType: "directory"} }

func (d *dirLayer) Walk(ctx context.Context, fn WalkFunc) error {
	root, err := os.OpenRoot(d.path)
	if err != nil {
		return err
	}
	defer root.Close()
	n := 0
	return fs.WalkDir(root.FS(), ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			d.opts.warn("%s: %v", p, err)
			if de != nil && de.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if n++; n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if p == "." {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			d.opts.warn("%s: %v", p, err)
			return nil
		}
		e := Entry{Path: p, Mode: fi.Mode().Perm() | (fi.Mode() & (fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)), ModTime: fi.ModTime()}
		e.UID, e.GID = owner(fi)
		var content io.Reader = eofReader{}
		switch {
		case fi.Mode().IsRegular():
			e.Kind, e.Size = KindFile, fi.Size()
			lr := &lazyReader{root: root, path: p}
			defer lr.close()
			content = lr
		case fi.IsDir():
			e.Kind = KindDir
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Kind = KindSymlink
			if target, err := root.Readlink(p); err == nil {
				e.Link = target
			}
		default:
			e.Kind = KindOther
		}
		if err := fn(&e, content); err != nil {
			if errors.Is(err, fs.SkipDir) {
				return nil
			}
			return err
		}
		return nil
	})
}

// lazyReader opens a file on first read: most files of a tree are walked past
// unread.
type lazyReader struct {
	root *os.Root
	path string
	f    *os.File
	err  error
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.f == nil && l.err == nil {
		l.f, l.err = l.root.Open(l.path)
	}
	if l.err != nil {
		return 0, l.err
	}
	return l.f.Read(p)
}

func (l *lazyReader) close() {
	if l.f != nil {
		l.f.Close()
	}
}
