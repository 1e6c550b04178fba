package version

import "strings"

// apkScheme orders Alpine (and Wolfi, Chainguard) package versions as
// apk-tools' src/version.c does:
//
//	digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}
//
// with suffixes _alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git <
// _hg < _p.
type apkScheme struct{}

func (apkScheme) Name() string { return "apk" }

// apk token types, in apk-tools' order: the order matters when two versions
// run out at different places.
const (
	apkInitialDigit = iota
	apkDigit
	apkLetter
	apkSuffix
	apkSuffixNo
	apkCommitHash
	apkRevisionNo
	apkEnd
	apkInvalid
)

// Suffix values; everything below apkSuffixNone is a pre-release.
const (
	apkSufInvalid = iota
	apkSufAlpha
	apkSufBeta
	apkSufPre
	apkSufRC
	apkSufNone
	apkSufCVS
	apkSufSVN
	apkSufGit
	apkSufHg
	apkSufP
)

type apkToken struct {
	kind   int
	suffix int
	number uint64
	value  string
}

func apkSuffixValue(s string) int {
	switch s {
	case "alpha":
		return apkSufAlpha
	case "beta":
		return apkSufBeta
	case "pre":
		return apkSufPre
	case "rc":
		return apkSufRC
	case "cvs":
		return apkSufCVS
	case "svn":
		return apkSufSVN
	case "git":
		return apkSufGit
	case "hg":
		return apkSufHg
	case "p":
		return apkSufP
	}
	return apkSufInvalid
}

// apkDigits reads a digit run. apk-tools accumulates it in a uint64 that
// silently wraps; a component that does not fit is reported as invalid
// instead, so a wrapped value never decides an order.
func apkDigits(t *apkToken, s string) string {
	i := 0
	var n uint64
	for i < len(s) && isDigit(s[i]) {
		d := uint64(s[i] - '0')
		if n > (1<<64-1-d)/10 {
			t.kind = apkInvalid
			return s
		}
		n = n*10 + d
		i++
	}
	t.number, t.value = n, s[:i]
	if i == 0 {
		t.kind = apkInvalid
	}
	return s[i:]
}

func apkFirst(t *apkToken, s string) string {
	t.kind = apkInitialDigit
	return apkDigits(t, s)
}

// apkNext reads the next token and checks that it may follow the previous.
func apkNext(t *apkToken, s string) string {
	if s == "" {
		t.kind = apkEnd
		return s
	}
	c := s[0]
	switch {
	case 'a' <= c && c <= 'z':
		if t.kind > apkDigit {
			t.kind = apkInvalid
			return s
		}
		t.value, t.kind = s[:1], apkLetter
		return s[1:]
	case c == '.' || isDigit(c):
		if c == '.' {
			if t.kind > apkDigit {
				t.kind = apkInvalid
				return s
			}
			s = s[1:]
		}
		switch t.kind {
		case apkInitialDigit, apkDigit:
			t.kind = apkDigit
		case apkSuffix:
			t.kind = apkSuffixNo
		default:
			t.kind = apkInvalid
			return s
		}
		return apkDigits(t, s)
	case c == '_':
		if t.kind > apkSuffixNo {
			t.kind = apkInvalid
			return s
		}
		s = s[1:]
		i := 0
		for i < len(s) && 'a' <= s[i] && s[i] <= 'z' {
			i++
		}
		t.value, s = s[:i], s[i:]
		t.suffix = apkSuffixValue(t.value)
		if t.suffix == apkSufInvalid {
			t.kind = apkInvalid
			return s
		}
		t.kind = apkSuffix
		return s
	case c == '~':
		if t.kind >= apkCommitHash {
			t.kind = apkInvalid
			return s
		}
		s = s[1:]
		i := 0
		for i < len(s) && (isDigit(s[i]) || 'a' <= s[i] && s[i] <= 'f') { // APK_CTYPE_HEXDIGIT is lowercase only
			i++
		}
		if i == 0 {
			t.kind = apkInvalid
			return s
		}
		t.value, t.kind = s[:i], apkCommitHash
		return s[i:]
	case c == '-':
		if t.kind >= apkRevisionNo || !strings.HasPrefix(s, "-r") {
			t.kind = apkInvalid
			return s
		}
		t.kind = apkRevisionNo
		return apkDigits(t, s[2:])
	}
	t.kind = apkInvalid
	return s
}

func (apkScheme) Valid(v string) error {
	var t apkToken
	for s := apkFirst(&t, v); t.kind < apkEnd; s = apkNext(&t, s) {
	}
	if t.kind != apkEnd {
		return invalid("apk", v, "not digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}")
	}
	return nil
}

func apkTokenCmp(a, b *apkToken) int {
	var x, y uint64
	switch a.kind {
	case apkDigit:
		// A leading zero makes the part compare as a string, as in Gentoo.
		if a.value[0] == '0' || b.value[0] == '0' {
			return strings.Compare(a.value, b.value)
		}
		x, y = a.number, b.number
	case apkInitialDigit, apkSuffixNo, apkRevisionNo:
		x, y = a.number, b.number
	case apkLetter:
		x, y = uint64(a.value[0]), uint64(b.value[0])
	case apkSuffix:
		x, y = uint64(a.suffix), uint64(b.suffix)
	default:
		return strings.Compare(a.value, b.value)
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func (as apkScheme) Compare(a, b string) (int, error) {
	return compareValid(as, a, b, func(a, b string) int {
		var ta, tb apkToken
		sa, sb := apkFirst(&ta, a), apkFirst(&tb, b)
		for ta.kind == tb.kind && ta.kind < apkEnd {
			if c := apkTokenCmp(&ta, &tb); c != 0 {
				return c
			}
			sa, sb = apkNext(&ta, sa), apkNext(&tb, sb)
		}
		if ta.kind == tb.kind {
			return 0
		}
		// Equal so far: the longer version is newer unless what it has
		// next is a pre-release suffix.
		if ta.kind == apkSuffix && ta.suffix < apkSufNone {
			return -1
		}
		if tb.kind == apkSuffix && tb.suffix < apkSufNone {
			return 1
		}
		if ta.kind > tb.kind {
			return -1
		}
		return 1
	})
}
