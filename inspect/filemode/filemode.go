// Package filemode records the files whose metadata matters to policy:
// setuid and setgid executables, world-writable files and directories
// (without the sticky bit), and package manager caches left in the image.
// It reads no file contents.
package filemode

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
)

// caches are directories package managers fill and images should not ship.
var caches = []string{
	"var/cache/apt/archives/", "var/lib/apt/lists/", "var/cache/apk/", "var/cache/yum/", "var/cache/dnf/",
	"root/.cache/pip/", "root/.npm/_cacache/", "usr/local/share/.cache/yarn/", "root/.cache/go-build/",
}

// Cataloger records risky file metadata.
type Cataloger struct{}

// Name implements inspect.Cataloger.
func (Cataloger) Name() string { return "file-mode" }

func kind(p string, e *image.Entry) string {
	switch e.Kind {
	case image.KindFile:
		switch {
		case e.Mode&fs.ModeSetuid != 0:
			return "setuid"
		case e.Mode&fs.ModeSetgid != 0 && e.Mode&0o111 != 0:
			return "setgid"
		case e.Mode&0o002 != 0:
			return "world-writable"
		}
		for _, c := range caches {
			if strings.HasPrefix(p, c) && !strings.HasSuffix(p, "/lock") && !strings.Contains(p, "/partial/") {
				return "package-cache:" + c
			}
		}
	case image.KindDir:
		if e.Mode&0o002 != 0 && e.Mode&fs.ModeSticky == 0 {
			return "world-writable"
		}
	}
	return ""
}

// Wants implements inspect.Cataloger.
func (Cataloger) Wants(p string, e *image.Entry) bool { return kind(p, e) != "" }

// Parse implements inspect.Cataloger; only the metadata is used.
func (Cataloger) Parse(ctx context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	return &inspect.Parsed{Values: []string{kind(f.Path, f.Entry), fmt.Sprintf("%04o", uint32(f.Entry.Mode.Perm())|special(f.Entry.Mode))}}, nil
}

func special(m fs.FileMode) uint32 {
	var s uint32
	if m&fs.ModeSetuid != 0 {
		s |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		s |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		s |= 0o1000
	}
	return s
}

// Collect implements inspect.Cataloger.
func (Cataloger) Collect(context.Context, *inspect.Env, []inspect.Result) ([]customs.Package, []string) {
	return nil, nil
}

// CollectFacts implements inspect.FactCollector: files that survive in the
// final filesystem (a deleted setuid binary cannot run); caches are reported
// once per cache directory and layer, with a file count.
func (Cataloger) CollectFacts(ctx context.Context, env *inspect.Env, results []inspect.Result) inspect.Facts {
	var f inspect.Facts
	type cacheKey struct {
		dir   string
		layer int
	}
	cacheCount := map[cacheKey]int{}
	for _, r := range results {
		if !r.Visible || r.Parsed == nil || len(r.Parsed.Values) < 2 {
			continue
		}
		k, mode := r.Parsed.Values[0], r.Parsed.Values[1]
		if dir, ok := strings.CutPrefix(k, "package-cache:"); ok {
			cacheCount[cacheKey{dir, r.Layer}]++
			continue
		}
		f.FileIssues = append(f.FileIssues, customs.FileIssue{Kind: k, Path: "/" + r.Path, Mode: mode, Layer: env.LayerRef(r.Layer)})
	}
	for k, n := range cacheCount {
		f.FileIssues = append(f.FileIssues, customs.FileIssue{Kind: "package-cache", Path: "/" + strings.TrimSuffix(k.dir, "/"),
			Mode: fmt.Sprintf("%d files", n), Layer: env.LayerRef(k.layer)})
	}
	sort.Slice(f.FileIssues, func(i, j int) bool {
		a, b := f.FileIssues[i], f.FileIssues[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Path < b.Path
	})
	return f
}
