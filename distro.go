package customs

import "strings"

// debianCodenames maps codenames to releases, for images whose os-release
// has no VERSION_ID (testing, or an os-release trimmed by the image's author).
var debianCodenames = map[string]string{
	"buzz": "1.1", "jessie": "8", "stretch": "9", "buster": "10", "bullseye": "11",
	"bookworm": "12", "trixie": "13", "forky": "14", "duke": "15",
}

// DebianRelease gives the Debian release number for a distro.
func DebianRelease(d *Distro) string {
	if d == nil {
		return ""
	}
	if d.VersionID != "" {
		v, _, _ := strings.Cut(d.VersionID, ".")
		return v
	}
	return debianCodenames[d.Codename]
}

// OSEcosystem names the OSV ecosystem a distribution's packages are filed
// under ("Debian:12", "Ubuntu:22.04", "Alpine:v3.19"); empty when unknown.
func OSEcosystem(d *Distro) string {
	if d == nil {
		return ""
	}
	majorMinor := func(v string) string {
		parts := strings.SplitN(v, ".", 3)
		if len(parts) >= 2 {
			return parts[0] + "." + parts[1]
		}
		return v
	}
	major := func(v string) string { m, _, _ := strings.Cut(v, "."); return m }
	switch d.ID {
	case "debian":
		if r := DebianRelease(d); r != "" {
			return "Debian:" + r
		}
		return "Debian"
	case "ubuntu":
		return "Ubuntu:" + d.VersionID
	case "alpine":
		return "Alpine:v" + majorMinor(d.VersionID)
	case "rocky":
		return "Rocky Linux:" + major(d.VersionID)
	case "almalinux":
		return "AlmaLinux:" + major(d.VersionID)
	case "rhel", "centos":
		return "Red Hat:" + major(d.VersionID)
	case "opensuse-leap":
		return "openSUSE:Leap " + d.VersionID
	case "sles":
		return "SUSE:" + d.VersionID
	case "wolfi":
		return "Wolfi"
	case "chainguard":
		return "Chainguard"
	case "mageia":
		return "Mageia:" + d.VersionID
	case "photon":
		return "Photon OS:" + d.VersionID
	}
	return ""
}

// LanguageEcosystem names the OSV ecosystem of a language package type.
func LanguageEcosystem(purlType string) string {
	switch purlType {
	case TypeGo:
		return "Go"
	case TypeNPM:
		return "npm"
	case TypePyPI:
		return "PyPI"
	case TypeMaven:
		return "Maven"
	case TypeGem:
		return "RubyGems"
	case TypeCargo:
		return "crates.io"
	case TypeComposer:
		return "Packagist"
	case TypeNuGet:
		return "NuGet"
	}
	return ""
}
