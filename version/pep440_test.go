package version

import (
	"os/exec"
	"testing"
)

// pep440Py compares JSON pairs from stdin with PyPA packaging's Version,
// as vendored by pip, and prints -1/0/1 or "bad" a line.
const pep440Py = `
import json, sys
try:
    from packaging.version import Version, InvalidVersion
except ImportError:
    from pip._vendor.packaging.version import Version, InvalidVersion
out = []
for a, b in json.load(sys.stdin):
    try:
        x, y = Version(a), Version(b)
    except InvalidVersion:
        out.append("bad")
        continue
    out.append("-1" if x < y else "0" if x == y else "1")
print("\n".join(out))
`

func pythonWithPackaging(t *testing.T) string {
	t.Helper()
	py := lookTool(t, "python3", "Debian's python3 package")
	check := "try:\n import packaging.version\nexcept ImportError:\n import pip._vendor.packaging.version"
	if err := exec.Command(py, "-c", check).Run(); err != nil {
		missingTool(t, "python3 has neither packaging nor pip's vendored copy")
	}
	return py
}

func pep440Pairs(t *testing.T) []pair {
	ps := pairsFrom(readLines(t, "pep440_versions.txt"))
	// Normalization cases from PEP 440 itself, each against its normal
	// form, and a few orderings the spec spells out.
	for _, p := range [][2]string{
		{"1.0RC1", "1.0rc1"}, {"1.0-1", "1.0.post1"}, {"v1.0", "1.0"}, {"1.0alpha1", "1.0a1"},
		{"1.0c1", "1.0rc1"}, {"1.0-pre1", "1.0rc1"}, {"1.0preview1", "1.0rc1"}, {"1.0.a.1", "1.0a1"},
		{"1.0-r1", "1.0.post1"}, {"1.0rev1", "1.0.post1"}, {"1.0post", "1.0.post0"}, {"1.0.dev", "1.0.dev0"},
		{"1.0+ubuntu-1", "1.0+ubuntu.1"}, {" 1.0 ", "1.0"}, {"1!1.0", "2.0"}, {"1.0.dev1", "1.0a1"},
		{"1.0a1.dev1", "1.0a1"}, {"1.0.post1.dev1", "1.0.post1"}, {"1.0", "1.0+local"}, {"1.0+1", "1.0+a"},
		{"1.0+a.1", "1.0+a"}, {"1.0.0", "1.0"}, {"1.0.0.0.1", "1.0"}, {"1.0a", "1.0a0"}, {"1.0-dev", "1.0.dev0"},
		{"1.0_a_1", "1.0a1"}, {"1.0a-1", "1.0a1"}, {"1.0a.", "1.0a"}, {"1.0a.post1", "1.0a0.post1"},
		{"1.0+", "1.0"}, {"1.0+a..b", "1.0"}, {"01.02", "1.2"}, {"1.0-", "1.0"}, {"1.0--1", "1.0"},
		{"1.0.post-1", "1.0.post1"}, {"1.0b2-346", "1.0b2.post346"}, {"1.0\n", "1.0"}, {"1.0\x1c", "1.0"},
		{"99999999999999999999999999.0", "99999999999999999999999998.0"}, {"1.0-r", "1.0.post0"},
		{"1.0.POST1", "1.0.post1"}, {"1.0.DEV1", "1.0.dev1"}, {"V1.0", "1.0"}, {"1.0RC", "1.0rc0"},
	} {
		ps = append(ps, pair{p[0], p[1]})
	}
	return ps
}

func TestPEP440AgainstPackaging(t *testing.T) {
	py := pythonWithPackaging(t)
	ps := pep440Pairs(t)
	truth := runTool(t, pairsJSON(t, ps), py, "-c", pep440Py)
	checkTruth(t, pep440Scheme{}, ps, truth)
}
