package version

import "strings"

// semverScheme is strict SemVer 2.0.0 (https://semver.org): MAJOR.MINOR.PATCH
// with optional -prerelease and +build, no "v" prefix, no leading zeros.
// Build metadata does not take part in the order. It serves crates.io, Hex,
// Pub and OSV "SEMVER" ranges.
type semverScheme struct{}

func (semverScheme) Name() string { return "semver" }

// semver holds the parts of a SemVer-shaped version, pointing into the
// input; pre and build exclude their '-' and '+'.
type semver struct {
	major, minor, patch, pre, build string
}

// cutNum takes a run of digits without a leading zero (unless it is "0").
func cutNum(s string) (num, rest string, ok bool) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 || (s[0] == '0' && i > 1) {
		return "", s, false
	}
	return s[:i], s[i:], true
}

// validIdents checks dot-separated SemVer identifiers: non-empty,
// [0-9A-Za-z-], and for prerelease (numericNoZero) no leading zeros on
// numeric identifiers.
func validIdents(s string, numericNoZero bool) bool {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !isAlnum(c) && c != '-' {
				return false
			}
			continue
		}
		id := s[start:i]
		if id == "" {
			return false
		}
		if numericNoZero && len(id) > 1 && id[0] == '0' && allDigits(id) {
			return false
		}
		start = i + 1
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// parseSemverTail parses the "-pre+build" tail that follows the core.
func parseSemverTail(v *semver, s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
		end := strings.IndexByte(s, '+')
		if end < 0 {
			end = len(s)
		}
		v.pre, s = s[:end], s[end:]
		if !validIdents(v.pre, true) {
			return false
		}
	}
	if strings.HasPrefix(s, "+") {
		v.build, s = s[1:], ""
		if !validIdents(v.build, false) {
			return false
		}
	}
	return s == ""
}

func parseSemver(s string) (semver, bool) {
	var v semver
	var ok bool
	if v.major, s, ok = cutNum(s); !ok || !strings.HasPrefix(s, ".") {
		return v, false
	}
	if v.minor, s, ok = cutNum(s[1:]); !ok || !strings.HasPrefix(s, ".") {
		return v, false
	}
	if v.patch, s, ok = cutNum(s[1:]); !ok {
		return v, false
	}
	return v, parseSemverTail(&v, s)
}

// compareSemver orders by SemVer 2.0.0 precedence (section 11).
func compareSemver(a, b semver) int {
	if c := cmpNum(a.major, b.major); c != 0 {
		return c
	}
	if c := cmpNum(a.minor, b.minor); c != 0 {
		return c
	}
	if c := cmpNum(a.patch, b.patch); c != 0 {
		return c
	}
	return comparePrerelease(a.pre, b.pre)
}

// comparePrerelease compares dot-separated prerelease identifiers; ""
// (a release) sorts after every prerelease, numeric identifiers sort before
// alphanumeric ones, and a shorter list of equal identifiers sorts first.
func comparePrerelease(x, y string) int {
	if x == y {
		return 0
	}
	if x == "" {
		return 1
	}
	if y == "" {
		return -1
	}
	for x != "" && y != "" {
		var dx, dy string
		dx, x, _ = strings.Cut(x, ".")
		dy, y, _ = strings.Cut(y, ".")
		if dx == dy {
			continue
		}
		nx, ny := allDigits(dx), allDigits(dy)
		switch {
		case nx && ny:
			if c := cmpNum(dx, dy); c != 0 {
				return c
			}
		case nx:
			return -1
		case ny:
			return 1
		default:
			return strings.Compare(dx, dy)
		}
	}
	// strings.Cut leaves "" both for "no more identifiers" and for the
	// last one, so decide by what is left.
	switch {
	case x == "" && y == "":
		return 0
	case x == "":
		return -1
	}
	return 1
}

func (semverScheme) Valid(s string) error {
	if _, ok := parseSemver(s); !ok {
		return invalid("semver", s, "not MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]")
	}
	return nil
}

func (ss semverScheme) Compare(a, b string) (int, error) {
	va, ok := parseSemver(a)
	if !ok {
		return 0, ss.Valid(a)
	}
	vb, ok := parseSemver(b)
	if !ok {
		return 0, ss.Valid(b)
	}
	return compareSemver(va, vb), nil
}
