// Package python catalogs Python packages: the distributions installed in
// site-packages and dist-packages (each one's *.dist-info/METADATA,
// *.egg-info/PKG-INFO, single-file *.egg-info, or *.egg/EGG-INFO/PKG-INFO),
// and what a project's requirements*.txt pins and its
// poetry.lock, Pipfile.lock, uv.lock or pdm.lock locks. Names are normalized as PEP 503
// says (and as OSV's PyPI records are keyed), so matching is a lookup.
package python

import (
	"context"
	"errors"
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
	// maxLockFile bounds a lock or requirements file; larger ones are
	// skipped with a warning rather than read whole.
	maxLockFile = 64 << 20
	// maxHeaders bounds the header block of a METADATA or PKG-INFO file
	// (old PKG-INFO files carry the whole README as a Description header).
	maxHeaders  = 16 << 20
	maxLine     = 64 << 10
	maxPackages = 200000
	maxNameLen  = 256
	maxVersion  = 256
)

// Cataloger reads Python package metadata and lock files.
type Cataloger struct{}

// Name implements inspect.Cataloger.
func (Cataloger) Name() string { return "python" }

// Wants implements inspect.Cataloger.
func (Cataloger) Wants(p string, e *image.Entry) bool {
	if e.Kind != image.KindFile && e.Kind != image.KindHardlink {
		return false
	}
	base := p[strings.LastIndexByte(p, '/')+1:]
	switch base {
	case "METADATA":
		return strings.HasSuffix(p, ".dist-info/METADATA")
	case "PKG-INFO":
		// setuptools' egg-info directory, or an installed .egg's EGG-INFO.
		return strings.HasSuffix(p, ".egg-info/PKG-INFO") || strings.HasSuffix(p, ".egg/EGG-INFO/PKG-INFO")
	case "poetry.lock", "Pipfile.lock", "uv.lock", "pdm.lock":
		return !inInstalledTree(p)
	}
	if strings.HasSuffix(base, ".egg-info") {
		return true // distutils writes egg-info as a single file
	}
	if strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt") {
		return !inInstalledTree(p)
	}
	return false
}

// inInstalledTree says whether p lies inside an installed package, whose
// own lock and requirements files describe how it was developed, not what
// the image runs.
func inInstalledTree(p string) bool {
	return strings.Contains(p, "site-packages/") || strings.Contains(p, "dist-packages/")
}

// Parse implements inspect.Cataloger.
func (Cataloger) Parse(ctx context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	base := path.Base(f.Path)
	switch {
	case base == "METADATA" || base == "PKG-INFO" || strings.HasSuffix(base, ".egg-info"):
		p, warns, err := ParseMetadata(r)
		if err != nil {
			return nil, err
		}
		return &inspect.Parsed{Packages: []customs.Package{p}, Warnings: warns}, nil
	}
	b, err := inspect.ReadAll(r, maxLockFile)
	if errors.Is(err, inspect.ErrTooLarge) {
		return &inspect.Parsed{Warnings: []string{fmt.Sprintf("%s over %d MiB: not read", base, maxLockFile>>20)}}, nil
	}
	if err != nil {
		return nil, err
	}
	var pkgs []customs.Package
	switch base {
	case "poetry.lock":
		pkgs, err = ParsePoetryLock(b)
	case "Pipfile.lock":
		pkgs, err = ParsePipfileLock(b)
	case "uv.lock":
		pkgs, err = ParseUVLock(b)
	case "pdm.lock":
		pkgs, err = ParsePDMLock(b)
	default:
		pkgs, err = ParseRequirements(b, isDevFile(base))
	}
	if err != nil {
		return nil, err
	}
	out := &inspect.Parsed{Packages: dedupe(pkgs)}
	if len(out.Packages) > maxPackages {
		out.Packages = out.Packages[:maxPackages]
		out.Warnings = append(out.Warnings, fmt.Sprintf("more than %d packages; list cut", maxPackages))
	}
	return out, nil
}

// isDevFile tells requirements-dev.txt, requirements_test.txt and the like,
// whose pins serve development only.
func isDevFile(base string) bool {
	rest := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(base, "requirements"), ".txt"))
	return strings.Contains(rest, "dev") || strings.Contains(rest, "test")
}

// Collect implements inspect.Cataloger.
func (Cataloger) Collect(ctx context.Context, env *inspect.Env, results []inspect.Result) ([]customs.Package, []string) {
	return inspect.VisiblePackages(env, results), nil
}

// NormalizeName is PEP 503's normalized name: lowercase, with each run of
// "-", "_" and "." made one "-".
func NormalizeName(name string) string {
	var sb strings.Builder
	sb.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep {
			sb.WriteByte('-')
			sep = false
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		sb.WriteByte(c)
	}
	if sep {
		sb.WriteByte('-')
	}
	return sb.String()
}

// validName is PEP 508's name: ASCII letters and digits, with ".", "_"
// and "-" inside.
func validName(n string) bool {
	if n == "" || len(n) > maxNameLen {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (c != '.' && c != '_' && c != '-' || i == 0 || i == len(n)-1) {
			return false
		}
	}
	return true
}

func validVersion(v string) bool {
	if v == "" || len(v) > maxVersion {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || c == ',' || c == ';' {
			return false
		}
	}
	return true
}

// newPackage makes a PyPI package; md may be nil. A package from a source
// other than a package index (git, a local directory or file, a URL) keeps
// that source in Metadata["source"] and gets no ecosystem: PyPI's advisories
// are about what PyPI publishes under that name.
func newPackage(name, version string, md map[string]string) customs.Package {
	norm := NormalizeName(name)
	if norm != name {
		if md == nil {
			md = map[string]string{}
		}
		md["name"] = name
	}
	eco := customs.LanguageEcosystem(customs.TypePyPI)
	if md["source"] != "" {
		eco = ""
	}
	return customs.Package{
		Name: norm, Version: version, Type: customs.TypePyPI, Ecosystem: eco,
		PURL: purl.New(customs.TypePyPI, "", norm, version, nil), Metadata: md,
	}
}

// dedupe drops repeats of the same name, version and source within one
// file, keeping a non-dev copy over a dev one.
func dedupe(ps []customs.Package) []customs.Package {
	idx := map[string]int{}
	out := ps[:0]
	for _, p := range ps {
		k := p.Name + "@" + p.Version + "|" + p.Metadata["source"]
		if i, ok := idx[k]; ok {
			if out[i].Metadata["dev"] == "true" && p.Metadata["dev"] != "true" {
				out[i] = p
			}
			continue
		}
		idx[k] = len(out)
		out = append(out, p)
	}
	return out
}
