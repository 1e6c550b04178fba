// Package version orders package versions the way each packaging ecosystem
// does, and decides with the OSV range rules whether an installed version is
// inside an advisory's affected range.
//
// Every scheme mirrors its ecosystem's own tool (dpkg, rpm, apk-tools,
// Go's x/mod and go/version, node-semver, PyPA packaging, Maven's
// ComparableVersion, Gem::Version, NuGet.Versioning, Composer) because a
// scanner that orders versions differently from the package manager reports
// fixed packages as vulnerable or, worse, vulnerable ones as fixed.
//
// Versions come from image contents and advisory files, so they are
// untrusted: every parser rejects garbage with an error instead of guessing
// an order, runs in time linear in the input, and Compare does not allocate
// for the common forms, because a scan makes tens of thousands of
// comparisons.
package version

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Scheme orders the versions of one ecosystem.
type Scheme interface {
	// Name is the scheme's short name: "dpkg", "rpm", "apk", "semver", "go",
	// "npm", "pep440", "maven", "rubygems", "nuget" or "composer".
	Name() string
	// Compare returns -1, 0 or +1 as a sorts before, equal to or after b.
	// It returns an error, and no order, if either is not a valid version
	// of the scheme.
	Compare(a, b string) (int, error)
	// Valid returns nil if v is a version of the scheme.
	Valid(v string) error
}

// ForEcosystem gives the scheme for an OSV ecosystem name, or nil when the
// ecosystem is unknown (callers skip such records). Ecosystems with a
// release suffix ("Debian:12", "Alpine:v3.19", "Ubuntu:22.04:LTS") select by
// the part before the first colon.
func ForEcosystem(ecosystem string) Scheme {
	name, _, _ := strings.Cut(ecosystem, ":")
	switch name {
	case "Debian", "Ubuntu":
		return dpkgScheme{}
	case "Alpine", "Wolfi", "Chainguard", "Alpaquita":
		return apkScheme{}
	case "Red Hat", "Rocky Linux", "AlmaLinux", "SUSE", "openSUSE", "Mageia",
		"Photon OS", "openEuler", "Oracle Linux", "Amazon Linux", "Azure Linux",
		"CentOS", "Fedora":
		return rpmScheme{}
	case "Go":
		return goScheme{}
	case "npm":
		return npmScheme{}
	case "PyPI":
		return pep440Scheme{}
	case "Maven":
		return mavenScheme{}
	case "RubyGems":
		return rubygemsScheme{}
	case "NuGet":
		return nugetScheme{}
	case "Packagist":
		return composerScheme{}
	case "crates.io", "Hex", "Pub", "SwiftURL":
		return semverScheme{}
	}
	return nil
}

// Event is one OSV range event; exactly one field is set.
type Event struct {
	Introduced, Fixed, LastAffected, Limit string
}

func (e Event) kind() (string, string, error) {
	n := 0
	var k, v string
	if e.Introduced != "" {
		n, k, v = n+1, "introduced", e.Introduced
	}
	if e.Fixed != "" {
		n, k, v = n+1, "fixed", e.Fixed
	}
	if e.LastAffected != "" {
		n, k, v = n+1, "last_affected", e.LastAffected
	}
	if e.Limit != "" {
		n, k, v = n+1, "limit", e.Limit
	}
	if n != 1 {
		return "", "", fmt.Errorf("version: OSV event must set exactly one field, has %d", n)
	}
	return k, v, nil
}

// Affected evaluates the events of one OSV "ECOSYSTEM" or "SEMVER" range for
// version v, following the OSV schema's evaluation algorithm: events are
// sorted by version ("0" as introduced sorts before everything), v is
// affected if it is >= an introduced and < the next fixed or <= the next
// last_affected, and when limit events exist v must be below one of them
// ("*" is infinity). fixed is the fixed version that closes the affected
// interval holding v, or "" when that interval has no fix.
//
// Events with equal versions keep their order in the record, so an
// adjacent pair like {fixed: 2}, {introduced: 2} means what it says.
func Affected(s Scheme, events []Event, v string) (affected bool, fixed string, err error) {
	if s == nil {
		return false, "", errors.New("version: Affected needs a scheme")
	}
	p, err := Parse(s, v)
	if err != nil {
		return false, "", err
	}
	return p.Affected(events)
}

// Affected is the package function Affected for the parsed version. Each
// event is validated and compared with the version in one parse.
func (p *Parsed) Affected(events []Event) (affected bool, fixed string, err error) {
	s := p.scheme
	type ev struct {
		kind, ver string
		zero      bool // introduced "0": before every version
		cmp       int  // the version against ver
	}
	var buf [8]ev
	evs := buf[:0]
	sawLimit, beforeLimit := false, false
	for _, e := range events {
		k, ver, err := e.kind()
		if err != nil {
			return false, "", err
		}
		if k == "limit" {
			sawLimit = true
			if strings.Contains(ver, "*") {
				beforeLimit = true
				continue
			}
			// For a valid version, Compare fails exactly when Valid(ver) does.
			c, err := p.Compare(ver)
			if err != nil {
				return false, "", fmt.Errorf("version: limit event: %w", err)
			}
			beforeLimit = beforeLimit || c < 0
			continue
		}
		zero := k == "introduced" && ver == "0"
		c := 1
		if !zero {
			if c, err = p.Compare(ver); err != nil {
				return false, "", fmt.Errorf("version: %s event: %w", k, err)
			}
		}
		evs = append(evs, ev{k, ver, zero, c})
	}
	if sawLimit && !beforeLimit {
		return false, "", nil
	}

	// All versions were validated above, so comparison errors cannot occur
	// here; the stable sort keeps record order among equal versions. Two
	// events on different sides of the version (or one equal to it) are
	// in the order of their comparisons with it, which are known.
	slices.SortStableFunc(evs, func(x, y ev) int {
		switch {
		case x.zero && y.zero:
			return 0
		case x.zero:
			return -1
		case y.zero:
			return 1
		case x.cmp != y.cmp:
			return y.cmp - x.cmp // v-x > v-y: x < y
		}
		c, _ := s.Compare(x.ver, y.ver)
		return c
	})

	vulnerable := false
	lastIntro := -1
	for i, e := range evs {
		switch e.kind {
		case "introduced":
			if e.cmp >= 0 { // "0" compares as before every version
				vulnerable, lastIntro = true, i
			}
		case "fixed":
			if e.cmp >= 0 {
				vulnerable = false
			}
		case "last_affected":
			if e.cmp > 0 {
				vulnerable = false
			}
		}
	}
	if !vulnerable {
		return false, "", nil
	}
	// The interval holding v is closed by the first fixed or last_affected
	// after the introduced that opened it; only a fixed names a fix.
	for _, e := range evs[lastIntro+1:] {
		switch e.kind {
		case "fixed":
			return true, e.ver, nil
		case "last_affected":
			return true, "", nil
		}
	}
	return true, "", nil
}

// invalid builds the error for a version a scheme rejects. Long inputs are
// cut so that a hostile 10 MB version does not end up in every log line.
func invalid(scheme, v, reason string) error {
	return &InvalidError{Scheme: scheme, Version: clip(v), Reason: reason}
}

// InvalidError reports a version string that is not valid in a scheme.
type InvalidError struct {
	Scheme  string // scheme name
	Version string // the version, cut to at most 64 bytes
	Reason  string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("version: invalid %s version %q: %s", e.Scheme, e.Version, e.Reason)
}

func clip(v string) string {
	const max = 64
	if len(v) <= max {
		return v
	}
	return v[:max] + "..."
}

// cmpNum compares two strings of ASCII digits as unbounded non-negative
// integers, so no version component can overflow.
func cmpNum(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// compareValid runs the common Compare shape: validate both, then order.
func compareValid(s Scheme, a, b string, cmp func(a, b string) int) (int, error) {
	if err := s.Valid(a); err != nil {
		return 0, err
	}
	if err := s.Valid(b); err != nil {
		return 0, err
	}
	return cmp(a, b), nil
}
