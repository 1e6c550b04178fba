package catalogers_test

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/package-url/packageurl-go"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/catalogers"
	"github.com/customs-sec/customs/internal/testimage"
)

// The conformance suite every package cataloger passes, whatever its
// ecosystem (as go-containerregistry's validate does for images): what it
// reports from a real image is there on disk as an independent unpacker
// (umoci) leaves it, every package is named the way matching and SBOMs need,
// and hostile bytes under any path it wants end in an error or a warning,
// never a panic.

// checkPackage asserts what every package from every cataloger must hold.
func checkPackage(t *testing.T, c inspect.Cataloger, p customs.Package, layers int) {
	t.Helper()
	where := c.Name() + ": " + p.Name + "@" + p.Version + " (" + strings.Join(p.Locations, ", ") + ")"
	if p.Name == "" || p.Version == "" || p.Type == "" {
		t.Errorf("%s: name, version and type must all be set: %+v", where, p)
	}
	if p.FoundBy != c.Name() {
		t.Errorf("%s: found_by %q, want the cataloger's name", where, p.FoundBy)
	}
	u, err := packageurl.FromString(p.PURL)
	if err != nil {
		t.Errorf("%s: purl %q does not parse: %v", where, p.PURL, err)
	} else {
		if u.Type != p.Type {
			t.Errorf("%s: purl type %q, package type %q", where, u.Type, p.Type)
		}
		if u.Version == "" {
			t.Errorf("%s: purl %q has no version", where, p.PURL)
		}
	}
	if len(p.Locations) == 0 {
		t.Errorf("%s: no location", where)
	}
	if layers > 0 && (p.Layer.Index < 0 || p.Layer.Index >= layers || p.Layer.DiffID == "") {
		t.Errorf("%s: layer %+v is not one of the image's %d layers", where, p.Layer, layers)
	}
	if !slices.ContainsFunc(catalogers.OS(), func(o inspect.Cataloger) bool { return o.Name() == c.Name() }) && p.Ecosystem == "" {
		t.Errorf("%s: no OSV ecosystem: matching could not look it up", where)
	}
}

// fileOf is the file a location names: a jar inside a jar is written
// outer.jar!/inner.jar, a path inside an archive outer!/entry.
func fileOf(loc string) string {
	if i := strings.Index(loc, "!"); i >= 0 {
		loc = loc[:i]
	}
	return strings.TrimPrefix(loc, "/")
}

func TestConformanceOnCorpusImages(t *testing.T) {
	layout := testimage.Layout(t)
	for _, ref := range []string{"debian-base", "debian-app", "scratch-go"} {
		rootfs := testimage.Unpack(t, ref)
		img, err := image.Open(context.Background(), "oci:"+layout+":"+ref, image.Options{})
		if err != nil {
			t.Fatal(err)
		}
		nlayers := len(img.Layers)
		img.Close()
		total := 0
		for _, c := range catalogers.Packages() {
			t.Run(ref+"/"+c.Name(), func(t *testing.T) {
				img, err := image.Open(context.Background(), "oci:"+layout+":"+ref, image.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer img.Close()
				// The distro detector comes along so OS catalogers can name the distro.
				cs := []inspect.Cataloger{c}
				if _, ok := c.(inspect.DistroDetector); !ok {
					cs = append([]inspect.Cataloger{catalogers.OS()[0]}, c)
				}
				inv, err := (&inspect.Inspector{Catalogers: cs}).Inspect(context.Background(), img)
				if err != nil {
					t.Fatal(err)
				}
				seen := map[string]bool{}
				total += len(inv.Packages)
				for _, p := range inv.Packages {
					checkPackage(t, c, p, nlayers)
					if seen[p.Key()] {
						t.Errorf("%s reported twice", p.Key())
					}
					seen[p.Key()] = true
					for _, loc := range p.Locations {
						if _, err := os.Lstat(filepath.Join(rootfs, fileOf(loc))); err != nil {
							t.Errorf("%s@%s: location %s is not in the unpacked image: %v", p.Name, p.Version, loc, err)
						}
					}
				}
			})
		}
		if total == 0 {
			t.Errorf("%s: no cataloger found any package", ref)
		}
	}
}

// wellKnown are paths some cataloger wants; each cataloger is fed hostile
// bytes under every one it says yes to.
var wellKnown = []string{
	"var/lib/dpkg/status", "var/lib/dpkg/status.d/base", "var/lib/dpkg/info/bash.list", "usr/share/doc/bash/copyright",
	"lib/apk/db/installed", "var/lib/rpm/Packages", "var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/Packages.db",
	"etc/os-release", "usr/lib/os-release", "etc/debian_version", "etc/alpine-release",
	"usr/local/bin/app", "app/server", "src/go.mod", "src/go.sum",
	"app/package-lock.json", "app/yarn.lock", "app/pnpm-lock.yaml", "app/node_modules/left-pad/package.json",
	"usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", "usr/lib/python3.11/site-packages/x.egg-info/PKG-INFO",
	"app/requirements.txt", "app/poetry.lock", "app/Pipfile.lock", "app/uv.lock",
	"app/app.jar", "app/app.war", "opt/jenkins/plugins/x.hpi", "app/x.ear",
	"usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec", "app/Gemfile.lock",
	"app/Cargo.lock", "usr/local/bin/rustapp", "app/composer.lock", "app/vendor/composer/installed.json",
	"app/app.deps.json", "app/packages.lock.json",
}

// hostile are bodies no parser should take badly.
func hostile() map[string][]byte {
	r := rand.New(rand.NewSource(7))
	noise := make([]byte, 64<<10)
	r.Read(noise)
	elf := append([]byte("\x7fELF\x02\x01\x01\x00"), noise[:4096]...)
	zipHead := append([]byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), noise[:4096]...)
	return map[string][]byte{
		"empty":         nil,
		"noise":         noise,
		"nul":           make([]byte, 1<<20),
		"elf":           elf,
		"zip":           zipHead,
		"json-open":     bytes.Repeat([]byte(`{"packages":{"":{"version":[`), 2000),
		"long-line":     bytes.Repeat([]byte("Package: a"), 1<<20),
		"control-stubs": []byte("Package:\nVersion:\n\nPackage: x\nStatus: install ok installed\nVersion: \n\n"),
	}
}

func TestConformanceHostileBytes(t *testing.T) {
	bodies := hostile()
	for _, c := range catalogers.Packages() {
		t.Run(c.Name(), func(t *testing.T) {
			wanted := 0
			var results []inspect.Result
			for _, path := range wellKnown {
				for name, body := range bodies {
					e := &image.Entry{Path: path, Kind: image.KindFile, Mode: 0o755, Size: int64(len(body))}
					if !c.Wants(path, e) {
						continue
					}
					if hf, ok := c.(inspect.HeaderFilter); ok && !hf.WantsHeader(path, body[:min(len(body), inspect.HeaderSize)]) {
						continue
					}
					wanted++
					f := &inspect.File{Path: path, Entry: e, TempDir: t.TempDir()}
					parsed, err := c.Parse(context.Background(), f, bytes.NewReader(body))
					if err != nil || parsed == nil {
						continue
					}
					for _, p := range parsed.Packages {
						if p.Name == "" {
							t.Errorf("%s as %s: a package with no name: %+v", path, name, p)
						}
					}
					results = append(results, inspect.Result{Cataloger: c.Name(), Path: path, Kind: image.KindFile, Size: e.Size, Parsed: parsed, Visible: true})
				}
			}
			if wanted == 0 {
				t.Fatalf("%s wants none of the well-known paths: add its files to the list", c.Name())
			}
			env := &inspect.Env{Layers: []customs.Layer{{DiffID: "sha256:" + strings.Repeat("0", 64)}}}
			pkgs, _ := c.Collect(context.Background(), env, results)
			for _, p := range pkgs {
				if p.Name == "" || p.Type == "" {
					t.Errorf("collected a package with no name or type from hostile bytes: %+v", p)
				}
			}
		})
	}
}

func TestConformanceNothingInNothingOut(t *testing.T) {
	for _, c := range catalogers.Packages() {
		if pkgs, _ := c.Collect(context.Background(), &inspect.Env{}, nil); len(pkgs) != 0 {
			t.Errorf("%s: %d packages from no files", c.Name(), len(pkgs))
		}
		for _, p := range []string{"", "/", "..", "../../etc/passwd", strings.Repeat("a/", 5000) + "package.json"} {
			c.Wants(p, &image.Entry{Path: p, Kind: image.KindFile})
		}
	}
}
