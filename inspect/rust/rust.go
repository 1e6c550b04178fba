// Package rust catalogs Rust crates: those a Cargo.lock locks and those
// compiled into binaries built with cargo-auditable, which embeds the
// crate list as zlib-compressed JSON in an ELF section named .dep-v0
// (https://github.com/rust-secure-code/cargo-auditable, PARSING.md and
// cargo-auditable.schema.json). Only crates from crates.io are crates.io
// packages; crates from git or another registry keep their source in
// Metadata["source"] and get no ecosystem, and local crates (the
// workspace's own) are not reported.
package rust

import (
	"bytes"
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
	maxLockFile = 64 << 20
	maxLine     = 64 << 10
	maxPackages = 200000
	maxNameLen  = 64 // crates.io's limit
	maxVersion  = 256
	// minBinary skips files too small to be a linked Rust program.
	minBinary = 4 << 10
)

const lockName = "Cargo.lock"

// Cataloger reads Cargo.lock files and cargo-auditable binaries.
type Cataloger struct{}

// Name implements inspect.Cataloger.
func (Cataloger) Name() string { return "rust" }

// Wants implements inspect.Cataloger: Cargo.lock files (not those of crates
// unpacked in Cargo's registry cache or vendored, which record how each
// crate was developed), and files that may be ELF programs or shared
// libraries: executable, or named like a shared library (a cdylib is often
// installed without the exec bit). The exec bit keeps most of an image's
// files (data, scripts are caught by the header check) from being peeked
// at; the header check then keeps only ELF files.
func (Cataloger) Wants(p string, e *image.Entry) bool {
	base := p[strings.LastIndexByte(p, '/')+1:]
	if base == lockName {
		return (e.Kind == image.KindFile || e.Kind == image.KindHardlink) &&
			!strings.Contains(p, ".cargo/registry/") && !strings.Contains(p, ".cargo/git/") &&
			!strings.HasPrefix(p, "vendor/") && !strings.Contains(p, "/vendor/")
	}
	if e.Kind != image.KindFile || e.Size < minBinary {
		return false
	}
	return e.Mode&0o111 != 0 || strings.HasSuffix(base, ".so") || strings.Contains(base, ".so.")
}

// WantsHeader implements inspect.HeaderFilter: only ELF files are read.
// Mach-O and PE files are not: a Linux image does not run them, and their
// audit section lies inside a loaded segment, so reading it would mean
// buffering the whole file.
func (Cataloger) WantsHeader(p string, h []byte) bool {
	if path.Base(p) == lockName {
		return true
	}
	return bytes.HasPrefix(h, []byte("\x7fELF"))
}

// ReadsSparseELF implements inspect.SparseELF: only the section table
// and .dep-v0 (not loaded, so in the file's unloaded tail) are read.
func (Cataloger) ReadsSparseELF() {}

// Parse implements inspect.Cataloger.
func (Cataloger) Parse(ctx context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	if path.Base(f.Path) != lockName {
		return parseBinary(f.Entry.Size, r)
	}
	b, err := inspect.ReadAll(r, maxLockFile)
	if errors.Is(err, inspect.ErrTooLarge) {
		return &inspect.Parsed{Warnings: []string{fmt.Sprintf("Cargo.lock over %d MiB: not read", maxLockFile>>20)}}, nil
	}
	if err != nil {
		return nil, err
	}
	pkgs, warns := ParseCargoLock(b)
	return &inspect.Parsed{Packages: pkgs, Warnings: warns}, nil
}

// Collect implements inspect.Cataloger. Binaries whose unloaded data was
// too large to check are counted in one warning.
func (Cataloger) Collect(ctx context.Context, env *inspect.Env, results []inspect.Result) ([]customs.Package, []string) {
	unchecked := 0
	for _, r := range results {
		if r.Visible && r.Parsed != nil && len(r.Parsed.Values) > 0 && r.Parsed.Values[0] == valueUnchecked {
			unchecked++
		}
	}
	var warns []string
	if unchecked > 0 {
		warns = append(warns, fmt.Sprintf("rust: %d ELF files carry over %d MiB of unloaded data (debug information) and were not checked for cargo-auditable data", unchecked, maxTail>>20))
	}
	return inspect.VisiblePackages(env, results), warns
}

// Crates.io's index, as Cargo.lock writes it (git and sparse protocols).
const (
	cratesIOGit    = "registry+https://github.com/rust-lang/crates.io-index"
	cratesIOSparse = "sparse+https://index.crates.io/"
)

// crate makes a package from a crate name, version and source; ok is false
// for a local crate or an invalid name or version. source is a Cargo.lock
// source ("registry+URL", "sparse+URL", "git+URL#rev") or a cargo-auditable
// source ("crates.io", "git", "registry", "local").
func crate(name, version, source string, md map[string]string) (customs.Package, bool) {
	if !validName(name) || !validVersion(version) {
		return customs.Package{}, false
	}
	eco := customs.LanguageEcosystem(customs.TypeCargo)
	switch source {
	case cratesIOGit, cratesIOSparse, "crates.io":
	case "", "local":
		return customs.Package{}, false // the workspace's own crates or a path dependency
	default:
		if md == nil {
			md = map[string]string{}
		}
		md["source"] = truncate(source, 512)
		eco = ""
	}
	return customs.Package{
		Name: name, Version: version, Type: customs.TypeCargo, Ecosystem: eco,
		PURL: purl.New(customs.TypeCargo, "", name, version, nil), Metadata: md,
	}, true
}

func validName(n string) bool {
	if n == "" || len(n) > maxNameLen {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validVersion accepts what semver allows: digits first, then
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
