package version

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// npmScheme orders npm versions as node-semver 7 does with loose parsing
// (semver.compare(a, b, true)): surrounding whitespace and leading "v", "="
// or whitespace are ignored, numbers may have leading zeros, the "-" before
// a prerelease may be missing, and build metadata is ignored. Its quirks are
// kept on purpose: versions longer than 256 UTF-16 units are invalid, main
// numbers above 2^53-1 are invalid, and numeric prerelease identifiers
// compare as JavaScript numbers (float64).
type npmScheme struct{}

func (npmScheme) Name() string { return "npm" }

const (
	npmMaxLength     = 256
	npmMaxSafeInt    = 1<<53 - 1
	npmMaxSafeIntStr = "9007199254740991"
)

// isJSSpace reports the characters that JavaScript's trim() and \s match.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029,
		0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return 0x2000 <= r && r <= 0x200a
}

type npmVersion struct {
	major, minor, patch string // digits, leading zeros stripped
	pre                 string // dot-separated, without the leading '-'
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// parseNPM implements new SemVer(v, {loose: true}).
func parseNPM(s string) (npmVersion, bool) {
	var v npmVersion
	// The length check is on the untrimmed string, in UTF-16 units; a byte
	// count over 4x the limit cannot pass, which keeps huge inputs cheap.
	if len(s) > 4*npmMaxLength || utf16Len(s) > npmMaxLength {
		return v, false
	}
	s = strings.TrimFunc(s, isJSSpace)
	// [v=\s]*
	for s != "" {
		r, n := utf8.DecodeRuneInString(s)
		if r != 'v' && r != '=' && !isJSSpace(r) {
			break
		}
		s = s[n:]
	}
	var parts [3]string
	var digits string // the patch digits as written, for the retry below
	for k := 0; k < 3; k++ {
		if k > 0 {
			if !strings.HasPrefix(s, ".") {
				return v, false
			}
			s = s[1:]
		}
		i := 0
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == 0 {
			return v, false
		}
		parts[k], digits, s = s[:i], s[:i], s[i:]
	}
	if !npmTail(&v, s) {
		// The regex backtracks into the patch digits: "1.2.34.x" matches
		// as patch 3, prerelease "4.x". Giving back one digit is the only
		// retry that can succeed.
		if len(digits) < 2 {
			return v, false
		}
		parts[2] = digits[:len(digits)-1]
		if !npmTail(&v, digits[len(digits)-1:]+s) {
			return v, false
		}
	}
	for k, n := range parts {
		n = strings.TrimLeft(n, "0")
		if n == "" {
			n = "0"
		}
		// +m[k] > MAX_SAFE_INTEGER throws "Invalid ... version".
		if cmpNum(n, npmMaxSafeIntStr) > 0 {
			return v, false
		}
		parts[k] = n
	}
	v.major, v.minor, v.patch = parts[0], parts[1], parts[2]
	return v, true
}

// npmTail matches (?:-?(prerelease))?(?:\+(build))?$ of the LOOSE regex.
// A prerelease identifier is any run of [0-9A-Za-z-].
func npmTail(v *npmVersion, s string) bool {
	v.pre = ""
	if s != "" && s[0] != '+' {
		end := strings.IndexByte(s, '+')
		if end < 0 {
			end = len(s)
		}
		p := s[:end]
		// "-?" is greedy but gives its '-' back when what follows is not
		// a prerelease ("1.2.3-" has the prerelease "-").
		if q := strings.TrimPrefix(p, "-"); len(q) < len(p) && validIdents(q, false) {
			v.pre = q
		} else if validIdents(p, false) {
			v.pre = p
		} else {
			return false
		}
		s = s[end:]
	}
	if s != "" {
		return validIdents(s[1:], false)
	}
	return true
}

func (npmScheme) Valid(s string) error {
	if _, ok := parseNPM(s); !ok {
		return invalid("npm", s, "not a node-semver version")
	}
	return nil
}

func (ns npmScheme) Compare(a, b string) (int, error) {
	va, ok := parseNPM(a)
	if !ok {
		return 0, ns.Valid(a)
	}
	vb, ok := parseNPM(b)
	if !ok {
		return 0, ns.Valid(b)
	}
	return compareNPM(va, vb), nil
}

func compareNPM(va, vb npmVersion) int {
	if c := cmpNum(va.major, vb.major); c != 0 {
		return c
	}
	if c := cmpNum(va.minor, vb.minor); c != 0 {
		return c
	}
	if c := cmpNum(va.patch, vb.patch); c != 0 {
		return c
	}
	return npmComparePre(va.pre, vb.pre)
}

// npmIdent is one prerelease identifier as node-semver stores it: all-digit
// identifiers below MAX_SAFE_INTEGER become numbers, the rest stay strings.
type npmIdent struct {
	s       string
	isNum   bool    // stored as a JavaScript number
	numeric bool    // all digits (true for isNum, and for big digit strings)
	f       float64 // the value of +s when numeric
}

func npmMakeIdent(s string) npmIdent {
	id := npmIdent{s: s}
	if allDigits(s) {
		id.numeric = true
		id.f, _ = strconv.ParseFloat(s, 64) // digits only: cannot fail
		id.isNum = id.f < npmMaxSafeInt
	}
	return id
}

// npmComparePre is SemVer.comparePre from node-semver.
func npmComparePre(x, y string) int {
	switch {
	case x == "" && y == "":
		return 0
	case x == "":
		return 1
	case y == "":
		return -1
	}
	for {
		if x == "" && y == "" {
			return 0
		}
		if y == "" {
			return 1
		}
		if x == "" {
			return -1
		}
		var dx, dy string
		dx, x, _ = strings.Cut(x, ".")
		dy, y, _ = strings.Cut(y, ".")
		a, b := npmMakeIdent(dx), npmMakeIdent(dy)
		// a === b on the stored values.
		same := false
		switch {
		case a.isNum && b.isNum:
			same = a.f == b.f
		case !a.isNum && !b.isNum:
			same = a.s == b.s
		}
		if !same {
			// comparePre returns compareIdentifiers' result even when it is
			// 0 (two big numbers that are equal as floats).
			return npmCompareIdent(a, b)
		}
	}
}

// npmCompareIdent is node-semver's compareIdentifiers.
func npmCompareIdent(a, b npmIdent) int {
	if a.numeric && b.numeric {
		switch {
		case a.f == b.f:
			return 0
		case a.f < b.f:
			return -1
		}
		return 1
	}
	switch {
	case a.numeric:
		return -1
	case b.numeric:
		return 1
	}
	return strings.Compare(a.s, b.s)
}
