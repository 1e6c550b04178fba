package dotnet_test

import (
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect/dotnet"
)

// FuzzParsers feeds the same input to both parsers: neither may panic, and
// what they return must be well-formed NuGet packages.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{webDeps, selfContainedDeps, packagesLock,
		`{"libraries":{"a/1":{"type":"package"}},"targets":{"t":{"a/1":{"runtime":{ }}}},"runtimeTarget":{"name":"t"}}`,
		`{"dependencies":{"x":{"A":{"type":"Project","resolved":"1"}}}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		check := func(ps []customs.Package) {
			for _, p := range ps {
				if p.Name == "" || p.Version == "" || strings.ContainsAny(p.Name, "/ ") || p.Type != customs.TypeNuGet || p.Ecosystem != "NuGet" || p.PURL == "" {
					t.Fatalf("bad package %+v", p)
				}
			}
		}
		if ps, err := dotnet.ParseDeps([]byte(in)); err == nil {
			check(ps)
		}
		if ps, err := dotnet.ParsePackagesLock([]byte(in)); err == nil {
			check(ps)
		}
	})
}
