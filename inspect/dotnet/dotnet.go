// Package dotnet catalogs .NET (NuGet) packages: those an application's
// *.deps.json says it runs with (written by the SDK next to every built
// application, and by the runtime for each shared framework), and those a
// project's packages.lock.json locks.
//
// A deps.json lists every library the build resolved; only the NuGet
// packages ("package") and the runtime bundled into a self-contained
// application ("runtimepack", reported under its NuGet name without the
// "runtimepack." prefix) are reported, and of those only the ones that
// deploy something at run time (runtime, native, runtimeTargets or
// resources assets in the runtime target): a package that contributes no
// file is not in the image (the .NET 10 SDK drops such libraries from
// deps.json for the same reason). The application's own projects are not
// NuGet packages and are not reported.
package dotnet

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

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/purl"
)

const (
	// maxFile bounds a deps.json or packages.lock.json; larger ones are
	// skipped with a warning rather than read whole.
	maxFile     = 64 << 20
	maxPackages = 200000
	// maxName is NuGet's own limit on a package ID.
	maxName    = 100
	maxVersion = 256
)

const (
	depsSuffix = ".deps.json"
	lockName   = "packages.lock.json"
	// runtimePackPrefix starts the library name the SDK gives the runtime
	// bundled into a self-contained application
	// ("runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.11").
	runtimePackPrefix = "runtimepack."
)

// Cataloger reads deps.json and packages.lock.json files.
type Cataloger struct{}

// Name implements inspect.Cataloger.
func (Cataloger) Name() string { return "dotnet" }

// Wants implements inspect.Cataloger: any *.deps.json, and
// packages.lock.json outside NuGet's package cache (where each package's
// own lock file records how it was developed, not what the image runs).
func (Cataloger) Wants(p string, e *image.Entry) bool {
	if e.Kind != image.KindFile && e.Kind != image.KindHardlink {
		return false
	}
	base := p[strings.LastIndexByte(p, '/')+1:]
	switch {
	case base == lockName:
		return !strings.Contains(p, ".nuget/packages/")
	case strings.HasSuffix(base, depsSuffix):
		return len(base) > len(depsSuffix)
	}
	return false
}

// Parse implements inspect.Cataloger.
func (Cataloger) Parse(ctx context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	base := path.Base(f.Path)
	b, err := inspect.ReadAll(r, maxFile)
	if errors.Is(err, inspect.ErrTooLarge) {
		return &inspect.Parsed{Warnings: []string{fmt.Sprintf("%s over %d MiB: not read", base, maxFile>>20)}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", base, err)
	}
	var pkgs []customs.Package
	if base == lockName {
		pkgs, err = ParsePackagesLock(b)
	} else {
		pkgs, err = ParseDeps(b)
	}
	if err != nil {
		return nil, err
	}
	out := &inspect.Parsed{Packages: pkgs}
	if len(pkgs) > maxPackages {
		out.Packages = pkgs[:maxPackages]
		out.Warnings = []string{fmt.Sprintf("more than %d packages; list cut", maxPackages)}
	}
	return out, nil
}

// Collect implements inspect.Cataloger.
func (Cataloger) Collect(ctx context.Context, env *inspect.Env, results []inspect.Result) ([]customs.Package, []string) {
	return inspect.VisiblePackages(env, results), nil
}

type depsFile struct {
	RuntimeTarget struct {
		Name string `json:"name"`
	} `json:"runtimeTarget"`
	Targets   map[string]map[string]targetLibrary `json:"targets"`
	Libraries map[string]struct {
		Type string `json:"type"`
	} `json:"libraries"`
}

// targetLibrary is one library of a target. The asset groups are kept raw:
// only whether they hold anything matters.
type targetLibrary struct {
	Runtime        json.RawMessage `json:"runtime"`
	Native         json.RawMessage `json:"native"`
	RuntimeTargets json.RawMessage `json:"runtimeTargets"`
	Resources      json.RawMessage `json:"resources"`
	CompileOnly    bool            `json:"compileOnly"`
}

// deploys says whether a target library puts any file in the application.
func (t targetLibrary) deploys() bool {
	if t.CompileOnly {
		return false
	}
	for _, raw := range []json.RawMessage{t.Runtime, t.Native, t.RuntimeTargets, t.Resources} {
		s := bytes.TrimSpace(raw)
		if len(s) > 0 && !bytes.Equal(s, []byte("null")) && !bytes.Equal(s, []byte("{}")) && !bytes.Equal(s, []byte("[]")) && !isEmptyObject(s) {
			return true
		}
	}
	return false
}

// isEmptyObject tells "{ }" and the like.
func isEmptyObject(s []byte) bool {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return false
	}
	return len(bytes.TrimSpace(s[1:len(s)-1])) == 0
}

// ParseDeps reads a *.deps.json: the "package" and "runtimepack" libraries
// that deploy assets in the runtime target (every target when the runtime
// target is not named or not present). A library no target mentions at all
// is kept: nothing says it deploys nothing. One that only targets the
// runtime does not use mention is not deployed.
func ParseDeps(b []byte) ([]customs.Package, error) {
	var d depsFile
	if err := json.Unmarshal(bytes.TrimPrefix(b, bom), &d); err != nil {
		return nil, fmt.Errorf("deps.json: %w", err)
	}
	if d.Libraries == nil {
		return nil, errors.New("deps.json without a libraries section")
	}
	// Which targets count: the runtime target (a self-contained
	// application's is ".NETCoreApp,Version=v8.0/linux-x64"), else all.
	var targets []map[string]targetLibrary
	runtimeOnly := false
	if t, ok := d.Targets[d.RuntimeTarget.Name]; ok && d.RuntimeTarget.Name != "" {
		targets, runtimeOnly = append(targets, t), true
	} else {
		names := make([]string, 0, len(d.Targets))
		for n := range d.Targets {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			targets = append(targets, d.Targets[n])
		}
	}
	keys := make([]string, 0, len(d.Libraries))
	for k := range d.Libraries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []customs.Package
	seen := map[string]bool{}
	for _, key := range keys {
		typ := strings.ToLower(d.Libraries[key].Type)
		if typ != "package" && typ != "runtimepack" {
			continue // project, reference, msbuildproject: the application's own
		}
		listed, deployed := false, false
		for _, t := range targets {
			if tl, ok := t[key]; ok {
				listed = true
				deployed = deployed || tl.deploys()
			}
		}
		if runtimeOnly && !listed {
			// Only another target (one the runtime does not use) may
			// mention it.
			for _, t := range d.Targets {
				if _, ok := t[key]; ok {
					listed = true
					break
				}
			}
		}
		if listed && !deployed {
			continue
		}
		name, version, ok := strings.Cut(key, "/")
		if !ok {
			continue
		}
		var md map[string]string
		if typ == "runtimepack" || strings.HasPrefix(name, runtimePackPrefix) {
			name = strings.TrimPrefix(name, runtimePackPrefix)
			md = map[string]string{"kind": "runtimepack"}
		}
		p, ok := newPackage(name, version, md)
		if !ok {
			continue
		}
		if k := strings.ToLower(p.Name) + "@" + p.Version; !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// lockEntry is one dependency of packages.lock.json.
type lockEntry struct {
	Type     string `json:"type"`
	Resolved string `json:"resolved"`
}

// ParsePackagesLock reads NuGet's packages.lock.json: per target framework
// (and runtime identifier), each dependency's resolved version. "Project"
// entries are the solution's own projects and are not reported; the same
// package resolved alike for several frameworks is reported once.
func ParsePackagesLock(b []byte) ([]customs.Package, error) {
	var lock struct {
		Version      int                             `json:"version"`
		Dependencies map[string]map[string]lockEntry `json:"dependencies"`
	}
	if err := json.Unmarshal(bytes.TrimPrefix(b, bom), &lock); err != nil {
		return nil, fmt.Errorf("packages.lock.json: %w", err)
	}
	if lock.Dependencies == nil {
		return nil, errors.New("packages.lock.json without a dependencies section")
	}
	frameworks := make([]string, 0, len(lock.Dependencies))
	for f := range lock.Dependencies {
		frameworks = append(frameworks, f)
	}
	sort.Strings(frameworks)
	var out []customs.Package
	seen := map[string]bool{}
	for _, fw := range frameworks {
		deps := lock.Dependencies[fw]
		names := make([]string, 0, len(deps))
		for n := range deps {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			e := deps[n]
			if strings.EqualFold(e.Type, "Project") || e.Resolved == "" {
				continue
			}
			p, ok := newPackage(n, e.Resolved, nil)
			if !ok {
				continue
			}
			if k := strings.ToLower(p.Name) + "@" + p.Version; !seen[k] {
				seen[k] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

var bom = []byte("\xef\xbb\xbf")

// newPackage makes a NuGet package. NuGet IDs compare without regard to
// case; the spelling the file uses (the package's own) is kept, as OSV's
// NuGet records write it.
func newPackage(name, version string, md map[string]string) (customs.Package, bool) {
	if !validName(name) || !validVersion(version) {
		return customs.Package{}, false
	}
	return customs.Package{
		Name: name, Version: version, Type: customs.TypeNuGet,
		Ecosystem: customs.LanguageEcosystem(customs.TypeNuGet),
		PURL:      purl.New(customs.TypeNuGet, "", name, version, nil),
		Metadata:  md,
	}, true
}

// validName is NuGet's package ID: letters, digits, ".", "_" and "-".
func validName(n string) bool {
	if n == "" || len(n) > maxName {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validVersion is a NuGet (semver-like) version: a digit first, then
// alphanumerics, ".", "-" and "+".
func validVersion(v string) bool {
	if v == "" || len(v) > maxVersion || v[0] < '0' || v[0] > '9' {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+') {
			return false
		}
	}
	return true
}
