// Package purl builds package URLs (https://github.com/package-url/purl-spec)
// the way the advisory databases and peer tools spell them.
package purl

import (
	"sort"

	"github.com/package-url/packageurl-go"

	"github.com/customs-sec/customs"
)

// New builds a purl; qualifiers with empty values are left out and the rest
// sorted by key, as the spec asks.
func New(typ, namespace, name, version string, qualifiers map[string]string) string {
	var q packageurl.Qualifiers
	keys := make([]string, 0, len(qualifiers))
	for k, v := range qualifiers {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		q = append(q, packageurl.Qualifier{Key: k, Value: qualifiers[k]})
	}
	return packageurl.NewPackageURL(typ, namespace, name, version, q, "").ToString()
}

// distroQualifier is "debian-12", "alpine-3.19.1".
func distroQualifier(d *customs.Distro) string {
	if d == nil || d.ID == "" {
		return ""
	}
	if d.VersionID != "" {
		return d.ID + "-" + d.VersionID
	}
	if d.Codename != "" {
		return d.ID + "-" + d.Codename
	}
	return d.ID
}

func namespace(d *customs.Distro, def string) string {
	if d != nil && d.ID != "" {
		return d.ID
	}
	return def
}

// Deb is pkg:deb/debian/bash@5.2.15-2+b2?arch=amd64&distro=debian-12, with
// upstream= naming the source package when it differs (as Syft writes it).
func Deb(d *customs.Distro, p customs.Package) string {
	q := map[string]string{"arch": p.Arch, "distro": distroQualifier(d)}
	if p.Source != "" && p.Source != p.Name {
		q["upstream"] = p.Source
	}
	return New(customs.TypeDeb, namespace(d, "debian"), p.Name, p.Version, q)
}

// Apk is pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1.
func Apk(d *customs.Distro, p customs.Package) string {
	q := map[string]string{"arch": p.Arch, "distro": distroQualifier(d)}
	if p.Source != "" && p.Source != p.Name {
		q["upstream"] = p.Source
	}
	return New(customs.TypeApk, namespace(d, "alpine"), p.Name, p.Version, q)
}

// RPM is pkg:rpm/redhat/bash@5.1.8-6.el9?arch=x86_64&epoch=1&distro=rhel-9.2.
// The version in the purl has no epoch; the epoch is a qualifier.
func RPM(d *customs.Distro, p customs.Package, epoch, versionRelease string) string {
	q := map[string]string{"arch": p.Arch, "distro": distroQualifier(d), "epoch": epoch}
	if p.Source != "" {
		q["upstream"] = p.Metadata["source_rpm"]
	}
	ns := namespace(d, "redhat")
	if d != nil && (d.ID == "rhel" || d.ID == "centos") {
		ns = "redhat"
	}
	return New(customs.TypeRPM, ns, p.Name, versionRelease, q)
}
