package version

import "strings"

// mavenScheme orders Maven versions as Maven 3.8's
// org.apache.maven.artifact.versioning.ComparableVersion does: the version
// splits on '.', '-' and digit/letter changes into nested lists of number
// and qualifier items (a qualifier after a '.' opens a sub-list as '-'
// does: 1.0.0.RC1 == 1.0.0-RC1); qualifiers order alpha < beta < milestone < rc = cr <
// snapshot < "" = ga = final = release < sp < anything else (by name);
// trailing nulls (0, "", empty lists) are dropped.
//
// ComparableVersion accepts any string. Only printable ASCII up to 4096
// bytes is accepted here: Java's Unicode digit and case rules are not
// reproduced, and the nesting depth (one level per '-' or digit/letter
// change) must stay bounded.
type mavenScheme struct{}

func (mavenScheme) Name() string { return "maven" }

const mavenMaxLen = 4096

// Item kinds, named after ComparableVersion's Item types.
const (
	mvInt = iota
	mvLong
	mvBigInt
	mvString
	mvList
)

type mvItem struct {
	kind int
	val  string   // digits for numbers; the qualifier for strings
	list []mvItem // for mvList
}

func (mavenScheme) Valid(v string) error {
	if v == "" {
		return invalid("maven", v, "empty version")
	}
	if len(v) > mavenMaxLen {
		return invalid("maven", v, "longer than 4096 bytes")
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			return invalid("maven", v, "not printable ASCII")
		}
	}
	return nil
}

func (ms mavenScheme) Compare(a, b string) (int, error) {
	return compareValid(ms, a, b, func(a, b string) int {
		if c, ok := mavenPlainCompare(a, b); ok {
			return c
		}
		la, lb := parseMaven(a), parseMaven(b)
		return sign(mvCompare(&la, &lb))
	})
}

// mavenPlainCompare orders versions that are only numbers and single dots
// ("2.13.4.1"), most of those advisories name, without building Maven's
// item lists: ComparableVersion makes each a list of numbers without its
// trailing zeros and compares them element by element, a missing one as 0,
// which is what compareRelease does.
func mavenPlainCompare(a, b string) (int, bool) {
	if !plainDotted(a) || !plainDotted(b) {
		return 0, false
	}
	return compareRelease(a, b), true
}

// plainDotted says whether s is numbers separated by single dots.
func plainDotted(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && (s[i] != '.' || s[i-1] == '.') {
			return false
		}
	}
	return true
}

// mavenQualifier is StringItem's alias handling plus the single-letter
// forms a1, b1, m1.
func mavenQualifier(s string, followedByDigit bool) string {
	if followedByDigit && len(s) == 1 {
		switch s[0] {
		case 'a':
			return "alpha"
		case 'b':
			return "beta"
		case 'm':
			return "milestone"
		}
	}
	switch s {
	case "ga", "final", "release":
		return ""
	case "cr":
		return "rc"
	}
	return s
}

// mavenRank is comparableQualifier: the index in the known list, or
// "7-" + the qualifier; the results are compared as strings.
func mavenRank(q string) (string, string) {
	switch q {
	case "alpha":
		return "0", ""
	case "beta":
		return "1", ""
	case "milestone":
		return "2", ""
	case "rc":
		return "3", ""
	case "snapshot":
		return "4", ""
	case "":
		return "5", ""
	case "sp":
		return "6", ""
	}
	return "7-", q
}

func mvCompareQualifiers(a, b string) int {
	ra, qa := mavenRank(a)
	rb, qb := mavenRank(b)
	if c := strings.Compare(ra, rb); c != 0 {
		return c
	}
	return strings.Compare(qa, qb)
}

func parseMavenNumber(buf string) mvItem {
	// stripLeadingZeroes keeps an all-zero string whole, so "0000000000"
	// is a LongItem; the length decides the kind, as in Maven.
	s := strings.TrimLeft(buf, "0")
	if s == "" {
		s = buf
	}
	switch {
	case len(s) <= 9:
		return mvItem{kind: mvInt, val: s}
	case len(s) <= 18:
		return mvItem{kind: mvLong, val: s}
	}
	return mvItem{kind: mvBigInt, val: s}
}

func parseMavenItem(isDigit bool, buf string) mvItem {
	if isDigit {
		return parseMavenNumber(buf)
	}
	return mvItem{kind: mvString, val: mavenQualifier(buf, false)}
}

// parseMaven is ComparableVersion.parseVersion. Lists are built through a
// path of indexes because appending may move a parent's slice.
func parseMaven(version string) mvItem {
	version = strings.ToLower(version) // ASCII only, checked by Valid
	root := mvItem{kind: mvList}
	// path holds pointers to the open lists, innermost last. Each new list
	// is appended to the innermost one, and only the innermost list grows,
	// so the pointers to outer lists' last elements stay valid.
	path := []*mvItem{&root}
	cur := func() *mvItem { return path[len(path)-1] }
	push := func() {
		c := cur()
		c.list = append(c.list, mvItem{kind: mvList})
		path = append(path, &c.list[len(c.list)-1])
	}
	isDigit := false
	start := 0
	for i := 0; i < len(version); i++ {
		c := version[i]
		switch {
		case c == '.':
			if i == start {
				cur().list = append(cur().list, mvItem{kind: mvInt, val: "0"})
			} else {
				cur().list = append(cur().list, parseMavenItem(isDigit, version[start:i]))
			}
			start = i + 1
		case c == '-':
			if i == start {
				cur().list = append(cur().list, mvItem{kind: mvInt, val: "0"})
			} else {
				cur().list = append(cur().list, parseMavenItem(isDigit, version[start:i]))
			}
			start = i + 1
			push()
		case '0' <= c && c <= '9':
			if !isDigit && i > start {
				// "1.0.0.X1 < 1.0.0-X2": a qualifier in a non-empty list
				// starts a sub-list, as if '-' came before it.
				if len(cur().list) > 0 {
					push()
				}
				cur().list = append(cur().list, mvItem{kind: mvString, val: mavenQualifier(version[start:i], true)})
				start = i
				push()
			}
			isDigit = true
		default:
			if isDigit && i > start {
				cur().list = append(cur().list, parseMavenNumber(version[start:i]))
				start = i
				push()
			}
			isDigit = false
		}
	}
	if len(version) > start {
		if !isDigit && len(cur().list) > 0 {
			push() // the same rule for a trailing qualifier
		}
		cur().list = append(cur().list, parseMavenItem(isDigit, version[start:]))
	}
	mvNormalize(&root)
	return root
}

// mvNormalize drops trailing null items, innermost lists first, as the
// parser's stack does. A non-null list does not stop the scan.
func mvNormalize(l *mvItem) {
	for i := range l.list {
		if l.list[i].kind == mvList {
			mvNormalize(&l.list[i])
		}
	}
	for i := len(l.list) - 1; i >= 0; i-- {
		it := &l.list[i]
		if mvIsNull(it) {
			l.list = append(l.list[:i], l.list[i+1:]...)
		} else if it.kind != mvList {
			break
		}
	}
}

func mvIsNull(it *mvItem) bool {
	switch it.kind {
	case mvList:
		return len(it.list) == 0
	case mvString:
		return it.val == ""
	}
	return strings.TrimLeft(it.val, "0") == ""
}

// mvCompareNull is Item.compareTo(null).
func mvCompareNull(it *mvItem) int {
	switch it.kind {
	case mvString:
		return mvCompareQualifiers(it.val, "")
	case mvList:
		for i := range it.list {
			if c := mvCompareNull(&it.list[i]); c != 0 {
				return c
			}
		}
		return 0
	}
	if mvIsNull(it) {
		return 0
	}
	return 1
}

// mvCompare is Item.compareTo(item) for non-null items.
func mvCompare(a, b *mvItem) int {
	switch a.kind {
	case mvInt, mvLong, mvBigInt:
		switch b.kind {
		case mvInt, mvLong, mvBigInt:
			if a.kind != b.kind {
				return sign(a.kind - b.kind)
			}
			return cmpNum(a.val, b.val)
		}
		return 1 // a number is newer than a qualifier or a sub-list
	case mvString:
		if b.kind == mvString {
			return mvCompareQualifiers(a.val, b.val)
		}
		return -1
	}
	// a is a list.
	switch b.kind {
	case mvInt, mvLong, mvBigInt:
		return -1
	case mvString:
		return 1
	}
	n := max(len(a.list), len(b.list))
	for i := 0; i < n; i++ {
		var c int
		switch {
		case i >= len(a.list):
			c = -mvCompareNull(&b.list[i])
		case i >= len(b.list):
			c = mvCompareNull(&a.list[i])
		default:
			c = mvCompare(&a.list[i], &b.list[i])
		}
		if c != 0 {
			return c
		}
	}
	return 0
}
