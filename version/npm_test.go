package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// npmJS compares JSON pairs from stdin with node-semver's loose compare
// and prints -1/0/1 or "bad" (a version node-semver rejects) a line.
const npmJS = `
const semver = require(process.argv[1]);
let data = "";
process.stdin.on("data", d => data += d);
process.stdin.on("end", () => {
  const out = [];
  for (const [a, b] of JSON.parse(data)) {
    try { out.push(String(semver.compare(a, b, true))); }
    catch (e) { out.push("bad"); }
  }
  process.stdout.write(out.join("\n") + "\n");
});
`

// npmSemverDir returns the directory of the semver@7 package, installing
// it into a cache outside the repository on first use:
// $CUSTOMS_TOOLS_CACHE, else $XDG_CACHE_HOME/customs-tools, else
// ~/.cache/customs-tools, under npm-semver/.
func npmSemverDir(t *testing.T) string {
	t.Helper()
	lookTool(t, "node", "Debian's nodejs package")
	base := os.Getenv("CUSTOMS_TOOLS_CACHE")
	if base == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			missingTool(t, "no cache directory for npm semver: %v", err)
		}
		base = filepath.Join(c, "customs-tools")
	}
	prefix := filepath.Join(base, "npm-semver")
	dir := filepath.Join(prefix, "node_modules", "semver")
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err == nil {
		return dir
	}
	npm := lookTool(t, "npm", "Debian's npm package")
	cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--prefix", prefix, "semver@7")
	if out, err := cmd.CombinedOutput(); err != nil {
		missingTool(t, "npm install semver@7 into %s failed: %v\n%s", prefix, err, out)
	}
	return dir
}

func npmPairs(t *testing.T) []pair {
	vs := readLines(t, "npm_versions_sample.txt")
	vs = append(vs, readJSONStrings(t, "npm_lodash_versions.json")...)
	vs = append(vs, readJSONStrings(t, "npm_typescript_versions.json")...)
	ps := pairsFrom(vs)
	for _, p := range [][2]string{
		{"v1.2.3", "1.2.3"}, {"=1.2.3", "1.2.3"}, {" =v1.2.3 ", "1.2.3"}, {"v=1.2.3", "1.2.3"},
		{"1.2.3+build.5", "1.2.3+other"}, {"1.2.3-beta", "1.2.3beta"}, {"01.02.03", "1.2.3"},
		{"1.2.3-01", "1.2.3-1"}, {"1.2.3-", "1.2.3--"}, {"1.2.3-.a", "1.2.3"}, {"1.2.34.x", "1.2.3-4.x"},
		{"1.2.3-alpha.1", "1.2.3-alpha.beta"}, {"1.2.3-alpha", "1.2.3-alpha.1"},
		{"1.2.3-9007199254740993", "1.2.3-9007199254740992"},
		{"1.2.3-9007199254740993.a", "1.2.3-9007199254740992.b"},
		{"1.2.3-9007199254740991", "1.2.3-9007199254740990"}, {"1.2.3-1", "1.2.3-9007199254740991"},
		{"9007199254740991.0.0", "9007199254740992.0.0"}, {"1.2", "1.2.0"}, {"1.2.3.4", "1.2.3"},
		{"\u00a01.2.3\u3000", "1.2.3"}, {"1.2.3\u2028", "1.2.3"}, {"1.2.3 -beta", "1.2.3-beta"},
		{"1.2.3-a+b+c", "1.2.3-a"}, {"1.2.3+", "1.2.3"}, {"1.2.3-a..b", "1.2.3"}, {"1.2.3_a", "1.2.3"},
		{"1.2.3-" + string(make([]byte, 0)) + "x", "1.2.3-X"}, {"1.2.3-Z", "1.2.3-a"},
		{"0.0.0-" + repeatString("a", 250), "0.0.0-" + repeatString("a", 249)},
		{"1.2.3" + repeatString("a", 251), "1.2.3"},
	} {
		ps = append(ps, pair{p[0], p[1]})
	}
	return ps
}

func repeatString(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for i := 0; i < n; i++ {
		b = append(b, s...)
	}
	return string(b)
}

func TestNPMAgainstNodeSemver(t *testing.T) {
	dir := npmSemverDir(t)
	ps := npmPairs(t)
	truth := runTool(t, pairsJSON(t, ps), "node", "-e", npmJS, dir)
	checkTruth(t, npmScheme{}, ps, truth)
}
