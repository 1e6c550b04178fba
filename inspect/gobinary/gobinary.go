// Package gobinary catalogs Go modules: those compiled into binaries (read
// from the build information every Go binary since 1.13 carries, stripped or
// not, with the toolchain version reported as the "stdlib" package) and those
// declared in go.mod files of source trees (lower confidence).
package gobinary

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime/debug"
	"strings"
	"sync"

	"golang.org/x/mod/modfile"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/internal/elfsect"
	"github.com/customs-sec/customs/purl"
)

const (
	// Executables up to this size are read into memory for debug/buildinfo;
	// everything else is scanned as a stream.
	maxInMemory = 64 << 20
	maxGoMod    = 4 << 20
	minBinary   = 1 << 10
)

// buildInfoMagic starts the build information block of every Go binary;
// looking for it first saves parsing the many binaries that are not Go.
var buildInfoMagic = []byte("\xff Go buildinf:")

// Cataloger reads Go binaries and go.mod files.
type Cataloger struct {
	bufs *sync.Pool
}

// New returns a Go cataloger.
func New() *Cataloger {
	return &Cataloger{bufs: &sync.Pool{New: func() any { return new([]byte) }}}
}

// Name implements inspect.Cataloger.
func (*Cataloger) Name() string { return "go" }

// Wants implements inspect.Cataloger: any regular file big enough to be a
// binary (the header decides), and go.mod files.
func (*Cataloger) Wants(p string, e *image.Entry) bool {
	if e.Kind != image.KindFile {
		return false
	}
	return e.Size >= minBinary || path.Base(p) == "go.mod"
}

// WantsHeader implements inspect.HeaderFilter: ELF, Mach-O and PE files.
func (*Cataloger) WantsHeader(p string, h []byte) bool {
	if path.Base(p) == "go.mod" {
		return true
	}
	return IsExecutable(h)
}

// IsExecutable tells ELF, Mach-O and PE files by their magic numbers.
func IsExecutable(h []byte) bool {
	if len(h) < 4 {
		return false
	}
	switch {
	case bytes.HasPrefix(h, []byte("\x7fELF")):
		return true
	case bytes.HasPrefix(h, []byte("MZ")):
		return true
	}
	switch string(h[:4]) {
	case "\xfe\xed\xfa\xce", "\xfe\xed\xfa\xcf", "\xce\xfa\xed\xfe", "\xcf\xfa\xed\xfe":
		return true
	}
	return false
}

// Parse implements inspect.Cataloger.
//
// Executables up to maxInMemory bytes are read whole and handed to
// debug/buildinfo, which understands every build-info format. Any other
// binary (shared libraries, huge executables) is scanned as a stream for the
// build-info magic and the inline build information Go 1.18+ writes is
// decoded where it is found, so no large non-Go file is ever held in memory.
func (c *Cataloger) Parse(ctx context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	if path.Base(f.Path) == "go.mod" {
		b, err := inspect.ReadAll(r, maxGoMod)
		if err != nil {
			return nil, err
		}
		return ParseGoMod(f.Path, b)
	}
	size := f.Entry.Size
	// A file several catalogers share comes with random access (an
	// in-memory copy or a spill file): debug/buildinfo reads it in place,
	// and an ELF file's section headers rule most files out at once.
	if ra, ok := r.(io.ReaderAt); ok {
		return parseAt(ra)
	}
	if f.Entry.Mode&0o111 == 0 || size > maxInMemory {
		return c.scan(r)
	}
	bp := c.bufs.Get().(*[]byte)
	defer c.bufs.Put(bp)
	if int64(cap(*bp)) < size {
		*bp = make([]byte, size)
	}
	buf := (*bp)[:size]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	if !mayBeGoELF(bytes.NewReader(buf)) || !bytes.Contains(buf, buildInfoMagic) {
		return nil, nil
	}
	bi, err := buildinfo.Read(bytes.NewReader(buf))
	if err != nil {
		// Carries the magic but no readable build info: a binary that embeds
		// another, or a corrupt one. Not a Go binary we can inventory.
		return &inspect.Parsed{Warnings: []string{"Go build information unreadable: " + err.Error()}}, nil
	}
	return &inspect.Parsed{Packages: Packages(bi)}, nil
}

// ReadsSparseELF implements inspect.SparseELF: an ELF file without a Go
// build ID note is read only for its section table and, should it have
// one anyway, the .go.buildinfo section in its writable segment.
func (*Cataloger) ReadsSparseELF() {}

// parseAt reads build information from a binary with random access.
func parseAt(ra io.ReaderAt) (*inspect.Parsed, error) {
	if !mayBeGoELF(ra) {
		return nil, nil
	}
	bi, err := buildinfo.Read(ra)
	switch {
	case err != nil && missed(ra):
		return &inspect.Parsed{Warnings: []string{"a Go binary without its Go build ID note: its build information lies in a part of the file that was not kept, and was not read"}}, nil
	case err == nil:
		return &inspect.Parsed{Packages: Packages(bi)}, nil
	case strings.Contains(err.Error(), "not a Go executable"), strings.Contains(err.Error(), "unrecognized file format"):
		return nil, nil
	}
	// A Go binary whose build information cannot be read (corrupt, or one
	// that embeds another): not one we can inventory.
	return &inspect.Parsed{Warnings: []string{"Go build information unreadable: " + err.Error()}}, nil
}

// mayBeGoELF rules out the ELF files that cannot be Go binaries, most of
// an image's executables and libraries: those with section headers but no
// .go.buildinfo section, which every Go linker since 1.13 writes and which
// strip and external linkers keep. For them debug/buildinfo would search
// the whole data segment for its magic, the largest cost of reading a
// distribution's binaries. An ELF file without section headers (or one
// debug/elf cannot read) and any other format are left to buildinfo.
func mayBeGoELF(ra io.ReaderAt) bool {
	var magic [4]byte
	if _, err := ra.ReadAt(magic[:], 0); err != nil || string(magic[:]) != "\x7fELF" {
		return true
	}
	secs, err := elfsect.Sections(ra, elfsect.SizeOf(ra))
	if err != nil && missed(ra) {
		// A sparse file (inspect.Sparse: no Go note) whose section table
		// was not where linkers put it: not a Go linker's output.
		return false
	}
	if err != nil || len(secs) <= 1 { // section 0 is always the null section
		return true
	}
	_, ok := elfsect.Find(secs, ".go.buildinfo")
	return ok
}

// missed says whether ra is a sparse file (inspect.Sparse) that was read
// where nothing was kept.
func missed(ra io.ReaderAt) bool {
	m, ok := ra.(interface{ Missed() bool })
	return ok && m.Missed()
}

// errOldFormat marks build information written before Go 1.18 (pointers
// into the binary rather than inline strings), which a stream cannot follow.
var errOldFormat = errors.New("build information in the pre-Go 1.18 format")

// scan reads a binary as a stream looking for inline build information.
func (c *Cataloger) scan(r io.Reader) (*inspect.Parsed, error) {
	const chunk = 256 << 10
	keep := len(buildInfoMagic) - 1
	bp := c.bufs.Get().(*[]byte)
	defer c.bufs.Put(bp)
	if cap(*bp) < chunk+keep {
		*bp = make([]byte, chunk+keep)
	}
	buf := (*bp)[:chunk+keep]
	held := 0
	for {
		n, err := io.ReadFull(r, buf[held:])
		data := buf[:held+n]
		if i := bytes.Index(data, buildInfoMagic); i >= 0 {
			bi, perr := decodeInline(io.MultiReader(bytes.NewReader(data[i:]), r))
			switch {
			case perr == nil:
				return &inspect.Parsed{Packages: Packages(bi)}, nil
			case errors.Is(perr, errOldFormat):
				return &inspect.Parsed{Warnings: []string{"a Go binary built before Go 1.18 that is not executable or is over 64 MiB: its modules are not listed"}}, nil
			}
			// The magic inside other data, not build information; the stream
			// has moved past it, so this file is done.
			return nil, nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, nil
			}
			return nil, err
		}
		copy(buf, data[len(data)-keep:])
		held = keep
	}
}

// decodeInline reads the 32-byte build-info header and, for the inline
// format, the version and module strings that follow it, as debug/buildinfo
// does.
func decodeInline(r io.Reader) (*debug.BuildInfo, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [32]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, err
	}
	const flagsVersionInl = 0x2
	if hdr[15]&flagsVersionInl == 0 {
		return nil, errOldFormat
	}
	readString := func() (string, error) {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return "", err
		}
		if n > 4<<20 {
			return "", fmt.Errorf("build-info string of %d bytes", n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return "", err
		}
		return string(b), nil
	}
	vers, err := readString()
	if err != nil || !(strings.HasPrefix(vers, "go") || strings.HasPrefix(vers, "devel")) {
		return nil, fmt.Errorf("not Go build information")
	}
	mod, err := readString()
	if err != nil {
		return nil, err
	}
	// The module information is framed by 16-byte sentinels.
	if len(mod) >= 33 && mod[len(mod)-17] == '\n' {
		mod = mod[16 : len(mod)-16]
	} else {
		mod = ""
	}
	bi, err := debug.ParseBuildInfo(mod)
	if err != nil {
		return nil, err
	}
	bi.GoVersion = vers
	return bi, nil
}

// Packages lists what a binary's build information names: the main module,
// every dependency (the replacement when a module was replaced by another
// module version), and the Go standard library at the toolchain's version.
func Packages(bi *debug.BuildInfo) []customs.Package {
	settings := map[string]string{}
	for _, s := range bi.Settings {
		switch s.Key {
		case "CGO_ENABLED", "GOOS", "GOARCH", "GOAMD64", "GOARM", "-trimpath", "-buildmode", "-tags", "vcs", "vcs.revision", "vcs.time", "vcs.modified", "GOEXPERIMENT", "GOFIPS140":
			settings["build."+s.Key] = s.Value
		}
	}
	goVersion := ToolchainVersion(bi.GoVersion)
	var out []customs.Package
	if bi.Main.Path != "" {
		md := map[string]string{"main": "true", "go_version": bi.GoVersion}
		for k, v := range settings {
			md[k] = v
		}
		out = append(out, module(bi.Main.Path, bi.Main.Version, md))
	}
	for _, d := range bi.Deps {
		if d == nil || d.Path == "" {
			continue
		}
		name, version := d.Path, d.Version
		md := map[string]string{}
		if r := d.Replace; r != nil {
			if r.Version != "" {
				// Replaced by another module version: that is the code compiled in.
				md["replaces"] = d.Path + "@" + d.Version
				name, version = r.Path, r.Version
			} else {
				md["replaced_by"] = r.Path // a local directory
				md["confidence"] = "low"
			}
		}
		// Advisories can name the platforms their code exists on.
		for _, k := range []string{"build.GOOS", "build.GOARCH"} {
			if v := settings[k]; v != "" {
				md[k] = v
			}
		}
		out = append(out, module(name, version, md))
	}
	if goVersion != "" {
		md := map[string]string{"go_version": bi.GoVersion}
		for k, v := range settings {
			md[k] = v
		}
		out = append(out, customs.Package{
			Name: "stdlib", Version: goVersion, Type: customs.TypeGo, Ecosystem: "Go",
			PURL: purl.New(customs.TypeGo, "", "stdlib", goVersion, nil), Metadata: md,
		})
	}
	return out
}

// ToolchainVersion turns "go1.20.14" (or "go1.22.1 X:boringcrypto",
// "devel go1.23-abc") into the version OSV's stdlib records use: "1.20.14".
func ToolchainVersion(v string) string {
	v = strings.TrimPrefix(strings.TrimSpace(v), "devel ")
	v, _, _ = strings.Cut(v, " ")
	if !strings.HasPrefix(v, "go1") {
		return ""
	}
	return strings.TrimPrefix(v, "go")
}

func module(p, version string, md map[string]string) customs.Package {
	ns, name := path.Split(p)
	if len(md) == 0 {
		md = nil
	}
	return customs.Package{
		Name: p, Version: version, Type: customs.TypeGo, Ecosystem: "Go",
		PURL: purl.New(customs.TypeGo, strings.TrimSuffix(ns, "/"), name, version, nil), Metadata: md,
	}
}

// ParseGoMod lists a go.mod's requirements (after its replace directives),
// marked low confidence: a source tree declares what a build would use.
func ParseGoMod(p string, b []byte) (*inspect.Parsed, error) {
	// Parse honours replace directives (ParseLax drops them); fall back to
	// the lax parser for files with statements this Go version does not know.
	mf, err := modfile.Parse(p, b, nil)
	if err != nil {
		if mf, err = modfile.ParseLax(p, b, nil); err != nil {
			return nil, err
		}
	}
	repl := map[string]*modfile.Replace{}
	for _, r := range mf.Replace {
		repl[r.Old.Path+"@"+r.Old.Version] = r
		if r.Old.Version == "" {
			repl[r.Old.Path] = r
		}
	}
	out := &inspect.Parsed{}
	for _, req := range mf.Require {
		name, version := req.Mod.Path, req.Mod.Version
		md := map[string]string{"confidence": "low", "source": "go.mod"}
		if req.Indirect {
			md["indirect"] = "true"
		}
		r := repl[name+"@"+version]
		if r == nil {
			r = repl[name]
		}
		if r != nil {
			if r.New.Version == "" {
				md["replaced_by"] = r.New.Path
			} else {
				md["replaces"] = name + "@" + version
				name, version = r.New.Path, r.New.Version
			}
		}
		out.Packages = append(out.Packages, module(name, version, md))
	}
	return out, nil
}

// Collect implements inspect.Cataloger.
func (*Cataloger) Collect(ctx context.Context, env *inspect.Env, results []inspect.Result) ([]customs.Package, []string) {
	return inspect.VisiblePackages(env, results), nil
}
