package python

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseTOML reads a TOML document into maps ([]any for arrays, map[string]any
// for tables, string for strings, numbers and dates, bool for booleans).
//
// It exists because no TOML module is a dependency of customs; it covers
// what the lock-file writers emit (tomlkit for poetry.lock, toml_edit for
// uv.lock): tables, arrays of tables, dotted and quoted keys, all four string
// forms, arrays and inline tables spanning lines. It is lenient where lock
// files never go (duplicate keys overwrite) and strict about syntax, with
// nesting bounded so hostile input cannot exhaust the stack.
func parseTOML(b []byte) (map[string]any, error) {
	p := &tomlParser{s: b, line: 1}
	root := map[string]any{}
	cur := root
	for {
		p.skipSpaceNewlines()
		if p.i >= len(p.s) {
			return root, nil
		}
		switch p.s[p.i] {
		case '[':
			arr := p.i+1 < len(p.s) && p.s[p.i+1] == '['
			if arr {
				p.i += 2
			} else {
				p.i++
			}
			keys, err := p.key()
			if err != nil {
				return nil, err
			}
			p.skipSpace()
			if !p.eat(']') || arr && !p.eat(']') {
				return nil, p.errorf("unterminated table header")
			}
			if err := p.endOfLine(); err != nil {
				return nil, err
			}
			if p.values++; p.values > maxTOMLValues {
				return nil, p.errorf("more than %d values", maxTOMLValues)
			}
			if cur, err = openTable(root, keys, arr); err != nil {
				return nil, p.errorf("%v", err)
			}
		default:
			if err := p.keyValue(cur); err != nil {
				return nil, err
			}
			if err := p.endOfLine(); err != nil {
				return nil, err
			}
		}
	}
}

const (
	maxTOMLDepth = 64
	// maxTOMLValues bounds the values of one document, so memory stays in
	// proportion to real lock files (a large uv.lock has a few hundred
	// thousand) whatever the input packs into its 64 MiB.
	maxTOMLValues = 4 << 20
)

type tomlParser struct {
	s      []byte
	i      int
	line   int
	depth  int
	values int
}

func (p *tomlParser) errorf(format string, a ...any) error {
	return fmt.Errorf("TOML line %d: %s", p.line, fmt.Sprintf(format, a...))
}

func (p *tomlParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *tomlParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *tomlParser) skipComment() {
	if p.i < len(p.s) && p.s[p.i] == '#' {
		for p.i < len(p.s) && p.s[p.i] != '\n' {
			p.i++
		}
	}
}

// skipSpaceNewlines skips blank lines and comments.
func (p *tomlParser) skipSpaceNewlines() {
	for {
		p.skipSpace()
		p.skipComment()
		if p.i < len(p.s) && (p.s[p.i] == '\n' || p.s[p.i] == '\r') {
			if p.s[p.i] == '\n' {
				p.line++
			}
			p.i++
			continue
		}
		return
	}
}

func (p *tomlParser) endOfLine() error {
	p.skipSpace()
	p.skipComment()
	if p.i >= len(p.s) {
		return nil
	}
	if p.s[p.i] == '\r' {
		p.i++
	}
	if !p.eat('\n') {
		return p.errorf("unexpected %q", p.s[p.i])
	}
	p.line++
	return nil
}

func isBareKey(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// key reads a possibly dotted key.
func (p *tomlParser) key() ([]string, error) {
	var keys []string
	for {
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errorf("missing key")
		}
		var k string
		switch c := p.s[p.i]; {
		case c == '"':
			s, err := p.basicString()
			if err != nil {
				return nil, err
			}
			k = s
		case c == '\'':
			s, err := p.literalString()
			if err != nil {
				return nil, err
			}
			k = s
		case isBareKey(c):
			start := p.i
			for p.i < len(p.s) && isBareKey(p.s[p.i]) {
				p.i++
			}
			k = string(p.s[start:p.i])
		default:
			return nil, p.errorf("unexpected %q in key", c)
		}
		keys = append(keys, k)
		if len(keys) > maxTOMLDepth {
			return nil, p.errorf("key too deep")
		}
		p.skipSpace()
		if !p.eat('.') {
			return keys, nil
		}
	}
}

// keyValue reads "key = value" into t.
func (p *tomlParser) keyValue(t map[string]any) error {
	keys, err := p.key()
	if err != nil {
		return err
	}
	p.skipSpace()
	if !p.eat('=') {
		return p.errorf("expected '=' after key %q", strings.Join(keys, "."))
	}
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return err
	}
	for _, k := range keys[:len(keys)-1] {
		next, ok := t[k].(map[string]any)
		if !ok {
			if _, exists := t[k]; exists {
				return p.errorf("key %q is not a table", k)
			}
			next = map[string]any{}
			t[k] = next
		}
		t = next
	}
	t[keys[len(keys)-1]] = v
	return nil
}

// openTable finds or makes the table a header names; for an array of
// tables it appends a new table. Intermediate keys that hold an array of
// tables mean its last element, as TOML says.
func openTable(root map[string]any, keys []string, arr bool) (map[string]any, error) {
	t := root
	for i, k := range keys {
		last := i == len(keys)-1
		switch v := t[k].(type) {
		case nil:
			if _, exists := t[k]; exists {
				return nil, fmt.Errorf("key %q is not a table", k)
			}
			n := map[string]any{}
			if last && arr {
				t[k] = []any{n}
			} else {
				t[k] = n
			}
			t = n
		case map[string]any:
			if last && arr {
				return nil, fmt.Errorf("key %q is a table, not an array of tables", k)
			}
			t = v
		case []any:
			if last && arr {
				n := map[string]any{}
				t[k] = append(v, n)
				t = n
				continue
			}
			if len(v) == 0 {
				return nil, fmt.Errorf("key %q is an empty array", k)
			}
			m, ok := v[len(v)-1].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("key %q is not an array of tables", k)
			}
			t = m
		default:
			return nil, fmt.Errorf("key %q is not a table", k)
		}
	}
	return t, nil
}

func (p *tomlParser) value() (any, error) {
	if p.values++; p.values > maxTOMLValues {
		return nil, p.errorf("more than %d values", maxTOMLValues)
	}
	if p.i >= len(p.s) {
		return nil, p.errorf("missing value")
	}
	switch c := p.s[p.i]; c {
	case '"':
		if p.hasPrefix(`"""`) {
			return p.multilineBasic()
		}
		return p.basicString()
	case '\'':
		if p.hasPrefix(`'''`) {
			return p.multilineLiteral()
		}
		return p.literalString()
	case '[':
		return p.array()
	case '{':
		return p.inlineTable()
	}
	// true, false, numbers, dates: kept as written.
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']' || c == '}' || c == '#' {
			break
		}
		p.i++
	}
	tok := string(p.s[start:p.i])
	switch {
	case tok == "true":
		return true, nil
	case tok == "false":
		return false, nil
	case tok == "":
		return nil, p.errorf("missing value")
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(isBareKey(c) || c == '.' || c == '+' || c == ':') {
			return nil, p.errorf("invalid value %q", truncate(tok, 32))
		}
	}
	return tok, nil
}

func (p *tomlParser) hasPrefix(s string) bool {
	return len(p.s)-p.i >= len(s) && string(p.s[p.i:p.i+len(s)]) == s
}

func (p *tomlParser) enter() error {
	p.depth++
	if p.depth > maxTOMLDepth {
		return p.errorf("values nested too deep")
	}
	return nil
}

func (p *tomlParser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++ // [
	out := []any{}
	for {
		p.skipSpaceNewlines()
		if p.eat(']') {
			return out, nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.skipSpaceNewlines()
		if p.eat(']') {
			return out, nil
		}
		if !p.eat(',') {
			return nil, p.errorf("expected ',' or ']' in array")
		}
	}
}

func (p *tomlParser) inlineTable() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++ // {
	out := map[string]any{}
	// Newlines are tolerated inside inline tables (TOML 1.1 allows them).
	p.skipSpaceNewlines()
	if p.eat('}') {
		return out, nil
	}
	for {
		p.skipSpaceNewlines()
		if err := p.keyValue(out); err != nil {
			return nil, err
		}
		p.skipSpaceNewlines()
		if p.eat('}') {
			return out, nil
		}
		if !p.eat(',') {
			return nil, p.errorf("expected ',' or '}' in inline table")
		}
		p.skipSpaceNewlines()
		if p.eat('}') {
			return out, nil
		}
	}
}

var errUnterminated = errors.New("unterminated string")

func (p *tomlParser) literalString() (string, error) {
	p.i++ // '
	start := p.i
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '\'':
			s := string(p.s[start:p.i])
			p.i++
			return s, nil
		case '\n':
			return "", p.errorf("%v", errUnterminated)
		}
		p.i++
	}
	return "", p.errorf("%v", errUnterminated)
}

func (p *tomlParser) multilineLiteral() (string, error) {
	p.i += 3
	p.eat('\r')
	if p.eat('\n') {
		p.line++
	}
	start := p.i
	for p.i < len(p.s) {
		if p.hasPrefix("'''") {
			// Up to two quotes may end the content itself ('''' or ''''').
			end := p.i
			for k := 0; k < 2 && end+3 < len(p.s) && p.s[end+3] == '\''; k++ {
				end++
			}
			s := string(p.s[start:end])
			p.i = end + 3
			return s, nil
		}
		if p.s[p.i] == '\n' {
			p.line++
		}
		p.i++
	}
	return "", p.errorf("%v", errUnterminated)
}

func (p *tomlParser) basicString() (string, error) {
	p.i++ // "
	var sb strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '"':
			p.i++
			return sb.String(), nil
		case '\n':
			return "", p.errorf("%v", errUnterminated)
		case '\\':
			if err := p.escape(&sb); err != nil {
				return "", err
			}
			continue
		}
		sb.WriteByte(c)
		p.i++
	}
	return "", p.errorf("%v", errUnterminated)
}

func (p *tomlParser) multilineBasic() (string, error) {
	p.i += 3
	p.eat('\r')
	if p.eat('\n') {
		p.line++
	}
	var sb strings.Builder
	for p.i < len(p.s) {
		if p.hasPrefix(`"""`) {
			extra := 0
			for extra < 2 && p.i+3+extra < len(p.s) && p.s[p.i+3+extra] == '"' {
				extra++
			}
			sb.WriteString(strings.Repeat(`"`, extra))
			p.i += 3 + extra
			return sb.String(), nil
		}
		c := p.s[p.i]
		if c == '\\' {
			// A line-ending backslash trims the newline and the whitespace after it.
			j := p.i + 1
			for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
				j++
			}
			if j < len(p.s) && (p.s[j] == '\n' || p.s[j] == '\r') {
				p.i = j
				for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
					if p.s[p.i] == '\n' {
						p.line++
					}
					p.i++
				}
				continue
			}
			if err := p.escape(&sb); err != nil {
				return "", err
			}
			continue
		}
		if c == '\n' {
			p.line++
		}
		sb.WriteByte(c)
		p.i++
	}
	return "", p.errorf("%v", errUnterminated)
}

// escape reads one backslash escape at p.i.
func (p *tomlParser) escape(sb *strings.Builder) error {
	if p.i+1 >= len(p.s) {
		return p.errorf("%v", errUnterminated)
	}
	c := p.s[p.i+1]
	p.i += 2
	switch c {
	case 'b':
		sb.WriteByte('\b')
	case 't':
		sb.WriteByte('\t')
	case 'n':
		sb.WriteByte('\n')
	case 'f':
		sb.WriteByte('\f')
	case 'r':
		sb.WriteByte('\r')
	case 'e':
		sb.WriteByte(0x1b)
	case '"':
		sb.WriteByte('"')
	case '\\':
		sb.WriteByte('\\')
	case 'x', 'u', 'U':
		n := 2
		if c == 'u' {
			n = 4
		} else if c == 'U' {
			n = 8
		}
		if p.i+n > len(p.s) {
			return p.errorf("short \\%c escape", c)
		}
		v, err := strconv.ParseUint(string(p.s[p.i:p.i+n]), 16, 32)
		if err != nil || !utf8.ValidRune(rune(v)) {
			return p.errorf("invalid \\%c escape", c)
		}
		sb.WriteRune(rune(v))
		p.i += n
	default:
		return p.errorf("invalid escape \\%c", c)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Accessors for parsed TOML and JSON values of unknown shape.

func str(v any) string {
	s, _ := v.(string)
	return s
}

func table(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}
