// Package java catalogs Java archives (jar, war, ear and Jenkins' jpi/hpi
// plugins): the Maven artifacts each one holds, read from the
// META-INF/maven/**/pom.properties files Maven writes (several in one jar
// are shaded dependencies, each its own package), else from the manifest,
// else guessed from the file name; and the same for every archive nested
// inside (Spring Boot's BOOT-INF/lib, a war's WEB-INF/lib, an ear's modules).
//
// Archives come from images anyone can build, so every cost is bounded: the
// nesting depth, the entries read per archive and per file, the bytes
// inflated per file (zip bombs), the size of each small file read, and the
// memory nested archives may hold. Each bound hit is a warning that names the
// archive.
package java

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/flate"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/purl"
)

// Sizes of the small files read from an archive.
const (
	maxPomProperties = 64 << 10
	maxPomXML        = 1 << 20
	maxManifest      = 1 << 20
	// maxKept bounds the entries of interest (pom.properties, pom.xml,
	// nested archives) remembered per archive.
	maxKept     = 1 << 16
	maxWarnings = 32
)

// Limits bound what one archive file, with everything nested in it, may
// cost. Zero fields take the defaults.
type Limits struct {
	// MaxDepth is how many levels of nested archives are read (16).
	MaxDepth int
	// MaxEntries is how many central directory entries are read per archive (1<<20).
	MaxEntries int
	// MaxTotalEntries is how many entries are read per file, all levels together (4<<20).
	MaxTotalEntries int
	// MaxBytes is how many uncompressed bytes are read per file, all levels together (1 GiB).
	MaxBytes int64
	// MaxInMemory is the largest archive (a file, or a compressed nested
	// archive) held in memory; larger ones go to a temporary file (64 MiB).
	MaxInMemory int64
	// MaxHeld bounds the nested archives held in memory at once (128 MiB).
	MaxHeld int64
	// MaxOnDisk is the largest archive copied to a temporary file (2 GiB).
	MaxOnDisk int64
	// MaxPackages is how many packages one file may yield (100000).
	MaxPackages int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&l.MaxDepth, 16)
	defInt(&l.MaxEntries, 1<<20)
	defInt(&l.MaxTotalEntries, 4<<20)
	def(&l.MaxBytes, 1<<30)
	def(&l.MaxInMemory, 64<<20)
	def(&l.MaxHeld, 128<<20)
	def(&l.MaxOnDisk, 2<<30)
	defInt(&l.MaxPackages, 100000)
	return l
}

// Cataloger reads Java archives. The zero value uses the default limits.
type Cataloger struct {
	Limits Limits
}

// Name implements inspect.Cataloger.
func (Cataloger) Name() string { return "java" }

// Wants implements inspect.Cataloger: *.jar, *.war, *.ear, *.jpi and *.hpi,
// in any case.
func (Cataloger) Wants(p string, e *image.Entry) bool {
	if e.Kind != image.KindFile && e.Kind != image.KindHardlink {
		return false
	}
	return isArchiveName(p)
}

func isArchiveName(p string) bool {
	if len(p) < 4 || p[len(p)-4] != '.' {
		return false
	}
	ext := p[len(p)-3:]
	for _, x := range []string{"jar", "war", "ear", "jpi", "hpi"} {
		if strings.EqualFold(ext, x) {
			return true
		}
	}
	return false
}

// errTooLarge marks a file over MaxOnDisk.
var errTooLarge = errors.New("archive too large")

// Parse implements inspect.Cataloger. A zip needs random access: the file
// is read into memory, or into a temporary file when large.
func (c Cataloger) Parse(ctx context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	lim := c.Limits.withDefaults()
	loc := "/" + f.Path
	hint := int64(-1)
	if f.Entry != nil {
		hint = f.Entry.Size
	}
	ra, size, done, err := load(r, hint, lim, f.TempDir)
	if errors.Is(err, errTooLarge) {
		return &inspect.Parsed{Warnings: []string{fmt.Sprintf("larger than %d bytes; not read", lim.MaxOnDisk)}}, nil
	}
	if err != nil {
		return nil, err
	}
	defer done()
	out := c.ParseArchive(ctx, ra, size, loc, f.TempDir)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The walk already names the file in front of each warning.
	for i, w := range out.Warnings {
		out.Warnings[i] = strings.TrimPrefix(w, loc+": ")
	}
	// Collect needs the path the locations were written with, to rewrite
	// them for hard links to this file.
	out.Values = []string{f.Path}
	return out, nil
}

// load gives random access to a file's content: in memory up to
// MaxInMemory, else in a temporary file up to MaxOnDisk. done releases it.
func load(r io.Reader, hint int64, lim Limits, dir string) (ra io.ReaderAt, size int64, done func(), err error) {
	var head []byte
	if hint <= lim.MaxInMemory {
		c := hint
		if c < 0 {
			c = 0
		}
		buf := bytes.NewBuffer(make([]byte, 0, c+bytes.MinRead))
		if _, err := buf.ReadFrom(io.LimitReader(r, lim.MaxInMemory+1)); err != nil {
			return nil, 0, nil, fmt.Errorf("reading archive: %w", err)
		}
		if int64(buf.Len()) <= lim.MaxInMemory {
			return bytes.NewReader(buf.Bytes()), int64(buf.Len()), func() {}, nil
		}
		head = buf.Bytes()
	}
	tmp, err := os.CreateTemp(dir, "java-archive-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("temporary copy of archive: %w", err)
	}
	done = func() { tmp.Close(); os.Remove(tmp.Name()) }
	if _, err := tmp.Write(head); err != nil {
		done()
		return nil, 0, nil, fmt.Errorf("temporary copy of archive: %w", err)
	}
	n, err := io.Copy(tmp, io.LimitReader(r, lim.MaxOnDisk+1-int64(len(head))))
	if err != nil {
		done()
		return nil, 0, nil, fmt.Errorf("temporary copy of archive: %w", err)
	}
	size = n + int64(len(head))
	if size > lim.MaxOnDisk {
		done()
		return nil, 0, nil, errTooLarge
	}
	return tmp, size, done, nil
}

// ParseArchive reads one Java archive of size bytes, found at location
// ("/app/app.jar"), and the archives nested in it. tempDir receives nested
// archives too large for memory ("" for the system's temporary directory).
// Problems are warnings in the result, never a failure: one corrupt nested
// jar must not hide the rest.
func (c Cataloger) ParseArchive(ctx context.Context, ra io.ReaderAt, size int64, location, tempDir string) *inspect.Parsed {
	s := &scan{ctx: ctx, lim: c.Limits.withDefaults(), tempDir: tempDir, seen: map[string]bool{}}
	s.budget = s.lim.MaxBytes
	s.archive(ra, size, location, 0)
	out := &inspect.Parsed{Packages: s.pkgs, Warnings: s.warnings}
	if s.dropped > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%s: %d more warnings not shown", location, s.dropped))
	}
	return out
}

// Collect implements inspect.Cataloger: the packages of archives that
// survive in the final filesystem, with locations under the path each
// result has (a hard link repeats its target's result under its own path).
func (Cataloger) Collect(ctx context.Context, env *inspect.Env, results []inspect.Result) ([]customs.Package, []string) {
	var out []customs.Package
	for _, r := range results {
		if !r.Visible || r.Parsed == nil {
			continue
		}
		here := "/" + r.Path
		read := here
		if len(r.Parsed.Values) > 0 {
			read = "/" + r.Parsed.Values[0]
		}
		for _, p := range r.Parsed.Packages {
			p.Layer = env.LayerRef(r.Layer)
			locs := make([]string, len(p.Locations))
			for i, l := range p.Locations {
				if rest, ok := strings.CutPrefix(l, read); ok {
					l = here + rest
				}
				locs[i] = l
			}
			if len(locs) == 0 {
				locs = []string{here}
			}
			p.Locations = locs
			out = append(out, p)
		}
	}
	return out, nil
}

// scan is the state of reading one file and everything nested in it.
type scan struct {
	ctx     context.Context
	lim     Limits
	tempDir string
	budget  int64 // uncompressed bytes still allowed
	held    int64 // bytes of nested archives now held in memory
	entries int   // central directory entries read, all levels
	// stopped is set once a per-file bound is hit: nothing more is read.
	stopped  bool
	pkgs     []customs.Package
	seen     map[string]bool
	warnings []string
	dropped  int
	inflater io.ReadCloser
}

func (s *scan) warn(format string, args ...any) {
	if len(s.warnings) >= maxWarnings {
		s.dropped++
		return
	}
	s.warnings = append(s.warnings, fmt.Sprintf(format, args...))
}

// stop records a per-file bound and ends the scan.
func (s *scan) stop(format string, args ...any) {
	if !s.stopped {
		s.stopped = true
		s.warn(format, args...)
	}
}

func (s *scan) done() bool { return s.stopped || s.ctx.Err() != nil }

func (s *scan) add(p customs.Package) {
	k := p.Name + "|" + p.Version + "|" + p.Locations[0]
	if s.seen[k] {
		return
	}
	if len(s.pkgs) >= s.lim.MaxPackages {
		s.stop("%s: more than %d packages in one file; the rest not read", p.Locations[0], s.lim.MaxPackages)
		return
	}
	s.seen[k] = true
	s.pkgs = append(s.pkgs, p)
}

// kept are the entries of one archive worth reading.
type kept struct {
	manifest *zipEntry
	poms     []zipEntry
	pomXML   map[string]zipEntry // by directory
	nested   []zipEntry
	skipped  int // nested archives over maxKept
}

// archive reads one archive at loc, depth levels down from the file.
func (s *scan) archive(ra io.ReaderAt, size int64, loc string, depth int) {
	if s.done() {
		return
	}
	z, err := openZip(ra, size)
	if err != nil {
		s.warn("%s: %v", loc, err)
		return
	}
	if z.cdSize > s.budget {
		s.stop("%s: central directory of %d bytes exceeds what is left of the %d bytes read per file; not read", loc, z.cdSize, s.lim.MaxBytes)
		return
	}
	s.budget -= z.cdSize
	k := kept{pomXML: map[string]zipEntry{}}
	n := 0
	err = z.walk(func(e *zipEntry) error {
		n++
		s.entries++
		if n > s.lim.MaxEntries {
			s.warn("%s: more than %d entries; the rest not read", loc, s.lim.MaxEntries)
			return errStop
		}
		if s.entries > s.lim.MaxTotalEntries {
			s.stop("%s: more than %d archive entries in one file; the rest not read", loc, s.lim.MaxTotalEntries)
			return errStop
		}
		if n%4096 == 0 && s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		k.keep(e)
		return nil
	})
	if err != nil {
		if s.ctx.Err() != nil {
			return
		}
		// Read what the directory gave before it broke.
		s.warn("%s: %v", loc, err)
	}
	s.identify(z, &k, loc)
	if k.skipped > 0 {
		s.warn("%s: more than %d nested archives; %d not read", loc, maxKept, k.skipped)
	}
	if len(k.nested) == 0 {
		return
	}
	if depth+1 > s.lim.MaxDepth {
		s.warn("%s: %d nested archives more than %d levels deep; not read", loc, len(k.nested), s.lim.MaxDepth)
		return
	}
	for i := range k.nested {
		if s.done() {
			return
		}
		s.nested(z, &k.nested[i], loc, depth+1)
	}
}

func (k *kept) keep(e *zipEntry) {
	name := e.name
	switch {
	case strings.HasSuffix(name, "/"):
	case strings.EqualFold(name, "META-INF/MANIFEST.MF"):
		if k.manifest == nil {
			c := *e
			k.manifest = &c
		}
	case strings.HasPrefix(name, "META-INF/maven/"):
		switch path.Base(name) {
		case "pom.properties":
			if len(k.poms) < maxKept {
				k.poms = append(k.poms, *e)
			}
		case "pom.xml":
			if len(k.pomXML) < maxKept {
				k.pomXML[path.Dir(name)] = *e
			}
		}
	case isArchiveName(name):
		if len(k.nested) < maxKept {
			k.nested = append(k.nested, *e)
		} else {
			k.skipped++
		}
	}
}

// identify adds the packages one archive declares: its pom.properties,
// else its manifest, else its file name.
func (s *scan) identify(z *zipReader, k *kept, loc string) {
	var found []customs.Package
	for i := range k.poms {
		if s.done() {
			return
		}
		e := &k.poms[i]
		b, ok := s.readSmall(z, e, maxPomProperties, loc, false)
		if !ok {
			continue
		}
		props := parseProperties(b)
		g, a, v := props["groupId"], props["artifactId"], props["version"]
		// META-INF/maven/<groupId>/<artifactId>/pom.properties names them too.
		if parts := strings.Split(e.name, "/"); len(parts) == 5 {
			if g == "" {
				g = parts[2]
			}
			if a == "" {
				a = parts[3]
			}
		}
		if !isIdentifier(g) || !isIdentifier(a) || !isVersion(v) {
			s.warn("%s: %q has no usable groupId, artifactId and version", loc, e.name)
			continue
		}
		p := newPackage(g, a, v, loc)
		if x, ok := k.pomXML[path.Dir(e.name)]; ok {
			if b, ok := s.readSmall(z, &x, maxPomXML, loc, false); ok {
				p.Licenses = pomLicenses(b)
			}
		}
		found = append(found, p)
	}
	var attrs map[string]string
	if k.manifest != nil && !s.done() {
		if b, ok := s.readSmall(z, k.manifest, maxManifest, loc, true); ok {
			var ended bool
			attrs, ended = manifestMain(b)
			if !ended && len(b) >= maxManifest {
				s.warn("%s: manifest main section longer than %d bytes; read in part", loc, maxManifest)
			}
		}
	}
	file := path.Base(loc)
	licenses := bundleLicenses(attrs["bundle-license"])
	if len(found) == 0 {
		if g, a, v, exact := identityFromManifest(attrs); a != "" {
			p := newPackage(g, a, v, loc)
			switch {
			case exact:
			case g != "":
				p.Metadata = map[string]string{"confidence": "medium"}
			default:
				p.Metadata = map[string]string{"confidence": "low"}
			}
			found = append(found, p)
		} else if a, v, ok := identityFromFileName(file); ok {
			p := newPackage("", a, v, loc)
			p.Metadata = map[string]string{"confidence": "low"}
			found = append(found, p)
		}
	}
	// The manifest speaks for the archive itself: of several (shaded)
	// artifacts, the one the file is named after.
	if i := mainPackage(found, file); i >= 0 && len(found[i].Licenses) == 0 {
		found[i].Licenses = licenses
	}
	for _, p := range found {
		s.add(p)
	}
}

func mainPackage(found []customs.Package, file string) int {
	if len(found) == 1 {
		return 0
	}
	a, _, ok := identityFromFileName(file)
	stem := strings.TrimSuffix(file, path.Ext(file))
	for i, p := range found {
		_, art, _ := strings.Cut(p.Name, ":")
		if (ok && art == a) || art == stem {
			return i
		}
	}
	return -1
}

func newPackage(group, artifact, version, loc string) customs.Package {
	name := artifact
	if group != "" {
		name = group + ":" + artifact
	}
	return customs.Package{
		Name: name, Version: version, Type: customs.TypeMaven,
		Ecosystem: customs.LanguageEcosystem(customs.TypeMaven),
		PURL:      purl.New(customs.TypeMaven, group, artifact, version, nil),
		Locations: []string{loc},
	}
}

// nested reads an archive inside an archive.
func (s *scan) nested(z *zipReader, e *zipEntry, parent string, depth int) {
	loc := parent + "!/" + cleanName(e.name)
	if e.flags&flagEncrypted != 0 {
		s.warn("%s: encrypted; not read", loc)
		return
	}
	start, n, err := z.data(e)
	if err != nil {
		s.warn("%s: %v", loc, err)
		return
	}
	switch e.method {
	case methodStore:
		// Read in place: Spring Boot stores nested jars for this reason.
		s.archive(io.NewSectionReader(z.ra, start, n), n, loc, depth)
		return
	case methodDeflate:
	default:
		s.warn("%s: compression method %d not supported; not read", loc, e.method)
		return
	}
	if e.usize > uint64(s.lim.MaxOnDisk) {
		s.warn("%s: declares %d bytes, more than the %d read; not read", loc, e.usize, s.lim.MaxOnDisk)
		return
	}
	src := s.inflate(io.NewSectionReader(z.ra, start, n))
	declared := int64(e.usize)
	if declared <= s.lim.MaxInMemory && s.held+declared <= s.lim.MaxHeld {
		// Room for one byte past the declared size, plus the MinRead
		// bytes.Buffer wants free, so the buffer never grows.
		buf := bytes.NewBuffer(make([]byte, 0, declared+1+bytes.MinRead))
		got, over, err := s.take(src, declared, buf)
		switch {
		case err != nil:
			s.warn("%s: %v", loc, err)
			return
		case over && !s.stopped:
			s.warn("%s: inflates past its declared %d bytes; not read", loc, declared)
			return
		case over:
			return
		}
		// Count what was allocated, not what arrived: a member may declare
		// more than it holds.
		s.held += int64(buf.Cap())
		s.archive(bytes.NewReader(buf.Bytes()), got, loc, depth)
		s.held -= int64(buf.Cap())
		return
	}
	tmp, err := os.CreateTemp(s.tempDir, "java-nested-*")
	if err != nil {
		s.warn("%s: temporary copy: %v", loc, err)
		return
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	got, over, err := s.take(src, s.lim.MaxOnDisk, tmp)
	switch {
	case err != nil:
		s.warn("%s: %v", loc, err)
		return
	case over && !s.stopped:
		s.warn("%s: inflates to more than %d bytes; not read", loc, s.lim.MaxOnDisk)
		return
	case over:
		return
	}
	s.archive(tmp, got, loc, depth)
}

// readSmall reads a small member (pom.properties, pom.xml, the manifest)
// of at most max bytes. With partial, a longer member is cut to max bytes
// instead of skipped.
func (s *scan) readSmall(z *zipReader, e *zipEntry, max int64, loc string, partial bool) ([]byte, bool) {
	if e.flags&flagEncrypted != 0 {
		return nil, false
	}
	if !partial && e.usize > uint64(max) {
		s.warn("%s: %q declares %d bytes, more than the %d read; skipped", loc, e.name, e.usize, max)
		return nil, false
	}
	start, n, err := z.data(e)
	if err != nil {
		s.warn("%s: %v", loc, err)
		return nil, false
	}
	var src io.Reader = io.NewSectionReader(z.ra, start, n)
	switch e.method {
	case methodStore:
	case methodDeflate:
		src = s.inflate(src)
	default:
		s.warn("%s: %q uses compression method %d; skipped", loc, e.name, e.method)
		return nil, false
	}
	var buf bytes.Buffer
	_, over, err := s.take(src, max, &buf)
	switch {
	case err != nil:
		s.warn("%s: %q: %v", loc, e.name, err)
		return nil, false
	case over && s.stopped:
		return nil, false
	case over && !partial:
		s.warn("%s: %q inflates to more than %d bytes; skipped", loc, e.name, max)
		return nil, false
	}
	b := buf.Bytes()
	if int64(len(b)) > max {
		b = b[:max]
	}
	return b, true
}

// take copies at most max bytes of r to w, counting them against the
// per-file budget; over says r had more (or the budget ran out, which also
// stops the scan).
func (s *scan) take(r io.Reader, max int64, w io.Writer) (n int64, over bool, err error) {
	limit, byBudget := max, false
	if s.budget < limit {
		limit, byBudget = s.budget, true
	}
	n, err = io.Copy(w, io.LimitReader(r, limit+1))
	if err != nil {
		return 0, false, err
	}
	if n > limit {
		s.budget -= limit
		if byBudget {
			s.stop("read %d uncompressed bytes, the most allowed per file; the rest not read", s.lim.MaxBytes)
		}
		return limit, true, nil
	}
	s.budget -= n
	return n, false, nil
}

// inflate decompresses a deflated member, reusing one decompressor per
// file: members are read one at a time, each to its end before the next.
func (s *scan) inflate(r io.Reader) io.Reader {
	if s.inflater != nil {
		if rs, ok := s.inflater.(flate.Resetter); ok && rs.Reset(r, nil) == nil {
			return s.inflater
		}
	}
	s.inflater = flate.NewReader(r)
	return s.inflater
}

// cleanName makes an entry name safe to show in a location: valid UTF-8,
// no control characters, no "!" (the nesting separator), no leading "/" or
// "..". Nothing is ever extracted, so this is only about display.
func cleanName(n string) string {
	n = strings.ToValidUTF8(n, "\uFFFD")
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, n)
	n = strings.ReplaceAll(n, "!", "%21")
	return strings.TrimPrefix(path.Clean("/"+n), "/")
}
