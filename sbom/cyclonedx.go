package sbom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/github/go-spdx/v2/spdxexp"
	"github.com/google/uuid"

	"github.com/customs-sec/customs"
)

// CycloneDXVersion is the spec version customs writes.
const CycloneDXVersion = cdx.SpecVersion1_6

// ToCycloneDX converts an inventory to a CycloneDX BOM.
func ToCycloneDX(inv *customs.Inventory) *cdx.BOM {
	bom, _ := ToCycloneDXWithRefs(inv)
	return bom
}

// ToCycloneDXWithRefs converts an inventory to a CycloneDX BOM and gives the
// bom-ref of each package (by index), so a report can point at them.
func ToCycloneDXWithRefs(inv *customs.Inventory) (*cdx.BOM, []string) {
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + uuid.NewString()
	image := &cdx.Component{
		BOMRef:  "image",
		Type:    cdx.ComponentTypeContainer,
		Name:    firstNonEmpty(inv.Image.Ref, inv.Image.ID(), "image"),
		Version: inv.Image.ID(),
	}
	imgProps := []cdx.Property{{Name: propImage, Value: mustJSON(inv.Image)}}
	for _, kv := range [][2]string{
		{"customs:image:manifestDigest", inv.Image.ManifestDigest},
		{"customs:image:indexDigest", inv.Image.IndexDigest},
		{"customs:image:configDigest", inv.Image.ConfigDigest},
		{"customs:image:source", inv.Image.Source},
		{"customs:image:os", inv.Image.OS},
		{"customs:image:architecture", inv.Image.Architecture},
	} {
		if kv[1] != "" {
			imgProps = append(imgProps, cdx.Property{Name: kv[0], Value: kv[1]})
		}
	}
	if len(inv.Warnings) > 0 {
		imgProps = append(imgProps, cdx.Property{Name: propWarnings, Value: mustJSON(inv.Warnings)})
	}
	image.Properties = &imgProps
	bom.Metadata = &cdx.Metadata{
		Timestamp: inv.Created.UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: inv.Tool.Name, Version: inv.Tool.Version,
		}}},
		Component: image,
	}
	var comps []cdx.Component
	var deps []string
	if d := inv.Distro; d != nil {
		comps = append(comps, cdx.Component{
			BOMRef: "os", Type: cdx.ComponentTypeOS, Name: d.ID, Version: d.VersionID, Description: d.PrettyName,
			Properties: &[]cdx.Property{{Name: propDistro, Value: mustJSON(d)}},
		})
		deps = append(deps, "os")
	}
	refs := map[string]int{}
	pkgRefs := make([]string, 0, len(inv.Packages))
	for _, p := range inv.Packages {
		ref := p.PURL
		if ref == "" {
			ref = p.Type + ":" + p.Name + "@" + p.Version
		}
		if n := refs[ref]; n > 0 {
			refs[ref]++
			ref += "#" + strconv.Itoa(n)
		} else {
			refs[ref] = 1
		}
		c := cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeLibrary, Name: p.Name, Version: p.Version, PackageURL: p.PURL}
		if p.Type == customs.TypeMaven {
			if g, a, ok := strings.Cut(p.Name, ":"); ok {
				c.Group, c.Name = g, a
			}
		}
		if lic := cdxLicenses(p.Licenses); lic != nil {
			c.Licenses = lic
		}
		var props []cdx.Property
		for _, kv := range packageProps(p) {
			props = append(props, cdx.Property{Name: kv.name, Value: kv.value})
		}
		c.Properties = &props
		if len(p.Locations) > 0 {
			var occ []cdx.EvidenceOccurrence
			for _, l := range p.Locations {
				occ = append(occ, cdx.EvidenceOccurrence{Location: l})
			}
			c.Evidence = &cdx.Evidence{Occurrences: &occ}
		}
		comps = append(comps, c)
		deps = append(deps, ref)
		pkgRefs = append(pkgRefs, ref)
	}
	bom.Components = &comps
	bom.Dependencies = &[]cdx.Dependency{{Ref: "image", Dependencies: &deps}}
	return bom, pkgRefs
}

// cdxLicenses writes each license as an SPDX id or expression when it is
// one, else by name (Debian's "GPL-2+" is not an SPDX id), so the schema's
// license-id enum holds and nothing is lost.
func cdxLicenses(ls []string) *cdx.Licenses {
	if len(ls) == 0 {
		return nil
	}
	var out cdx.Licenses
	for _, l := range ls {
		switch {
		case cdxLicenseIDs[l]:
			out = append(out, cdx.LicenseChoice{License: &cdx.License{ID: l}})
		case isSPDXExpression(l):
			out = append(out, cdx.LicenseChoice{Expression: l})
		default:
			out = append(out, cdx.LicenseChoice{License: &cdx.License{Name: l}})
		}
	}
	// The schema allows several licenses or exactly one expression.
	if len(out) > 1 {
		for i, c := range out {
			if c.Expression != "" {
				out[i] = cdx.LicenseChoice{License: &cdx.License{Name: c.Expression}}
			}
		}
	}
	return &out
}

//go:generate go run gen_spdxids.go

func isSPDXID(s string) bool {
	if strings.ContainsAny(s, " ()") {
		return false
	}
	ok, id := spdxexp.ActiveLicense(s)
	return ok && id == s
}

func isSPDXExpression(s string) bool {
	if !strings.Contains(s, " AND ") && !strings.Contains(s, " OR ") && !strings.Contains(s, " WITH ") {
		return false
	}
	ok, _ := spdxexp.ValidateLicenses([]string{s})
	return ok
}

func encodeCycloneDX(w io.Writer, inv *customs.Inventory) error {
	return EncodeCycloneDXBOM(w, ToCycloneDX(inv))
}

// EncodeCycloneDXBOM writes a BOM as CycloneDX 1.6 JSON.
//
// It stamps the version and encodes, where the library's EncodeVersion
// would first deep-copy the whole BOM through encoding/gob to strip what
// 1.6 lacks: a third of the time of writing an SBOM, spent after the last
// layer is read. The BOMs customs builds hold nothing newer than 1.6, and
// TestEncodeNeedsNoConversion holds this to EncodeVersion's bytes.
func EncodeCycloneDXBOM(w io.Writer, bom *cdx.BOM) error {
	stamped := *bom // the caller's BOM keeps its own stamps
	stamped.SpecVersion = CycloneDXVersion
	stamped.JSONSchema = "http://cyclonedx.org/schema/bom-1.6.schema.json"
	stamped.XMLNS = "http://cyclonedx.org/schema/bom/1.6"
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	return enc.Encode(&stamped)
}

func decodeCycloneDX(b []byte) (*customs.Inventory, error) {
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return nil, fmt.Errorf("CycloneDX: %w", err)
	}
	inv := &customs.Inventory{Schema: customs.InventorySchema, Packages: []customs.Package{}}
	if md := bom.Metadata; md != nil {
		if t, err := time.Parse(time.RFC3339, md.Timestamp); err == nil {
			inv.Created = t
		}
		if md.Tools != nil && md.Tools.Components != nil && len(*md.Tools.Components) > 0 {
			t := (*md.Tools.Components)[0]
			inv.Tool = customs.Tool{Name: t.Name, Version: t.Version}
		}
		if c := md.Component; c != nil {
			inv.Image.Ref = c.Name
			for _, p := range props(c.Properties) {
				switch p.Name {
				case propImage:
					if err := json.Unmarshal([]byte(p.Value), &inv.Image); err != nil {
						return nil, fmt.Errorf("CycloneDX: property %s: %w", propImage, err)
					}
				case propWarnings:
					_ = json.Unmarshal([]byte(p.Value), &inv.Warnings)
				case "aquasecurity:trivy:ImageID":
					inv.Image.ConfigDigest = p.Value
				case "aquasecurity:trivy:RepoDigest":
					inv.Image.RepoDigests = append(inv.Image.RepoDigests, p.Value)
				}
			}
			if inv.Image.ManifestDigest == "" && inv.Image.ConfigDigest == "" && strings.HasPrefix(c.Version, "sha256:") {
				inv.Image.ManifestDigest = c.Version
			}
		}
	}
	if inv.Image.Source == "" {
		inv.Image.Source = "sbom"
	}
	comps := allComponents(bom.Components)
	for _, c := range comps {
		if c.Type != cdx.ComponentTypeOS {
			continue
		}
		d := &customs.Distro{ID: c.Name, VersionID: c.Version, PrettyName: c.Description}
		for _, p := range props(c.Properties) {
			if p.Name == propDistro {
				_ = json.Unmarshal([]byte(p.Value), d)
			}
		}
		inv.Distro = d
	}
	for _, c := range comps {
		if c.Type == cdx.ComponentTypeOS || c.Type == cdx.ComponentTypeFile || (c.PackageURL == "" && c.Name == "") {
			continue
		}
		p := customs.Package{Name: c.Name, Version: c.Version, PURL: c.PackageURL}
		seenLicense := false
		for _, pr := range props(c.Properties) {
			applyProp(&p, pr.Name, pr.Value, &seenLicense)
		}
		if !seenLicense && c.Licenses != nil {
			for _, l := range *c.Licenses {
				switch {
				case l.Expression != "":
					p.Licenses = append(p.Licenses, l.Expression)
				case l.License != nil && l.License.ID != "":
					p.Licenses = append(p.Licenses, l.License.ID)
				case l.License != nil && l.License.Name != "":
					p.Licenses = append(p.Licenses, l.License.Name)
				}
			}
		}
		if len(p.Locations) == 0 && c.Evidence != nil && c.Evidence.Occurrences != nil {
			for _, o := range *c.Evidence.Occurrences {
				p.Locations = append(p.Locations, o.Location)
			}
		}
		if c.Group != "" {
			// Maven names are "group:artifact" (as OSV writes them); a group
			// elsewhere is a scope or namespace ("@types/node").
			if p.Type == customs.TypeMaven || strings.HasPrefix(p.PURL, "pkg:maven/") {
				p.Name = c.Group + ":" + c.Name
			} else {
				p.Name = c.Group + "/" + c.Name
			}
		}
		if inv.Distro == nil && p.PURL != "" {
			inv.Distro = distroFromPURL(p.PURL)
		}
		fillFromPURL(&p, inv.Distro)
		if p.Type == "" {
			continue // not a package we can name (a file, a service)
		}
		inv.Packages = append(inv.Packages, p)
	}
	return inv, nil
}

func props(p *[]cdx.Property) []cdx.Property {
	if p == nil {
		return nil
	}
	return *p
}

// allComponents flattens nested components (Trivy nests by file).
func allComponents(cs *[]cdx.Component) []cdx.Component {
	if cs == nil {
		return nil
	}
	var out []cdx.Component
	var walk func([]cdx.Component, int)
	walk = func(list []cdx.Component, depth int) {
		for _, c := range list {
			out = append(out, c)
			if c.Components != nil && depth < 16 {
				walk(*c.Components, depth+1)
			}
		}
	}
	walk(*cs, 0)
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
