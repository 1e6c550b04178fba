// Package apk catalogs Alpine (and Wolfi/Chainguard) packages from apk's
// installed database.
package apk

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/purl"
)

const (
	dbPath      = "lib/apk/db/installed"
	maxLine     = 256 << 10
	maxPackages = 200000
	maxFiles    = 1 << 20
)

// Cataloger reads /lib/apk/db/installed.
type Cataloger struct{}

// Name implements inspect.Cataloger.
func (Cataloger) Name() string { return "apk" }

// Wants implements inspect.Cataloger.
func (Cataloger) Wants(p string, e *image.Entry) bool {
	return p == dbPath && e.Kind == image.KindFile
}

// Parse implements inspect.Cataloger.
func (Cataloger) Parse(ctx context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	return ParseInstalled(r)
}

// ParseInstalled reads apk's database: stanzas of "X:value" lines separated
// by blank lines (P name, V version, A arch, o origin, m maintainer,
// L license, F directory, R file in that directory).
func ParseInstalled(r io.Reader) (*inspect.Parsed, error) {
	out := &inspect.Parsed{}
	lr := inspect.NewLineReader(r, maxLine)
	var cur customs.Package
	var dir string
	files := 0
	garbage := 0
	flush := func() {
		if cur.Name != "" && cur.Version != "" {
			if cur.Source == "" {
				cur.Source = cur.Name
			}
			cur.SourceVersion = cur.Version
			cur.Type = customs.TypeApk
			out.Packages = append(out.Packages, cur)
		}
		cur, dir = customs.Package{}, ""
	}
	for {
		line, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			flush()
			if len(out.Packages) > maxPackages {
				out.Warnings = append(out.Warnings, fmt.Sprintf("more than %d packages; stopped reading", maxPackages))
				return out, nil
			}
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			garbage++
			continue
		}
		v := string(line[2:])
		switch line[0] {
		case 'P':
			cur.Name = v
		case 'V':
			cur.Version = v
		case 'A':
			cur.Arch = v
		case 'o':
			cur.Source = v
		case 'm':
			cur.Maintainer = v
		case 'L':
			if v != "" {
				cur.Licenses = []string{v}
			}
		case 'F':
			dir = v
		case 'R':
			if files++; files <= maxFiles {
				cur.Files = append(cur.Files, "/"+path.Join(dir, v))
			}
		}
	}
	flush()
	if lr.Truncated > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d lines longer than %d bytes were cut", lr.Truncated, maxLine))
	}
	if garbage > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d lines that are not fields were ignored", garbage))
	}
	if files > maxFiles {
		out.Warnings = append(out.Warnings, fmt.Sprintf("more than %d installed files; lists cut", maxFiles))
	}
	return out, nil
}

// Collect implements inspect.Cataloger.
func (Cataloger) Collect(ctx context.Context, env *inspect.Env, results []inspect.Result) ([]customs.Package, []string) {
	key := func(p customs.Package) string { return p.Name + ":" + p.Arch + "=" + p.Version }
	pkgs := inspect.FirstListed(env, results, key)
	eco := customs.OSEcosystem(env.Distro)
	for i := range pkgs {
		pkgs[i].Ecosystem = eco
		pkgs[i].PURL = purl.Apk(env.Distro, pkgs[i])
		pkgs[i].Licenses = splitLicense(pkgs[i].Licenses)
	}
	return pkgs, nil
}

// splitLicense turns apk's "MIT AND BSD-2-Clause" into one SPDX expression
// kept whole, and "GPL-2.0-only MIT" (space-separated, older packages) into
// its parts.
func splitLicense(l []string) []string {
	if len(l) != 1 {
		return l
	}
	s := l[0]
	if strings.Contains(s, " AND ") || strings.Contains(s, " OR ") || strings.Contains(s, " WITH ") {
		return l
	}
	return strings.Fields(s)
}
