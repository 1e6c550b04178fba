package version

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// luaQuote writes s as a Lua string literal with every byte escaped that
// could upset the parser.
func luaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' || c == '"' || c == '\\' {
			fmt.Fprintf(&b, "\\%03d", c)
			continue
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// rpmTruth compares all pairs in one rpm process: a Lua chunk compares
// rpm.ver objects (rpmverCmp) and prints -1/0/1 a line. The chunk is run
// with dofile so that rpm's macro expansion never sees the versions.
func rpmTruth(t *testing.T, ps []pair) []string {
	t.Helper()
	lookTool(t, "rpm", "Debian's rpm package")
	var b strings.Builder
	b.WriteString("local P = {\n")
	for _, p := range ps {
		fmt.Fprintf(&b, "{%s,%s},\n", luaQuote(p.a), luaQuote(p.b))
	}
	b.WriteString(`}
local out = {}
for i, p in ipairs(P) do
  local a, b = rpm.ver(p[1]), rpm.ver(p[2])
  local r
  if a == nil or b == nil then r = "bad"
  elseif a < b then r = "-1"
  elseif a == b then r = "0"
  else r = "1" end
  out[#out+1] = r
end
io.write(table.concat(out, "\n"), "\n")
`)
	f := filepath.Join(t.TempDir(), "cmp.lua")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return runTool(t, nil, "rpm", "--eval", "%{lua: dofile('"+f+"')}")
}

func TestRPMAgainstRpm(t *testing.T) {
	ps := readPairs(t, "rpm_pairs.txt")
	checkTruth(t, rpmScheme{}, ps, rpmTruth(t, ps))
}

func TestRPMVercmpAgainstRpm(t *testing.T) {
	// A second oracle: rpm.vercmp (which in rpm >= 4.16 also splits the
	// strings into EVRs) on the version-release halves of the pairs, so
	// that the missing-epoch path gets its own check.
	lookTool(t, "rpm", "Debian's rpm package")
	var ps []pair
	for _, p := range readPairs(t, "rpm_pairs.txt") {
		_, a, _ := strings.Cut(p.a, ":")
		_, b, _ := strings.Cut(p.b, ":")
		if a != "" && b != "" {
			ps = append(ps, pair{a, b})
		}
	}
	var b strings.Builder
	b.WriteString("local P = {\n")
	for _, p := range ps {
		fmt.Fprintf(&b, "{%s,%s},\n", luaQuote(p.a), luaQuote(p.b))
	}
	b.WriteString(`}
local out = {}
for i, p in ipairs(P) do out[#out+1] = tostring(rpm.vercmp(p[1], p[2])) end
io.write(table.concat(out, "\n"), "\n")
`)
	f := filepath.Join(t.TempDir(), "vercmp.lua")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	truth := runTool(t, nil, "rpm", "--eval", "%{lua: dofile('"+f+"')}")
	if len(truth) != len(ps) {
		t.Fatalf("rpm gave %d results for %d pairs", len(truth), len(ps))
	}
	for i, p := range ps {
		c, err := rpmScheme{}.Compare(p.a, p.b)
		if got := fmt.Sprint(c); err != nil || got != truth[i] {
			t.Errorf("Compare(%q, %q) = %s, %v; rpm.vercmp says %s", p.a, p.b, got, err, truth[i])
		}
	}
	t.Logf("rpm: %d pairs checked against rpm.vercmp", len(ps))
}
