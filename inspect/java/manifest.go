package java

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseManifest reads the main section of a JAR manifest
// (https://docs.oracle.com/en/java/javase/17/docs/specs/jar/jar.html):
// "Name: value" lines, a line starting with one space continuing the value
// before it (writers wrap at 72 bytes, even inside a word), ended by the
// first blank line. Lines end in CRLF, LF or CR. Names are returned in lower
// case, as they compare case-insensitively; a repeated name keeps its last
// value, as java.util.jar does.
func ParseManifest(b []byte) map[string]string {
	attrs, _ := manifestMain(b)
	return attrs
}

// manifestMain is ParseManifest; ended says whether a blank line ended the
// main section within b (so a cut-short b lost nothing of it).
func manifestMain(b []byte) (attrs map[string]string, ended bool) {
	attrs = map[string]string{}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var key string
	var val strings.Builder
	flush := func() {
		if key != "" {
			attrs[key] = strings.TrimSpace(val.String())
		}
		key = ""
		val.Reset()
	}
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line = b[:i]
			if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			b = b[i+1:]
		}
		switch {
		case len(line) == 0:
			if key == "" && len(attrs) == 0 {
				continue // leading blank lines: not the end of a section yet
			}
			flush()
			return attrs, true
		case line[0] == ' ':
			if key != "" {
				val.Write(line[1:])
			}
		default:
			flush()
			k, v, ok := bytes.Cut(line, []byte(":"))
			if !ok || len(k) == 0 {
				continue // not a header; java.util.jar would refuse the manifest
			}
			key = strings.ToLower(string(bytes.TrimSpace(k)))
			val.Write(bytes.TrimPrefix(v, []byte(" ")))
		}
	}
	flush()
	return attrs, false
}

// parseProperties reads a java.util.Properties text file (pom.properties):
// "key=value", "key: value" or "key value" lines, # and ! comments, a
// trailing backslash continuing a line, and \t \n \r \f \uXXXX escapes.
func parseProperties(b []byte) map[string]string {
	out := map[string]string{}
	lines := splitLines(b)
	for i := 0; i < len(lines); i++ {
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for continued(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		if continued(line) {
			line = line[:len(line)-1]
		}
		// The key ends at the first unescaped '=', ':' or white space.
		end := len(line)
		for j := 0; j < len(line); j++ {
			if line[j] == '\\' {
				j++
				continue
			}
			if line[j] == '=' || line[j] == ':' || line[j] == ' ' || line[j] == '\t' || line[j] == '\f' {
				end = j
				break
			}
		}
		key, rest := line[:end], strings.TrimLeft(line[end:], " \t\f")
		if rest != "" && (rest[0] == '=' || rest[0] == ':') {
			rest = strings.TrimLeft(rest[1:], " \t\f")
		}
		out[unescapeProperty(key)] = unescapeProperty(rest)
	}
	return out
}

// continued says whether a line ends in an odd number of backslashes.
func continued(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func splitLines(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i]))
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			i++
		}
		b = b[i+1:]
	}
	return out
}

func unescapeProperty(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			sb.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			sb.WriteByte('\t')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 'f':
			sb.WriteByte('\f')
		case 'u':
			if i+4 < len(s) {
				if r, err := strconv.ParseUint(s[i+1:i+5], 16, 32); err == nil {
					sb.WriteRune(rune(r))
					i += 4
					continue
				}
			}
			sb.WriteByte('u')
		default:
			sb.WriteByte(s[i])
		}
	}
	return sb.String()
}

// pomLicenses reads <licenses><license><name> (or <url>) from a pom.xml.
func pomLicenses(b []byte) []string {
	var pom struct {
		Licenses []struct {
			Name string `xml:"name"`
			URL  string `xml:"url"`
		} `xml:"licenses>license"`
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false // poms use HTML entities and sloppy markup; we only want two fields
	d.CharsetReader = latin1Reader
	if err := d.Decode(&pom); err != nil {
		return nil
	}
	var out []string
	for _, l := range pom.Licenses {
		v := strings.Join(strings.Fields(l.Name), " ")
		if v == "" {
			v = strings.TrimSpace(l.URL)
		}
		if v != "" && !strings.Contains(v, "${") && len(v) <= 256 {
			out = append(out, v)
		}
	}
	return out
}

// latin1Reader decodes the single-byte encodings old poms declare
// (ISO-8859-1, US-ASCII, windows-1252, approximated by Latin-1).
func latin1Reader(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii", "windows-1252", "cp1252":
	default:
		return nil, fmt.Errorf("unsupported charset %q", label)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for _, c := range b {
		buf.WriteRune(rune(c))
	}
	return &buf, nil
}

// bundleLicenses reads OSGi's Bundle-License header: licenses separated by
// commas, each an SPDX name or URL with ";attribute=value" parts. Free text
// with spaces ("Apache License, Version 2.0") is not split at its commas.
func bundleLicenses(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" || v == "<<EXTERNAL>>" {
		return nil
	}
	var parts []string
	quoted := false
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				parts = append(parts, v[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, v[start:])
	var out []string
	for _, p := range parts {
		p, _, _ = strings.Cut(p, ";")
		p = strings.Trim(strings.TrimSpace(p), `"`)
		if strings.ContainsAny(p, " \t") {
			name, _, _ := strings.Cut(v, ";")
			return []string{strings.TrimSpace(name)}
		}
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// isIdentifier says whether s can be a Maven groupId or artifactId.
func isIdentifier(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isVersion says whether s can be a version: printable, no white space, no
// unresolved ${property}.
func isVersion(s string) bool {
	if s == "" || len(s) > 128 || strings.Contains(s, "${") || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '/' || r == '\\' {
			return false
		}
	}
	return true
}

// identityFromManifest guesses a Maven identity from a manifest's main
// attributes. A Jenkins plugin says exactly who it is (Group-Id, Short-Name
// = artifactId, Plugin-Version); otherwise Implementation-* or Bundle-*
// headers give a name that is often, not always, the artifactId.
func identityFromManifest(m map[string]string) (group, artifact, version string, exact bool) {
	if g, a, v := m["group-id"], m["short-name"], m["plugin-version"]; isIdentifier(g) && isIdentifier(a) && isVersion(v) {
		return g, a, v, true
	}
	for _, k := range []string{"implementation-version", "bundle-version"} {
		if isVersion(m[k]) {
			version = m[k]
			break
		}
	}
	if t := m["implementation-title"]; isIdentifier(t) {
		artifact = t
	} else if bsn, _, _ := strings.Cut(m["bundle-symbolicname"], ";"); isIdentifier(strings.TrimSpace(bsn)) {
		artifact = strings.TrimSpace(bsn)
	}
	if g := m["implementation-vendor-id"]; isIdentifier(g) {
		group = g
	}
	if artifact == "" || version == "" {
		return "", "", "", false
	}
	return group, artifact, version, false
}

// identityFromFileName reads "name-1.2.3.jar". The version starts at a dash
// followed by a digit; of several, the first whose remainder does not itself
// contain "-word-digit" (so log4j-1.2-api-2.17.1 is log4j-1.2-api 2.17.1,
// guava-31.1-jre is guava 31.1-jre).
func identityFromFileName(file string) (artifact, version string, ok bool) {
	base := path.Base(file)
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	first := -1
	for i := 0; i+1 < len(base); i++ {
		if base[i] != '-' || base[i+1] < '0' || base[i+1] > '9' {
			continue
		}
		if first < 0 {
			first = i
		}
		if !hasWordThenDigit(base[i+1:]) {
			first = i
			break
		}
	}
	if first < 0 {
		return "", "", false
	}
	name, ver := base[:first], base[first+1:]
	if !isIdentifier(name) || !isVersion(ver) {
		return "", "", false
	}
	return name, ver, true
}

// hasWordThenDigit finds "-word-9" where word is not a version qualifier
// (beta, rc, jre...): a sign that a name part, like log4j-1.2-api's "api",
// comes before the real version.
func hasWordThenDigit(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '-' || !isLetter(s[i+1]) {
			continue
		}
		j := i + 1
		for j < len(s) && s[j] != '-' && s[j] != '.' {
			j++
		}
		if isQualifier(s[i+1 : j]) {
			continue
		}
		if strings.Contains(s[j:], "-") {
			for k := j; k+1 < len(s); k++ {
				if s[k] == '-' && s[k+1] >= '0' && s[k+1] <= '9' {
					return true
				}
			}
		}
	}
	return false
}

// isQualifier says whether a word is one Maven versions carry
// ("2.0-beta-3", "31.1-jre").
func isQualifier(w string) bool {
	switch strings.ToLower(w) {
	case "alpha", "beta", "a", "b", "rc", "cr", "m", "milestone", "snapshot", "final", "ga",
		"release", "sp", "jre", "android", "incubating", "preview", "pre", "dev":
		return true
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
