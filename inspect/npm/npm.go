// Package npm catalogs Node.js packages: what is installed under
// node_modules (each package's package.json) and what lock files pin
// (package-lock.json v1-v3, yarn.lock v1 and berry, pnpm-lock.yaml). What is
// on disk wins: when a project has node_modules, its lock file only marks
// which installed packages are dev dependencies, so packages the lock lists
// but the image does not hold are not reported.
package npm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/purl"
)

const (
	maxPackageJSON = 4 << 20
	maxLockFile    = 64 << 20
	maxNameLen     = 214 // npm's own limit
	maxVersionLen  = 256
	maxDepth       = 256
)

// Kinds of files, kept in Parsed.Values[0] so Collect can tell them apart.
const (
	kindInstalled = "installed"
	kindLock      = "lock"
)

// Cataloger reads npm packages.
type Cataloger struct{}

// Name implements inspect.Cataloger.
func (Cataloger) Name() string { return "npm" }

// Wants implements inspect.Cataloger.
func (Cataloger) Wants(p string, e *image.Entry) bool {
	if e.Kind != image.KindFile {
		return false
	}
	switch path.Base(p) {
	case "package.json":
		return isInstalledManifest(p)
	case "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml":
		return !strings.Contains(p, "/node_modules/") && !strings.HasPrefix(p, "node_modules/")
	}
	return false
}

// isInstalledManifest says whether p is node_modules/NAME/package.json or
// node_modules/@SCOPE/NAME/package.json (not a file deeper inside a package).
func isInstalledManifest(p string) bool {
	dir := path.Dir(p)
	parent := path.Dir(dir)
	if path.Base(parent) == "node_modules" {
		return true
	}
	return strings.HasPrefix(path.Base(parent), "@") && path.Base(path.Dir(parent)) == "node_modules"
}

// Parse implements inspect.Cataloger.
func (Cataloger) Parse(ctx context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	if path.Base(f.Path) == "package.json" {
		b, err := inspect.ReadAll(r, maxPackageJSON)
		if err != nil {
			return nil, err
		}
		p, err := ParsePackageJSON(b)
		if err != nil {
			return nil, err
		}
		return &inspect.Parsed{Packages: []customs.Package{p}, Values: []string{kindInstalled}}, nil
	}
	b, err := inspect.ReadAll(r, maxLockFile)
	if err != nil {
		return nil, err
	}
	var pkgs []customs.Package
	switch path.Base(f.Path) {
	case "package-lock.json", "npm-shrinkwrap.json":
		pkgs, err = ParsePackageLock(b)
	case "yarn.lock":
		pkgs, err = ParseYarnLock(b)
	case "pnpm-lock.yaml":
		pkgs, err = ParsePnpmLock(b)
	}
	if err != nil {
		return nil, err
	}
	return &inspect.Parsed{Packages: pkgs, Values: []string{kindLock}}, nil
}

type packageJSON struct {
	Name     string          `json:"name"`
	Version  string          `json:"version"`
	License  json.RawMessage `json:"license"`
	Licenses json.RawMessage `json:"licenses"`
}

// ParsePackageJSON reads an installed package's manifest.
func ParsePackageJSON(b []byte) (customs.Package, error) {
	var pj packageJSON
	if err := json.Unmarshal(b, &pj); err != nil {
		return customs.Package{}, fmt.Errorf("package.json: %w", err)
	}
	if err := checkNameVersion(pj.Name, pj.Version); err != nil {
		return customs.Package{}, err
	}
	p := newPackage(pj.Name, pj.Version)
	p.Licenses = licenses(pj.License, pj.Licenses)
	return p, nil
}

func checkNameVersion(name, version string) error {
	switch {
	case name == "" || version == "":
		return errors.New("package.json without name or version")
	case len(name) > maxNameLen:
		return fmt.Errorf("package name of %d bytes", len(name))
	case len(version) > maxVersionLen:
		return fmt.Errorf("version string of %d bytes", len(version))
	case strings.ContainsAny(name, " \t\n\x00") || strings.ContainsAny(version, " \t\n\x00"):
		return fmt.Errorf("invalid name or version %q@%q", truncate(name, 64), truncate(version, 64))
	}
	return nil
}

func newPackage(name, version string) customs.Package {
	ns, n := "", name
	if strings.HasPrefix(name, "@") {
		if i := strings.IndexByte(name, '/'); i > 0 {
			ns, n = name[:i], name[i+1:]
		}
	}
	return customs.Package{
		Name: name, Version: version, Type: customs.TypeNPM, Ecosystem: "npm",
		PURL: purl.New(customs.TypeNPM, ns, n, version, nil),
	}
}

// licenses reads "license": "MIT" | {"type": "MIT"} and the old
// "licenses": [{"type": ...}].
func licenses(license, list json.RawMessage) []string {
	var out []string
	var s string
	var obj struct{ Type string }
	switch {
	case json.Unmarshal(license, &s) == nil && s != "":
		out = append(out, s)
	case json.Unmarshal(license, &obj) == nil && obj.Type != "":
		out = append(out, obj.Type)
	}
	var arr []struct{ Type string }
	if json.Unmarshal(list, &arr) == nil {
		for _, l := range arr {
			if l.Type != "" {
				out = append(out, l.Type)
			}
		}
	}
	return out
}

type lockV1Dep struct {
	Version      string               `json:"version"`
	Dev          bool                 `json:"dev"`
	Dependencies map[string]lockV1Dep `json:"dependencies"`
}

type lockV2Pkg struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	Dev     bool            `json:"dev"`
	Link    bool            `json:"link"`
	License json.RawMessage `json:"license"`
}

// ParsePackageLock reads package-lock.json v1 (nested "dependencies") and
// v2/v3 ("packages" keyed by node_modules path). Each package carries its
// path in Metadata["lock_path"] so installed copies can be matched exactly.
func ParsePackageLock(b []byte) ([]customs.Package, error) {
	var lock struct {
		LockfileVersion int                  `json:"lockfileVersion"`
		Packages        map[string]lockV2Pkg `json:"packages"`
		Dependencies    map[string]lockV1Dep `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, fmt.Errorf("package-lock.json: %w", err)
	}
	var out []customs.Package
	if len(lock.Packages) > 0 {
		for key, p := range lock.Packages {
			if key == "" || p.Link || p.Version == "" {
				continue // the project itself, or a workspace link
			}
			name := p.Name
			if i := strings.LastIndex(key, "node_modules/"); i >= 0 && name == "" {
				name = key[i+len("node_modules/"):]
			}
			if checkNameVersion(name, p.Version) != nil {
				continue
			}
			pk := newPackage(name, p.Version)
			pk.Licenses = licenses(p.License, nil)
			pk.Metadata = map[string]string{"lock_path": key}
			if p.Dev {
				pk.Metadata["dev"] = "true"
			}
			out = append(out, pk)
		}
		return out, nil
	}
	var walk func(deps map[string]lockV1Dep, prefix string, depth int)
	walk = func(deps map[string]lockV1Dep, prefix string, depth int) {
		if depth > maxDepth {
			return
		}
		for name, d := range deps {
			key := prefix + "node_modules/" + name
			if checkNameVersion(name, d.Version) == nil && !strings.Contains(d.Version, ":") {
				pk := newPackage(name, d.Version)
				pk.Metadata = map[string]string{"lock_path": key}
				if d.Dev {
					pk.Metadata["dev"] = "true"
				}
				out = append(out, pk)
			}
			walk(d.Dependencies, key+"/", depth+1)
		}
	}
	walk(lock.Dependencies, "", 0)
	return out, nil
}

// ParseYarnLock reads yarn.lock, classic (v1) or berry (v2+, YAML).
func ParseYarnLock(b []byte) ([]customs.Package, error) {
	if bytes.Contains(b, []byte("\n__metadata:")) || bytes.HasPrefix(b, []byte("__metadata:")) {
		return parseYarnBerry(b)
	}
	var out []customs.Package
	lr := inspect.NewLineReader(bytes.NewReader(b), 64<<10)
	name := ""
	for {
		line, err := lr.Next()
		if err != nil {
			break
		}
		s := string(line)
		switch {
		case s == "" || strings.HasPrefix(s, "#"):
		case s[0] != ' ' && strings.HasSuffix(s, ":"):
			// "pkg@^1.0.0", pkg@^1.1.0:  -> the name of the first spec
			first := strings.TrimSpace(strings.Split(strings.TrimSuffix(s, ":"), ",")[0])
			name = yarnSpecName(strings.Trim(first, `"`))
		case name != "" && strings.HasPrefix(s, "  version "):
			v := strings.Trim(strings.TrimSpace(strings.TrimPrefix(s, "  version ")), `"`)
			if checkNameVersion(name, v) == nil {
				out = append(out, newPackage(name, v))
			}
			name = ""
		}
	}
	return out, nil
}

// yarnSpecName takes the package name from "name@range" or "@scope/name@range".
func yarnSpecName(spec string) string {
	if i := strings.LastIndexByte(spec, '@'); i > 0 {
		return spec[:i]
	}
	return spec
}

func parseYarnBerry(b []byte) ([]customs.Package, error) {
	var doc map[string]struct {
		Version    string `yaml:"version"`
		Resolution string `yaml:"resolution"`
		LinkType   string `yaml:"linkType"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("yarn.lock: %w", err)
	}
	var out []customs.Package
	for key, e := range doc {
		if key == "__metadata" || e.Version == "" {
			continue
		}
		res := e.Resolution
		if res == "" {
			res = strings.Split(key, ",")[0]
		}
		i := strings.Index(res[1:], "@") + 1
		if i <= 0 {
			continue
		}
		name, proto := res[:i], res[i+1:]
		if !strings.HasPrefix(proto, "npm:") {
			continue // workspace:, link:, portal:, patch:, file: are not registry packages
		}
		if checkNameVersion(name, e.Version) == nil {
			out = append(out, newPackage(name, e.Version))
		}
	}
	return out, nil
}

// ParsePnpmLock reads pnpm-lock.yaml (lockfile versions 5, 6 and 9).
func ParsePnpmLock(b []byte) ([]customs.Package, error) {
	var doc struct {
		LockfileVersion any `yaml:"lockfileVersion"`
		Packages        map[string]struct {
			Name    string `yaml:"name"`
			Version string `yaml:"version"`
			Dev     *bool  `yaml:"dev"`
		} `yaml:"packages"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("pnpm-lock.yaml: %w", err)
	}
	v5 := strings.HasPrefix(fmt.Sprint(doc.LockfileVersion), "5")
	var out []customs.Package
	for key, e := range doc.Packages {
		name, version := e.Name, e.Version
		if name == "" || version == "" {
			name, version = pnpmKey(key, v5)
		}
		if checkNameVersion(name, version) != nil {
			continue
		}
		p := newPackage(name, version)
		if e.Dev != nil && *e.Dev {
			p.Metadata = map[string]string{"dev": "true"}
		}
		out = append(out, p)
	}
	return out, nil
}

// pnpmKey splits "/lodash/4.17.21" (v5), "/lodash@4.17.21" (v6) or
// "@scope/pkg@1.0.0(peer@2.0.0)" (v9) into name and version.
func pnpmKey(key string, v5 bool) (string, string) {
	key = strings.TrimPrefix(key, "/")
	if i := strings.IndexByte(key, '('); i > 0 {
		key = key[:i]
	}
	if v5 {
		if i := strings.IndexByte(key, '_'); i > 0 {
			key = key[:i]
		}
		i := strings.LastIndexByte(key, '/')
		if i <= 0 {
			return "", ""
		}
		return key[:i], key[i+1:]
	}
	i := strings.LastIndexByte(key, '@')
	if i <= 0 {
		return "", ""
	}
	return key[:i], key[i+1:]
}

// projectRoot is the directory holding the outermost node_modules of an
// installed manifest, or the lock file's directory.
func projectRoot(p string, installed bool) string {
	if !installed {
		return path.Dir(p)
	}
	if strings.HasPrefix(p, "node_modules/") {
		return "."
	}
	if i := strings.Index(p, "/node_modules/"); i >= 0 {
		return p[:i]
	}
	return path.Dir(p)
}

// Collect implements inspect.Cataloger.
func (Cataloger) Collect(ctx context.Context, env *inspect.Env, results []inspect.Result) ([]customs.Package, []string) {
	type project struct {
		installed []inspect.Result
		locks     []inspect.Result
	}
	projects := map[string]*project{}
	get := func(root string) *project {
		if projects[root] == nil {
			projects[root] = &project{}
		}
		return projects[root]
	}
	for _, r := range results {
		if !r.Visible || r.Parsed == nil || len(r.Parsed.Values) == 0 {
			continue
		}
		installed := r.Parsed.Values[0] == kindInstalled
		pr := get(projectRoot(r.Path, installed))
		if installed {
			pr.installed = append(pr.installed, r)
		} else {
			pr.locks = append(pr.locks, r)
		}
	}
	roots := make([]string, 0, len(projects))
	for root := range projects {
		roots = append(roots, root)
	}
	sort.Strings(roots)
	var out []customs.Package
	for _, root := range roots {
		pr := projects[root]
		devByPath, devByID := map[string]bool{}, map[string]bool{}
		for _, l := range pr.locks {
			for _, p := range l.Parsed.Packages {
				dev := p.Metadata["dev"] == "true"
				if lp := p.Metadata["lock_path"]; lp != "" {
					devByPath[lp] = dev
				}
				id := p.Name + "@" + p.Version
				if prev, seen := devByID[id]; !seen || prev {
					devByID[id] = dev // dev only if every copy is dev
				}
			}
		}
		if len(pr.installed) == 0 {
			// Nothing installed: the lock file is all we know.
			for _, l := range pr.locks {
				for _, p := range dedupe(l.Parsed.Packages) {
					p.Layer = env.LayerRef(l.Layer)
					p.Locations = []string{"/" + l.Path}
					md := map[string]string{"source": "lockfile"}
					if p.Metadata["dev"] == "true" {
						md["dev"] = "true"
					}
					p.Metadata = md
					out = append(out, p)
				}
			}
			continue
		}
		// Installed copies, one package per name@version with all locations.
		byID := map[string]int{}
		for _, r := range pr.installed {
			p := r.Parsed.Packages[0]
			id := p.Name + "@" + p.Version
			rel := strings.TrimPrefix(path.Dir(r.Path), root+"/")
			dev, known := devByPath[rel]
			if !known {
				dev, known = devByID[id]
			}
			if i, ok := byID[id]; ok {
				out[i].Locations = append(out[i].Locations, "/"+r.Path)
				if !dev || !known {
					delete(out[i].Metadata, "dev")
				}
				continue
			}
			p.Layer = env.LayerRef(r.Layer)
			p.Locations = []string{"/" + r.Path}
			if known && dev {
				p.Metadata = map[string]string{"dev": "true"}
			}
			byID[id] = len(out)
			out = append(out, p)
		}
	}
	for i := range out {
		if len(out[i].Metadata) == 0 {
			out[i].Metadata = nil
		}
		sort.Strings(out[i].Locations)
	}
	return out, nil
}

func dedupe(ps []customs.Package) []customs.Package {
	seen := map[string]int{}
	var out []customs.Package
	for _, p := range ps {
		id := p.Name + "@" + p.Version
		if i, ok := seen[id]; ok {
			if p.Metadata["dev"] != "true" && out[i].Metadata != nil {
				delete(out[i].Metadata, "dev")
			}
			continue
		}
		seen[id] = len(out)
		out = append(out, p)
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
