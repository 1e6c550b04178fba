package python

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/customs-sec/customs"
)

// ParsePoetryLock reads poetry.lock: [[package]] tables with name and
// version. Poetry before 1.5 marks development packages with category =
// "dev"; Poetry 2 lists each package's groups, and a package in no "main"
// group serves development only. Packages from git, a directory, a file or
// a URL keep that source (see newPackage).
func ParsePoetryLock(b []byte) ([]customs.Package, error) {
	doc, err := parseTOML(b)
	if err != nil {
		return nil, fmt.Errorf("poetry.lock: %w", err)
	}
	var out []customs.Package
	for _, v := range list(doc["package"]) {
		t := table(v)
		name, version := str(t["name"]), str(t["version"])
		if !validName(name) || !validVersion(version) {
			continue
		}
		md := map[string]string{}
		dev := str(t["category"]) == "dev"
		if groups := list(t["groups"]); len(groups) > 0 {
			dev = true
			for _, g := range groups {
				if str(g) == "main" {
					dev = false
				}
			}
		}
		if dev {
			md["dev"] = "true"
		}
		if src := table(t["source"]); src != nil {
			switch typ := str(src["type"]); typ {
			case "git", "directory", "file", "url":
				md["source"] = sourceString(typ, str(src["url"]), str(src["resolved_reference"]))
			}
		}
		out = append(out, newPackage(name, version, nilIfEmpty(md)))
	}
	return out, nil
}

// ParsePipfileLock reads Pipfile.lock: "default" and "develop" maps of
// name to {"version": "==1.2.3"}. Entries without a version (git, path and
// editable installs) pin nothing to match.
func ParsePipfileLock(b []byte) ([]customs.Package, error) {
	var lock struct {
		Default map[string]pipfileEntry `json:"default"`
		Develop map[string]pipfileEntry `json:"develop"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, fmt.Errorf("Pipfile.lock: %w", err)
	}
	var out []customs.Package
	add := func(entries map[string]pipfileEntry, dev bool) {
		names := make([]string, 0, len(entries))
		for name := range entries {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			e := entries[name]
			version := strings.TrimPrefix(strings.TrimPrefix(e.Version, "==="), "==")
			if !validName(name) || !validVersion(version) || strings.ContainsAny(version, "*<>=!~") {
				continue
			}
			md := map[string]string{}
			if dev {
				md["dev"] = "true"
			}
			out = append(out, newPackage(name, version, nilIfEmpty(md)))
		}
	}
	// default first, so a package in both is kept as a runtime one by dedupe.
	add(lock.Default, false)
	add(lock.Develop, true)
	return out, nil
}

type pipfileEntry struct {
	Version string `json:"version"`
}

// uvPackage is one [[package]] of uv.lock.
type uvPackage struct {
	name, version string
	source        map[string]any
	deps          []any // inline tables {name, version?, extra?, marker?}
	optional      []any
	dev           []any
}

// ParseUVLock reads uv.lock. uv does not mark development packages; they
// are found from the graph: the workspace's own packages (source editable
// or virtual) are the roots, and a package reached only through a root's
// dev-dependencies is a development one. Everything reached through
// dependencies or optional-dependencies (of any package) counts as runtime,
// so a doubt never hides a runtime package as dev.
func ParseUVLock(b []byte) ([]customs.Package, error) {
	doc, err := parseTOML(b)
	if err != nil {
		return nil, fmt.Errorf("uv.lock: %w", err)
	}
	var pkgs []uvPackage
	byName := map[string][]int{}
	for _, v := range list(doc["package"]) {
		t := table(v)
		p := uvPackage{name: str(t["name"]), version: str(t["version"]), source: table(t["source"]), deps: list(t["dependencies"])}
		for _, l := range table(t["optional-dependencies"]) {
			p.optional = append(p.optional, list(l)...)
		}
		for _, l := range table(t["dev-dependencies"]) {
			p.dev = append(p.dev, list(l)...)
		}
		byName[NormalizeName(p.name)] = append(byName[NormalizeName(p.name)], len(pkgs))
		pkgs = append(pkgs, p)
	}
	resolve := func(dep any) []int {
		d := table(dep)
		cands := byName[NormalizeName(str(d["name"]))]
		v := str(d["version"])
		if v == "" {
			return cands
		}
		var out []int
		for _, i := range cands {
			if pkgs[i].version == v {
				out = append(out, i)
			}
		}
		return out
	}
	walk := func(seen []bool, queue []int) {
		for len(queue) > 0 {
			i := queue[len(queue)-1]
			queue = queue[:len(queue)-1]
			if seen[i] {
				continue
			}
			seen[i] = true
			for _, l := range [][]any{pkgs[i].deps, pkgs[i].optional} {
				for _, d := range l {
					queue = append(queue, resolve(d)...)
				}
			}
		}
	}
	runtime, devSeen := make([]bool, len(pkgs)), make([]bool, len(pkgs))
	var roots, devRoots []int
	for i, p := range pkgs {
		if p.source["editable"] != nil || p.source["virtual"] != nil {
			roots = append(roots, i)
			for _, d := range p.dev {
				devRoots = append(devRoots, resolve(d)...)
			}
		}
	}
	walk(runtime, roots)
	walk(devSeen, devRoots)
	var out []customs.Package
	for i, p := range pkgs {
		if p.source["editable"] != nil || p.source["virtual"] != nil {
			continue // the project itself
		}
		if !validName(p.name) || !validVersion(p.version) {
			continue
		}
		md := map[string]string{}
		if devSeen[i] && !runtime[i] {
			md["dev"] = "true"
		}
		for _, k := range []string{"git", "path", "directory", "url"} {
			if s := str(p.source[k]); s != "" {
				md["source"] = sourceString(k, s, "")
			}
		}
		out = append(out, newPackage(p.name, p.version, nilIfEmpty(md)))
	}
	return out, nil
}

// sourceString is "git+https://host/repo@rev", "directory+../lib", ...
func sourceString(kind, where, rev string) string {
	s := kind
	if where != "" {
		s += "+" + where
	}
	if rev != "" && !strings.Contains(where, rev) {
		s += "@" + rev
	}
	return truncate(s, 512)
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// ParsePDMLock reads pdm.lock: [[package]] tables with name and version.
// Lock format 4.4 and later lists each package's groups; a package in no
// "default" group serves development only (older locks do not say, and
// nothing is marked). Packages from git, a local path or a URL keep that
// source (see newPackage).
func ParsePDMLock(b []byte) ([]customs.Package, error) {
	doc, err := parseTOML(b)
	if err != nil {
		return nil, fmt.Errorf("pdm.lock: %w", err)
	}
	var out []customs.Package
	for _, v := range list(doc["package"]) {
		t := table(v)
		name, version := str(t["name"]), str(t["version"])
		if !validName(name) || !validVersion(version) {
			continue
		}
		md := map[string]string{}
		if groups := list(t["groups"]); len(groups) > 0 {
			md["dev"] = "true"
			for _, g := range groups {
				if str(g) == "default" {
					delete(md, "dev")
				}
			}
		}
		for _, k := range []string{"git", "path", "url"} {
			if s := str(t[k]); s != "" {
				md["source"] = sourceString(k, s, str(t["revision"]))
			}
		}
		out = append(out, newPackage(name, version, nilIfEmpty(md)))
	}
	return out, nil
}
