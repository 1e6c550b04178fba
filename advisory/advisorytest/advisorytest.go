// Package advisorytest generates a synthetic full-size OSV export and an
// inventory to match against it, for the import and match benchmarks.
//
// The real advisory sample kept for offline tests (a few hundred records) is
// far too small to show how import and matching scale, and a real OSV
// all.zip (hundreds of thousands of records) cannot be downloaded by tests.
// So the generator takes the sample's records as templates, keeping what
// makes them costly (details and references text, ecosystem- and
// database-specific blocks, the pattern of range events, listed versions,
// several affected entries) and mutates ids, aliases, package names and
// versions to produce any number of distinct records. Ecosystems are mixed
// in roughly the proportions of OSV's export: distributions (Debian, Ubuntu,
// Alpine) heavy, then npm, PyPI, Go, Maven and the smaller language
// ecosystems. Package names are drawn Zipf-like, so a few packages (linux,
// chromium, stdlib, lodash...) hold thousands of records, as they do in
// reality. Everything is deterministic for a given Config.
//
// When the sample is absent a few shapes written here stand in for it.
package advisorytest

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
)

// Config chooses what to generate.
type Config struct {
	// Records is how many OSV records to generate.
	Records int
	// Seed makes the output reproducible; the same Config gives the same bytes.
	Seed uint64
	// Corpus is a directory of real OSV records used as templates; empty
	// means CorpusDir(), "-" means none (only the built-in shapes).
	Corpus string
}

// CorpusDir finds the real advisory sample: $CUSTOMS_CORPUS/advisories, else
// ../shared/corpus/advisories beside the module root. It returns "" when
// neither exists.
func CorpusDir() string {
	var dirs []string
	if c := os.Getenv("CUSTOMS_CORPUS"); c != "" {
		dirs = append(dirs, filepath.Join(c, "advisories"))
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		// advisory/advisorytest -> module root -> ../shared/corpus
		dirs = append(dirs, filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus", "advisories"))
	}
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return filepath.Clean(d)
		}
	}
	return ""
}

// family is one ecosystem of the export, with its share of the records.
type family struct {
	name     string   // ecosystem (without release)
	weight   float64  // share of records
	releases []string // distribution releases; a record names 1..len of them
	pool     int      // distinct packages with advisories at 300,000 records
	from     []string // template ecosystems, in order of preference
	builtin  string   // built-in shape when no template exists
	distro   bool
}

// families are OSV's export in rough proportions: distributions hold most
// records (Debian and Ubuntu file one per CVE per source package).
var families = []family{
	{name: "Debian", weight: 0.30, releases: []string{"Debian:11", "Debian:12", "Debian:13"}, pool: 6000, from: []string{"Debian"}, builtin: "distro", distro: true},
	{name: "Ubuntu", weight: 0.25, releases: []string{"Ubuntu:20.04:LTS", "Ubuntu:22.04:LTS", "Ubuntu:24.04:LTS", "Ubuntu:24.10"}, pool: 6000, from: []string{"Debian"}, builtin: "distro", distro: true},
	{name: "Alpine", weight: 0.10, releases: []string{"Alpine:v3.18", "Alpine:v3.19", "Alpine:v3.20", "Alpine:v3.21"}, pool: 2000, from: []string{"Alpine"}, builtin: "distro", distro: true},
	{name: "npm", weight: 0.12, pool: 15000, from: []string{"npm"}, builtin: "ghsa"},
	{name: "PyPI", weight: 0.07, pool: 5000, from: []string{"PyPI"}, builtin: "pysec"},
	{name: "Go", weight: 0.04, pool: 2500, from: []string{"Go"}, builtin: "go"},
	{name: "Maven", weight: 0.05, pool: 4000, from: []string{"Maven"}, builtin: "ghsa"},
	{name: "RubyGems", weight: 0.015, pool: 800, from: []string{"npm", "Maven"}, builtin: "ghsa"},
	{name: "crates.io", weight: 0.015, pool: 1500, from: []string{"crates.io"}, builtin: "rustsec"},
	{name: "Packagist", weight: 0.025, pool: 2000, from: []string{"npm", "Maven"}, builtin: "ghsa"},
	{name: "NuGet", weight: 0.015, pool: 800, from: []string{"npm", "Maven"}, builtin: "ghsa"},
}

// heads are the packages that draw the most advisories in each ecosystem,
// first in the Zipf order; the sample's own package names follow them.
var heads = map[string][]string{
	// Debian's holds every one of imageSources, so each has advisories.
	"Debian": {"linux", "chromium", "firefox-esr", "thunderbird", "imagemagick", "openjdk-17", "qemu", "php8.2", "wireshark", "tcpdump",
		"xen", "webkit2gtk", "tiff", "binutils", "mysql-8.0", "postgresql-15", "python3.11", "openssl", "glibc", "curl", "vim", "gpac",
		"ruby3.1", "nodejs", "libxml2", "sqlite3", "systemd", "git", "perl", "zlib", "expat", "bind9", "samba", "krb5", "gnutls28", "tar"},
	"Alpine": {"linux-lts", "chromium", "imagemagick", "openssl", "curl", "busybox", "musl", "libxml2", "sqlite", "git", "expat", "zlib"},
	"npm":    {"lodash", "axios", "minimist", "node-fetch", "jsonwebtoken", "express", "ws", "semver", "tar", "moment", "handlebars", "next"},
	"Go":     {"stdlib", "toolchain", "golang.org/x/net", "golang.org/x/crypto", "github.com/docker/docker", "k8s.io/kubernetes", "github.com/containerd/containerd", "google.golang.org/grpc"},
	"PyPI":   {"tensorflow", "django", "pillow", "jinja2", "requests", "urllib3", "cryptography", "numpy", "pyyaml", "flask"},
	"Maven":  {"com.fasterxml.jackson.core:jackson-databind", "org.apache.logging.log4j:log4j-core", "org.springframework:spring-web", "org.apache.tomcat.embed:tomcat-embed-core", "io.netty:netty-codec-http"},
}

// Generator produces records and inventories for one Config.
type Generator struct {
	cfg       Config
	templates map[string][]template // by template ecosystem
	pools     map[string][]string   // family -> package names, most advised first
	corpus    string                // where templates came from ("" = built-in)
}

// template is one real (or built-in) record and how it was formatted.
type template struct {
	rec    *advisory.Record
	indent bool
}

// New reads the templates and builds the package-name pools.
func New(cfg Config) (*Generator, error) {
	g := &Generator{cfg: cfg, templates: map[string][]template{}, pools: map[string][]string{}}
	dir := cfg.Corpus
	if dir == "" {
		dir = CorpusDir()
	}
	if dir != "" && dir != "-" {
		if err := g.load(dir); err != nil {
			return nil, err
		}
		g.corpus = dir
	}
	g.buildPools()
	return g, nil
}

// Corpus says where the templates came from: a directory, or "" when only
// the built-in shapes were used.
func (g *Generator) Corpus() string { return g.corpus }

func (g *Generator) load(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r, err := advisory.ParseRecord(b)
		if err != nil || len(r.Affected) == 0 || r.Affected[0].Package.Name == "" {
			return nil // tracker files and the like: not OSV record shapes
		}
		eco := advisory.BaseEcosystem(r.Affected[0].Package.Ecosystem)
		g.templates[eco] = append(g.templates[eco], template{rec: r, indent: bytes.HasPrefix(bytes.TrimSpace(b), []byte("{\n"))})
		return nil
	})
}

// buildPools makes each family's package names, sized in proportion to the
// record count so the number of records per package stays realistic.
func (g *Generator) buildPools() {
	scale := float64(g.cfg.Records) / 300000
	for _, f := range families {
		key := f.name
		if key == "Ubuntu" {
			key = "Debian" // Ubuntu's source packages are Debian's
		}
		if _, ok := g.pools[key]; ok {
			continue
		}
		n := max(200, int(float64(f.pool)*scale))
		seen := map[string]bool{}
		var names []string
		add := func(s string) {
			if s != "" && !seen[s] && len(names) < n {
				seen[s] = true
				names = append(names, s)
			}
		}
		for _, s := range heads[key] {
			add(s)
		}
		var sample []string
		for _, t := range g.templates[key] {
			for _, a := range t.rec.Affected {
				sample = append(sample, a.Package.Name)
			}
		}
		sort.Strings(sample)
		for _, s := range sample {
			add(s)
		}
		for i := 0; len(names) < n; i++ {
			add(syntheticName(key, i))
		}
		g.pools[key] = names
	}
}

// syntheticName spells the i-th made-up package the way its ecosystem does.
func syntheticName(eco string, i int) string {
	switch eco {
	case "Debian", "Alpine":
		switch i % 3 {
		case 0:
			return fmt.Sprintf("lib%s%d", word(i), i)
		case 1:
			return fmt.Sprintf("%s%d", word(i), i)
		}
		return fmt.Sprintf("%s-%s%d", word(i), word(i/7), i)
	case "npm":
		if i%4 == 0 {
			return fmt.Sprintf("@%s%d/%s", word(i/5), i/5, word(i))
		}
		return fmt.Sprintf("%s-%s%d", word(i), word(i/3), i)
	case "Go":
		return fmt.Sprintf("github.com/%s%d/%s", word(i/3), i/3, word(i))
	case "PyPI":
		return fmt.Sprintf("py%s-%s%d", word(i), word(i/3), i)
	case "Maven":
		return fmt.Sprintf("org.%s%d.%s:%s-%s", word(i/4), i/4, word(i/2), word(i), word(i/3))
	case "RubyGems":
		return fmt.Sprintf("%s_%s%d", word(i), word(i/3), i)
	case "crates.io":
		return fmt.Sprintf("%s-%s%d", word(i), word(i/5), i)
	case "Packagist":
		return fmt.Sprintf("%s%d/%s", word(i/3), i/3, word(i))
	case "NuGet":
		return fmt.Sprintf("%s%d.%s.%s", strings.ToUpper(word(i / 4)[:1])+word(i / 4)[1:], i/4, word(i), word(i/2))
	}
	return fmt.Sprintf("pkg%d", i)
}

var words = strings.Fields(`acorn bolt cedar delta ember flint grove harbor iris juniper kite lumen maple
	nova onyx pixel quartz raven sable tundra umbra vertex willow xenon yarrow zephyr`)

func word(i int) string { return words[i%len(words)] }

// Stats describes a generated export.
type Stats struct {
	Records    int
	Affected   int            // affected entries over all records
	Ecosystems map[string]int // records per family
	RawBytes   int64          // JSON before zip compression
	ZipBytes   int64
}

// WriteZip writes the export as an OSV all.zip (one <ID>.json per record).
func (g *Generator) WriteZip(path string) (*Stats, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	st, err := g.writeZip(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil {
		st.ZipBytes = fi.Size()
	}
	return st, nil
}

func (g *Generator) writeZip(w io.Writer) (*Stats, error) {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed) // generation is setup, not what is measured
	})
	st := &Stats{Ecosystems: map[string]int{}}
	var buf bytes.Buffer
	err := g.Each(func(fam string, r *advisory.Record, indent bool) error {
		buf.Reset()
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if indent {
			enc.SetIndent("", "  ")
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
		zf, err := zw.CreateHeader(&zip.FileHeader{Name: r.ID + ".json", Method: zip.Deflate, Modified: r.Modified})
		if err != nil {
			return err
		}
		if _, err := zf.Write(buf.Bytes()); err != nil {
			return err
		}
		st.Records++
		st.Affected += len(r.Affected)
		st.Ecosystems[fam]++
		st.RawBytes += int64(buf.Len())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st, zw.Close()
}

// Each generates the records in order, telling fn each one's family and
// whether its template was indented JSON.
func (g *Generator) Each(fn func(family string, r *advisory.Record, indent bool) error) error {
	rng := rand.New(rand.NewPCG(g.cfg.Seed, 0x05f))
	zipf := map[string]*rand.Zipf{}
	for k, names := range g.pools {
		zipf[k] = newZipf(rng, k, len(names))
	}
	var cum []float64
	total := 0.0
	for _, f := range families {
		total += f.weight
		cum = append(cum, total)
	}
	n := g.cfg.Records
	// CVE numbers come from two spaces: distributions' records of the same
	// CVE share it (Debian, Ubuntu and Alpine all file CVE-X), and language
	// advisories share theirs (GHSA, GO-, PYSEC- of one CVE).
	distroCVEs, langCVEs := max(1, n*35/100), max(1, n*30/100)
	used := map[string]bool{}
	for i := 0; i < n; i++ {
		x := rng.Float64() * total
		fi := sort.SearchFloat64s(cum, x)
		if fi >= len(families) {
			fi = len(families) - 1
		}
		f := families[fi]
		poolKey := f.name
		if poolKey == "Ubuntu" {
			poolKey = "Debian"
		}
		var cve int
		if f.distro {
			cve = rng.IntN(distroCVEs)
		} else {
			cve = distroCVEs + rng.IntN(langCVEs)
		}
		t := g.template(rng, f)
		r := g.mutate(rng, f, t.rec, i, cve, used, func() string {
			return g.pools[poolKey][zipf[poolKey].Uint64()]
		})
		if err := fn(f.name, r, t.indent); err != nil {
			return err
		}
	}
	return nil
}

func (g *Generator) template(rng *rand.Rand, f family) template {
	for _, eco := range f.from {
		if ts := g.templates[eco]; len(ts) > 0 {
			return ts[rng.IntN(len(ts))]
		}
	}
	return builtinTemplate(f.builtin)
}

// newZipf draws package indexes for a family: distributions have a very
// heavy head (linux holds thousands of Debian records, about as in the
// tracker), Go and PyPI a few packages with hundreds (stdlib, tensorflow),
// the other language ecosystems a flat one (their most advised packages
// have tens of advisories, not hundreds).
func newZipf(rng *rand.Rand, pool string, n int) *rand.Zipf {
	v := 100.0
	switch pool {
	case "Debian", "Alpine":
		v = 2
	case "Go", "PyPI":
		v = 10
	}
	return rand.NewZipf(rng, 1.1, v, uint64(n-1))
}

// cveID spells CVE number k uniquely.
func cveID(k int) string { return fmt.Sprintf("CVE-%d-%d", 1999+k%27, 1000+k/27) }

const ghsaChars = "23456789cfghjmpqrvwx"

func ghsaID(rng *rand.Rand) string {
	b := []byte("GHSA-xxxx-xxxx-xxxx")
	for i := range b {
		if b[i] == 'x' {
			b[i] = ghsaChars[rng.IntN(len(ghsaChars))]
		}
	}
	return string(b)
}

var vectors = []string{
	"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
	"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
	"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N",
	"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
	"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
	"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:L",
	"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
	"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
	"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N",
}

// mutate turns a template into the i-th record: new id, aliases, packages
// and versions; the template's text, references and specific blocks kept
// (with its ids and package names replaced) so sizes stay real.
func (g *Generator) mutate(rng *rand.Rand, f family, t *advisory.Record, i, cveNum int, used map[string]bool, pick func() string) *advisory.Record {
	cve := cveID(cveNum)
	var id string
	var aliases, upstream []string
	for try := 0; id == "" || used[id]; try++ {
		if try > 0 {
			cve = cveID(cveNum + try*7919)
		}
		switch f.name {
		case "Debian":
			id, upstream = "DEBIAN-"+cve, []string{cve}
		case "Ubuntu":
			id, upstream = "UBUNTU-"+cve, []string{cve}
		case "Alpine":
			id, upstream = "ALPINE-"+cve, []string{cve}
		case "Go":
			id, aliases = fmt.Sprintf("GO-%d-%04d", 2020+i%7, i), []string{cve, ghsaID(rng)}
		case "PyPI":
			if rng.IntN(2) == 0 {
				id, aliases = fmt.Sprintf("PYSEC-%d-%d", 2014+i%12, i), []string{cve, ghsaID(rng)}
			} else {
				id, aliases = ghsaID(rng), []string{cve, fmt.Sprintf("PYSEC-%d-%d", 2014+i%12, i)}
			}
		case "crates.io":
			id = fmt.Sprintf("RUSTSEC-%d-%04d", 2016+i%10, i)
			if rng.IntN(2) == 0 {
				aliases = []string{cve, ghsaID(rng)}
			}
		default:
			id = ghsaID(rng)
			if rng.IntN(10) > 0 {
				aliases = []string{cve}
			}
		}
	}
	used[id] = true

	r := &advisory.Record{
		SchemaVersion: t.SchemaVersion, ID: id, Aliases: aliases, Upstream: upstream, Related: t.Related,
		DatabaseSpecific: t.DatabaseSpecific, Summary: t.Summary, Details: t.Details,
	}
	day := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(11*365)) * 24 * time.Hour)
	pub := day
	r.Published = &pub
	r.Modified = day.Add(time.Duration(rng.IntN(400)) * 24 * time.Hour)
	if rng.IntN(300) == 0 {
		w := r.Modified
		r.Withdrawn = &w
	}

	// Replace the template's ids and first package name in its text.
	oldName := ""
	if len(t.Affected) > 0 {
		oldName = t.Affected[0].Package.Name
	}
	name := pick()
	repl := []string{t.ID, id}
	for _, a := range append(append([]string{}, t.Aliases...), t.Upstream...) {
		if strings.HasPrefix(a, "CVE-") {
			repl = append(repl, a, cve)
		}
	}
	if len(oldName) >= 4 {
		repl = append(repl, oldName, name)
	}
	rp := strings.NewReplacer(repl...)
	r.Summary, r.Details = rp.Replace(r.Summary), rp.Replace(r.Details)
	for _, ref := range t.References {
		r.References = append(r.References, advisory.Reference{Type: ref.Type, URL: rp.Replace(ref.URL)})
	}
	if len(t.Severity) > 0 {
		r.Severity = []advisory.Severity{{Type: t.Severity[0].Type, Score: vectors[rng.IntN(len(vectors))]}}
	} else if f.name == "Ubuntu" || (!f.distro && rng.IntN(3) > 0) {
		r.Severity = []advisory.Severity{{Type: "CVSS_V3", Score: vectors[rng.IntN(len(vectors)-2)]}}
	}

	vf := versionFormat(f.name)
	if f.distro {
		// One entry per release the record covers, same source package.
		shape := t.Affected[0]
		k := 1 + rng.IntN(len(f.releases))
		start := rng.IntN(len(f.releases) - k + 1)
		base := randVersion(rng)
		for _, rel := range f.releases[start : start+k] {
			a := entry(rng, shape, vf, base)
			a.Package = advisory.Package{Ecosystem: rel, Name: name, PURL: distroPURL(f.name, name)}
			// One in eight is unfixed in its release (OSV's flattening of
			// open, no-dsa, postponed); the rest, whatever the template
			// says, are fixed, as most are in a stable release.
			if rng.IntN(8) == 0 {
				a.Ranges = []advisory.Range{{Type: "ECOSYSTEM", Events: []advisory.Event{{Introduced: "0"}}}}
			} else if !hasFix(a.Ranges) {
				a.Ranges = []advisory.Range{{Type: "ECOSYSTEM", Events: []advisory.Event{{Introduced: "0"}, {Fixed: vf(base.next(rng))}}}}
			}
			r.Affected = append(r.Affected, a)
		}
		return r
	}
	for j, shape := range t.Affected {
		if j == 6 {
			break
		}
		n := name
		if j > 0 {
			n = pick()
		}
		a := entry(rng, shape, vf, randVersion(rng))
		a.Package = advisory.Package{Ecosystem: f.name, Name: n}
		if shape.Package.PURL != "" {
			a.Package.PURL = "pkg:" + strings.ToLower(strings.ReplaceAll(f.name, ".", "")) + "/" + n
		}
		if len(a.Severity) > 0 {
			a.Severity = []advisory.Severity{{Type: a.Severity[0].Type, Score: vectors[rng.IntN(len(vectors))]}}
		}
		r.Affected = append(r.Affected, a)
	}
	return r
}

func hasFix(rs []advisory.Range) bool {
	for _, r := range rs {
		for _, e := range r.Events {
			if e.Fixed != "" {
				return true
			}
		}
	}
	return false
}

func distroPURL(fam, name string) string {
	switch fam {
	case "Alpine":
		return "pkg:apk/alpine/" + name + "?arch=source"
	case "Ubuntu":
		return "pkg:deb/ubuntu/" + name + "?arch=source"
	}
	return "pkg:deb/debian/" + name + "?arch=source"
}

// entry regenerates one affected entry from a template entry: the same
// ranges with the same event kinds, the same number of listed versions
// (capped), and the specific blocks as they were.
func entry(rng *rand.Rand, shape advisory.Affected, vf func(version) string, cur version) advisory.Affected {
	a := advisory.Affected{EcosystemSpecific: shape.EcosystemSpecific, DatabaseSpecific: shape.DatabaseSpecific, Severity: shape.Severity}
	for _, rg := range shape.Ranges {
		nr := advisory.Range{Type: rg.Type, Repo: rg.Repo}
		if rg.Type == "GIT" {
			nr.Events = rg.Events // commits: nothing to compare, kept as written
			a.Ranges = append(a.Ranges, nr)
			continue
		}
		for _, e := range rg.Events {
			switch {
			case e.Introduced == "0":
				nr.Events = append(nr.Events, advisory.Event{Introduced: "0"})
			case e.Introduced != "":
				cur = cur.next(rng)
				nr.Events = append(nr.Events, advisory.Event{Introduced: vf(cur)})
			case e.Fixed != "":
				cur = cur.next(rng)
				nr.Events = append(nr.Events, advisory.Event{Fixed: vf(cur)})
			case e.LastAffected != "":
				cur = cur.next(rng)
				nr.Events = append(nr.Events, advisory.Event{LastAffected: vf(cur)})
			case e.Limit != "":
				nr.Events = append(nr.Events, advisory.Event{Limit: e.Limit})
			}
		}
		a.Ranges = append(a.Ranges, nr)
	}
	if n := min(len(shape.Versions), 300); n > 0 {
		v := version{maj: 0, min: 1}
		for range n {
			v = v.step(rng)
			a.Versions = append(a.Versions, vf(v))
		}
	}
	return a
}

// version is a made-up version, spelled per ecosystem by versionFormat.
type version struct{ maj, min, pat, rev int }

func randVersion(rng *rand.Rand) version {
	return version{maj: rng.IntN(6), min: rng.IntN(20), pat: rng.IntN(20), rev: 1 + rng.IntN(4)}
}

// next is a later version: usually a patch or minor release, sometimes a major.
func (v version) next(rng *rand.Rand) version {
	switch x := rng.IntN(10); {
	case x < 5:
		v.pat += 1 + rng.IntN(4)
	case x < 9:
		v.min, v.pat = v.min+1+rng.IntN(3), rng.IntN(3)
	default:
		v.maj, v.min, v.pat = v.maj+1, 0, 0
	}
	v.rev = 1 + rng.IntN(4)
	return v
}

// step is the next listed version in a versions array (small increments).
func (v version) step(rng *rand.Rand) version {
	if rng.IntN(5) == 0 {
		return version{maj: v.maj, min: v.min + 1}
	}
	v.pat++
	return v
}

func versionFormat(fam string) func(version) string {
	switch fam {
	case "Debian":
		return func(v version) string { return fmt.Sprintf("%d.%d.%d-%d", v.maj, v.min, v.pat, v.rev) }
	case "Ubuntu":
		return func(v version) string { return fmt.Sprintf("%d.%d.%d-%dubuntu0.%d", v.maj, v.min, v.pat, v.rev, v.rev) }
	case "Alpine":
		return func(v version) string { return fmt.Sprintf("%d.%d.%d-r%d", v.maj, v.min, v.pat, v.rev) }
	}
	return func(v version) string { return fmt.Sprintf("%d.%d.%d", v.maj, v.min, v.pat) }
}

// builtinTemplate is the shape used for a family when the sample has none.
func builtinTemplate(kind string) template {
	mod := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	refs := []advisory.Reference{
		{Type: "ADVISORY", URL: "https://nvd.nist.gov/vuln/detail/CVE-2024-0001"},
		{Type: "WEB", URL: "https://github.com/example/example/issues/1234"},
		{Type: "PACKAGE", URL: "https://github.com/example/example"},
	}
	details := "A flaw was found in example when parsing crafted input: a length field is trusted before the buffer " +
		"is checked, so a remote attacker able to supply input can cause an out-of-bounds read and crash the process, " +
		"or possibly execute code. Versions before the fixed release are affected; upgrade to the fixed version."
	fixedRange := []advisory.Range{{Type: "ECOSYSTEM", Events: []advisory.Event{{Introduced: "0"}, {Fixed: "1"}}}}
	switch kind {
	case "distro":
		return template{indent: true, rec: &advisory.Record{ID: "DEBIAN-CVE-2024-0001", Modified: mod, Upstream: []string{"CVE-2024-0001"}, Details: details[:160],
			References: refs[:1], Affected: []advisory.Affected{{Package: advisory.Package{Ecosystem: "Debian:12", Name: "example"}, Ranges: fixedRange,
				EcosystemSpecific: json.RawMessage(`{"urgency":"medium"}`)}}}}
	case "go":
		return template{indent: true, rec: &advisory.Record{ID: "GO-2024-0001", Modified: mod, Aliases: []string{"CVE-2024-0001"}, Summary: "Out-of-bounds read in example", Details: details,
			References: refs, Affected: []advisory.Affected{{Package: advisory.Package{Ecosystem: "Go", Name: "example.com/example"},
				Ranges:            []advisory.Range{{Type: "SEMVER", Events: []advisory.Event{{Introduced: "0"}, {Fixed: "1"}, {Introduced: "1"}, {Fixed: "1"}}}},
				EcosystemSpecific: json.RawMessage(`{"imports":[{"path":"example.com/example/parse","symbols":["Parse","Reader.Read"]}]}`)}},
			DatabaseSpecific: json.RawMessage(`{"url":"https://pkg.go.dev/vuln/GO-2024-0001","review_status":"REVIEWED"}`)}}
	case "pysec":
		return template{indent: true, rec: &advisory.Record{ID: "PYSEC-2024-1", Modified: mod, Aliases: []string{"CVE-2024-0001"}, Details: details, References: refs,
			Affected: []advisory.Affected{{Package: advisory.Package{Ecosystem: "PyPI", Name: "example", PURL: "pkg:pypi/example"}, Ranges: fixedRange, Versions: make([]string, 60)}}}}
	case "rustsec":
		return template{indent: false, rec: &advisory.Record{ID: "RUSTSEC-2024-0001", Modified: mod, Summary: "Out-of-bounds read", Details: details, References: refs,
			Affected: []advisory.Affected{{Package: advisory.Package{Ecosystem: "crates.io", Name: "example", PURL: "pkg:cargo/example"},
				Ranges: []advisory.Range{{Type: "SEMVER", Events: []advisory.Event{{Introduced: "0"}, {Fixed: "1"}}}}}}}}
	}
	return template{indent: false, rec: &advisory.Record{ID: "GHSA-2222-3333-4444", Modified: mod, Aliases: []string{"CVE-2024-0001"}, Summary: "Out-of-bounds read in example",
		Details: details, References: refs, Severity: []advisory.Severity{{Type: "CVSS_V3", Score: vectors[0]}},
		Affected:         []advisory.Affected{{Package: advisory.Package{Ecosystem: "npm", Name: "example"}, Ranges: fixedRange}},
		DatabaseSpecific: json.RawMessage(`{"cwe_ids":["CWE-125"],"severity":"HIGH","github_reviewed":true}`)}}
}

// imageSources are Debian source packages a large development image
// usually holds (linux through linux-libc-dev), all with many advisories.
var imageSources = []string{"linux", "glibc", "openssl", "curl", "systemd", "perl", "zlib", "expat", "libxml2", "sqlite3",
	"krb5", "gnutls28", "tar", "git", "python3.11", "binutils", "vim", "imagemagick", "tiff", "nodejs", "ruby3.1", "postgresql-15"}

// invShare is an inventory's mix of package types: a large image with an
// application stack on a Debian base.
var invShare = []struct {
	typ, eco, fam string
	share         float64
}{
	{customs.TypeDeb, "Debian:12", "Debian", 0.12},
	{customs.TypeNPM, "npm", "npm", 0.45},
	{customs.TypeGo, "Go", "Go", 0.15},
	{customs.TypePyPI, "PyPI", "PyPI", 0.12},
	{customs.TypeMaven, "Maven", "Maven", 0.08},
	{customs.TypeGem, "RubyGems", "RubyGems", 0.03},
	{customs.TypeCargo, "crates.io", "crates.io", 0.025},
	{customs.TypeComposer, "Packagist", "Packagist", 0.015},
	{customs.TypeNuGet, "NuGet", "NuGet", 0.01},
}

// Inventory makes an inventory of n packages to match against the export:
// Debian binary packages with their source package and version, npm, Go
// modules (and the Go standard library of each binary), PyPI, Maven and the
// rest. About half the packages have advisories (popular ones more often,
// drawn with the same Zipf weights as the records, each package about once);
// their versions are mostly past the generated fixes, some before or inside
// the ranges, so matching does real version comparisons and finds about as
// many vulnerabilities as a large image has.
func (g *Generator) Inventory(n int) *customs.Inventory {
	rng := rand.New(rand.NewPCG(g.cfg.Seed, 0x1a7))
	inv := &customs.Inventory{Schema: customs.InventorySchema, Distro: &customs.Distro{ID: "debian", VersionID: "12", Codename: "bookworm"}}
	layer := customs.LayerRef{Index: 0}
	for si, s := range invShare {
		want := int(float64(n) * s.share)
		if si == len(invShare)-1 {
			want = n - len(inv.Packages)
		}
		pool := g.pools[s.fam]
		zipf := newZipf(rng, s.fam, len(pool))
		taken := map[string]bool{}
		withAdvisories := 5 // in 10
		if s.typ == customs.TypeDeb {
			withAdvisories = 7 // most of a distribution's source packages have had some
		}
		name := func(j int) string {
			if rng.IntN(10) >= withAdvisories {
				return syntheticName(s.fam, 1_000_000+j) // no advisories
			}
			if s.typ == customs.TypeDeb {
				// A system's source packages: the base and build set most
				// images carry, then any others (not Zipf: the most advised
				// distribution packages are desktop software servers lack).
				for _, n := range imageSources {
					if !taken[n] {
						taken[n] = true
						return n
					}
				}
				for range 20 {
					if n := pool[rng.IntN(len(pool))]; !taken[n] {
						taken[n] = true
						return n
					}
				}
			}
			if rng.IntN(20) == 0 {
				return pool[zipf.Uint64()] // one more copy of a package, at another version
			}
			// Popular packages are both more advised and more installed,
			// but an image holds each about once.
			for range 20 {
				if n := pool[zipf.Uint64()]; !taken[n] {
					taken[n] = true
					return n
				}
			}
			return pool[rng.IntN(len(pool))]
		}
		vf := versionFormat(s.fam)
		for j := 0; j < want; {
			p := customs.Package{Type: s.typ, Ecosystem: s.eco, Layer: layer}
			// Most installed versions are past the fixes of the advisories
			// naming the package, as in an image built recently; one in
			// five is an old pinned one, inside many ranges.
			iv := randVersion(rng)
			if rng.IntN(5) > 0 {
				iv.maj += 5 + rng.IntN(3)
			}
			v := vf(iv)
			switch s.typ {
			case customs.TypeDeb:
				src := name(j)
				bins := []string{src, "lib" + src + "1", src + "-common"}[:1+rng.IntN(3)]
				if src == "linux" {
					bins = []string{"linux-libc-dev"}
				}
				for _, b := range bins {
					if j >= want {
						break
					}
					q := p
					q.Name, q.Version, q.Source, q.SourceVersion = b, v, src, v
					if rng.IntN(20) == 0 {
						q.Version = v + "+b1" // binNMU: the binary's version differs from the source's
					}
					q.PURL = "pkg:deb/debian/" + b + "@" + q.Version
					q.Locations = []string{"/var/lib/dpkg/status"}
					inv.Packages = append(inv.Packages, q)
					j++
				}
				continue
			case customs.TypeGo:
				if j%50 == 0 {
					p.Name, p.Version = "stdlib", v // the toolchain of each binary
				} else {
					p.Name, p.Version = name(j), "v"+v
				}
				p.Locations = []string{fmt.Sprintf("/usr/local/bin/app%d", j/50)}
			default:
				p.Name, p.Version = name(j), v
				p.Locations = []string{fmt.Sprintf("/app/%s/%d", s.typ, j)}
			}
			p.PURL = "pkg:" + p.Type + "/" + p.Name + "@" + p.Version
			inv.Packages = append(inv.Packages, p)
			j++
		}
	}
	return inv
}
