package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// textRSS sums the resident kilobytes of this executable's read-only
// mappings (/proc/self/smaps).
func textRSS(t *testing.T) int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	ours, kb := false, 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 6 && strings.Contains(fields[0], "-"):
			ours = fields[5] == exe && !strings.Contains(fields[1], "w")
		case ours && len(fields) == 3 && fields[0] == "Rss:":
			n, _ := strconv.Atoi(fields[1])
			kb += n
		}
	}
	return kb
}

// TestDropStartupPages: the executable's read-only pages that start-up
// mapped are released, and the program goes on running (what it touches
// again comes back from the file).
func TestDropStartupPages(t *testing.T) {
	before := textRSS(t)
	if before == 0 {
		t.Skip("no resident text to measure")
	}
	dropStartupPages()
	after := textRSS(t)
	if after*2 > before {
		t.Fatalf("read-only pages of the executable resident: %d KB before, %d KB after", before, after)
	}
	// Code and read-only data still work: run a command.
	if out, _, err := runCustoms(t, "version"); err != nil || out == "" {
		t.Fatalf("version after dropping pages: %q %v", out, err)
	}
	t.Logf("resident read-only pages of the executable: %d KB before, %d KB after", before, after)
}
