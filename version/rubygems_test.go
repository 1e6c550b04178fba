package version

import (
	"os"
	"path/filepath"
	"testing"
)

// rubygemsRb compares JSON pairs from stdin with Gem::Version and prints
// -1/0/1, or "bad" where Gem::Version.correct? rejects a version.
const rubygemsRb = `
require "json"
require "rubygems"
out = JSON.parse(STDIN.read).map do |a, b|
  if Gem::Version.correct?(a) && Gem::Version.correct?(b)
    (Gem::Version.new(a) <=> Gem::Version.new(b)).to_s
  else
    "bad"
  end
end
puts out
`

// rubygemsVersions gathers real version strings: the gems installed with
// Ruby here (read at test time), and the committed samples from PyPI and
// npm, which exercise the segment rules with real-world spellings.
func rubygemsVersions(t *testing.T) []string {
	vs := readLines(t, "rubygems_versions.txt")
	vs = append(vs, readLines(t, "pep440_versions.txt")[:1500]...)
	vs = append(vs, readLines(t, "npm_versions_sample.txt")[:800]...)
	return vs
}

func TestRubyGemsAgainstGemVersion(t *testing.T) {
	ruby := lookTool(t, "ruby", "Debian's ruby package")
	f := filepath.Join(t.TempDir(), "cmp.rb")
	if err := os.WriteFile(f, []byte(rubygemsRb), 0o644); err != nil {
		t.Fatal(err)
	}
	ps := pairsFrom(rubygemsVersions(t))
	for _, p := range [][2]string{
		{"", "0"}, {"  ", "0"}, {"1.0", "1"}, {"1.0.0", "1"}, {"1.0.a", "1.a"}, {"1.0-1", "1.0.pre.1"},
		{"1.0.0.rc1", "1.0.0"}, {"1.0.0.rc1", "1.0.0.beta2"}, {"1.0.0.RC1", "1.0.0.rc1"}, {"1.0a1", "1.0.a.1"},
		{"1.0-", "1.0"}, {"1.0--", "1.0"}, {"1.0-a-b", "1.0.pre.a.pre.b"}, {" 1.0\n", "1.0"}, {"1.0\v", "1.0"},
		{"1..0", "1.0"}, {"1.0.", "1.0"}, {".1", "0.1"}, {"-1", "0"}, {"1.0.0.0.0.1", "1.0.0.0.0.2"},
		{"1.a.0", "1.a"}, {"1.0.a.0.0", "1.0.a"}, {"1.b", "1.a.9"}, {"1.A", "1.a"},
		{"99999999999999999999999.0", "99999999999999999999998.0"}, {"1_0", "1.0"}, {"1.0+1", "1.0"},
	} {
		ps = append(ps, pair{p[0], p[1]})
	}
	truth := runTool(t, pairsJSON(t, ps), ruby, f)
	checkTruth(t, rubygemsScheme{}, ps, truth)
}
