package dpkg_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/package-url/packageurl-go"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect/dpkg"
	"github.com/customs-sec/customs/internal/catalogertest"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/pipeline"
)

// dpkgQuery lists installed packages of a root filesystem with dpkg-query
// itself: name, version, arch, source, source version.
func dpkgQuery(t *testing.T, rootfs string) map[string]string {
	t.Helper()
	testimage.Require(t, "dpkg-query")
	out, err := exec.Command("dpkg-query", "--admindir="+filepath.Join(rootfs, "var/lib/dpkg"), "-W",
		"-f=${db:Status-Abbrev}|${Package}|${Version}|${Architecture}|${source:Package}|${source:Version}\n").Output()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "|")
		if strings.TrimSpace(f[0]) != "ii" {
			continue
		}
		m[f[1]] = strings.Join(f[1:], "|")
	}
	return m
}

func ours(p customs.Package) string {
	return strings.Join([]string{p.Name, p.Version, p.Arch, p.Source, p.SourceVersion}, "|")
}

func TestCorpusImagesMatchDpkgQuery(t *testing.T) {
	layout := testimage.Layout(t)
	base := dpkgQuery(t, testimage.Unpack(t, "debian-base"))
	for _, ref := range []string{"debian-base", "debian-app"} {
		t.Run(ref, func(t *testing.T) {
			rootfs := testimage.Unpack(t, ref)
			truth := dpkgQuery(t, rootfs)
			inv, err := pipeline.Inventory(context.Background(), "oci:"+layout+":"+ref, pipeline.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]customs.Package{}
			for _, p := range inv.Packages {
				if p.Type == customs.TypeDeb {
					got[p.Name] = p
				}
			}
			if len(got) != len(truth) {
				t.Errorf("%d packages, dpkg-query lists %d", len(got), len(truth))
			}
			for name, want := range truth {
				p, ok := got[name]
				if !ok {
					t.Errorf("missing %s", want)
					continue
				}
				if ours(p) != want {
					t.Errorf("got  %s\nwant %s", ours(p), want)
				}
				u, err := packageurl.FromString(p.PURL)
				if err != nil || u.Type != "deb" || u.Namespace != "debian" || u.Name != name || u.Version != p.Version ||
					u.Qualifiers.Map()["arch"] != p.Arch || u.Qualifiers.Map()["distro"] != "debian-12" {
					t.Errorf("purl %s (%v)", p.PURL, err)
				}
				if p.Ecosystem != "Debian:12" {
					t.Errorf("%s: ecosystem %q", name, p.Ecosystem)
				}
				// The layer that introduced it: packages debian-base lacks
				// came with debian-app's last layer.
				wantLayer := 0
				if _, inBase := base[name]; !inBase {
					wantLayer = len(inv.Image.Layers) - 1
				}
				if p.Layer.Index != wantLayer || p.Layer.DiffID != inv.Image.Layers[wantLayer].DiffID {
					t.Errorf("%s attributed to layer %d (%s), want %d", name, p.Layer.Index, p.Layer.DiffID, wantLayer)
				}
			}
			// Installed files, against dpkg-query -L, for a few packages.
			for _, name := range []string{"bash", "libc6", "dpkg"} {
				out, err := exec.Command("dpkg-query", "--admindir="+filepath.Join(rootfs, "var/lib/dpkg"), "-L", name).Output()
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
					if f != "/." { // dpkg -L names the root as "/."; it is not a file the package installed
						want = append(want, f)
					}
				}
				gotFiles := got[name].Files
				if strings.Join(gotFiles, " ") != strings.Join(want, " ") {
					t.Errorf("%s: %d files, dpkg-query -L lists %d", name, len(gotFiles), len(want))
				}
			}
			// Licenses: the License: fields of machine-readable copyright files.
			for _, name := range []string{"bash", "dpkg", "tar"} {
				b, err := os.ReadFile(filepath.Join(rootfs, "usr/share/doc", name, "copyright"))
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				seen := map[string]bool{}
				if bytes.HasPrefix(b, []byte("Format:")) {
					for _, l := range strings.Split(string(b), "\n") {
						if v, ok := strings.CutPrefix(l, "License:"); ok && !seen[strings.TrimSpace(v)] {
							seen[strings.TrimSpace(v)] = true
							want = append(want, strings.TrimSpace(v))
						}
					}
				}
				if fmt.Sprint(got[name].Licenses) != fmt.Sprint(want) {
					t.Errorf("%s licenses %v, copyright file says %v", name, got[name].Licenses, want)
				}
			}
		})
	}
}

// TestDistrolessStatusD splits the corpus's real status file into one file
// per package, as distroless images do, and expects the same packages.
func TestDistrolessStatusD(t *testing.T) {
	rootfs := testimage.Unpack(t, "debian-base")
	status, err := os.ReadFile(filepath.Join(rootfs, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	var files []testimage.File
	for _, stanza := range strings.Split(strings.TrimSpace(string(status)), "\n\n") {
		name := strings.TrimPrefix(strings.SplitN(stanza, "\n", 2)[0], "Package: ")
		files = append(files, testimage.File{Name: "var/lib/dpkg/status.d/" + name, Body: stanza + "\n"},
			testimage.File{Name: "var/lib/dpkg/status.d/" + name + ".md5sums", Body: "d41d8cd98f00b204e9800998ecf8427e  usr/bin/x\n"})
	}
	files = append(files, testimage.File{Name: "etc/os-release", Body: "ID=debian\nVERSION_ID=\"12\"\n"})
	inv := catalogertest.Inventory(t, nil, testimage.LayerTar(t, files))
	truth := dpkgQuery(t, rootfs)
	if len(inv.Packages) != len(truth) {
		t.Fatalf("%d packages from status.d, want %d", len(inv.Packages), len(truth))
	}
	for _, p := range inv.Packages {
		if truth[p.Name] != ours(p) {
			t.Errorf("got %s want %s", ours(p), truth[p.Name])
		}
		if len(p.Locations) != 1 || p.Locations[0] != "/var/lib/dpkg/status.d/"+p.Name {
			t.Errorf("%s location %v", p.Name, p.Locations)
		}
	}
}

func TestHostileStatus(t *testing.T) {
	huge := strings.Repeat("A", 100<<20)
	in := "garbage line without a colon\n\x00\x01\x02\n" +
		"Package: ok\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\nDescription: " + huge + "\n continuation\n\n" +
		"Package: removed\nStatus: deinstall ok config-files\nVersion: 2.0\n\n" +
		"Package: noversion\nStatus: install ok installed\n\n" +
		"Package: bad name!\nVersion: 1\nStatus: install ok installed\n\n" +
		"Package: src\nStatus: install ok installed\nVersion: 3:1.2-1+b1\nSource: upstream (1.2-1)\n\n" +
		"Package: trunc\nStatus: install ok installed\nVersion: 9"
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	out, err := dpkg.ParseStatus(strings.NewReader(in))
	runtime.ReadMemStats(&ms1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range out.Packages {
		got = append(got, ours(p))
	}
	sort.Strings(got)
	want := []string{"ok|1.0|amd64|ok|1.0", "src|3:1.2-1+b1||upstream|1.2-1", "trunc|9||trunc|9"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	w := strings.Join(out.Warnings, "; ")
	if !strings.Contains(w, "cut") || !strings.Contains(w, "not fields") {
		t.Errorf("warnings %q", w)
	}
	// The 100 MB field must not be held: total allocation stays well under it
	// beyond the input string itself.
	if grew := ms1.TotalAlloc - ms0.TotalAlloc; grew > 16<<20 {
		t.Errorf("parsing allocated %d MiB", grew>>20)
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add("Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\nSource: bash (5.2.15-2)\n\n")
	f.Add("Package: a\nVersion: 1\n\nPackage: b\nVersion: 2\nSource: c\n")
	f.Add(":\n\n\n : x\nPackage:\n")
	f.Fuzz(func(t *testing.T, in string) {
		out, err := dpkg.ParseStatus(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, p := range out.Packages {
			if p.Name == "" || p.Version == "" || p.Type != customs.TypeDeb {
				t.Fatalf("bad package %+v", p)
			}
		}
	})
}
