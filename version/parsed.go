package version

import (
	"errors"
	"strings"
)

// Parsed is a version parsed once to be compared with many others.
// Matching compares each installed version with every bound and every
// listed version of every advisory naming its package, often hundreds of
// comparisons; parsing both sides of each one was most of their cost.
type Parsed struct {
	scheme Scheme
	raw    string
	cmp    func(b string) (int, error) // scheme.Compare(raw, b), raw parsed once
	// lead is the leading number of raw, when the scheme has one (leader).
	lead   string
	leadOf func(string) (string, bool)
}

// preparer is a scheme that can parse one side of its comparisons once.
// prepare is only given versions the scheme accepts; the function it
// returns answers exactly as Compare(a, b) does, errors included (for a
// valid a, Compare's error is always Valid(b)'s).
type preparer interface {
	prepare(a string) func(b string) (int, error)
}

// leader is a scheme in which equal versions have equal leading numbers
// (the first release component, after any epoch). lead gives a version's
// without its leading zeros, or false for a form it does not read (which
// Equal then leaves to Compare); for an invalid version it may say anything.
type leader interface {
	lead(v string) (string, bool)
}

// Parse checks that v is a version of scheme s and parses it for Compare.
// Its error is s.Valid(v)'s.
func Parse(s Scheme, v string) (*Parsed, error) {
	if s == nil {
		return nil, errors.New("version: Parse needs a scheme")
	}
	if err := s.Valid(v); err != nil {
		return nil, err
	}
	p := &Parsed{scheme: s, raw: v}
	if pr, ok := s.(preparer); ok {
		p.cmp = pr.prepare(v)
	} else {
		p.cmp = func(b string) (int, error) { return s.Compare(v, b) }
	}
	if l, ok := s.(leader); ok {
		if p.lead, ok = l.lead(v); ok {
			p.leadOf = l.lead
		}
	}
	return p, nil
}

// String is the version as it was given.
func (p *Parsed) String() string { return p.raw }

// Scheme is the scheme the version was parsed in.
func (p *Parsed) Scheme() Scheme { return p.scheme }

// Compare returns -1, 0 or +1 as the version sorts before, equal to or
// after b, or the error for a b the scheme rejects: the scheme's
// Compare(p.String(), b), parsing only b.
func (p *Parsed) Compare(b string) (int, error) {
	if b == p.raw {
		return 0, nil // every scheme's order is reflexive, and raw is valid
	}
	return p.cmp(b)
}

// Equal says whether b is a version of the scheme equal to this one
// (Compare gives 0). An advisory lists hundreds of versions and the
// installed one is rarely among them: most differ in their leading number,
// which is read without parsing them.
func (p *Parsed) Equal(b string) bool {
	if b == p.raw {
		return true
	}
	if p.leadOf != nil {
		if l, ok := p.leadOf(b); ok && l != p.lead {
			return false
		}
	}
	c, err := p.cmp(b)
	return err == nil && c == 0
}

// leadingNumber reads a version's leading number in its plain form: after
// any bytes of skip, a run of digits, or when epoch follows that run, the
// run after it.
func leadingNumber(v, skip string, epoch byte) (string, bool) {
	i := 0
	for i < len(v) && strings.IndexByte(skip, v[i]) >= 0 {
		i++
	}
	n := digitsAt(v[i:])
	if n == 0 {
		return "", false
	}
	if epoch != 0 && i+n < len(v) && v[i+n] == epoch {
		i += n + 1
		if n = digitsAt(v[i:]); n == 0 {
			return "", false
		}
	}
	return strings.TrimLeft(v[i:i+n], "0"), true
}

// dpkg: the epoch, then the upstream version's first digits (it starts
// with a digit), which verrevcmp compares first, as numbers.
func (dpkgScheme) lead(v string) (string, bool) { return leadingNumber(v, "", ':') }

func (semverScheme) lead(v string) (string, bool) { return leadingNumber(v, "", 0) }

// Go: module versions and toolchain versions ("go1.21") alike begin with
// the major version.
func (goScheme) lead(v string) (string, bool) {
	return leadingNumber(strings.TrimPrefix(v, "go"), "v", 0)
}

// npm: after the "v" and "=" node-semver skips, the major version.
func (npmScheme) lead(v string) (string, bool) { return leadingNumber(v, "v=", 0) }

// PEP 440: after an optional "v" and epoch ("1!"), the first release
// component (releases compare padded with zeros, so it always counts).
func (pep440Scheme) lead(v string) (string, bool) { return leadingNumber(v, "vV", '!') }

func (dpkgScheme) prepare(a string) func(string) (int, error) {
	va, _ := parseDPKG(a)
	return func(b string) (int, error) {
		vb, err := parseDPKG(b)
		if err != nil {
			return 0, err
		}
		return compareDPKG(va, vb), nil
	}
}

func (rs rpmScheme) prepare(a string) func(string) (int, error) {
	ea := parseEVR(a)
	return func(b string) (int, error) {
		if err := rs.Valid(b); err != nil {
			return 0, err
		}
		return compareEVR(ea, parseEVR(b)), nil
	}
}

func (ss semverScheme) prepare(a string) func(string) (int, error) {
	va, _ := parseSemver(a)
	return func(b string) (int, error) {
		vb, ok := parseSemver(b)
		if !ok {
			return 0, ss.Valid(b)
		}
		return compareSemver(va, vb), nil
	}
}

func (gs goScheme) prepare(a string) func(string) (int, error) {
	va, _ := parseGo(a)
	return func(b string) (int, error) {
		vb, ok := parseGo(b)
		if !ok {
			return 0, gs.Valid(b)
		}
		return compareSemver(va, vb), nil
	}
}

func (ns npmScheme) prepare(a string) func(string) (int, error) {
	va, _ := parseNPM(a)
	return func(b string) (int, error) {
		vb, ok := parseNPM(b)
		if !ok {
			return 0, ns.Valid(b)
		}
		return compareNPM(va, vb), nil
	}
}

func (ps pep440Scheme) prepare(a string) func(string) (int, error) {
	va, _ := parsePEP440(a)
	return func(b string) (int, error) {
		vb, ok := parsePEP440(b)
		if !ok {
			return 0, ps.Valid(b)
		}
		return comparePEP440(&va, &vb), nil
	}
}

func (ms mavenScheme) prepare(a string) func(string) (int, error) {
	la := parseMaven(a)
	return func(b string) (int, error) {
		if err := ms.Valid(b); err != nil {
			return 0, err
		}
		if c, ok := mavenPlainCompare(a, b); ok {
			return c, nil
		}
		lb := parseMaven(b)
		return sign(mvCompare(&la, &lb)), nil
	}
}

func (ns nugetScheme) prepare(a string) func(string) (int, error) {
	va, _ := parseNuGet(a)
	return func(b string) (int, error) {
		vb, ok := parseNuGet(b)
		if !ok {
			return 0, ns.Valid(b)
		}
		return compareNuGet(va, vb), nil
	}
}

func (cs composerScheme) prepare(a string) func(string) (int, error) {
	na, _, _ := composerNormalize(a)
	return func(b string) (int, error) {
		nb, branch, ok := composerNormalize(b)
		if !ok || branch {
			return 0, cs.Valid(b)
		}
		return phpVersionCompare(na, nb), nil
	}
}
