package python_test

import (
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect/python"
)

func checkPackages(t *testing.T, ps []customs.Package) {
	t.Helper()
	for _, p := range ps {
		if p.Name == "" || p.Version == "" || p.Type != customs.TypePyPI || p.Name != python.NormalizeName(p.Name) {
			t.Fatalf("bad package %+v", p)
		}
	}
}

// FuzzParsers feeds the same input to every Python parser: none may panic,
// and what they return must be well-formed.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{pdmLock, poetryLegacy, poetryGroups, uvLock, pipfileLock, tomlEdgeCases,
		"Metadata-Version: 2.1\nName: a\nVersion: 1\nLicense: MIT\n  x\nClassifier: License :: OSI Approved :: MIT License\n\nbody",
		"requests==2.0 \\\n --hash=sha256:00\n-r x.txt\nfoo[bar]===1 ; python_version<'3'\n",
		"[[package]]\nname = \"a\"\nversion = \"1\"\nsource = { editable = \".\" }\n[package.dev-dependencies]\ndev = [{ name = \"a\" }]\n",
		"a = [{b = [{c = '''x'''}]}]\n[[x.y]]\n[x.y.z]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		b := []byte(in)
		if p, _, err := python.ParseMetadata(strings.NewReader(in)); err == nil {
			checkPackages(t, []customs.Package{p})
		}
		for _, parse := range []func([]byte) ([]customs.Package, error){python.ParsePoetryLock, python.ParseUVLock, python.ParsePipfileLock, python.ParsePDMLock} {
			if ps, err := parse(b); err == nil {
				checkPackages(t, ps)
			}
		}
		ps, _ := python.ParseRequirements(b, false)
		checkPackages(t, ps)
		python.ParseTOML(b)
	})
}
