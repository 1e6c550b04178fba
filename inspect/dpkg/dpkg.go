// Package dpkg catalogs Debian packages: the dpkg status database (and the
// per-package status.d files distroless images use instead), the installed
// file lists, and licenses from machine-readable copyright files.
package dpkg

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/purl"
)

const (
	statusPath   = "var/lib/dpkg/status"
	statusDDir   = "var/lib/dpkg/status.d/"
	infoDir      = "var/lib/dpkg/info/"
	docDir       = "usr/share/doc/"
	maxLine      = 256 << 10
	maxPackages  = 200000
	maxListLines = 1 << 20
	maxCopyright = 4 << 20
)

// Cataloger reads dpkg's database.
type Cataloger struct{}

// Name implements inspect.Cataloger.
func (Cataloger) Name() string { return "dpkg" }

// Wants implements inspect.Cataloger.
func (Cataloger) Wants(p string, e *image.Entry) bool {
	if e.Kind != image.KindFile && e.Kind != image.KindHardlink {
		return false
	}
	switch {
	case p == statusPath:
		return true
	case strings.HasPrefix(p, statusDDir):
		base := p[len(statusDDir):]
		return !strings.Contains(base, "/") && !strings.HasSuffix(base, ".md5sums")
	case strings.HasPrefix(p, infoDir):
		return strings.HasSuffix(p, ".list") && !strings.Contains(p[len(infoDir):], "/")
	case strings.HasPrefix(p, docDir):
		return strings.HasSuffix(p, "/copyright") && strings.Count(p[len(docDir):], "/") == 1
	}
	return false
}

// Parse implements inspect.Cataloger.
func (Cataloger) Parse(ctx context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	switch {
	case f.Path == statusPath || strings.HasPrefix(f.Path, statusDDir):
		return ParseStatus(r)
	case strings.HasPrefix(f.Path, infoDir):
		return parseList(r)
	default:
		return parseCopyright(r)
	}
}

// ParseStatus reads a dpkg status file: stanzas of "Field: value" lines.
// Only installed packages are kept. Overlong lines are cut, not fatal.
func ParseStatus(r io.Reader) (*inspect.Parsed, error) {
	out := &inspect.Parsed{}
	lr := inspect.NewLineReader(r, maxLine)
	var cur stanza
	garbage := 0
	flush := func() {
		if p, ok := cur.pkg(); ok {
			out.Packages = append(out.Packages, p)
		}
		cur = stanza{}
	}
	for {
		line, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			flush()
			if len(out.Packages) > maxPackages {
				out.Warnings = append(out.Warnings, fmt.Sprintf("more than %d packages; stopped reading", maxPackages))
				return out, nil
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // continuation of a multi-line field (Description, Conffiles)
		}
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			garbage++
			continue
		}
		cur.set(string(bytes.TrimSpace(k)), string(bytes.TrimSpace(v)))
	}
	flush()
	if lr.Truncated > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d lines longer than %d bytes were cut", lr.Truncated, maxLine))
	}
	if garbage > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d lines that are not fields were ignored", garbage))
	}
	return out, nil
}

type stanza struct {
	name, version, arch, source, status, maintainer, multiArch string
}

func (s *stanza) set(k, v string) {
	switch strings.ToLower(k) {
	case "package":
		s.name = v
	case "version":
		s.version = v
	case "architecture":
		s.arch = v
	case "source":
		s.source = v
	case "status":
		s.status = v
	case "maintainer":
		s.maintainer = v
	case "multi-arch":
		s.multiArch = v
	}
}

func (s *stanza) pkg() (customs.Package, bool) {
	if s.name == "" || s.version == "" || !validName(s.name) {
		return customs.Package{}, false
	}
	// "want eflag status"; a status.d stanza of a distroless image has none
	// and is installed by construction.
	if s.status != "" {
		f := strings.Fields(s.status)
		if len(f) != 3 || f[2] != "installed" {
			return customs.Package{}, false
		}
	}
	p := customs.Package{
		Name: s.name, Version: s.version, Type: customs.TypeDeb, Arch: s.arch,
		Maintainer: s.maintainer, Source: s.name, SourceVersion: s.version,
	}
	if s.source != "" {
		name, ver, hasVer := strings.Cut(s.source, " ")
		p.Source = name
		if hasVer {
			p.SourceVersion = strings.Trim(strings.TrimSpace(ver), "()")
		}
	}
	return p, true
}

// validName accepts Debian package names (and is lenient about case, which
// dpkg tolerates in old databases).
func validName(n string) bool {
	if len(n) > 256 {
		return false
	}
	for _, c := range n {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '+', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return true
}

func parseList(r io.Reader) (*inspect.Parsed, error) {
	out := &inspect.Parsed{}
	lr := inspect.NewLineReader(r, 4096)
	for {
		line, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(out.Values) >= maxListLines {
			out.Warnings = append(out.Warnings, fmt.Sprintf("more than %d files; list cut", maxListLines))
			break
		}
		if s := string(line); s != "" && s != "/." {
			out.Values = append(out.Values, s)
		}
	}
	return out, nil
}

// parseCopyright reads the License fields of a machine-readable
// (DEP-5) copyright file; other copyright files give nothing.
func parseCopyright(r io.Reader) (*inspect.Parsed, error) {
	lr := inspect.NewLineReader(io.LimitReader(r, maxCopyright), 4096)
	first, err := lr.Next()
	if err != nil {
		return nil, nil
	}
	if !isDEP5Header(string(first)) {
		return nil, nil
	}
	seen := map[string]bool{}
	out := &inspect.Parsed{}
	for {
		line, err := lr.Next()
		if err != nil {
			break
		}
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(line) == 0 || line[0] == ' ' || line[0] == '\t' || !strings.EqualFold(string(k), "License") {
			continue
		}
		lic := strings.TrimSpace(string(v))
		if lic != "" && !seen[lic] {
			seen[lic] = true
			out.Values = append(out.Values, lic)
		}
	}
	return out, nil
}

func isDEP5Header(line string) bool {
	k, v, ok := strings.Cut(line, ":")
	if !ok {
		return false
	}
	k = strings.ToLower(strings.TrimSpace(k))
	return (k == "format" || k == "format-specification") && strings.Contains(v, "copyright-format")
}

// Collect implements inspect.Cataloger.
func (Cataloger) Collect(ctx context.Context, env *inspect.Env, results []inspect.Result) ([]customs.Package, []string) {
	var statusCopies, statusD []inspect.Result
	lists := map[string][]string{}    // "name" or "name:arch" -> files
	licenses := map[string][]string{} // doc dir name -> licenses
	for _, r := range results {
		switch {
		case r.Path == statusPath:
			statusCopies = append(statusCopies, r)
		case strings.HasPrefix(r.Path, statusDDir):
			statusD = append(statusD, r)
		case strings.HasPrefix(r.Path, infoDir):
			if r.Visible && r.Parsed != nil {
				lists[strings.TrimSuffix(path.Base(r.Path), ".list")] = r.Parsed.Values
			}
		case strings.HasPrefix(r.Path, docDir):
			if r.Visible && r.Parsed != nil {
				licenses[path.Base(path.Dir(r.Path))] = r.Parsed.Values
			}
		}
	}
	key := func(p customs.Package) string { return p.Name + ":" + p.Arch + "=" + p.Version }
	pkgs := inspect.FirstListed(env, statusCopies, key)
	pkgs = append(pkgs, inspect.VisiblePackages(env, statusD)...)
	eco := customs.OSEcosystem(env.Distro)
	seen := map[string]bool{}
	var out []customs.Package
	for _, p := range pkgs {
		if seen[key(p)] {
			continue
		}
		seen[key(p)] = true
		if files, ok := lists[p.Name+":"+p.Arch]; ok {
			p.Files = files
		} else if files, ok := lists[p.Name]; ok {
			p.Files = files
		}
		p.Licenses = licenses[p.Name]
		p.Ecosystem = eco
		p.PURL = purl.Deb(env.Distro, p)
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
