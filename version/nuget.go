package version

import (
	"strconv"
	"strings"
	"unicode"
)

// nugetScheme orders NuGet package versions as NuGet.Versioning's
// NuGetVersion.TryParse and VersionComparer.Default do: 1 to 4 numeric
// parts (System.Version, each an Int32, missing parts 0), release labels
// compared part by part (numeric labels as numbers and before alphanumeric
// ones, others case-insensitively), and build metadata ignored.
type nugetScheme struct{}

func (nugetScheme) Name() string { return "nuget" }

type nugetVersion struct {
	parts  [4]int64
	labels string // dot-separated release labels, "" if none
}

// isDotNetNumberSpace is what Int32.TryParse with NumberStyles.Integer
// skips around a number.
func isDotNetNumberSpace(c byte) bool { return c == ' ' || ('\t' <= c && c <= '\r') }

func parseNuGet(s string) (nugetVersion, bool) {
	var v nugetVersion
	// String.Trim removes Unicode white space.
	s = strings.TrimFunc(s, unicode.IsSpace)
	if s == "" {
		return v, false
	}
	// ParseSections: the version runs to the first '-' or '+'; when that
	// character is the last one it stays in the version and fails there.
	core, labels, meta := s, "", ""
	hasLabels, hasMeta := false, false
	if i := strings.IndexAny(s, "-+"); i >= 0 && i < len(s)-1 {
		core = s[:i]
		rest := s[i+1:]
		if s[i] == '+' {
			meta, hasMeta = rest, true
		} else {
			labels, hasLabels = rest, true
			if j := strings.IndexByte(rest, '+'); j >= 0 && j < len(rest)-1 {
				labels, meta, hasMeta = rest[:j], rest[j+1:], true
			}
		}
	}
	// System.Version needs two to four parts; NuGet adds ".0" to one.
	n := 0
	for rest := core; ; {
		part, tail, more := strings.Cut(rest, ".")
		if n == 4 {
			return v, false
		}
		x, ok := parseDotNetInt(part)
		if !ok {
			return v, false
		}
		v.parts[n] = x
		n++
		if !more {
			break
		}
		rest = tail
	}
	if hasLabels {
		for _, l := range strings.Split(labels, ".") {
			if !nugetValidPart(l, false) {
				return v, false
			}
		}
		v.labels = labels
	}
	if hasMeta {
		for _, m := range strings.Split(meta, ".") {
			if !nugetValidPart(m, true) {
				return v, false
			}
		}
	}
	return v, true
}

// parseDotNetInt is Int32.TryParse(NumberStyles.Integer) restricted to
// what can reach it (no sign: '-' and '+' were cut off) and >= 0.
func parseDotNetInt(s string) (int64, bool) {
	for s != "" && isDotNetNumberSpace(s[0]) {
		s = s[1:]
	}
	for s != "" && isDotNetNumberSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	if !allDigits(s) {
		return 0, false
	}
	if cmpNum(s, "2147483647") > 0 {
		return 0, false
	}
	x, err := strconv.ParseInt(s, 10, 64) // at most 2147483647 here
	return x, err == nil
}

// nugetValidPart is SemanticVersion.IsValidPart: non-empty, [0-9A-Za-z-],
// and no leading zero on an all-digit label unless allowed.
func nugetValidPart(s string, allowLeadingZeros bool) bool {
	if s == "" {
		return false
	}
	if !allowLeadingZeros && len(s) > 1 && s[0] == '0' && allDigits(s[1:]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

func (nugetScheme) Valid(s string) error {
	if _, ok := parseNuGet(s); !ok {
		return invalid("nuget", s, "not a NuGet version")
	}
	return nil
}

func (ns nugetScheme) Compare(a, b string) (int, error) {
	va, ok := parseNuGet(a)
	if !ok {
		return 0, ns.Valid(a)
	}
	vb, ok := parseNuGet(b)
	if !ok {
		return 0, ns.Valid(b)
	}
	return compareNuGet(va, vb), nil
}

func compareNuGet(va, vb nugetVersion) int {
	for i := range va.parts {
		if va.parts[i] != vb.parts[i] {
			if va.parts[i] < vb.parts[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case va.labels == "" && vb.labels == "":
		return 0
	case va.labels == "":
		return 1
	case vb.labels == "":
		return -1
	}
	x, y := va.labels, vb.labels
	for x != "" || y != "" {
		if x == "" {
			return -1
		}
		if y == "" {
			return 1
		}
		var lx, ly string
		lx, x, _ = strings.Cut(x, ".")
		ly, y, _ = strings.Cut(y, ".")
		if c := nugetCompareLabel(lx, ly); c != 0 {
			return c
		}
	}
	return 0
}

// nugetLabelNumber is int.TryParse on a label: an optional '-' (labels
// may contain dashes) and digits that fit in an Int32.
func nugetLabelNumber(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	d := strings.TrimPrefix(s, "-")
	if !allDigits(d) {
		return 0, false
	}
	limit := "2147483647"
	if neg {
		limit = "2147483648"
	}
	if cmpNum(d, limit) > 0 {
		return 0, false
	}
	x, _ := strconv.ParseInt(d, 10, 64) // at most 2147483648 here
	if neg {
		x = -x
	}
	return x, true
}

// nugetCompareLabel is VersionComparer.CompareRelease.
func nugetCompareLabel(a, b string) int {
	x, nx := nugetLabelNumber(a)
	y, ny := nugetLabelNumber(b)
	switch {
	case nx && ny:
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case nx:
		return -1
	case ny:
		return 1
	}
	// StringComparer.OrdinalIgnoreCase compares upper-cased characters.
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := upper(a[i]), upper(b[i])
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	return sign(len(a) - len(b))
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
