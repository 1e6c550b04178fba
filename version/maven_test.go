package version

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mavenJar finds maven-artifact, whose ComparableVersion.main prints the
// comparison of each argument with the one before it.
func mavenJar(t *testing.T) string {
	t.Helper()
	lookTool(t, "java", "Debian's default-jre-headless package")
	if j := os.Getenv("CUSTOMS_MAVEN_ARTIFACT_JAR"); j != "" {
		return j
	}
	for _, pat := range []string{"/usr/share/maven/lib/maven-artifact-*.jar", "/usr/share/java/maven-artifact*.jar"} {
		if m, _ := filepath.Glob(pat); len(m) > 0 {
			return m[0]
		}
	}
	missingTool(t, "maven-artifact jar not found (Debian's maven or libmaven3-core-java package)")
	return ""
}

// mavenTruth runs ComparableVersion over a sequence of versions and
// returns the consecutive pairs with -1/0/1 for each.
func mavenTruth(t *testing.T, seq []string) ([]pair, []string) {
	t.Helper()
	jar := mavenJar(t)
	args := append([]string{"-cp", jar, "org.apache.maven.artifact.versioning.ComparableVersion"}, seq...)
	var ps []pair
	var truth []string
	for _, l := range runTool(t, nil, "java", args...) {
		if !strings.HasPrefix(l, "   ") {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("unexpected ComparableVersion output %q", l)
		}
		ps = append(ps, pair{f[0], f[2]})
		truth = append(truth, map[string]string{"<": "-1", "==": "0", ">": "1"}[f[1]])
	}
	if len(ps) != len(seq)-1 {
		t.Fatalf("ComparableVersion gave %d comparisons for %d versions", len(ps), len(seq))
	}
	return ps, truth
}

func TestMavenAgainstComparableVersion(t *testing.T) {
	var seq []string
	for _, p := range pairsFrom(readLines(t, "maven_versions.txt")) {
		seq = append(seq, p.a, p.b)
	}
	ps, truth := mavenTruth(t, seq)
	checkTruth(t, mavenScheme{}, ps, truth)
}
