package rust

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect"
)

// LockEntry is one [[package]] of a Cargo.lock.
type LockEntry struct {
	Name, Version, Source string
}

// LockEntries reads the [[package]] tables of a Cargo.lock (format
// versions 1 to 4). Cargo writes the file in a fixed shape, one
// `key = "value"` per line with arrays spread over lines, so it is read
// line by line: only the name, version and source keys of [[package]]
// tables are taken, and array elements (which start with a quote) are
// passed over.
func LockEntries(b []byte) ([]LockEntry, int) {
	lr := inspect.NewLineReader(bytes.NewReader(b), maxLine)
	var out []LockEntry
	var cur *LockEntry
	for {
		line, err := lr.Next()
		if err != nil {
			break // io.EOF: the reader reads memory
		}
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' {
			continue
		}
		if s[0] == '[' {
			cur = nil
			if s == "[[package]]" {
				if len(out) >= maxPackages {
					break
				}
				out = append(out, LockEntry{})
				cur = &out[len(out)-1]
			}
			continue
		}
		if cur == nil {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			continue
		}
		val, ok := basicString(strings.TrimSpace(v))
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "name":
			cur.Name = val
		case "version":
			cur.Version = val
		case "source":
			cur.Source = val
		}
	}
	return out, lr.Truncated
}

// basicString reads a TOML basic string that is the whole value (an
// optional trailing comment aside); Cargo.lock's names, versions and
// sources have no escapes, so a backslash makes the value unusable.
func basicString(v string) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	end := strings.IndexByte(v[1:], '"')
	if end < 0 {
		return "", false
	}
	s := v[1 : end+1]
	rest := strings.TrimSpace(v[end+2:])
	if strings.ContainsRune(s, '\\') || rest != "" && rest[0] != '#' {
		return "", false
	}
	return s, true
}

// ParseCargoLock lists the crates a Cargo.lock locks (see crate for which
// are reported and how). Cargo.lock does not tell dev-dependencies apart.
func ParseCargoLock(b []byte) ([]customs.Package, []string) {
	entries, truncated := LockEntries(b)
	var out []customs.Package
	seen := map[string]bool{}
	for _, e := range entries {
		p, ok := crate(e.Name, e.Version, e.Source, nil)
		if !ok {
			continue
		}
		k := p.Name + "@" + p.Version + "|" + e.Source
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, p)
	}
	var warns []string
	if len(entries) >= maxPackages {
		warns = append(warns, fmt.Sprintf("more than %d packages; list cut", maxPackages))
	}
	if truncated > 0 {
		warns = append(warns, fmt.Sprintf("%d lines longer than %d bytes were cut", truncated, maxLine))
	}
	return out, warns
}
