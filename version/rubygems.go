package version

import "strings"

// rubygemsScheme orders RubyGems versions as Gem::Version does (RubyGems
// 3.x): the version splits into numeric and alphabetic segments, a '-'
// reads as ".pre.", trailing zero segments do not count, and a version with
// a letter segment is a prerelease that sorts before the release. Like
// Gem::Version, an empty or all-blank string is version "0". Versions over
// 4096 bytes are rejected.
type rubygemsScheme struct{}

func (rubygemsScheme) Name() string { return "rubygems" }

func isRubySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func trimRuby(s string) string {
	for s != "" && isRubySpace(s[0]) {
		s = s[1:]
	}
	for s != "" && isRubySpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// rubygemsMaxLen bounds the segment list Compare builds. Gem::Version has
// no limit, but no real version comes near it.
const rubygemsMaxLen = 4096

// Valid matches Gem::Version::ANCHORED_VERSION_PATTERN:
// \A\s*([0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)?\s*\z
func (rubygemsScheme) Valid(v string) error {
	if len(v) > rubygemsMaxLen {
		return invalid("rubygems", v, "longer than 4096 bytes")
	}
	s := trimRuby(v)
	if s == "" {
		return nil
	}
	bad := func() error { return invalid("rubygems", v, "not a Gem::Version") }
	n := digitsAt(s)
	if n == 0 {
		return bad()
	}
	s = s[n:]
	for strings.HasPrefix(s, ".") {
		i := 1
		for i < len(s) && isAlnum(s[i]) {
			i++
		}
		if i == 1 {
			return bad()
		}
		s = s[i:]
	}
	if strings.HasPrefix(s, "-") {
		s = s[1:]
		for {
			i := 0
			for i < len(s) && (isAlnum(s[i]) || s[i] == '-') {
				i++
			}
			if i == 0 {
				return bad()
			}
			s = s[i:]
			if !strings.HasPrefix(s, ".") {
				break
			}
			s = s[1:]
		}
	}
	if s != "" {
		return bad()
	}
	return nil
}

type gemSeg struct {
	num bool
	s   string // digits for numbers (may have leading zeros), else letters
}

func (g gemSeg) zero() bool { return g.num && strings.TrimLeft(g.s, "0") == "" }

// gemSegments scans /[0-9]+|[a-z]+/i over the version with each '-'
// replaced by ".pre.", and returns the canonical segments: trailing zeros
// dropped from the numeric prefix and from the rest.
func gemSegments(v string) []gemSeg {
	s := trimRuby(v)
	if s == "" {
		s = "0"
	}
	segs := make([]gemSeg, 0, 8)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isDigit(c):
			j := i
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			segs = append(segs, gemSeg{true, s[i:j]})
			i = j
		case isAlpha(c):
			j := i
			for j < len(s) && isAlpha(s[j]) {
				j++
			}
			segs = append(segs, gemSeg{false, s[i:j]})
			i = j
		case c == '-':
			segs = append(segs, gemSeg{false, "pre"})
			i++
		default:
			i++
		}
	}
	// Split at the first string segment and drop trailing zeros of each
	// part.
	first := len(segs)
	for i, g := range segs {
		if !g.num {
			first = i
			break
		}
	}
	numEnd := first
	for numEnd > 0 && segs[numEnd-1].zero() {
		numEnd--
	}
	end := len(segs)
	for end > first && segs[end-1].zero() {
		end--
	}
	out := append(segs[:numEnd:numEnd], segs[first:end]...)
	return out
}

func (rs rubygemsScheme) Compare(a, b string) (int, error) {
	return compareValid(rs, a, b, func(a, b string) int {
		if trimRuby(a) == trimRuby(b) {
			return 0
		}
		x, y := gemSegments(a), gemSegments(b)
		zero := gemSeg{true, "0"}
		for i := 0; i < max(len(x), len(y)); i++ {
			l, r := zero, zero
			if i < len(x) {
				l = x[i]
			}
			if i < len(y) {
				r = y[i]
			}
			switch {
			case l.num && r.num:
				if c := cmpNum(l.s, r.s); c != 0 {
					return c
				}
			case !l.num && !r.num:
				if c := strings.Compare(l.s, r.s); c != 0 {
					return c
				}
			case !l.num:
				return -1
			default:
				return 1
			}
		}
		return 0
	})
}
