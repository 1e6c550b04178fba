package version

import "strings"

// rpmScheme orders RPM [epoch:]version[-release] strings as rpm >= 4.16
// does in rpmverCmp (the comparison behind rpm.ver objects): the EVR is
// split as parseEVR does, a missing epoch is 0, a missing release is "",
// and each part is compared with rpmvercmp (alphanumeric segments, '~'
// before everything, '^' after the base version but before anything else).
type rpmScheme struct{}

func (rpmScheme) Name() string { return "rpm" }

// rpm accepts any bytes, but the C API stops at NUL, so a NUL would make
// rpm compare a different string from the one we were given.
func (rpmScheme) Valid(v string) error {
	if v == "" {
		return invalid("rpm", v, "empty version")
	}
	if strings.IndexByte(v, 0) >= 0 {
		return invalid("rpm", v, "NUL byte")
	}
	return nil
}

type rpmEVR struct {
	epoch, version, release string
	hasEpoch                bool
}

// parseEVR mirrors rpm's parseEVR: the epoch is the leading digits when a
// ':' follows them, the release is what follows the last '-' after that.
func parseEVR(s string) rpmEVR {
	var r rpmEVR
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	rest := s
	if i < len(s) && s[i] == ':' {
		r.epoch, r.hasEpoch = s[:i], true
		if r.epoch == "" {
			r.epoch = "0"
		}
		rest = s[i+1:]
	}
	r.version = rest
	// rpm searches for the last '-' after the epoch digits; digits hold no
	// '-', so the last '-' of the whole string is the same one.
	if h := strings.LastIndexByte(rest, '-'); h >= 0 {
		r.version, r.release = rest[:h], rest[h+1:]
	}
	return r
}

func (rs rpmScheme) Compare(a, b string) (int, error) {
	return compareValid(rs, a, b, func(a, b string) int {
		return compareEVR(parseEVR(a), parseEVR(b))
	})
}

func compareEVR(ea, eb rpmEVR) int {
	e1, e2 := "0", "0"
	if ea.hasEpoch {
		e1 = ea.epoch
	}
	if eb.hasEpoch {
		e2 = eb.epoch
	}
	if c := rpmvercmp(e1, e2); c != 0 {
		return c
	}
	if c := rpmvercmp(ea.version, eb.version); c != 0 {
		return c
	}
	return rpmvercmp(ea.release, eb.release)
}

// rpmvercmp is rpm's segment comparison (lib/rpmvercmp.c, rpm 4.15+).
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	sep := func(c byte) bool { return !isAlnum(c) && c != '~' && c != '^' }
	for i < len(a) || j < len(b) {
		for i < len(a) && sep(a[i]) {
			i++
		}
		for j < len(b) && sep(b[j]) {
			j++
		}
		// '~' sorts before everything, even the end of the string.
		ta, tb := i < len(a) && a[i] == '~', j < len(b) && b[j] == '~'
		if ta || tb {
			if !ta {
				return 1
			}
			if !tb {
				return -1
			}
			i++
			j++
			continue
		}
		// '^' sorts after the end of the string but before anything else.
		ca, cb := i < len(a) && a[i] == '^', j < len(b) && b[j] == '^'
		if ca || cb {
			if i >= len(a) {
				return -1
			}
			if j >= len(b) {
				return 1
			}
			if !ca {
				return 1
			}
			if !cb {
				return -1
			}
			i++
			j++
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		si, sj := i, j
		isnum := isDigit(a[i])
		if isnum {
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
		} else {
			for i < len(a) && isAlpha(a[i]) {
				i++
			}
			for j < len(b) && isAlpha(b[j]) {
				j++
			}
		}
		// Segments of different types: the numeric one is newer.
		if sj == j {
			if isnum {
				return 1
			}
			return -1
		}
		if isnum {
			if c := cmpNum(a[si:i], b[sj:j]); c != 0 {
				return c
			}
		} else if c := strings.Compare(a[si:i], b[sj:j]); c != 0 {
			return c
		}
	}
	if i >= len(a) && j >= len(b) {
		return 0
	}
	if i >= len(a) {
		return -1
	}
	return 1
}
