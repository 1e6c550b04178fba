package npm_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/npm"
	"github.com/customs-sec/customs/internal/catalogertest"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/pipeline"
)

// npmLS is the truth: what npm itself says is installed in a project.
func npmLS(t *testing.T, dir string) []string {
	t.Helper()
	testimage.Require(t, "npm")
	cmd := exec.Command("npm", "ls", "--all", "--json")
	cmd.Dir = dir
	out, _ := cmd.Output() // npm ls exits 1 on peer-dependency problems but still prints the tree
	var tree struct {
		Dependencies map[string]json.RawMessage `json:"dependencies"`
	}
	if err := json.Unmarshal(out, &tree); err != nil {
		t.Fatalf("npm ls: %v", err)
	}
	seen := map[string]bool{}
	var walk func(map[string]json.RawMessage)
	walk = func(deps map[string]json.RawMessage) {
		for name, raw := range deps {
			var d struct {
				Version      string                     `json:"version"`
				Dependencies map[string]json.RawMessage `json:"dependencies"`
			}
			json.Unmarshal(raw, &d)
			seen[name+" "+d.Version] = true
			walk(d.Dependencies)
		}
	}
	walk(tree.Dependencies)
	var lines []string
	for k := range seen {
		lines = append(lines, k)
	}
	sort.Strings(lines)
	return lines
}

func TestCorpusAppMatchesNpmLs(t *testing.T) {
	rootfs := testimage.Unpack(t, "debian-app")
	want := npmLS(t, filepath.Join(rootfs, "app"))
	inv, err := pipeline.Inventory(context.Background(), "oci:"+testimage.Layout(t)+":debian-app", pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range inv.Packages {
		if p.Type != customs.TypeNPM {
			continue
		}
		got = append(got, p.Name+" "+p.Version)
		if p.Layer.Index != 2 || !strings.HasPrefix(p.Locations[0], "/app/node_modules/") || p.Ecosystem != "npm" {
			t.Errorf("%s: layer %d locations %v", p.Name, p.Layer.Index, p.Locations)
		}
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%d packages, npm ls lists %d", len(got), len(want))
	}
	// The lock file agrees with what is installed (v3 lock, parsed alone).
	b, err := os.ReadFile(filepath.Join(rootfs, "app", "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	locked, err := npm.ParsePackageLock(b)
	if err != nil {
		t.Fatal(err)
	}
	lockSet := map[string]bool{}
	for _, p := range locked {
		lockSet[p.Name+" "+p.Version] = true
	}
	for _, w := range want {
		if !lockSet[w] {
			t.Errorf("lock file lacks installed %s", w)
		}
	}
}

func inventory(t *testing.T, files ...testimage.File) map[string]customs.Package {
	t.Helper()
	inv := catalogertest.Inventory(t, []inspect.Cataloger{npm.Cataloger{}}, testimage.LayerTar(t, files))
	out := map[string]customs.Package{}
	for _, p := range inv.Packages {
		out[p.Name+"@"+p.Version] = p
	}
	return out
}

const lockV3 = `{"name":"app","lockfileVersion":3,"packages":{
 "":{"name":"app","version":"1.0.0"},
 "node_modules/lodash":{"version":"4.17.15","license":"MIT"},
 "node_modules/jest":{"version":"29.0.0","dev":true},
 "node_modules/left-pad":{"version":"1.3.0"},
 "node_modules/ws":{"version":"8.0.0"},
 "node_modules/a/node_modules/ws":{"version":"7.4.0","dev":true},
 "node_modules/local":{"resolved":"../local","link":true}}}`

func TestInstalledWinsAndLockMarksDev(t *testing.T) {
	pj := func(name, version string) testimage.File {
		return testimage.File{Name: "srv/node_modules/" + name + "/package.json", Body: `{"name":"` + strings.TrimPrefix(name, "a/node_modules/") + `","version":"` + version + `","license":"MIT"}`}
	}
	got := inventory(t,
		testimage.File{Name: "srv/package-lock.json", Body: lockV3},
		pj("lodash", "4.17.15"), pj("jest", "29.0.0"), pj("ws", "8.0.0"), pj("a/node_modules/ws", "7.4.0"),
		testimage.File{Name: "srv/node_modules/lodash/fp/package.json", Body: `{"name":"not-a-package","version":"1"}`},
		testimage.File{Name: "srv/package.json", Body: `{"name":"app","version":"1.0.0"}`},
	)
	for _, want := range []string{"lodash@4.17.15", "jest@29.0.0", "ws@8.0.0", "ws@7.4.0"} {
		if _, ok := got[want]; !ok {
			t.Errorf("missing %s; have %v", want, keys(got))
		}
	}
	if _, ok := got["left-pad@1.3.0"]; ok {
		t.Error("left-pad is only in the lock file, not on disk, yet reported")
	}
	if len(got) != 4 {
		t.Errorf("packages %v", keys(got))
	}
	if got["jest@29.0.0"].Metadata["dev"] != "true" || got["ws@7.4.0"].Metadata["dev"] != "true" || got["lodash@4.17.15"].Metadata["dev"] == "true" {
		t.Errorf("dev marks: jest %v ws7 %v lodash %v", got["jest@29.0.0"].Metadata, got["ws@7.4.0"].Metadata, got["lodash@4.17.15"].Metadata)
	}
	if got["lodash@4.17.15"].Licenses[0] != "MIT" || got["lodash@4.17.15"].PURL != "pkg:npm/lodash@4.17.15" {
		t.Errorf("lodash %+v", got["lodash@4.17.15"])
	}
}

func TestLockFilesAlone(t *testing.T) {
	v1 := `{"name":"x","lockfileVersion":1,"dependencies":{"minimist":{"version":"1.2.0"},"tap":{"version":"15.0.0","dev":true,"dependencies":{"minimist":{"version":"1.2.5","dev":true}}},"gh":{"version":"github:user/repo#abc"}}}`
	yarn1 := "# yarn lockfile v1\n\n\n\"@babel/core@^7.0.0\", \"@babel/core@^7.1.0\":\n  version \"7.12.3\"\n  resolved \"https://registry.yarnpkg.com/@babel/core/-/core-7.12.3.tgz\"\n\nlodash@^4.17.15:\n  version \"4.17.21\"\n  dependencies:\n    foo \"^1.0.0\"\n"
	berry := "__metadata:\n  version: 6\n  cacheKey: 8\n\n\"lodash@npm:^4.17.15\":\n  version: 4.17.21\n  resolution: \"lodash@npm:4.17.21\"\n\n\"@types/node@npm:*, @types/node@npm:^18\":\n  version: 18.11.9\n  resolution: \"@types/node@npm:18.11.9\"\n\n\"app@workspace:.\":\n  version: 0.0.0-use.local\n  resolution: \"app@workspace:.\"\n"
	pnpm6 := "lockfileVersion: '6.0'\npackages:\n  /lodash@4.17.21:\n    resolution: {integrity: sha512-x}\n    dev: false\n  /@babel/core@7.12.3(supports-color@8.1.1):\n    resolution: {integrity: sha512-y}\n    dev: true\n"
	pnpm5 := "lockfileVersion: 5.4\npackages:\n  /lodash/4.17.21:\n    dev: false\n  /@babel/core/7.12.3_supports-color@8.1.1:\n    dev: true\n"
	pnpm9 := "lockfileVersion: '9.0'\npackages:\n  lodash@4.17.21:\n    resolution: {integrity: sha512-x}\n  '@babel/core@7.12.3':\n    resolution: {integrity: sha512-y}\n"
	for name, tc := range map[string]struct {
		file, body string
		want       []string
	}{
		"package-lock v1": {"package-lock.json", v1, []string{"minimist@1.2.0", "tap@15.0.0", "minimist@1.2.5"}},
		"yarn v1":         {"yarn.lock", yarn1, []string{"@babel/core@7.12.3", "lodash@4.17.21"}},
		"yarn berry":      {"yarn.lock", berry, []string{"lodash@4.17.21", "@types/node@18.11.9"}},
		"pnpm v6":         {"pnpm-lock.yaml", pnpm6, []string{"lodash@4.17.21", "@babel/core@7.12.3"}},
		"pnpm v5":         {"pnpm-lock.yaml", pnpm5, []string{"lodash@4.17.21", "@babel/core@7.12.3"}},
		"pnpm v9":         {"pnpm-lock.yaml", pnpm9, []string{"lodash@4.17.21", "@babel/core@7.12.3"}},
	} {
		t.Run(name, func(t *testing.T) {
			got := inventory(t, testimage.File{Name: "app/" + tc.file, Body: tc.body})
			if len(got) != len(tc.want) {
				t.Errorf("got %v want %v", keys(got), tc.want)
			}
			for _, w := range tc.want {
				p, ok := got[w]
				if !ok {
					t.Errorf("missing %s in %v", w, keys(got))
					continue
				}
				if p.Metadata["source"] != "lockfile" || p.Locations[0] != "/app/"+tc.file {
					t.Errorf("%s: %+v", w, p)
				}
			}
		})
	}
}

func TestHostileManifests(t *testing.T) {
	got := inventory(t,
		testimage.File{Name: "n/node_modules/big/package.json", Body: `{"name":"big","version":"` + strings.Repeat("1", 10<<20) + `"}`},
		testimage.File{Name: "n/node_modules/long/package.json", Body: `{"name":"long","version":"` + strings.Repeat("1", 1000) + `"}`},
		testimage.File{Name: "n/node_modules/bad/package.json", Body: `{"name":`},
		testimage.File{Name: "n/node_modules/loop", Type: '2', Linkname: "loop"},
		testimage.File{Name: "n/node_modules/ok/package.json", Body: `{"name":"ok","version":"1.0.0"}`},
		testimage.File{Name: "n/package-lock.json", Body: `{"lockfileVersion":1,"dependencies":` + strings.Repeat(`{"a":{"version":"1","dependencies":`, 5000) + `{}` + strings.Repeat("}}", 5000) + `}`},
	)
	if len(got) != 1 || got["ok@1.0.0"].Name != "ok" {
		t.Errorf("packages %v", keys(got))
	}
}

func keys(m map[string]customs.Package) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func FuzzParsers(f *testing.F) {
	f.Add(lockV3)
	f.Add("# yarn lockfile v1\n\nx@^1:\n  version \"1.0.0\"\n")
	f.Add("__metadata:\n  version: 6\n\"a@npm:1\":\n  version: 1.0.0\n  resolution: \"a@npm:1.0.0\"\n")
	f.Add("lockfileVersion: '6.0'\npackages:\n  /a@1.0.0:\n    dev: true\n")
	f.Fuzz(func(t *testing.T, in string) {
		npm.ParsePackageLock([]byte(in))
		npm.ParseYarnLock([]byte(in))
		npm.ParsePnpmLock([]byte(in))
		if p, err := npm.ParsePackageJSON([]byte(in)); err == nil && (p.Name == "" || p.Version == "") {
			t.Fatalf("package without name/version: %+v", p)
		}
	})
}
