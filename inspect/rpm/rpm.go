// Package rpm catalogs RPM packages from the rpm database in all three of its
// formats: SQLite (rpmdb.sqlite, RHEL 9 and Fedora), Berkeley DB (Packages,
// older releases) and NDB (Packages.db, SUSE), read with go-rpmdb.
package rpm

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	rpmdb "github.com/knqyf263/go-rpmdb/pkg"
	_ "modernc.org/sqlite" // the "sqlite" driver go-rpmdb opens rpmdb.sqlite with

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/purl"
)

var dbPaths = map[string]bool{
	"var/lib/rpm/Packages":              true,
	"var/lib/rpm/Packages.db":           true,
	"var/lib/rpm/rpmdb.sqlite":          true,
	"usr/lib/sysimage/rpm/Packages":     true,
	"usr/lib/sysimage/rpm/Packages.db":  true,
	"usr/lib/sysimage/rpm/rpmdb.sqlite": true,
}

// maxDBSize bounds the copy of the database written to the scan's temp dir
// (go-rpmdb needs a file it can seek in).
const (
	maxDBSize   = 2 << 30
	maxPackages = 200000
	maxFiles    = 1 << 20
)

// Cataloger reads rpm databases.
type Cataloger struct{}

// Name implements inspect.Cataloger.
func (Cataloger) Name() string { return "rpm" }

// Wants implements inspect.Cataloger.
func (Cataloger) Wants(p string, e *image.Entry) bool {
	return e.Kind == image.KindFile && dbPaths[p]
}

// Parse implements inspect.Cataloger.
func (Cataloger) Parse(ctx context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	tmp, err := os.CreateTemp(f.TempDir, "rpmdb-*-"+path.Base(f.Path))
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, io.LimitReader(r, maxDBSize+1))
	tmp.Close()
	if err != nil {
		return nil, err
	}
	if n > maxDBSize {
		return nil, fmt.Errorf("rpm database over %d bytes", int64(maxDBSize))
	}
	return ParseFile(tmp.Name())
}

// ParseFile reads an rpm database file. go-rpmdb is not hardened against
// hostile databases, so a panic inside it becomes an error.
func ParseFile(name string) (out *inspect.Parsed, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("malformed rpm database: %v", r)
		}
	}()
	db, err := rpmdb.Open(name)
	if err != nil {
		return nil, fmt.Errorf("opening rpm database: %w", err)
	}
	defer db.Close()
	infos, err := db.ListPackages()
	if err != nil {
		return nil, fmt.Errorf("reading rpm database: %w", err)
	}
	out = &inspect.Parsed{}
	files := 0
	for _, pi := range infos {
		if len(out.Packages) >= maxPackages {
			out.Warnings = append(out.Warnings, fmt.Sprintf("more than %d packages; stopped reading", maxPackages))
			break
		}
		if pi.Name == "gpg-pubkey" || pi.Name == "" {
			continue // imported signing keys, not software
		}
		p := customs.Package{
			Name: pi.Name, Type: customs.TypeRPM, Arch: pi.Arch, Maintainer: pi.Vendor,
			Version:  EVR(pi.EpochNum(), pi.Epoch != nil, pi.Version, pi.Release),
			Metadata: map[string]string{},
		}
		if pi.License != "" {
			p.Licenses = []string{pi.License}
		}
		if pi.SourceRpm != "" && pi.SourceRpm != "(none)" {
			p.Metadata["source_rpm"] = pi.SourceRpm
			if name, ver, rel, ok := SplitSourceRPM(pi.SourceRpm); ok {
				p.Source = name
				p.SourceVersion = EVR(pi.EpochNum(), pi.Epoch != nil, ver, rel)
			}
		}
		if p.Source == "" {
			p.Source, p.SourceVersion = p.Name, p.Version
		}
		if pi.Modularitylabel != "" {
			p.Metadata["modularitylabel"] = pi.Modularitylabel
		}
		if pi.Epoch != nil {
			p.Metadata["epoch"] = strconv.Itoa(*pi.Epoch)
		}
		p.Metadata["version_release"] = pi.Version + "-" + pi.Release
		if names, err := pi.InstalledFileNames(); err == nil {
			for _, f := range names {
				if files++; files <= maxFiles {
					p.Files = append(p.Files, f)
				}
			}
		}
		out.Packages = append(out.Packages, p)
	}
	return out, nil
}

// EVR writes epoch:version-release, leaving out an absent epoch.
func EVR(epoch int, hasEpoch bool, version, release string) string {
	vr := version
	if release != "" {
		vr += "-" + release
	}
	if hasEpoch && epoch != 0 {
		return strconv.Itoa(epoch) + ":" + vr
	}
	return vr
}

// SplitSourceRPM splits "bash-5.1.8-6.el9.src.rpm" into name, version, release.
func SplitSourceRPM(s string) (name, version, release string, ok bool) {
	s = strings.TrimSuffix(s, ".rpm")
	if i := strings.LastIndexByte(s, '.'); i > 0 {
		s = s[:i] // arch: src, nosrc
	}
	ri := strings.LastIndexByte(s, '-')
	if ri <= 0 {
		return "", "", "", false
	}
	vi := strings.LastIndexByte(s[:ri], '-')
	if vi <= 0 {
		return "", "", "", false
	}
	return s[:vi], s[vi+1 : ri], s[ri+1:], true
}

// Collect implements inspect.Cataloger.
func (Cataloger) Collect(ctx context.Context, env *inspect.Env, results []inspect.Result) ([]customs.Package, []string) {
	key := func(p customs.Package) string { return p.Name + ":" + p.Arch + "=" + p.Version }
	var out []customs.Package
	seen := map[string]bool{}
	for _, copies := range inspect.GroupByPath(results) {
		for _, p := range inspect.FirstListed(env, copies, key) {
			if seen[key(p)] {
				continue // the same database reached by two paths
			}
			seen[key(p)] = true
			p.Ecosystem = customs.OSEcosystem(env.Distro)
			p.PURL = purl.RPM(env.Distro, p, p.Metadata["epoch"], p.Metadata["version_release"])
			out = append(out, p)
		}
	}
	return out, nil
}
