package version

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// composerPHP normalizes each version with Composer's own VersionParser
// and compares normalized pairs with PHP's version_compare. It prints one
// JSON object: "norm" per version ("!invalid" where normalize throws) and
// "cmp" per pair.
const composerPHP = `<?php
require $argv[1];
$in = json_decode(file_get_contents('php://stdin'), true);
$p = new Composer\Semver\VersionParser();
$norm = [];
foreach ($in['versions'] as $v) {
  try { $norm[] = $p->normalize($v); } catch (Exception $e) { $norm[] = '!invalid'; }
}
$cmp = [];
foreach ($in['pairs'] as [$a, $b]) { $cmp[] = version_compare($a, $b); }
echo json_encode(['norm' => $norm, 'cmp' => $cmp]);
`

func composerAutoload(t *testing.T) string {
	t.Helper()
	lookTool(t, "php", "Debian's php-cli package")
	for _, f := range []string{os.Getenv("CUSTOMS_COMPOSER_SEMVER_AUTOLOAD"), "/usr/share/php/Composer/Semver/autoload.php"} {
		if f != "" {
			if _, err := os.Stat(f); err == nil {
				return f
			}
		}
	}
	missingTool(t, "composer/semver not found (Debian's composer package)")
	return ""
}

func TestComposerAgainstComposer(t *testing.T) {
	autoload := composerAutoload(t)
	var vs []string
	for _, f := range readVectors(t, "composer_vectors.txt") {
		vs = append(vs, f[0])
	}
	vs = append(vs, readLines(t, "composer_versions.txt")...)
	// Real version strings of other registries: many are also valid
	// Composer versions, the rest must be rejected the same way.
	vs = append(vs, readLines(t, "pep440_versions.txt")[:1200]...)
	vs = append(vs, readLines(t, "npm_versions_sample.txt")[:600]...)
	ps := pairsFrom(vs)

	// First pass: Composer's normalization of every version.
	req, _ := json.Marshal(map[string]any{"versions": vs, "pairs": [][2]string{}})
	f := filepath.Join(t.TempDir(), "cmp.php")
	if err := os.WriteFile(f, []byte(composerPHP), 0o644); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Norm []string
		Cmp  []int
	}
	out := runTool(t, req, "php", f, autoload)
	if err := json.Unmarshal([]byte(strings.Join(out, "\n")), &res); err != nil {
		t.Fatal(err)
	}
	norm := map[string]string{}
	for i, v := range vs {
		want := res.Norm[i]
		got, branch, ok := composerNormalize(v)
		switch {
		case !ok:
			got = "!invalid"
		case branch:
			got = "dev-" + strings.TrimPrefix(got, "dev-")
		}
		if got != want {
			t.Errorf("normalize(%q) = %q; Composer says %q", v, got, want)
		}
		norm[v] = want
	}
	t.Logf("composer: %d versions normalized as Composer does", len(vs))

	// Second pass: version_compare on the normalized forms of each pair.
	var cps []pair
	var cmpPairs [][2]string
	for _, p := range ps {
		na, nb := norm[p.a], norm[p.b]
		if strings.HasPrefix(na, "!") || strings.HasPrefix(nb, "!") ||
			strings.HasPrefix(na, "dev-") || strings.HasPrefix(nb, "dev-") {
			if c, err := (composerScheme{}).Compare(p.a, p.b); err == nil {
				t.Errorf("Compare(%q, %q) = %d; want an error (invalid or branch)", p.a, p.b, c)
			}
			continue
		}
		cps = append(cps, p)
		cmpPairs = append(cmpPairs, [2]string{na, nb})
	}
	req, _ = json.Marshal(map[string]any{"versions": []string{}, "pairs": cmpPairs})
	out = runTool(t, req, "php", f, autoload)
	if err := json.Unmarshal([]byte(strings.Join(out, "\n")), &res); err != nil {
		t.Fatal(err)
	}
	truth := make([]string, len(res.Cmp))
	for i, c := range res.Cmp {
		truth[i] = itoa(c)
	}
	checkTruth(t, composerScheme{}, cps, truth)
}
