package advisory

import (
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// decodeRecordLean decodes a stored record without its affected list.
//
// A scan with thousands of findings inflates thousands of records, and
// encoding/json (a validity pass over the whole document, then reflection,
// including over the affected list it is told to skip) was the largest cost
// left in matching. Stored records passed ParseRecord when they were
// imported, so they are valid JSON; this reads the fields a finding shows
// directly and skips the rest by structure. Whatever it does not expect (a
// field spelled in another case, a value of another type, a null inside a
// list, invalid UTF-8) goes to encoding/json, so the result is always
// encoding/json's.
//
// The record is copied once into a string and every string without
// escapes is a slice of it (a record holds dozens: keys, ids, URLs), so the
// strings of a record share its memory.
func decodeRecordLean(b []byte) (*Record, error) {
	d := jsonReader{b: string(b)}
	r := &Record{}
	if err := d.record(r); err == nil {
		if d.space(); d.i == len(d.b) {
			return r, nil
		}
	}
	r = &Record{}
	v := struct {
		*Record
		Affected skipJSON `json:"affected"`
	}{Record: r}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return r, nil
}

var errSlow = errors.New("advisory: record needs the general decoder")

// jsonReader reads the JSON shapes of an OSV record.
type jsonReader struct {
	b   string
	i   int
	buf []byte // scratch for strings with escapes
}

func (d *jsonReader) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonReader) peek() byte {
	d.space()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *jsonReader) next(c byte) bool {
	if d.peek() == c {
		d.i++
		return true
	}
	return false
}

func (d *jsonReader) null() bool {
	if d.peek() == 'n' && strings.HasPrefix(d.b[d.i:], "null") {
		d.i += 4
		return true
	}
	return false
}

// plain says which bytes a JSON string holds as themselves and that need
// no check: printable ASCII but the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainRun is the end of the run of plain bytes from i.
func (d *jsonReader) plainRun(i int) int {
	for i < len(d.b) && plain[d.b[i]] {
		i++
	}
	return i
}

// str reads a string, decoding escapes as encoding/json does.
func (d *jsonReader) str() (string, error) {
	if !d.next('"') {
		return "", errSlow
	}
	start := d.i
	d.i = d.plainRun(d.i)
	switch {
	case d.i >= len(d.b) || d.b[d.i] < 0x20:
		return "", errSlow
	case d.b[d.i] == '"':
		d.i++
		return d.b[start : d.i-1], nil
	}
	return d.strSlow(start)
}

// strSlow finishes a string holding escapes or non-ASCII bytes.
func (d *jsonReader) strSlow(start int) (string, error) {
	out := append(d.buf[:0], d.b[start:d.i]...)
	for d.i < len(d.b) {
		if end := d.plainRun(d.i); end > d.i {
			out = append(out, d.b[d.i:end]...)
			if d.i = end; d.i >= len(d.b) {
				break
			}
		}
		switch c := d.b[d.i]; { // not plain: a quote, a control byte, non-ASCII or a backslash
		case c == '"':
			d.i++
			d.buf = out
			return string(out), nil
		case c < 0x20:
			return "", errSlow
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(d.b[d.i:])
			if r == utf8.RuneError && n == 1 {
				return "", errSlow // encoding/json replaces it; leave that to it
			}
			out = append(out, d.b[d.i:d.i+n]...)
			d.i += n
			continue
		}
		if d.i+1 >= len(d.b) {
			return "", errSlow
		}
		switch e := d.b[d.i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4(d.i + 2)
			if !ok || (r >= 0xd800 && r < 0xe000) {
				return "", errSlow // surrogates: encoding/json's rules
			}
			out = utf8.AppendRune(out, r)
			d.i += 6
			continue
		default:
			return "", errSlow
		}
		d.i += 2
	}
	return "", errSlow
}

func (d *jsonReader) hex4(at int) (rune, bool) {
	if at+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for i := at; i < at+4; i++ {
		c := d.b[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

// skip passes over one value, returning its text. Only structure is
// checked (strings end, brackets close): the record was valid when stored.
func (d *jsonReader) skip() (string, error) {
	d.space()
	start := d.i
	if d.i >= len(d.b) {
		return "", errSlow
	}
	switch d.b[d.i] {
	case '"':
		if !d.skipString() {
			return "", errSlow
		}
	case '{', '[':
		for depth := 0; ; {
			if d.i >= len(d.b) {
				return "", errSlow
			}
			switch d.b[d.i] {
			case '"':
				if !d.skipString() {
					return "", errSlow
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			d.i++
			if depth == 0 {
				break
			}
		}
	default: // a number, true, false or null
		for d.i < len(d.b) && !strings.ContainsRune(",}] \t\n\r:", rune(d.b[d.i])) {
			d.i++
		}
		if d.i == start {
			return "", errSlow
		}
	}
	return d.b[start:d.i], nil
}

// skipString passes over a string starting at d.i.
func (d *jsonReader) skipString() bool {
	for d.i++; d.i < len(d.b); d.i++ {
		switch d.b[d.i] {
		case '\\':
			d.i++
		case '"':
			d.i++
			return true
		}
	}
	return false
}

// object calls field for each member; field reads the value.
func (d *jsonReader) object(field func(key string) error) error {
	if !d.next('{') {
		return errSlow
	}
	if d.next('}') {
		return nil
	}
	for {
		k, err := d.str()
		if err != nil {
			return err
		}
		if !d.next(':') {
			return errSlow
		}
		if err := field(k); err != nil {
			return err
		}
		if d.next('}') {
			return nil
		}
		if !d.next(',') {
			return errSlow
		}
	}
}

// unknown skips a member no field takes, unless encoding/json would take
// it for one of known (it matches names without regard to case).
func (d *jsonReader) unknown(key string, known ...string) error {
	for _, k := range known {
		if strings.EqualFold(key, k) {
			return errSlow
		}
	}
	_, err := d.skip()
	return err
}

// list reads an array (null gives nil, [] an empty slice, as encoding/json).
func list[T any](d *jsonReader, elem func() (T, error)) ([]T, error) {
	if d.null() {
		return nil, nil
	}
	if !d.next('[') {
		return nil, errSlow
	}
	out := make([]T, 0, 4)
	if d.next(']') {
		return out, nil
	}
	for {
		if d.peek() == 'n' {
			return nil, errSlow // a null element
		}
		v, err := elem()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if d.next(']') {
			return out, nil
		}
		if !d.next(',') {
			return nil, errSlow
		}
	}
}

// optString reads a string field; null leaves it as it was.
func (d *jsonReader) optString(p *string) error {
	if d.null() {
		return nil
	}
	s, err := d.str()
	*p = s
	return err
}

func (d *jsonReader) time() (*time.Time, error) {
	if d.null() {
		return nil, nil
	}
	if d.peek() != '"' {
		return nil, errSlow
	}
	raw, err := d.skip()
	if err != nil {
		return nil, err
	}
	t := new(time.Time)
	if err := t.UnmarshalJSON([]byte(raw)); err != nil {
		return nil, errSlow
	}
	return t, nil
}

func (d *jsonReader) record(r *Record) error {
	strs := func() ([]string, error) { return list(d, d.str) }
	return d.object(func(k string) error {
		var err error
		switch k {
		case "schema_version":
			err = d.optString(&r.SchemaVersion)
		case "id":
			err = d.optString(&r.ID)
		case "summary":
			err = d.optString(&r.Summary)
		case "details":
			err = d.optString(&r.Details)
		case "modified":
			var t *time.Time
			if t, err = d.time(); t != nil {
				r.Modified = *t
			}
		case "published":
			r.Published, err = d.time()
		case "withdrawn":
			r.Withdrawn, err = d.time()
		case "aliases":
			r.Aliases, err = strs()
		case "related":
			r.Related, err = strs()
		case "upstream":
			r.Upstream, err = strs()
		case "severity":
			r.Severity, err = list(d, func() (Severity, error) {
				var s Severity
				err := d.object(func(k string) error {
					switch k {
					case "type":
						return d.optString(&s.Type)
					case "score":
						return d.optString(&s.Score)
					}
					return d.unknown(k, "type", "score")
				})
				return s, err
			})
		case "references":
			r.References, err = list(d, func() (Reference, error) {
				var ref Reference
				err := d.object(func(k string) error {
					switch k {
					case "type":
						return d.optString(&ref.Type)
					case "url":
						return d.optString(&ref.URL)
					}
					return d.unknown(k, "type", "url")
				})
				return ref, err
			})
		case "database_specific":
			var raw string
			if raw, err = d.skip(); err == nil {
				r.DatabaseSpecific = json.RawMessage(raw)
			}
		case "affected":
			_, err = d.skip()
		default:
			err = d.unknown(k, "schema_version", "id", "summary", "details", "modified", "published", "withdrawn",
				"aliases", "related", "upstream", "severity", "references", "database_specific", "affected")
		}
		return err
	})
}
