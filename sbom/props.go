package sbom

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/customs-sec/customs"
)

// Property names for what CycloneDX and SPDX have no field for. The same
// names serve as CycloneDX properties and SPDX annotation keys.
const (
	propType          = "customs:type"
	propEcosystem     = "customs:ecosystem"
	propSourceName    = "customs:source:name"
	propSourceVersion = "customs:source:version"
	propArch          = "customs:arch"
	propMaintainer    = "customs:maintainer"
	propLayerIndex    = "customs:layer:index"
	propLayerDiffID   = "customs:layer:diffID"
	propLayerDigest   = "customs:layer:digest"
	propLocation      = "customs:location"
	propFoundBy       = "customs:foundBy"
	propLicense       = "customs:license"
	propMetadata      = "customs:metadata:"
	propImage         = "customs:image"
	propDistro        = "customs:distro"
	propWarnings      = "customs:warnings"
	propInventory     = "customs:inventory"
)

type prop struct{ name, value string }

// packageProps lists a package's fields as properties, in a fixed order.
func packageProps(p customs.Package) []prop {
	out := []prop{{propType, p.Type}}
	add := func(n, v string) {
		if v != "" {
			out = append(out, prop{n, v})
		}
	}
	add(propEcosystem, p.Ecosystem)
	add(propSourceName, p.Source)
	add(propSourceVersion, p.SourceVersion)
	add(propArch, p.Arch)
	add(propMaintainer, p.Maintainer)
	add(propFoundBy, p.FoundBy)
	out = append(out, prop{propLayerIndex, strconv.Itoa(p.Layer.Index)})
	add(propLayerDiffID, p.Layer.DiffID)
	add(propLayerDigest, p.Layer.Digest)
	for _, l := range p.Locations {
		add(propLocation, l)
	}
	for _, l := range p.Licenses {
		add(propLicense, l)
	}
	keys := make([]string, 0, len(p.Metadata))
	for k := range p.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(propMetadata+k, p.Metadata[k])
	}
	return out
}

// applyProp sets the package field a property names; foreign tools'
// properties for the same facts (Syft, Trivy) are understood too.
func applyProp(p *customs.Package, name, value string, seenLicense *bool) {
	switch name {
	case propType:
		p.Type = value
	case propEcosystem:
		p.Ecosystem = value
	case propSourceName, "aquasecurity:trivy:SrcName":
		p.Source = value
	case propSourceVersion, "aquasecurity:trivy:SrcVersion":
		p.SourceVersion = value
	case propArch:
		p.Arch = value
	case propMaintainer:
		p.Maintainer = value
	case propFoundBy:
		p.FoundBy = value
	case propLayerIndex:
		if i, err := strconv.Atoi(value); err == nil {
			p.Layer.Index = i
		}
	case propLayerDiffID, "aquasecurity:trivy:LayerDiffID", "syft:location:0:layerID":
		p.Layer.DiffID = value
	case propLayerDigest, "aquasecurity:trivy:LayerDigest":
		p.Layer.Digest = value
	case propLocation, "aquasecurity:trivy:FilePath", "syft:location:0:path":
		p.Locations = append(p.Locations, value)
	case propLicense:
		if !*seenLicense {
			p.Licenses, *seenLicense = nil, true
		}
		p.Licenses = append(p.Licenses, value)
	default:
		if k, ok := strings.CutPrefix(name, propMetadata); ok {
			if p.Metadata == nil {
				p.Metadata = map[string]string{}
			}
			p.Metadata[k] = value
		}
	}
}

// fillFromPURL completes a package read from a foreign SBOM from its purl.
func fillFromPURL(p *customs.Package, distro *customs.Distro) {
	if p.PURL == "" {
		return
	}
	u, err := packageurl.FromString(p.PURL)
	if err != nil {
		return
	}
	q := u.Qualifiers.Map()
	if p.Type == "" {
		p.Type = u.Type
	}
	if p.Name == "" {
		p.Name = u.Name
		if u.Namespace != "" && p.Type != customs.TypeDeb && p.Type != customs.TypeApk && p.Type != customs.TypeRPM {
			sep := "/"
			if p.Type == customs.TypeMaven {
				sep = ":"
			}
			p.Name = u.Namespace + sep + u.Name
		}
	}
	if p.Version == "" {
		p.Version = u.Version
	}
	if p.Arch == "" {
		p.Arch = q["arch"]
	}
	if p.Ecosystem == "" {
		if e := customs.LanguageEcosystem(p.Type); e != "" {
			p.Ecosystem = e
		} else {
			p.Ecosystem = customs.OSEcosystem(distro)
		}
	}
	// Only OS packages have source packages; matching by source needs one.
	if p.Source == "" && customs.LanguageEcosystem(p.Type) == "" {
		p.Source, p.SourceVersion = q["upstream"], ""
		if p.Source == "" {
			p.Source = p.Name
		}
		if src, ver, ok := strings.Cut(p.Source, "@"); ok {
			p.Source, p.SourceVersion = src, ver
		}
		if p.SourceVersion == "" {
			p.SourceVersion = p.Version
		}
	}
	if p.Locations == nil {
		p.Locations = []string{}
	}
}

// distroFromPURL reads "distro=debian-12" when an SBOM names no OS component.
func distroFromPURL(s string) *customs.Distro {
	u, err := packageurl.FromString(s)
	if err != nil {
		return nil
	}
	d := u.Qualifiers.Map()["distro"]
	id, ver, ok := strings.Cut(d, "-")
	if !ok || id == "" {
		return nil
	}
	return &customs.Distro{ID: id, VersionID: ver}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
