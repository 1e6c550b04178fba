package python

import (
	"bytes"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect"
)

// ParseRequirements reads a pip requirements file and returns its exact
// pins ("name==version", "name[extra]===version", with or without an
// environment marker or per-requirement options). Ranges, unpinned names,
// URLs, editable installs and option lines (-r, -c, --index-url, ...) name
// no single version and are skipped. dev marks every pin as a development
// dependency (requirements-dev.txt).
func ParseRequirements(b []byte, dev bool) ([]customs.Package, error) {
	lr := inspect.NewLineReader(bytes.NewReader(b), maxLine)
	var out []customs.Package
	var logical strings.Builder
	flush := func() {
		if name, version, ok := parseRequirement(logical.String()); ok {
			var md map[string]string
			if dev {
				md = map[string]string{"dev": "true"}
			}
			out = append(out, newPackage(name, version, md))
		}
		logical.Reset()
	}
	for {
		line, err := lr.Next()
		if err != nil {
			break // io.EOF; LineReader reads from memory, so nothing else
		}
		s := stripComment(string(line))
		// A trailing backslash joins the next line, as pip does.
		if t := strings.TrimRight(s, " \t"); strings.HasSuffix(t, `\`) {
			if logical.Len() < maxLine {
				logical.WriteString(strings.TrimSuffix(t, `\`))
				logical.WriteByte(' ')
			}
			continue
		}
		if logical.Len() < maxLine {
			logical.WriteString(s)
		}
		flush()
		if len(out) > maxPackages {
			break
		}
	}
	flush()
	return out, nil
}

// stripComment cuts a "#" comment: at the start of a line or after
// whitespace (a "#" inside a URL fragment is not a comment).
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			return s[:i]
		}
	}
	return s
}

// parseRequirement reads one logical requirement line.
func parseRequirement(s string) (name, version string, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" || s[0] == '-' {
		return "", "", false // an option: -r, -e, --hash, --index-url, ...
	}
	s, _, _ = strings.Cut(s, ";") // environment marker
	// Per-requirement options (--hash=..., --config-settings ...).
	if i := strings.Index(s, " --"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, "\t--"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	// The name.
	n := 0
	for n < len(s) && (isBareKey(s[n]) || s[n] == '.') {
		n++
	}
	name = s[:n]
	if !validName(name) {
		return "", "", false
	}
	rest := strings.TrimSpace(s[n:])
	if strings.HasPrefix(rest, "[") { // extras
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return "", "", false
		}
		rest = strings.TrimSpace(rest[end+1:])
	}
	if strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")") { // "name (==1.0)", an old form
		rest = strings.TrimSpace(rest[1 : len(rest)-1])
	}
	switch {
	case strings.HasPrefix(rest, "==="):
		version = rest[3:]
	case strings.HasPrefix(rest, "=="):
		version = rest[2:]
	default:
		return "", "", false // unpinned, a range, or "name @ url"
	}
	version = strings.TrimSpace(version)
	// One exact pin only: "==1.*" and "==1.0,<2" are ranges.
	if !validVersion(version) || strings.ContainsAny(version, "*<>=!~") {
		return "", "", false
	}
	return name, version, true
}
