// Package osrelease tells an image's distribution from /etc/os-release and,
// where that is missing, from the older release files distributions keep.
package osrelease

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
)

// sources in order of preference.
var sources = []string{
	"etc/os-release",
	"usr/lib/os-release",
	"etc/lsb-release",
	"etc/alpine-release",
	"etc/debian_version",
	"etc/redhat-release",
	"etc/centos-release",
	"etc/system-release",
}

const maxSize = 64 << 10

// Detector reads release files.
type Detector struct{}

// Name implements inspect.Cataloger.
func (Detector) Name() string { return "os-release" }

// Wants implements inspect.Cataloger.
func (Detector) Wants(p string, e *image.Entry) bool {
	if e.Kind != image.KindFile {
		return false
	}
	for _, s := range sources {
		if p == s {
			return true
		}
	}
	return false
}

// Parse implements inspect.Cataloger.
func (Detector) Parse(ctx context.Context, f *inspect.File, r io.Reader) (*inspect.Parsed, error) {
	b, err := inspect.ReadAll(r, maxSize)
	if err != nil {
		return nil, err
	}
	d := Parse(f.Path, b)
	if d == nil {
		return nil, nil
	}
	return &inspect.Parsed{Distro: d}, nil
}

// Parse reads one release file; nil when it says nothing usable.
func Parse(name string, b []byte) *customs.Distro {
	switch name {
	case "etc/os-release", "usr/lib/os-release":
		kv := ParseKV(b)
		if kv["ID"] == "" {
			return nil
		}
		d := &customs.Distro{
			ID: strings.ToLower(kv["ID"]), VersionID: kv["VERSION_ID"], Codename: kv["VERSION_CODENAME"],
			Name: kv["NAME"], PrettyName: kv["PRETTY_NAME"], CPE: kv["CPE_NAME"], Source: "/" + name,
		}
		if like := kv["ID_LIKE"]; like != "" {
			d.IDLike = strings.Fields(like)
		}
		if d.Codename == "" && d.ID == "debian" {
			// Debian testing and sid say "trixie/sid" in VERSION and nothing in VERSION_CODENAME.
			if v := kv["VERSION"]; strings.Contains(v, "(") {
				d.Codename = strings.Trim(v[strings.Index(v, "(")+1:], ")")
			}
		}
		return d
	case "etc/lsb-release":
		kv := ParseKV(b)
		if kv["DISTRIB_ID"] == "" {
			return nil
		}
		return &customs.Distro{ID: strings.ToLower(kv["DISTRIB_ID"]), VersionID: kv["DISTRIB_RELEASE"],
			Codename: kv["DISTRIB_CODENAME"], PrettyName: kv["DISTRIB_DESCRIPTION"], Source: "/" + name}
	case "etc/alpine-release":
		v := strings.TrimSpace(string(firstLine(b)))
		if v == "" {
			return nil
		}
		return &customs.Distro{ID: "alpine", VersionID: v, Name: "Alpine Linux", Source: "/" + name}
	case "etc/debian_version":
		v := strings.TrimSpace(string(firstLine(b)))
		if v == "" {
			return nil
		}
		d := &customs.Distro{ID: "debian", Name: "Debian GNU/Linux", Source: "/" + name}
		if v[0] >= '0' && v[0] <= '9' {
			d.VersionID, _, _ = strings.Cut(v, ".")
		} else {
			d.Codename, _, _ = strings.Cut(v, "/")
		}
		return d
	default: // redhat-style "CentOS Linux release 7.9.2009 (Core)"
		line := strings.TrimSpace(string(firstLine(b)))
		name, ver, ok := strings.Cut(line, " release ")
		if !ok {
			return nil
		}
		ver, _, _ = strings.Cut(ver, " ")
		id := "rhel"
		switch l := strings.ToLower(name); {
		case strings.HasPrefix(l, "centos"):
			id = "centos"
		case strings.HasPrefix(l, "fedora"):
			id = "fedora"
		case strings.HasPrefix(l, "rocky"):
			id = "rocky"
		case strings.HasPrefix(l, "almalinux"):
			id = "almalinux"
		case strings.HasPrefix(l, "amazon"):
			id = "amzn"
		}
		return &customs.Distro{ID: id, VersionID: ver, Name: name, PrettyName: line, Source: "/" + name}
	}
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

// ParseKV reads shell-style KEY=value lines (os-release(5)), unquoting values.
func ParseKV(b []byte) map[string]string {
	kv := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			if v[0] == '"' {
				if u, err := strconv.Unquote(v); err == nil {
					v = u
				} else {
					v = v[1 : len(v)-1]
				}
			} else {
				v = v[1 : len(v)-1]
			}
		}
		kv[k] = v
	}
	return kv
}

// Distro implements inspect.DistroDetector: the most preferred visible file wins.
func (Detector) Distro(results []inspect.Result) *customs.Distro {
	for _, s := range sources {
		for _, r := range results {
			if r.Path == s && r.Visible && r.Parsed != nil && r.Parsed.Distro != nil {
				d := *r.Parsed.Distro
				d.Layer = &customs.LayerRef{Index: r.Layer}
				return &d
			}
		}
	}
	return nil
}

// Collect implements inspect.Cataloger; the distribution is not a package.
func (Detector) Collect(context.Context, *inspect.Env, []inspect.Result) ([]customs.Package, []string) {
	return nil, nil
}
