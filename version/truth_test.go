package version

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Tests in this package compare our schemes with the ecosystems' own tools,
// run at test time. A missing tool skips the test, unless
// CUSTOMS_REQUIRE_TRUTH_TOOLS=1 (set in CI), which makes it fail.

func truthRequired() bool { return os.Getenv("CUSTOMS_REQUIRE_TRUTH_TOOLS") == "1" }

// missingTool skips or fails the test for an absent reference tool.
func missingTool(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if truthRequired() {
		t.Fatalf("reference tool missing (CUSTOMS_REQUIRE_TRUTH_TOOLS=1): %s", msg)
	}
	t.Skipf("reference tool missing, skipping: %s", msg)
}

// lookTool finds an executable or skips/fails the test.
func lookTool(t *testing.T, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missingTool(t, "%s not found (%s)", name, hint)
	}
	return p
}

type pair struct{ a, b string }

// readLines reads a testdata file, one entry a line, dropping blank lines
// and lines starting with '#'.
func readLines(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// readPairs reads "a b" lines; a line with a tab splits on the tab
// instead, for versions holding spaces.
func readPairs(t *testing.T, name string) []pair {
	t.Helper()
	var ps []pair
	for _, l := range readLines(t, name) {
		sep := " "
		if strings.Contains(l, "\t") {
			sep = "\t"
		}
		a, b, ok := strings.Cut(l, sep)
		if !ok {
			t.Fatalf("%s: bad pair line %q", name, l)
		}
		ps = append(ps, pair{a, b})
	}
	return ps
}

// readJSONStrings reads a JSON array of strings from testdata.
func readJSONStrings(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

// pairsFrom makes a deterministic set of pairs from a version list: each
// version with its neighbour in string order (they share prefixes), with
// itself, and with two others spread over the list.
func pairsFrom(vs []string) []pair {
	s := append([]string(nil), vs...)
	sort.Strings(s)
	n := len(s)
	var ps []pair
	for i := range s {
		if i+1 < n {
			ps = append(ps, pair{s[i], s[i+1]})
		}
		if i%5 == 0 {
			ps = append(ps, pair{s[i], s[i]})
		}
		ps = append(ps, pair{s[i], s[(i*7919+13)%n]})
		ps = append(ps, pair{s[(i*104729+1)%n], s[i]})
	}
	return ps
}

// checkTruth compares our Compare with the reference result for each pair:
// "-1", "0", "1", or "bad" where the reference rejects a version. It also
// checks antisymmetry on the same pairs.
func checkTruth(t *testing.T, s Scheme, ps []pair, truth []string) {
	t.Helper()
	if len(truth) != len(ps) {
		t.Fatalf("%s: reference gave %d results for %d pairs", s.Name(), len(truth), len(ps))
	}
	agree, bad := 0, 0
	for i, p := range ps {
		got, err := s.Compare(p.a, p.b)
		want := truth[i]
		switch {
		case want == "bad":
			bad++
			if err == nil {
				t.Errorf("%s: Compare(%q, %q) = %d, reference rejects a version", s.Name(), p.a, p.b, got)
				continue
			}
		case err != nil:
			t.Errorf("%s: Compare(%q, %q): %v; reference says %s", s.Name(), p.a, p.b, err, want)
			continue
		case strconv.Itoa(got) != want:
			t.Errorf("%s: Compare(%q, %q) = %d, reference says %s", s.Name(), p.a, p.b, got, want)
			continue
		default:
			if back, _ := s.Compare(p.b, p.a); back != -got {
				t.Errorf("%s: Compare(%q, %q) = %d but reversed = %d", s.Name(), p.a, p.b, got, back)
				continue
			}
		}
		agree++
	}
	t.Logf("%s: %d pairs checked against the reference, %d agree (%d rejected by both)", s.Name(), len(ps), agree, bad)
}

// runTool runs a command with the given stdin and returns its stdout lines.
func runTool(t *testing.T, stdin []byte, name string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, errb.String())
	}
	var lines []string
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	// rpm --eval adds a newline after the expansion.
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// pairsJSON encodes pairs for the Python, Node, Ruby and PHP helpers.
func pairsJSON(t *testing.T, ps []pair) []byte {
	t.Helper()
	arr := make([][2]string, len(ps))
	for i, p := range ps {
		arr[i] = [2]string{p.a, p.b}
	}
	b, err := json.Marshal(arr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
