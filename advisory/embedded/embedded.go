// Package embedded carries a small sample of real advisory records inside
// the customs binary, so a first scan works offline on a machine that has no
// advisory database yet. See data/NOTICE.md for where the records come from.
package embedded

import (
	"context"
	"embed"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/customs-sec/customs/advisory"
)

//go:embed data
var data embed.FS

// Source names the sample in `customs db status`.
const Source = "embedded-sample"

// Install creates a database at path holding the embedded sample.
func Install(ctx context.Context, path string) (*advisory.Delta, error) {
	tmp, err := os.MkdirTemp("", "customs-embedded-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.CopyFS(tmp, mustSub(data, "data")); err != nil {
		return nil, err
	}
	db, err := advisory.Open(ctx, path, advisory.Options{})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Import(ctx, []string{filepath.Join(tmp)}, advisory.ImportOptions{Source: Source})
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the embedded tree always has data/
	}
	return sub
}
