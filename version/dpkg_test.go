package version

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// dpkgScript prints, for each tab-separated pair on stdin, -1/0/1 from
// dpkg --compare-versions, or "bad" when dpkg reports bad syntax (an error,
// or a warning it prints before comparing anyway).
const dpkgScript = `err="$1"
while IFS='	' read -r a b; do
  if dpkg --compare-versions -- "$a" lt "$b" 2>"$err"; then r=-1; else r=x; fi
  if [ -s "$err" ]; then echo bad; continue; fi
  if [ "$r" = x ]; then
    if dpkg --compare-versions -- "$a" eq "$b" 2>/dev/null; then r=0; else r=1; fi
  fi
  echo "$r"
done
`

func dpkgTruth(t *testing.T, ps []pair) []string {
	t.Helper()
	lookTool(t, "dpkg", "Debian's dpkg package")
	dir := t.TempDir()
	script := filepath.Join(dir, "cmp.sh")
	if err := os.WriteFile(script, []byte(dpkgScript), 0o755); err != nil {
		t.Fatal(err)
	}
	// Two shells, one per core; each forks dpkg once or twice a pair.
	const workers = 2
	parts := make([][]string, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*len(ps)/workers, (w+1)*len(ps)/workers
		var in strings.Builder
		for _, p := range ps[lo:hi] {
			in.WriteString(p.a + "\t" + p.b + "\n")
		}
		wg.Add(1)
		go func(w int, in string) {
			defer wg.Done()
			parts[w] = runTool(t, []byte(in), "sh", script, filepath.Join(dir, "err"+string(rune('0'+w))))
		}(w, in.String())
	}
	wg.Wait()
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestDPKGAgainstDpkg(t *testing.T) {
	ps := readPairs(t, "dpkg_pairs.txt")
	ps = append(ps, readPairs(t, "dpkg_edge_pairs.txt")...)
	checkTruth(t, dpkgScheme{}, ps, dpkgTruth(t, ps))
}

func TestDPKGExamples(t *testing.T) {
	// deb-version(7)'s own examples of the ordering; the truth test above
	// is what proves agreement with dpkg.
	s := dpkgScheme{}
	order := []string{"1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a", "1.0+", "1.0.1", "1:0.1"}
	for i := 0; i+1 < len(order); i++ {
		if c, err := s.Compare(order[i], order[i+1]); err != nil || c != -1 {
			t.Errorf("Compare(%q, %q) = %d, %v; want -1", order[i], order[i+1], c, err)
		}
	}
}
