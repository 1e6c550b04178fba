package ruby_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/ruby"
	"github.com/customs-sec/customs/internal/catalogertest"
	"github.com/customs-sec/customs/internal/testimage"
)

func inventory(t *testing.T, layers ...[]testimage.File) *customs.Inventory {
	t.Helper()
	return catalogertest.Files(t, []inspect.Cataloger{ruby.Cataloger{}}, layers...)
}

// systemGemspecs are the gem specifications of this machine's Ruby
// (Debian's ruby package): its gem directory with the default gems, and
// Debian's rubygems-integration directories.
func systemGemspecs(t *testing.T) []string {
	var files []string
	for _, g := range []string{
		"/usr/lib/ruby/gems/*/specifications/*.gemspec",
		"/usr/lib/ruby/gems/*/specifications/default/*.gemspec",
		"/usr/share/rubygems-integration/*/specifications/*.gemspec",
		"/usr/lib/*/rubygems-integration/*/specifications/*.gemspec",
		"/var/lib/gems/*/specifications/*.gemspec",
	} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	return files
}

// rubyLoad is the truth: RubyGems itself loading each specification (name,
// version, platform, licenses), one tab-separated line per file.
const rubyLoad = `ARGV.each { |f| s = Gem::Specification.load(f); puts [f, s.name, s.version, s.platform, s.licenses.join(",")].join("\t") if s }`

// TestGemspecsMatchRubyGems builds an image from this machine's real
// installed gem specifications and compares each gem found with what
// Gem::Specification.load makes of the same file, and the set of gems with
// what Gem::Specification.each (gem list --local) lists.
func TestGemspecsMatchRubyGems(t *testing.T) {
	rb := testimage.Require(t, "ruby")
	files := systemGemspecs(t)
	if len(files) == 0 {
		if os.Getenv("CUSTOMS_REQUIRE_TRUTH_TOOLS") == "1" {
			t.Fatal("ruby is installed but no gem specifications were found")
		}
		t.Skip("no installed gem specifications")
	}
	out, err := exec.Command(rb, append([]string{"-e", rubyLoad}, files...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(l, "\t", 2)
		want[f[0]] = f[1]
	}
	var layer []testimage.File
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		layer = append(layer, testimage.File{Name: strings.TrimPrefix(f, "/"), Body: string(b)})
	}
	inv := inventory(t, layer)
	got := map[string]string{}
	unique := map[string]bool{}
	for _, p := range inv.Packages {
		platform := p.Metadata["platform"]
		if platform == "" {
			platform = "ruby"
		}
		got[p.Locations[0]] = strings.Join([]string{p.Name, p.Version, platform, strings.Join(p.Licenses, ",")}, "\t")
		unique[p.Name+" "+p.Version] = true
		if p.Ecosystem != "RubyGems" || p.PURL != "pkg:gem/"+p.Name+"@"+p.Version {
			t.Errorf("%s: ecosystem %q purl %q", p.Name, p.Ecosystem, p.PURL)
		}
		if strings.Contains(p.Locations[0], "/specifications/default/") != (p.Metadata["default_gem"] == "true") {
			t.Errorf("%s: default_gem %q", p.Locations[0], p.Metadata["default_gem"])
		}
	}
	for f, w := range want {
		if got[f] != w {
			t.Errorf("%s:\n got  %q\n want %q", f, got[f], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d gems found, RubyGems loads %d", len(got), len(want))
	}
	// The same set as RubyGems' own listing of the installed gems.
	out, err = exec.Command(rb, "-e", `Gem::Specification.each { |s| puts "#{s.name} #{s.version}" }`).Output()
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		listed[l] = true
	}
	for k := range listed {
		if !unique[k] {
			t.Errorf("gem list has %s; not found", k)
		}
	}
	for k := range unique {
		if !listed[k] {
			t.Errorf("found %s; gem list does not have it", k)
		}
	}
	t.Logf("compared %d gemspec files (%d distinct gems) with RubyGems", len(want), len(listed))
}

func TestWants(t *testing.T) {
	file := &image.Entry{Kind: image.KindFile}
	for p, want := range map[string]bool{
		"usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec":            true,
		"usr/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec":     true,
		"usr/local/bundle/specifications/rails-7.0.4.gemspec":                   true,
		"usr/share/rubygems-integration/all/specifications/rake-13.0.6.gemspec": true,
		"specifications/x-1.gemspec":                                            true,
		"app/Gemfile.lock":                                                      true,
		"app/gems.locked":                                                       true,
		"usr/local/bundle/gems/rails-7.0.4/Gemfile.lock":                        false,
		"usr/lib/ruby/gems/3.1.0/gems/rbs-2.7.0/steep/Gemfile.lock":             false,
		"srv/gems/app/Gemfile.lock":                                             true,
		"usr/local/bundle/gems/rails-7.0.4/rails.gemspec":                       false,
		"usr/lib/ruby/gems/3.1.0/specifications/sub/x.gemspec":                  false,
		"usr/lib/ruby/gems/3.1.0/myspecifications/x.gemspec":                    false,
		"usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec.bak":        false,
		"usr/local/bundle/bundler/gems/rails-abc123/Gemfile.lock":               false,
	} {
		if got := (ruby.Cataloger{}).Wants(p, file); got != want {
			t.Errorf("Wants(%s) = %v", p, got)
		}
	}
}

// nokogiriSpec is a generated specification of a platform gem, in the form
// RubyGems 3 writes (compare /usr/lib/ruby/gems/3.1.0/specifications/*.gemspec).
const nokogiriSpec = `# -*- encoding: utf-8 -*-
# stub: nokogiri 1.15.4 x86_64-linux lib

Gem::Specification.new do |s|
  s.name = "nokogiri".freeze
  s.version = "1.15.4"
  s.platform = "x86_64-linux".freeze

  s.required_rubygems_version = Gem::Requirement.new(">= 0".freeze) if s.respond_to? :required_rubygems_version=
  s.metadata = { "name" => "not-this", "changelog_uri" => "https://nokogiri.org/CHANGELOG.html" } if s.respond_to? :metadata=
  s.require_paths = ["lib".freeze]
  s.description = "s.name = \"fake\" inside a string".freeze
  s.licenses = ["MIT".freeze, "Caf\u00E9".freeze]
  s.rubygems_version = "3.4.10".freeze
end
`

// oldSpec is the form RubyGems 1.x wrote (%q{} strings, no stub line).
const oldSpec = `Gem::Specification.new do |s|
  s.name = %q{rack}
  s.version = "1.1.0"
  s.required_rubygems_version = Gem::Requirement.new(">= 0") if s.respond_to? :required_rubygems_version=
  s.licenses = ['MIT']
end
`

func TestParseGemspec(t *testing.T) {
	p, _, err := ruby.ParseGemspec(strings.NewReader(nokogiriSpec))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "nokogiri" || p.Version != "1.15.4" || p.Metadata["platform"] != "x86_64-linux" ||
		p.PURL != "pkg:gem/nokogiri@1.15.4?platform=x86_64-linux" || strings.Join(p.Licenses, ",") != "MIT,Café" {
		t.Errorf("%+v", p)
	}
	p, _, err = ruby.ParseGemspec(strings.NewReader(oldSpec))
	if err != nil || p.Name != "rack" || p.Version != "1.1.0" || strings.Join(p.Licenses, ",") != "MIT" || p.Metadata != nil {
		t.Errorf("%+v %v", p, err)
	}
	for _, bad := range []string{"", "s.name = \"x\"\n", "s.name = \"x y\"\ns.version = \"1\"\n", "s.name = \"x\"\ns.version = \"a.b\"\n"} {
		if _, _, err := ruby.ParseGemspec(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// gemfileLock has the shape of github.com/rails/rails Gemfile.lock (GIT
// sections with revision and branch, a PATH section, a GEM section with
// dependencies one level deeper and gems locked for several platforms),
// plus the CHECKSUMS section Bundler 2.5 adds.
const gemfileLock = `GIT
  remote: https://github.com/rails/webpacker.git
  revision: 6a2d4a7d8b9b3c1e0f5e2f0a1b3c4d5e6f7a8b9c
  branch: master
  specs:
    webpacker (6.0.0.rc.6)
      activesupport (>= 5.2)

PATH
  remote: .
  specs:
    myapp (0.1.0)
      rack (~> 2.2)

GEM
  remote: https://rubygems.org/
  specs:
    actionpack (7.0.4.3)
      rack (~> 2.0, >= 2.2.0)
    activesupport (7.0.4.3)
      concurrent-ruby (~> 1.0, >= 1.0.2)
    concurrent-ruby (1.2.2)
    nokogiri (1.15.4-aarch64-linux)
      racc (~> 1.4)
    nokogiri (1.15.4-x86_64-linux)
      racc (~> 1.4)
    rack (2.2.7)
    racc (1.7.1)
    sqlite3 (1.6.3-x86_64-linux)

PLATFORMS
  aarch64-linux
  x86_64-linux

DEPENDENCIES
  actionpack (~> 7.0)
  myapp!
  webpacker!

CHECKSUMS
  rack (2.2.7) sha256=8f1f3e5c8e5b9c0c0d3f0a7d0a2c0b6e0f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c

BUNDLED WITH
   2.4.10
`

func TestParseGemfileLock(t *testing.T) {
	ps, warns := ruby.ParseGemfileLock([]byte(gemfileLock))
	if len(warns) > 0 {
		t.Error(warns)
	}
	var got []string
	for _, p := range ps {
		s := fmt.Sprintf("%s@%s %s", p.Name, p.Version, p.PURL)
		if p.Metadata["source"] != "" {
			s += " source=" + p.Metadata["source"]
		}
		if p.Ecosystem == "" {
			s += " (no ecosystem)"
		}
		got = append(got, s)
	}
	sort.Strings(got)
	want := []string{
		"actionpack@7.0.4.3 pkg:gem/actionpack@7.0.4.3",
		"activesupport@7.0.4.3 pkg:gem/activesupport@7.0.4.3",
		"concurrent-ruby@1.2.2 pkg:gem/concurrent-ruby@1.2.2",
		"myapp@0.1.0 pkg:gem/myapp@0.1.0 source=path+. (no ecosystem)",
		"nokogiri@1.15.4 pkg:gem/nokogiri@1.15.4",
		"racc@1.7.1 pkg:gem/racc@1.7.1",
		"rack@2.2.7 pkg:gem/rack@2.2.7",
		"sqlite3@1.6.3 pkg:gem/sqlite3@1.6.3?platform=x86_64-linux",
		"webpacker@6.0.0.rc.6 pkg:gem/webpacker@6.0.0.rc.6 source=git+https://github.com/rails/webpacker.git@6a2d4a7d8b9b3c1e0f5e2f0a1b3c4d5e6f7a8b9c (no ecosystem)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPipeline: an installed gem, a default gem, a Gemfile.lock, a
// gem's own Gemfile.lock (not the image's), and a gem a later layer removed.
func TestPipeline(t *testing.T) {
	spec := func(name, version string) string {
		return "# stub: " + name + " " + version + " ruby lib\n\nGem::Specification.new do |s|\n  s.name = \"" + name +
			"\".freeze\n  s.version = \"" + version + "\"\n  s.licenses = [\"MIT\".freeze]\nend\n"
	}
	inv := inventory(t,
		[]testimage.File{
			{Name: "usr/local/bundle/specifications/rack-2.2.7.gemspec", Body: spec("rack", "2.2.7")},
			{Name: "usr/local/bundle/specifications/old-1.0.gemspec", Body: spec("old", "1.0")},
			{Name: "usr/local/lib/ruby/gems/3.2.0/specifications/default/json-2.6.3.gemspec", Body: spec("json", "2.6.3")},
			{Name: "usr/local/bundle/gems/rack-2.2.7/Gemfile.lock", Body: gemfileLock},
			{Name: "app/Gemfile.lock", Body: "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (2.2.7)\n"},
		},
		[]testimage.File{{Name: "usr/local/bundle/specifications/.wh.old-1.0.gemspec"}},
	)
	var got []string
	for _, p := range inv.Packages {
		got = append(got, fmt.Sprintf("%s@%s %s %v %v", p.Name, p.Version, p.Locations[0], p.Licenses, p.Metadata))
	}
	want := []string{
		"json@2.6.3 /usr/local/lib/ruby/gems/3.2.0/specifications/default/json-2.6.3.gemspec [MIT] map[default_gem:true]",
		"rack@2.2.7 /app/Gemfile.lock [] map[]",
		"rack@2.2.7 /usr/local/bundle/specifications/rack-2.2.7.gemspec [MIT] map[]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOversizedLockIsSkippedWithWarning(t *testing.T) {
	f := &inspect.File{Path: "app/Gemfile.lock", Entry: &image.Entry{Kind: image.KindFile}}
	big := strings.NewReader(strings.Repeat("#", 64<<20+10))
	out, err := (ruby.Cataloger{}).Parse(context.Background(), f, big)
	if err != nil || len(out.Packages) != 0 || len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "Gemfile.lock over 64 MiB") {
		t.Fatalf("%+v %v", out, err)
	}
	if big.Len() < 8 {
		t.Error("read the whole file")
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{nokogiriSpec, oldSpec, gemfileLock,
		"# stub: a 1 ruby lib\n", "GEM\n  specs:\n    a (1-x)\n    b (2)!\n", "s.licenses = [\"\\u{1F600}\", \"\\u12\", 'a\\'b']\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		check := func(ps []customs.Package) {
			for _, p := range ps {
				if p.Name == "" || p.Version == "" || p.Type != customs.TypeGem || strings.ContainsAny(p.Name+p.Version, " ()\n") {
					t.Fatalf("bad package %+v", p)
				}
			}
		}
		if p, _, err := ruby.ParseGemspec(strings.NewReader(in)); err == nil {
			check([]customs.Package{p})
		}
		ps, _ := ruby.ParseGemfileLock([]byte(in))
		check(ps)
	})
}

// bundlerLoad is the truth for Gemfile.lock: Bundler's own LockfileParser,
// one "file<TAB>name version source platform" line per locked spec (a gem
// locked for several platforms gives several lines).
const bundlerLoad = `ARGV.each { |f|
  Bundler::LockfileParser.new(File.read(f)).specs.each { |s|
    src = case s.source
          when Bundler::Source::Git then "git"
          when Bundler::Source::Path then "path"
          else "" end
    puts [f, [s.name, s.version, src, s.platform].join(" ")].join("\t")
  }
}`

// TestGemfileLocksMatchBundler compares the fixture and every real
// Gemfile.lock on this machine (Ruby's bundled gems and Go module caches
// hold several) with Bundler's reading. Specs of one gem and version locked
// for several platforms are one package without a platform; a gem locked
// for one platform other than "ruby" keeps it.
func TestGemfileLocksMatchBundler(t *testing.T) {
	rb := testimage.Require(t, "ruby")
	dir := t.TempDir()
	fixture := filepath.Join(dir, "Gemfile.lock")
	if err := os.WriteFile(fixture, []byte(gemfileLock), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Gemfile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	files := []string{fixture}
	for _, g := range []string{"/usr/lib/ruby/gems/*/gems/*/Gemfile.lock", "/usr/lib/ruby/gems/*/gems/*/*/Gemfile.lock", "/root/go/pkg/mod/*/*/*/Gemfile.lock", "/root/go/pkg/mod/*/*/*/*/Gemfile.lock", "/root/go/pkg/mod/*/*/*/*/*/Gemfile.lock"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	cmd := exec.Command(rb, append([]string{"-rbundler", "-e", bundlerLoad}, files...)...)
	cmd.Env = append(os.Environ(), "BUNDLE_GEMFILE="+filepath.Join(dir, "Gemfile"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bundler: %v", err)
	}
	platforms := map[string]map[string]bool{} // file, name, version, source -> platforms
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f, spec, _ := strings.Cut(l, "\t")
		fs := strings.Fields(spec)
		if len(fs) == 3 { // no source kind
			fs = []string{fs[0], fs[1], "", fs[2]}
		}
		k := f + "\t" + fs[0] + " " + fs[1] + " " + fs[2]
		if platforms[k] == nil {
			platforms[k] = map[string]bool{}
		}
		platforms[k][fs[3]] = true
	}
	var want []string
	for k, ps := range platforms {
		platform := ""
		if len(ps) == 1 {
			for p := range ps {
				if p != "ruby" {
					platform = p
				}
			}
		}
		want = append(want, strings.TrimRight(k+" "+platform, " "))
	}
	sort.Strings(want)
	var got []string
	var gotPlatforms [][2]string // line, platform as the file spells it
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ps, warns := ruby.ParseGemfileLock(b)
		if len(warns) > 0 {
			t.Errorf("%s: %v", f, warns)
		}
		for _, p := range ps {
			src, _, _ := strings.Cut(p.Metadata["source"], "+")
			gotPlatforms = append(gotPlatforms, [2]string{f + "\t" + p.Name + " " + p.Version + " " + src, p.Metadata["platform"]})
		}
	}
	// customs reports a platform as the file spells it; Bundler reports
	// RubyGems' canonical form (older RubyGems spell x86_64-linux-gnu as
	// x86_64-linux). Canonicalize ours with the same RubyGems to compare.
	canon := map[string]string{}
	var plats []string
	for _, gp := range gotPlatforms {
		if gp[1] != "" && canon[gp[1]] == "" {
			canon[gp[1]] = gp[1]
			plats = append(plats, gp[1])
		}
	}
	if len(plats) > 0 {
		out, err := exec.Command(rb, append([]string{"-e", "ARGV.each { |p| puts Gem::Platform.new(p).to_s }"}, plats...)...).Output()
		if err != nil {
			t.Fatalf("ruby Gem::Platform: %v", err)
		}
		for i, c := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if i < len(plats) {
				canon[plats[i]] = c
			}
		}
	}
	for _, gp := range gotPlatforms {
		got = append(got, strings.TrimRight(gp[0]+" "+canon[gp[1]], " "))
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant (Bundler)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	t.Logf("%d locked gems in %d Gemfile.lock files compared with Bundler", len(want), len(files))
}
