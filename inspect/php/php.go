// Package php catalogs PHP packages installed with Composer: what a
// project's vendor/composer/installed.json says is installed (Composer 1's
// array and Composer 2's object) and what its composer.lock locks. What is
// installed wins: when a project has both, the lock file only tells which
// installed packages are dev dependencies (for Composer 1, whose
// installed.json does not say), so locked packages that were not installed
// (packages-dev after composer install --no-dev) are not reported.
package php

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/purl"
)

const (
	maxFile     = 64 << 20
	maxPackages = 200000
	maxVersion  = 256
	maxName     = 256
)

const (
	installedSuffix = "vendor/composer/installed.json"
	lockName        = "composer.lock"
)

// Kinds of files, in Parsed.Values[0], so Collect can tell them apart.
const (
	kindInstalled = "installed"
	kindLock      = "lock"
	// noDevInfo follows kindInstalled for a Composer 1 installed.json.
	noDevInfo = "no-dev-info"
)

// Cataloger reads Composer's files.
type Cataloger struct{}

// Name implements inspect.Cataloger.
func (Cataloger) Name() string { return "php" }

// Wants implements inspect.Cataloger.
func (Cataloger) Wants(p string, e *image.Entry) bool {
	if e.Kind != image.KindFile && e.Kind != image.KindHardlink {
		return false
	}
	if strings.HasSuffix(p, installedSuffix) {
		return p == installedSuffix || p[len(p)-len(installedSuffix)-1] == '/'
	}
	if p != lockName && !strings.HasSuffix(p, "/"+lockName) {
		return false
	}
	// A composer.lock inside vendor/ is an installed package's own, from
	// its development, not the image's.
	return !strings.HasPrefix(p, "vendor/") && !strings.Contains(p, "/vendor/")
}

// Parse implements inspect.Cataloger.
func (Cataloger) Parse(ctx context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	name := lockName
	if strings.HasSuffix(f.Path, installedSuffix) {
		name = "installed.json"
	}
	b, err := inspect.ReadAll(r, maxFile)
	if errors.Is(err, inspect.ErrTooLarge) {
		return &inspect.Parsed{Warnings: []string{fmt.Sprintf("%s over %d MiB: not read", name, maxFile>>20)}}, nil
	}
	if err != nil {
		return nil, err
	}
	var pkgs []customs.Package
	values := []string{kindLock}
	if name == lockName {
		pkgs, err = ParseLock(b)
	} else {
		var devKnown bool
		pkgs, devKnown, err = ParseInstalled(b)
		values = []string{kindInstalled}
		if !devKnown {
			values = append(values, noDevInfo)
		}
	}
	if err != nil {
		return nil, err
	}
	out := &inspect.Parsed{Packages: pkgs, Values: values}
	if len(pkgs) > maxPackages {
		out.Packages = pkgs[:maxPackages]
		out.Warnings = []string{fmt.Sprintf("more than %d packages; list cut", maxPackages)}
	}
	return out, nil
}

type composerPackage struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	License json.RawMessage `json:"license"`
	Dist    struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"dist"`
}

// ParseLock reads composer.lock: "packages" and "packages-dev" (marked dev).
func ParseLock(b []byte) ([]customs.Package, error) {
	var lock struct {
		Packages    []composerPackage `json:"packages"`
		PackagesDev []composerPackage `json:"packages-dev"`
	}
	if err := json.Unmarshal(bytes.TrimPrefix(b, bom), &lock); err != nil {
		return nil, fmt.Errorf("composer.lock: %w", err)
	}
	var out []customs.Package
	for _, list := range []struct {
		pkgs []composerPackage
		dev  bool
	}{{lock.Packages, false}, {lock.PackagesDev, true}} {
		for _, cp := range list.pkgs {
			if p, ok := newPackage(cp, list.dev); ok {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// ParseInstalled reads vendor/composer/installed.json: a JSON array of
// packages (Composer 1) or {"packages": [...], "dev-package-names": [...]}
// (Composer 2). devKnown is false for Composer 1, which does not say which
// packages are dev dependencies.
func ParseInstalled(b []byte) (pkgs []customs.Package, devKnown bool, err error) {
	var v2 struct {
		Packages        []composerPackage `json:"packages"`
		DevPackageNames []string          `json:"dev-package-names"`
	}
	var list []composerPackage
	dev := map[string]bool{}
	b = bytes.TrimPrefix(b, bom)
	if bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("[")) {
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, false, fmt.Errorf("installed.json: %w", err)
		}
	} else {
		if err := json.Unmarshal(b, &v2); err != nil {
			return nil, false, fmt.Errorf("installed.json: %w", err)
		}
		list, devKnown = v2.Packages, true
		for _, n := range v2.DevPackageNames {
			dev[strings.ToLower(n)] = true
		}
	}
	for _, cp := range list {
		if p, ok := newPackage(cp, dev[strings.ToLower(cp.Name)]); ok {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs, devKnown, nil
}

// bom is the UTF-8 byte order mark some editors write; encoding/json
// rejects it.
var bom = []byte("\xef\xbb\xbf")

// newPackage makes a Packagist package. Packagist names are lowercase. The
// version drops the "v" of a tag like "v5.4.21", as OSV's Packagist records
// write versions, keeping the tag in Metadata["version_raw"]. A package
// installed from a local path repository keeps that in Metadata["source"]
// and gets no ecosystem: Packagist's advisories are about what Packagist
// publishes under that name.
func newPackage(cp composerPackage, dev bool) (customs.Package, bool) {
	name := strings.ToLower(cp.Name)
	vendor, pkg, ok := strings.Cut(name, "/")
	if !ok || !validPart(vendor) || !validPart(pkg) || len(name) > maxName || !validVersion(cp.Version) {
		return customs.Package{}, false
	}
	version := NormalizeVersion(cp.Version)
	md := map[string]string{}
	if version != cp.Version {
		md["version_raw"] = cp.Version
	}
	if dev {
		md["dev"] = "true"
	}
	eco := customs.LanguageEcosystem(customs.TypeComposer)
	if cp.Dist.Type == "path" {
		md["source"] = truncate("path+"+cp.Dist.URL, 512)
		eco = ""
	}
	if len(md) == 0 {
		md = nil
	}
	return customs.Package{
		Name: name, Version: version, Type: customs.TypeComposer, Ecosystem: eco,
		PURL:     purl.New(customs.TypeComposer, vendor, pkg, version, nil),
		Licenses: licenses(cp.License), Metadata: md,
	}, true
}

// NormalizeVersion drops the "v" (or "V") that starts a tag-like version.
func NormalizeVersion(v string) string {
	if len(v) > 1 && (v[0] == 'v' || v[0] == 'V') && v[1] >= '0' && v[1] <= '9' {
		return v[1:]
	}
	return v
}

func validPart(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
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
		if v[i] <= ' ' || v[i] >= 0x7f {
			return false
		}
	}
	return true
}

// licenses reads "license": ["MIT"] (or, in old packages, "MIT").
func licenses(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil || s == "" {
			return nil
		}
		list = []string{s}
	}
	var out []string
	for _, l := range list {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// projectRoot is the directory a composer.lock or vendor/composer/
// installed.json belongs to ("app/" for both app/composer.lock and
// app/vendor/composer/installed.json, "" at the root).
func projectRoot(p string, installed bool) string {
	if installed {
		return strings.TrimSuffix(p, installedSuffix)
	}
	return strings.TrimSuffix(p, lockName)
}

// Collect implements inspect.Cataloger.
func (Cataloger) Collect(ctx context.Context, env *inspect.Env, results []inspect.Result) ([]customs.Package, []string) {
	type project struct{ installed, lock *inspect.Result }
	projects := map[string]*project{}
	for i := range results {
		r := &results[i]
		if !r.Visible || r.Parsed == nil || len(r.Parsed.Values) == 0 {
			continue
		}
		installed := r.Parsed.Values[0] == kindInstalled
		root := projectRoot(r.Path, installed)
		if projects[root] == nil {
			projects[root] = &project{}
		}
		if installed {
			projects[root].installed = r
		} else {
			projects[root].lock = r
		}
	}
	roots := make([]string, 0, len(projects))
	for root := range projects {
		roots = append(roots, root)
	}
	sort.Strings(roots)
	var out []customs.Package
	emit := func(r *inspect.Result, mark func(*customs.Package)) {
		for _, p := range r.Parsed.Packages {
			p.Layer = env.LayerRef(r.Layer)
			p.Locations = []string{"/" + r.Path}
			if mark != nil {
				mark(&p)
			}
			out = append(out, p)
		}
	}
	for _, root := range roots {
		pr := projects[root]
		switch {
		case pr.installed == nil:
			emit(pr.lock, nil)
		case pr.lock != nil && len(pr.installed.Parsed.Values) > 1 && pr.installed.Parsed.Values[1] == noDevInfo:
			// Composer 1: the lock file's packages-dev say which are dev.
			dev := map[string]bool{}
			for _, p := range pr.lock.Parsed.Packages {
				if p.Metadata["dev"] == "true" {
					dev[p.Name] = true
				}
			}
			emit(pr.installed, func(p *customs.Package) {
				if dev[p.Name] {
					md := map[string]string{"dev": "true"}
					for k, v := range p.Metadata {
						md[k] = v
					}
					p.Metadata = md
				}
			})
		default:
			emit(pr.installed, nil)
		}
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
