package dotnet_test

// No truth tool runs here: the .NET SDK is not installed and nuget.org is
// unreachable, so no real application can be published at test time. The
// fixtures below are written in the shape the SDK writes (a framework-
// dependent ASP.NET application with PreserveCompilationContext, and a
// self-contained one), and what each test expects is read off the fixture
// by the rules the package documents, not taken from the cataloger's output.
// When `dotnet` is on PATH, TestDotnetListPackages compares a lock file
// with `dotnet list package --include-transitive` of a restored project
// (skipped otherwise).

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
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/dotnet"
	"github.com/customs-sec/customs/internal/catalogertest"
	"github.com/customs-sec/customs/internal/testimage"
)

// webDeps is a framework-dependent application's deps.json: the project,
// a project reference, packages with runtime, native, runtimeTargets and
// resources assets, a meta-package and a package the framework supplies
// (no assets), a compile-only reference (PreserveCompilationContext), and
// a second target the runtime does not use.
const webDeps = `{
  "runtimeTarget": {
    "name": ".NETCoreApp,Version=v8.0",
    "signature": ""
  },
  "compilationOptions": {"defines": ["TRACE", "RELEASE", "NET"], "languageVersion": "12.0", "platform": "", "allowUnsafe": false},
  "targets": {
    ".NETCoreApp,Version=v8.0": {
      "WebApp/1.0.0": {
        "dependencies": {
          "Newtonsoft.Json": "13.0.1",
          "SQLitePCLRaw.lib.e_sqlite3": "2.1.6",
          "Microsoft.Data.SqlClient": "5.1.1",
          "Humanizer.Core.de": "2.14.1",
          "NETStandard.Library": "2.0.3",
          "MyLib": "1.0.0"
        },
        "runtime": {"WebApp.dll": {}},
        "compile": {"WebApp.dll": {}}
      },
      "Newtonsoft.Json/13.0.1": {
        "runtime": {"lib/netstandard2.0/Newtonsoft.Json.dll": {"assemblyVersion": "13.0.0.0", "fileVersion": "13.0.1.25517"}},
        "compile": {"lib/netstandard2.0/Newtonsoft.Json.dll": {}}
      },
      "SQLitePCLRaw.lib.e_sqlite3/2.1.6": {
        "runtimeTargets": {
          "runtimes/linux-x64/native/libe_sqlite3.so": {"rid": "linux-x64", "assetType": "native", "fileVersion": "0.0.0.0"}
        }
      },
      "Microsoft.Data.SqlClient.SNI.runtime/5.1.0": {
        "native": {"runtimes/win-x64/native/Microsoft.Data.SqlClient.SNI.dll": {"fileVersion": "5.1.0.0"}}
      },
      "Microsoft.Data.SqlClient/5.1.1": {
        "dependencies": {"Microsoft.Data.SqlClient.SNI.runtime": "5.1.0", "System.Text.Encodings.Web": "4.7.2"},
        "runtime": {"lib/net6.0/Microsoft.Data.SqlClient.dll": {"assemblyVersion": "5.0.0.0", "fileVersion": "5.11.23130.1"}}
      },
      "Humanizer.Core.de/2.14.1": {
        "resources": {"lib/netstandard2.0/de/Humanizer.resources.dll": {"locale": "de"}}
      },
      "NETStandard.Library/2.0.3": {
        "dependencies": {"Microsoft.NETCore.Platforms": "1.1.0"}
      },
      "Microsoft.NETCore.Platforms/1.1.0": {},
      "System.Text.Encodings.Web/4.7.2": {
        "runtime": {},
        "compile": {"lib/netstandard2.1/System.Text.Encodings.Web.dll": {}}
      },
      "Microsoft.CodeAnalysis.Analyzers/3.3.4": {
        "compileOnly": true,
        "compile": {"ref/Microsoft.CodeAnalysis.dll": {}}
      },
      "MyLib/1.0.0": {
        "runtime": {"MyLib.dll": {"assemblyVersion": "1.0.0.0", "fileVersion": "1.0.0.0"}}
      },
      "System.Runtime.Reference/8.0.0.0": {
        "compile": {"System.Runtime.dll": {}}
      }
    },
    ".NETCoreApp,Version=v8.0/win-x64": {
      "OnlyOnWindows/1.0.0": {"runtime": {"lib/net8.0/OnlyOnWindows.dll": {}}}
    }
  },
  "libraries": {
    "WebApp/1.0.0": {"type": "project", "serviceable": false, "sha512": ""},
    "Newtonsoft.Json/13.0.1": {"type": "package", "serviceable": true, "sha512": "sha512-ppPFpBcvxdsfUonNcvITKqLl3bqxWbDCZIzDWHzjpdAHRFfZe0Dw9HmA0+za13IdyrgJwpkDTDA9fHaxOrt20A==", "path": "newtonsoft.json/13.0.1", "hashPath": "newtonsoft.json.13.0.1.nupkg.sha512"},
    "SQLitePCLRaw.lib.e_sqlite3/2.1.6": {"type": "package", "serviceable": true, "sha512": "sha512-x", "path": "sqlitepclraw.lib.e_sqlite3/2.1.6", "hashPath": "sqlitepclraw.lib.e_sqlite3.2.1.6.nupkg.sha512"},
    "Microsoft.Data.SqlClient.SNI.runtime/5.1.0": {"type": "package", "serviceable": true, "sha512": "sha512-x", "path": "microsoft.data.sqlclient.sni.runtime/5.1.0", "hashPath": "microsoft.data.sqlclient.sni.runtime.5.1.0.nupkg.sha512"},
    "Microsoft.Data.SqlClient/5.1.1": {"type": "package", "serviceable": true, "sha512": "sha512-x", "path": "microsoft.data.sqlclient/5.1.1", "hashPath": "microsoft.data.sqlclient.5.1.1.nupkg.sha512"},
    "Humanizer.Core.de/2.14.1": {"type": "package", "serviceable": true, "sha512": "sha512-x", "path": "humanizer.core.de/2.14.1", "hashPath": "humanizer.core.de.2.14.1.nupkg.sha512"},
    "NETStandard.Library/2.0.3": {"type": "package", "serviceable": true, "sha512": "sha512-x", "path": "netstandard.library/2.0.3", "hashPath": "netstandard.library.2.0.3.nupkg.sha512"},
    "Microsoft.NETCore.Platforms/1.1.0": {"type": "package", "serviceable": true, "sha512": "sha512-x", "path": "microsoft.netcore.platforms/1.1.0", "hashPath": "microsoft.netcore.platforms.1.1.0.nupkg.sha512"},
    "System.Text.Encodings.Web/4.7.2": {"type": "package", "serviceable": true, "sha512": "sha512-x", "path": "system.text.encodings.web/4.7.2", "hashPath": "system.text.encodings.web.4.7.2.nupkg.sha512"},
    "Microsoft.CodeAnalysis.Analyzers/3.3.4": {"type": "package", "serviceable": true, "sha512": "sha512-x", "path": "microsoft.codeanalysis.analyzers/3.3.4", "hashPath": "microsoft.codeanalysis.analyzers.3.3.4.nupkg.sha512"},
    "MyLib/1.0.0": {"type": "project", "serviceable": false, "sha512": ""},
    "System.Runtime.Reference/8.0.0.0": {"type": "referenceassembly", "serviceable": false, "sha512": ""},
    "OnlyOnWindows/1.0.0": {"type": "package", "serviceable": true, "sha512": "sha512-x"},
    "Unlisted.In.Targets/3.0.0": {"type": "package", "serviceable": true, "sha512": "sha512-x"}
  }
}`

// webWant is webDeps read by hand: the packages deploying something in the
// runtime target, plus the one no target mentions.
var webWant = []string{
	"Humanizer.Core.de 2.14.1",
	"Microsoft.Data.SqlClient 5.1.1",
	"Microsoft.Data.SqlClient.SNI.runtime 5.1.0",
	"Newtonsoft.Json 13.0.1",
	"SQLitePCLRaw.lib.e_sqlite3 2.1.6",
	"Unlisted.In.Targets 3.0.0",
}

// selfContainedDeps is a self-contained linux-x64 application: the runtime
// target names the RID-specific target, which holds the runtime packs.
const selfContainedDeps = `{
  "runtimeTarget": {"name": ".NETCoreApp,Version=v8.0/linux-x64", "signature": ""},
  "compilationOptions": {},
  "targets": {
    ".NETCoreApp,Version=v8.0": {},
    ".NETCoreApp,Version=v8.0/linux-x64": {
      "Worker/1.0.0": {
        "dependencies": {
          "Serilog": "3.1.1",
          "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64": "8.0.11",
          "runtimepack.Microsoft.AspNetCore.App.Runtime.linux-x64": "8.0.11"
        },
        "runtime": {"Worker.dll": {}}
      },
      "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.11": {
        "runtime": {
          "System.Private.CoreLib.dll": {"assemblyVersion": "8.0.0.0", "fileVersion": "8.0.1124.51707"},
          "System.Text.Json.dll": {"assemblyVersion": "8.0.0.0", "fileVersion": "8.0.1124.51707"}
        },
        "native": {"libcoreclr.so": {"fileVersion": "0.0.0.0"}}
      },
      "runtimepack.Microsoft.AspNetCore.App.Runtime.linux-x64/8.0.11": {
        "runtime": {"Microsoft.AspNetCore.dll": {"assemblyVersion": "8.0.0.0", "fileVersion": "8.0.1124.52116"}}
      },
      "Serilog/3.1.1": {
        "runtime": {"lib/net7.0/Serilog.dll": {"assemblyVersion": "2.0.0.0", "fileVersion": "3.1.1.0"}}
      }
    }
  },
  "libraries": {
    "Worker/1.0.0": {"type": "project", "serviceable": false, "sha512": ""},
    "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.11": {"type": "runtimepack", "serviceable": false, "sha512": ""},
    "runtimepack.Microsoft.AspNetCore.App.Runtime.linux-x64/8.0.11": {"type": "runtimepack", "serviceable": false, "sha512": ""},
    "Serilog/3.1.1": {"type": "package", "serviceable": true, "sha512": "sha512-x", "path": "serilog/3.1.1", "hashPath": "serilog.3.1.1.nupkg.sha512"}
  }
}`

// packagesLock is a packages.lock.json (RestorePackagesWithLockFile) of a
// project targeting two frameworks and a RID.
const packagesLock = `{
  "version": 1,
  "dependencies": {
    "net6.0": {
      "Newtonsoft.Json": {"type": "Direct", "requested": "[13.0.1, )", "resolved": "13.0.1", "contentHash": "ppPFpBcvxdsfUonNcvITKqLl3bqxWbDCZIzDWHzjpdAHRFfZe0Dw9HmA0+za13IdyrgJwpkDTDA9fHaxOrt20A=="},
      "System.Text.Json": {"type": "Transitive", "resolved": "6.0.0", "contentHash": "x", "dependencies": {"System.Runtime.CompilerServices.Unsafe": "6.0.0"}},
      "System.Runtime.CompilerServices.Unsafe": {"type": "Transitive", "resolved": "6.0.0", "contentHash": "x"},
      "Azure.Core": {"type": "CentralTransitive", "requested": "[1.35.0, )", "resolved": "1.35.0", "contentHash": "x"},
      "mylib": {"type": "Project", "dependencies": {"Newtonsoft.Json": "[13.0.1, )"}}
    },
    "net8.0": {
      "Newtonsoft.Json": {"type": "Direct", "requested": "[13.0.1, )", "resolved": "13.0.1", "contentHash": "x"},
      "System.Text.Json": {"type": "Transitive", "resolved": "8.0.5", "contentHash": "x"},
      "mylib": {"type": "Project"}
    },
    "net8.0/linux-x64": {
      "Microsoft.NETCore.App.Runtime.linux-x64": {"type": "Direct", "requested": "[8.0.11, )", "resolved": "8.0.11", "contentHash": "x"}
    }
  }
}`

var lockWant = []string{
	"Azure.Core 1.35.0",
	"Microsoft.NETCore.App.Runtime.linux-x64 8.0.11",
	"Newtonsoft.Json 13.0.1",
	"System.Runtime.CompilerServices.Unsafe 6.0.0",
	"System.Text.Json 6.0.0",
	"System.Text.Json 8.0.5",
}

func names(ps []customs.Package) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name+" "+p.Version)
	}
	sort.Strings(out)
	return out
}

func TestParseDeps(t *testing.T) {
	ps, err := dotnet.ParseDeps([]byte(webDeps))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(ps), "\n"); got != strings.Join(webWant, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(webWant, "\n"))
	}
	for _, p := range ps {
		if p.Type != customs.TypeNuGet || p.Ecosystem != "NuGet" || p.PURL != "pkg:nuget/"+p.Name+"@"+p.Version || p.Metadata != nil {
			t.Errorf("%+v", p)
		}
	}
	ps, err = dotnet.ParseDeps([]byte(selfContainedDeps))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Microsoft.AspNetCore.App.Runtime.linux-x64 8.0.11", "Microsoft.NETCore.App.Runtime.linux-x64 8.0.11", "Serilog 3.1.1"}
	if got := names(ps); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("self-contained: got %v want %v", got, want)
	}
	for _, p := range ps {
		rp := strings.Contains(p.Name, ".App.Runtime.")
		if rp != (p.Metadata["kind"] == "runtimepack") {
			t.Errorf("%s: metadata %v", p.Name, p.Metadata)
		}
		if rp && p.PURL != "pkg:nuget/"+p.Name+"@8.0.11" {
			t.Errorf("%s: purl %s", p.Name, p.PURL)
		}
	}
}

func TestParseDepsWithoutRuntimeTarget(t *testing.T) {
	// No runtimeTarget: every target counts.
	var d map[string]any
	if err := json.Unmarshal([]byte(webDeps), &d); err != nil {
		t.Fatal(err)
	}
	delete(d, "runtimeTarget")
	b, _ := json.Marshal(d)
	ps, err := dotnet.ParseDeps(b)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"OnlyOnWindows 1.0.0"}, webWant...)
	sort.Strings(want)
	if got := names(ps); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %v want %v", got, want)
	}
}

func TestParsePackagesLock(t *testing.T) {
	ps, err := dotnet.ParsePackagesLock([]byte(packagesLock))
	if err != nil {
		t.Fatal(err)
	}
	if got := names(ps); strings.Join(got, "|") != strings.Join(lockWant, "|") {
		t.Errorf("got %v want %v", got, lockWant)
	}
}

func TestMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"not json":      `{"libraries":`,
		"no libraries":  `{"targets":{}}`,
		"wrong type":    `{"libraries":[1,2]}`,
		"deep":          strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000),
		"bad lock":      `{"version":1,"dependencies":{"net8.0":[]}}`,
		"lock no deps":  `{"version":1}`,
		"lock not json": "\x00\x01",
	} {
		_, err1 := dotnet.ParseDeps([]byte(in))
		_, err2 := dotnet.ParsePackagesLock([]byte(in))
		if err1 == nil || err2 == nil {
			t.Errorf("%s: deps.json error %v, lock error %v", name, err1, err2)
		}
	}
	// Names and versions that are not NuGet's are dropped, not reported.
	ps, err := dotnet.ParseDeps([]byte(`{"libraries":{
		"../../etc/passwd/1.0": {"type":"package"},
		"Good/1.0.0": {"type":"package"},
		"NoVersion": {"type":"package"},
		"Spaces In Name/1.0": {"type":"package"},
		"Ver/1.0 beta": {"type":"package"},
		"Long/` + strings.Repeat("1", 10<<20) + `": {"type":"package"}}}`))
	if err != nil || strings.Join(names(ps), "|") != "Good 1.0.0" {
		t.Errorf("got %v, %v", names(ps), err)
	}
}

func TestWants(t *testing.T) {
	file := &image.Entry{Kind: image.KindFile}
	for p, want := range map[string]bool{
		"app/WebApp.deps.json": true,
		"WebApp.deps.json":     true,
		"usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.11/Microsoft.NETCore.App.deps.json": true,
		"src/app/packages.lock.json":                      true,
		"packages.lock.json":                              true,
		"root/.nuget/packages/x/1.0.0/packages.lock.json": false,
		"app/.deps.json":                                  false,
		"app/deps.json":                                   false,
		"app/WebApp.runtimeconfig.json":                   false,
		"app/package-lock.json":                           false,
	} {
		if got := (dotnet.Cataloger{}).Wants(p, file); got != want {
			t.Errorf("Wants(%q) = %v", p, got)
		}
	}
	if (dotnet.Cataloger{}).Wants("app/A.deps.json", &image.Entry{Kind: image.KindDir}) {
		t.Error("wants a directory")
	}
}

// TestPipeline reads the files through an image: locations, layers, and
// what a later layer deleted.
func TestPipeline(t *testing.T) {
	l1 := testimage.LayerTar(t, []testimage.File{
		{Name: "app/WebApp.deps.json", Body: webDeps},
		{Name: "old/Old.deps.json", Body: selfContainedDeps},
		{Name: "src/packages.lock.json", Body: packagesLock},
		{Name: "app/Broken.deps.json", Body: `{"libraries":`},
	})
	l2 := testimage.LayerTar(t, []testimage.File{
		{Name: "old/.wh.Old.deps.json"},
		{Name: "srv/Worker.deps.json", Body: selfContainedDeps},
	})
	inv := catalogertest.Inventory(t, []inspect.Cataloger{dotnet.Cataloger{}}, l1, l2)
	byLoc := map[string][]string{}
	for _, p := range inv.Packages {
		if len(p.Locations) != 1 || p.FoundBy != "dotnet" {
			t.Errorf("%+v", p)
			continue
		}
		byLoc[p.Locations[0]] = append(byLoc[p.Locations[0]], p.Name+" "+p.Version)
		wantLayer := 0
		if strings.HasPrefix(p.Locations[0], "/srv/") {
			wantLayer = 1
		}
		if p.Layer.Index != wantLayer {
			t.Errorf("%s in %s: layer %d", p.Name, p.Locations[0], p.Layer.Index)
		}
	}
	for loc, want := range map[string][]string{
		"/app/WebApp.deps.json":   webWant,
		"/src/packages.lock.json": lockWant,
		"/srv/Worker.deps.json":   {"Microsoft.AspNetCore.App.Runtime.linux-x64 8.0.11", "Microsoft.NETCore.App.Runtime.linux-x64 8.0.11", "Serilog 3.1.1"},
	} {
		got := byLoc[loc]
		sort.Strings(got)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: got %v want %v", loc, got, want)
		}
	}
	if len(byLoc) != 3 {
		t.Errorf("locations %v (the deleted /old/Old.deps.json must not count)", byLoc)
	}
	w := strings.Join(inv.Warnings, "\n")
	if !strings.Contains(w, "/app/Broken.deps.json") || !strings.Contains(w, "deps.json:") {
		t.Errorf("warnings %q do not name the broken file", w)
	}
}

func TestOversizedFileIsSkippedWithWarning(t *testing.T) {
	f := &inspect.File{Path: "app/Big.deps.json", Entry: &image.Entry{Kind: image.KindFile}}
	big := strings.NewReader(strings.Repeat(" ", 64<<20+10))
	out, err := (dotnet.Cataloger{}).Parse(context.Background(), f, big)
	if err != nil || len(out.Packages) != 0 || len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "Big.deps.json over 64 MiB") {
		t.Fatalf("%+v %v", out, err)
	}
	if big.Len() < 8 {
		t.Error("read the whole file")
	}
}

// TestDotnetListPackages restores a project with a lock file and compares
// what the SDK lists with the lock file parsed. It needs the .NET SDK and
// nuget.org (or a warm NuGet cache); neither is here, so it is skipped.
func TestDotnetListPackages(t *testing.T) {
	// Not testimage.Require: no registry reachable here carries the SDK, so
	// CI cannot install it; this skips even when truth tools are required.
	dn, err := exec.LookPath("dotnet")
	if err != nil {
		t.Skip("the .NET SDK is not installed (not installable from the registries this machine reaches)")
	}
	dir := t.TempDir()
	proj := `<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><TargetFramework>net8.0</TargetFramework>` +
		`<RestorePackagesWithLockFile>true</RestorePackagesWithLockFile></PropertyGroup>` +
		`<ItemGroup><PackageReference Include="Newtonsoft.Json" Version="13.0.1" /></ItemGroup></Project>`
	if err := os.WriteFile(filepath.Join(dir, "p.csproj"), []byte(proj), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dn, "restore")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("dotnet restore (needs nuget.org): %v\n%s", err, out)
	}
	cmd = exec.Command(dn, "list", "package", "--include-transitive", "--format", "json")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dotnet list package: %v", err)
	}
	var listed struct {
		Projects []struct {
			Frameworks []struct {
				TopLevelPackages   []struct{ ID, ResolvedVersion string } `json:"topLevelPackages"`
				TransitivePackages []struct{ ID, ResolvedVersion string } `json:"transitivePackages"`
			} `json:"frameworks"`
		} `json:"projects"`
	}
	if err := json.Unmarshal(out, &listed); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, p := range listed.Projects {
		for _, f := range p.Frameworks {
			for _, x := range append(f.TopLevelPackages, f.TransitivePackages...) {
				want[x.ID+" "+x.ResolvedVersion] = true
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "packages.lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := dotnet.ParsePackagesLock(b)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, n := range names(ps) {
		got[n] = true
	}
	for w := range want {
		if !got[w] {
			t.Errorf("dotnet lists %s; not parsed", w)
		}
	}
	for g := range got {
		if !want[g] {
			t.Errorf("parsed %s; dotnet does not list it", g)
		}
	}
}
