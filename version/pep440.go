package version

import (
	"strings"
	"unicode"
)

// pep440Scheme orders Python package versions by PEP 440, as PyPA's
// packaging.version.Version does: epochs, pre-, post- and dev-releases,
// local versions, and the normalizations (case, separators, "v" prefix,
// "1.0-1" as a post-release, spelled-out "alpha", "preview", "rev", ...).
//
// Versions packaging accepts only through Unicode case folding (a Kelvin
// sign for "k", a long s for "s") are rejected: they are not real versions
// and their order would rest on Python's regex internals.
type pep440Scheme struct{}

func (pep440Scheme) Name() string { return "pep440" }

type pep440Version struct {
	epoch   string // digits, "" for 0
	release string // "1.2.3"
	preL    byte   // 'a', 'b', 'c' (rc), or 0
	preN    string
	hasPost bool
	postN   string
	hasDev  bool
	devN    string
	local   string // without '+', "" if none
}

// isPySpace is Python's str.isspace, which \s matches in str patterns.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || 0x1c <= r && r <= 0x1f
}

func isSep(c byte) bool { return c == '-' || c == '_' || c == '.' }

// hasFold reports whether s starts with the ASCII lowercase word w,
// ignoring ASCII case.
func hasFold(s, w string) bool {
	return len(s) >= len(w) && strings.EqualFold(s[:len(w)], w)
}

func digitsAt(s string) int {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// parsePEP440 matches packaging's VERSION_PATTERN. The regex's optional
// parts start with distinct tokens, so taking each one greedily gives the
// same match as the regex's backtracking.
func parsePEP440(s string) (pep440Version, bool) {
	var v pep440Version
	s = strings.TrimLeftFunc(s, isPySpace)
	s = strings.TrimRightFunc(s, isPySpace)
	if s != "" && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	n := digitsAt(s)
	if n == 0 {
		return v, false
	}
	if n < len(s) && s[n] == '!' {
		v.epoch, s = s[:n], s[n+1:]
		if n = digitsAt(s); n == 0 {
			return v, false
		}
	}
	// Release: N(.N)*
	i := n
	for i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		i++
		i += digitsAt(s[i:])
	}
	v.release, s = s[:i], s[i:]

	// Pre-release: [-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?N?
	{
		t := s
		if t != "" && isSep(t[0]) {
			t = t[1:]
		}
		var l byte
		switch {
		case hasFold(t, "preview"):
			l, t = 'c', t[7:]
		case hasFold(t, "alpha"):
			l, t = 'a', t[5:]
		case hasFold(t, "beta"):
			l, t = 'b', t[4:]
		case hasFold(t, "pre"):
			l, t = 'c', t[3:]
		case hasFold(t, "rc"):
			l, t = 'c', t[2:]
		case hasFold(t, "a"):
			l, t = 'a', t[1:]
		case hasFold(t, "b"):
			l, t = 'b', t[1:]
		case hasFold(t, "c"):
			l, t = 'c', t[1:]
		}
		if l != 0 {
			v.preL, v.preN, s = l, "", t
			u := s
			if u != "" && isSep(u[0]) {
				u = u[1:]
			}
			if d := digitsAt(u); d > 0 {
				v.preN, s = u[:d], u[d:]
			} else {
				s = u
			}
		}
	}

	// Post-release: -N | [-_.]?(post|rev|r)[-_.]?N?
	if len(s) > 1 && s[0] == '-' && isDigit(s[1]) {
		d := digitsAt(s[1:])
		v.hasPost, v.postN, s = true, s[1:1+d], s[1+d:]
	} else {
		t := s
		if t != "" && isSep(t[0]) {
			t = t[1:]
		}
		ok := true
		switch {
		case hasFold(t, "post"):
			t = t[4:]
		case hasFold(t, "rev"):
			t = t[3:]
		case hasFold(t, "r"):
			t = t[1:]
		default:
			ok = false
		}
		if ok {
			v.hasPost, s = true, t
			u := s
			if u != "" && isSep(u[0]) {
				u = u[1:]
			}
			if d := digitsAt(u); d > 0 {
				v.postN, s = u[:d], u[d:]
			} else {
				s = u
			}
		}
	}

	// Dev-release: [-_.]?dev[-_.]?N?
	{
		t := s
		if t != "" && isSep(t[0]) {
			t = t[1:]
		}
		if hasFold(t, "dev") {
			v.hasDev, s = true, t[3:]
			u := s
			if u != "" && isSep(u[0]) {
				u = u[1:]
			}
			if d := digitsAt(u); d > 0 {
				v.devN, s = u[:d], u[d:]
			} else {
				s = u
			}
		}
	}

	// Local: +[a-z0-9]+([-_.][a-z0-9]+)*
	if s != "" && s[0] == '+' {
		v.local, s = s[1:], ""
		if !validLocal(v.local) {
			return v, false
		}
	}
	return v, s == ""
}

func validLocal(s string) bool {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && !isSep(s[i]) {
			if !isAlnum(s[i]) {
				return false
			}
			continue
		}
		if i == start {
			return false
		}
		start = i + 1
	}
	return true
}

func (pep440Scheme) Valid(s string) error {
	if _, ok := parsePEP440(s); !ok {
		return invalid("pep440", s, "not a PEP 440 version")
	}
	return nil
}

func (ps pep440Scheme) Compare(a, b string) (int, error) {
	va, ok := parsePEP440(a)
	if !ok {
		return 0, ps.Valid(a)
	}
	vb, ok := parsePEP440(b)
	if !ok {
		return 0, ps.Valid(b)
	}
	return comparePEP440(&va, &vb), nil
}

// comparePEP440 orders by packaging's _cmpkey: epoch, release without
// trailing zeros, pre (a dev-only release sorts before its pre-releases, a
// final release after them), post, dev, local.
func comparePEP440(a, b *pep440Version) int {
	if c := cmpNum(a.epoch, b.epoch); c != 0 {
		return c
	}
	if c := compareRelease(a.release, b.release); c != 0 {
		return c
	}
	if c := pep440PreRank(a) - pep440PreRank(b); c != 0 {
		return sign(c)
	}
	if a.preL != 0 {
		// 'a' < 'b' < 'c' matches "a" < "b" < "rc".
		if c := int(a.preL) - int(b.preL); c != 0 {
			return sign(c)
		}
		if c := cmpNum(a.preN, b.preN); c != 0 {
			return c
		}
	}
	if a.hasPost != b.hasPost {
		if a.hasPost {
			return 1
		}
		return -1
	}
	if c := cmpNum(a.postN, b.postN); c != 0 {
		return c
	}
	if a.hasDev != b.hasDev {
		if a.hasDev {
			return -1
		}
		return 1
	}
	if c := cmpNum(a.devN, b.devN); c != 0 {
		return c
	}
	return compareLocal(a.local, b.local)
}

// pep440PreRank places the pre-release key: -1 for a dev release without
// pre or post (NegativeInfinity), 0 for a real pre-release, 1 for none.
func pep440PreRank(v *pep440Version) int {
	switch {
	case v.preL != 0:
		return 0
	case !v.hasPost && v.hasDev:
		return -1
	}
	return 1
}

// compareRelease compares dot-separated numbers, the shorter one padded
// with zeros.
func compareRelease(a, b string) int {
	for a != "" || b != "" {
		var x, y string
		x, a, _ = strings.Cut(a, ".")
		y, b, _ = strings.Cut(b, ".")
		if c := cmpNum(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// compareLocal orders local version labels: none first, then part by part
// with numbers above strings and strings compared in lower case.
func compareLocal(a, b string) int {
	if a == "" || b == "" {
		switch {
		case a == b:
			return 0
		case a == "":
			return -1
		}
		return 1
	}
	for a != "" && b != "" {
		x, y := cutLocal(&a), cutLocal(&b)
		nx, ny := allDigits(x), allDigits(y)
		switch {
		case nx && ny:
			if c := cmpNum(x, y); c != 0 {
				return c
			}
		case nx:
			return 1
		case ny:
			return -1
		default:
			if c := compareFold(x, y); c != 0 {
				return c
			}
		}
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

func cutLocal(s *string) string {
	for i := 0; i < len(*s); i++ {
		if isSep((*s)[i]) {
			part := (*s)[:i]
			*s = (*s)[i+1:]
			return part
		}
	}
	part := *s
	*s = ""
	return part
}

// compareFold compares ASCII strings as their lower-case forms.
func compareFold(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := lower(a[i]), lower(b[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return sign(len(a) - len(b))
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
