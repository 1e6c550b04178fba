package version

import (
	"regexp"
	"strings"
)

// composerScheme orders Packagist versions as Composer does: each version
// is normalized by composer/semver's VersionParser::normalize ("v1.2" to
// "1.2.0.0", "1.0-b2" to "1.0.0.0-beta2", "1.0-pl1" to "1.0.0.0-patch1",
// "2010-01-02" to "2010.01.02", "1.x-dev" to
// "1.9999999.9999999.9999999-dev"), and normalized versions are ordered by
// PHP's version_compare (dev < alpha < beta < RC < release < patch).
//
// Branch names ("dev-main", "master") are valid Composer versions but have
// no order (Composer only tests them for equality), so they are rejected
// here, as are non-ASCII strings, which no Composer version form accepts
// outside branch names and aliases, and strings over 4096 bytes.
type composerScheme struct{}

func (composerScheme) Name() string { return "composer" }

// The patterns of composer/semver's VersionParser (2.x). PCRE's "$" also
// matches before a final newline; "\n?$" keeps that. PCRE's \s (without
// /u) is [\t\n\v\f\r ], which Go's \s lacks \v from.
// These are compiled once and never modified.
const composerModifier = `[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*)?)?([.-]?dev)?`

var (
	composerAliasRe     = regexp.MustCompile(`^([^,\t\n\v\f\r ]+) +as +([^,\t\n\v\f\r ]+)$`)
	composerStabilityRe = regexp.MustCompile(`(?i)@(?:stable|RC|beta|alpha|dev)$`)
	composerBuildRe     = regexp.MustCompile(`^([^,\t\n\v\f\r +]+)\+[^\t\n\v\f\r ]+\n?$`)
	composerClassicRe   = regexp.MustCompile(`(?i)^v?(\d{1,5})(\.\d+)?(\.\d+)?(\.\d+)?` + composerModifier + `\n?$`)
	composerDateRe      = regexp.MustCompile(`(?i)^v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3})?)` + composerModifier + `\n?$`)
	composerDevRe       = regexp.MustCompile(`(?i)^(.*?)[.-]?dev\n?$`)
	composerBranchRe    = regexp.MustCompile(`(?i)^v?(\d+)(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?$`)
)

const composerMaxLen = 4096

// phpTrim is PHP's trim() with its default characters.
func phpTrim(s string) string { return strings.Trim(s, " \t\n\r\x00\x0b") }

// composerNormalize is VersionParser::normalize. ok is false where
// Composer throws; branch is true for a branch name ("dev-..."), which
// Composer accepts but cannot order.
func composerNormalize(version string) (norm string, branch, ok bool) {
	// Composer has no length limit; the cap keeps the regexes and the
	// strings built here small for hostile input.
	if len(version) > composerMaxLen {
		return "", false, false
	}
	for i := 0; i < len(version); i++ {
		if version[i] >= 0x80 {
			return "", false, false
		}
	}
	version = phpTrim(version)
	if m := composerAliasRe.FindStringSubmatch(version); m != nil {
		version = m[1]
	}
	if loc := composerStabilityRe.FindStringIndex(version); loc != nil {
		version = version[:loc[0]]
	}
	switch version {
	case "master", "trunk", "default":
		return "dev-" + version, true, true
	}
	if len(version) >= 4 && strings.EqualFold(version[:4], "dev-") {
		return "dev-" + version[4:], true, true
	}
	if m := composerBuildRe.FindStringSubmatch(version); m != nil {
		version = m[1]
	}
	var m []string
	index := 0
	if m = composerClassicRe.FindStringSubmatch(version); m != nil {
		version = m[1]
		for _, p := range m[2:5] {
			if p == "" {
				p = ".0"
			}
			version += p
		}
		index = 5
	} else if m = composerDateRe.FindStringSubmatch(version); m != nil {
		version = strings.Map(func(r rune) rune {
			if '0' <= r && r <= '9' {
				return r
			}
			return '.'
		}, m[1])
		index = 2
	}
	if index > 0 {
		if m[index] != "" {
			if m[index] == "stable" {
				return version, false, true
			}
			version += "-" + composerExpandStability(m[index]) + strings.TrimLeft(m[index+1], ".-")
		}
		if m[index+2] != "" {
			version += "-dev"
		}
		return version, false, true
	}
	if m := composerDevRe.FindStringSubmatch(version); m != nil {
		if n := composerNormalizeBranch(m[1]); !strings.Contains(n, "dev-") {
			return n, false, true
		}
	}
	return "", false, false
}

func composerExpandStability(s string) string {
	s = strings.ToLower(s)
	switch s {
	case "a":
		return "alpha"
	case "b":
		return "beta"
	case "p", "pl":
		return "patch"
	case "rc":
		return "RC"
	}
	return s
}

// composerNormalizeBranch is VersionParser::normalizeBranch.
func composerNormalizeBranch(name string) string {
	name = phpTrim(name)
	m := composerBranchRe.FindStringSubmatch(name)
	if m == nil {
		return "dev-" + name
	}
	v := m[1]
	for _, p := range m[2:5] {
		if p == "" {
			p = ".x"
		}
		v += strings.NewReplacer("*", "x", "X", "x").Replace(p)
	}
	return strings.ReplaceAll(v, "x", "9999999") + "-dev"
}

func (composerScheme) Valid(v string) error {
	_, branch, ok := composerNormalize(v)
	switch {
	case !ok:
		return invalid("composer", v, "Composer cannot normalize it")
	case branch:
		return invalid("composer", v, "a branch name has no version order")
	}
	return nil
}

func (cs composerScheme) Compare(a, b string) (int, error) {
	na, branch, ok := composerNormalize(a)
	if !ok || branch {
		return 0, cs.Valid(a)
	}
	nb, branch, ok := composerNormalize(b)
	if !ok || branch {
		return 0, cs.Valid(b)
	}
	return phpVersionCompare(na, nb), nil
}

// phpCanonicalize is php_canonicalize_version: '-', '_' and '+' become
// '.', a '.' goes between digits and non-digits, other non-alphanumerics
// become '.', and runs of '.' collapse. The first character is kept as is.
func phpCanonicalize(v string) string {
	if v == "" {
		return ""
	}
	isdig := func(c byte) bool { return isDigit(c) }
	isndig := func(c byte) bool { return !isDigit(c) && c != '.' }
	q := make([]byte, 0, 2*len(v))
	q = append(q, v[0])
	lp := v[0]
	for i := 1; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '-' || c == '_' || c == '+':
			if q[len(q)-1] != '.' {
				q = append(q, '.')
			}
		case (isndig(lp) && isdig(c)) || (isdig(lp) && isndig(c)):
			if q[len(q)-1] != '.' {
				q = append(q, '.')
			}
			q = append(q, c)
		case !isAlnum(c):
			if q[len(q)-1] != '.' {
				q = append(q, '.')
			}
		default:
			q = append(q, c)
		}
		lp = c
	}
	return string(q)
}

// phpSpecialForm is compare_special_version_forms' table lookup: a part
// takes the order of the first name it starts with.
func phpSpecialForm(s string) int {
	for _, f := range [...]struct {
		name  string
		order int
	}{
		{"dev", 0}, {"alpha", 1}, {"a", 1}, {"beta", 2}, {"b", 2},
		{"RC", 3}, {"rc", 3}, {"#", 4}, {"pl", 5}, {"p", 5},
	} {
		if strings.HasPrefix(s, f.name) {
			return f.order
		}
	}
	return -1
}

// phpLong is strtol on a run of digits: it saturates at LONG_MAX.
func phpLong(s string) string {
	const longMax = "9223372036854775807"
	if cmpNum(s, longMax) > 0 {
		return longMax
	}
	return s
}

// phpVersionCompare is PHP's version_compare without an operator.
func phpVersionCompare(v1, v2 string) int {
	if v1 == "" || v2 == "" {
		switch {
		case v1 == v2:
			return 0
		case v1 != "":
			return 1
		}
		return -1
	}
	if v1[0] != '#' {
		v1 = phpCanonicalize(v1)
	}
	if v2[0] != '#' {
		v2 = phpCanonicalize(v2)
	}
	p1, p2 := v1, v2
	more1, more2 := true, true
	compare := 0
	for p1 != "" && p2 != "" && more1 && more2 {
		var x, y string
		x, p1, more1 = strings.Cut(p1, ".")
		y, p2, more2 = strings.Cut(p2, ".")
		dx, dy := x != "" && isDigit(x[0]), y != "" && isDigit(y[0])
		switch {
		case dx && dy:
			compare = cmpNum(phpLong(leadingDigits(x)), phpLong(leadingDigits(y)))
		case !dx && !dy:
			compare = sign(phpSpecialForm(x) - phpSpecialForm(y))
		case dx:
			compare = sign(phpSpecialForm("#N#") - phpSpecialForm(y))
		default:
			compare = sign(phpSpecialForm(x) - phpSpecialForm("#N#"))
		}
		if compare != 0 {
			return compare
		}
	}
	if more1 {
		if p1 != "" && isDigit(p1[0]) {
			return 1
		}
		return phpVersionCompare(p1, "#N#")
	}
	if more2 {
		if p2 != "" && isDigit(p2[0]) {
			return -1
		}
		return phpVersionCompare("#N#", p2)
	}
	return 0
}

func leadingDigits(s string) string { return s[:digitsAt(s)] }
