package version

import "strings"

// dpkgScheme orders Debian package versions, [epoch:]upstream[-revision],
// as dpkg's verrevcmp does (deb-version(7)).
type dpkgScheme struct{}

func (dpkgScheme) Name() string { return "dpkg" }

// dpkgVersion is a parsed version; the strings point into the input.
type dpkgVersion struct {
	epoch    string // digits, may be empty for 0
	upstream string
	revision string
}

// parseDPKG follows dpkg's parseversion. dpkg itself only warns about a
// bad first character or a bad character and still compares such versions;
// "dpkg --compare-versions" reports them as "bad syntax", so they are
// rejected here rather than given an order nobody vouches for.
func parseDPKG(s string) (dpkgVersion, error) {
	var v dpkgVersion
	orig := s
	// Leading and trailing blanks are trimmed; blanks inside are an error.
	s = strings.TrimLeft(s, " \t")
	if s == "" {
		return v, invalid("dpkg", orig, "version string is empty")
	}
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		if strings.TrimLeft(s[i:], " \t") != "" {
			return v, invalid("dpkg", orig, "version string has embedded spaces")
		}
		s = s[:i]
	}
	if colon := strings.IndexByte(s, ':'); colon >= 0 {
		// dpkg reads the epoch with strtol: optional whitespace and sign.
		e := s[:colon]
		e = strings.TrimLeft(e, " \t\n\v\f\r")
		neg := false
		if e != "" && (e[0] == '+' || e[0] == '-') {
			neg = e[0] == '-'
			e = e[1:]
		}
		if e == "" {
			return v, invalid("dpkg", orig, "epoch in version is empty")
		}
		for i := 0; i < len(e); i++ {
			if !isDigit(e[i]) {
				return v, invalid("dpkg", orig, "epoch in version is not number")
			}
		}
		e = strings.TrimLeft(e, "0")
		if neg && e != "" {
			return v, invalid("dpkg", orig, "epoch in version is negative")
		}
		if cmpNum(e, "2147483647") > 0 {
			return v, invalid("dpkg", orig, "epoch in version is too big")
		}
		if colon+1 == len(s) {
			return v, invalid("dpkg", orig, "nothing after colon in version number")
		}
		v.epoch = e
		s = s[colon+1:]
	}
	v.upstream = s
	if h := strings.LastIndexByte(s, '-'); h >= 0 {
		v.upstream, v.revision = s[:h], s[h+1:]
		if v.revision == "" {
			return v, invalid("dpkg", orig, "revision number is empty")
		}
	}
	if v.upstream == "" {
		return v, invalid("dpkg", orig, "version number is empty")
	}
	if !isDigit(v.upstream[0]) {
		return v, invalid("dpkg", orig, "version number does not start with digit")
	}
	for i := 0; i < len(v.upstream); i++ {
		c := v.upstream[i]
		if !isAlnum(c) && strings.IndexByte(".-+~:", c) < 0 {
			return v, invalid("dpkg", orig, "invalid character in version number")
		}
	}
	for i := 0; i < len(v.revision); i++ {
		c := v.revision[i]
		if !isAlnum(c) && strings.IndexByte(".+~", c) < 0 {
			return v, invalid("dpkg", orig, "invalid character in revision number")
		}
	}
	return v, nil
}

func (dpkgScheme) Valid(v string) error {
	_, err := parseDPKG(v)
	return err
}

func (dpkgScheme) Compare(a, b string) (int, error) {
	va, err := parseDPKG(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseDPKG(b)
	if err != nil {
		return 0, err
	}
	return compareDPKG(va, vb), nil
}

func compareDPKG(va, vb dpkgVersion) int {
	if c := cmpNum(va.epoch, vb.epoch); c != 0 {
		return c
	}
	if c := verrevcmp(va.upstream, vb.upstream); c != 0 {
		return c
	}
	return verrevcmp(va.revision, vb.revision)
}

// dpkgOrder is dpkg's order(): '~' before the end of a part, the end before
// letters, letters before everything else.
func dpkgOrder(c int) int {
	switch {
	case c < 0: // end of string
		return 0
	case isDigit(byte(c)):
		return 0
	case isAlpha(byte(c)):
		return c
	case c == '~':
		return -1
	}
	return c + 256
}

// verrevcmp compares alternating non-digit and digit runs; digit runs are
// compared as unbounded numbers.
func verrevcmp(a, b string) int {
	i, j := 0, 0
	at := func(s string, k int) int {
		if k < len(s) {
			return int(s[k])
		}
		return -1
	}
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := dpkgOrder(at(a, i)), dpkgOrder(at(b, j))
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		// i or j may now be past the end; clamp before reading digit runs.
		i, j = min(i, len(a)), min(j, len(b))
		si := i
		for i < len(a) && isDigit(a[i]) {
			i++
		}
		sj := j
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if c := cmpNum(a[si:i], b[sj:j]); c != 0 {
			return c
		}
	}
	return 0
}
