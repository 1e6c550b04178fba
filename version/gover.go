package version

import (
	"strings"
)

// goScheme orders Go module and Go toolchain versions.
//
// Module versions follow golang.org/x/mod/semver, with the "v" optional
// because OSV Go records omit it: "1.2.3", "v1.2.3-pre", pseudo-versions
// (which are prereleases), "+incompatible" (build metadata, ignored), and
// the shorthands "v1" and "v1.2" for v1.0.0 and v1.2.0.
//
// Toolchain versions ("go1.21.5", "go1.21rc2", "go1.20", and without the
// "go" prefix "1.21rc2") are mapped onto the semver versions the Go
// vulnerability database uses: go1.21rc2 is 1.21.0-rc.2 and go1.20.14 is
// 1.20.14. Strings with the "go" prefix follow go/version exactly,
// including that from Go 1.21 on "go1.21" names the language version,
// which sorts before go1.21rc1: it maps to 1.21.0-0, the value the
// vulnerability database uses as "before every 1.21 prerelease".
type goScheme struct{}

func (goScheme) Name() string { return "go" }

// parseGo returns the semver form of a Go version. pre is built only for
// toolchain prereleases, so the common module path does not allocate.
func parseGo(s string) (semver, bool) {
	if strings.HasPrefix(s, "go") {
		return parseGoToolchain(s[2:], true)
	}
	t := strings.TrimPrefix(s, "v")
	if v, ok := parseGoSemver(t); ok {
		return v, true
	}
	if len(t) == len(s) {
		// No prefix at all: also accept the toolchain spelling "1.21rc2".
		return parseGoToolchain(t, false)
	}
	return semver{}, false
}

// parseGoSemver is x/mod/semver's parse without the leading "v".
func parseGoSemver(s string) (semver, bool) {
	var v semver
	var ok bool
	if v.major, s, ok = cutNum(s); !ok {
		return v, false
	}
	if s == "" {
		v.minor, v.patch = "0", "0"
		return v, true
	}
	if s[0] != '.' {
		return v, false
	}
	if v.minor, s, ok = cutNum(s[1:]); !ok {
		return v, false
	}
	if s == "" {
		v.patch = "0"
		return v, true
	}
	if s[0] != '.' {
		return v, false
	}
	if v.patch, s, ok = cutNum(s[1:]); !ok {
		return v, false
	}
	return v, parseSemverTail(&v, s)
}

// parseGoToolchain parses go/version's grammar (internal/gover): 1,
// 1.N, 1.N.P, 1.N<kind>[K] with kind a run of lowercase letters. With the
// "go" prefix, go/version drops anything from the first '-'.
func parseGoToolchain(s string, prefixed bool) (semver, bool) {
	var v semver
	var ok bool
	if prefixed {
		s, _, _ = strings.Cut(s, "-")
	}
	if v.major, s, ok = cutNum(s); !ok {
		return v, false
	}
	if s == "" {
		v.minor, v.patch = "0", "0"
		return v, true
	}
	if s[0] != '.' {
		return v, false
	}
	if v.minor, s, ok = cutNum(s[1:]); !ok {
		return v, false
	}
	if s == "" {
		if cmpNum(v.minor, "21") < 0 || !prefixed {
			// Before Go 1.21 "go1.N" was the release itself. Unprefixed
			// "1.N" is x/mod's shorthand; parseGoSemver handled it.
			v.patch = "0"
			return v, true
		}
		// The language version go1.N: before every 1.N prerelease.
		v.patch, v.pre = "0", "0"
		return v, true
	}
	if s[0] == '.' {
		if v.patch, s, ok = cutNum(s[1:]); !ok || s != "" {
			return v, false
		}
		return v, true
	}
	i := 0
	for i < len(s) && 'a' <= s[i] && s[i] <= 'z' {
		i++
	}
	if i == 0 {
		return v, false
	}
	kind, num := s[:i], s[i:]
	if num != "" {
		if _, rest, ok := cutNum(num); !ok || rest != "" {
			return v, false
		}
	}
	// go/version orders a missing patch before ".0"; here go1.21rc1 is
	// 1.21.0-rc.1, which sorts the same way against 1.21.0.
	v.patch = "0"
	if num == "" {
		v.pre = kind
	} else {
		v.pre = kind + "." + num
	}
	return v, true
}

func (goScheme) Valid(s string) error {
	if _, ok := parseGo(s); !ok {
		return invalid("go", s, "not a Go module or toolchain version")
	}
	return nil
}

func (gs goScheme) Compare(a, b string) (int, error) {
	va, ok := parseGo(a)
	if !ok {
		return 0, gs.Valid(a)
	}
	vb, ok := parseGo(b)
	if !ok {
		return 0, gs.Valid(b)
	}
	return compareSemver(va, vb), nil
}
