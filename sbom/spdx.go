package sbom

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/customs-sec/customs"
)

const (
	spdxNoAssertion = "NOASSERTION"
	spdxImageID     = common.ElementID("Image")
	spdxOSID        = common.ElementID("OperatingSystem")
)

var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// ToSPDX converts an inventory to an SPDX 2.3 document.
func ToSPDX(inv *customs.Inventory) *spdx.Document {
	created := inv.Created.UTC().Format("2006-01-02T15:04:05Z")
	annotator := common.Annotator{Annotator: inv.Tool.Name + "-" + inv.Tool.Version, AnnotatorType: "Tool"}
	annotate := func(kvs []prop) []spdx.Annotation {
		var out []spdx.Annotation
		for _, kv := range kvs {
			out = append(out, spdx.Annotation{Annotator: annotator, AnnotationDate: created, AnnotationType: "OTHER",
				AnnotationComment: kv.name + "=" + kv.value})
		}
		return out
	}
	name := firstNonEmpty(inv.Image.Ref, inv.Image.ID(), "image")
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: "https://customs.invalid/spdx/" + spdxIDUnsafe.ReplaceAllString(name, "-") + "-" + shortHash(inv.Image.ID()+created),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{Creator: inv.Tool.Name + "-" + inv.Tool.Version, CreatorType: "Tool"}},
			Created:  created,
		},
	}
	imgProps := []prop{{propImage, mustJSON(inv.Image)}}
	if len(inv.Warnings) > 0 {
		imgProps = append(imgProps, prop{propWarnings, mustJSON(inv.Warnings)})
	}
	doc.Packages = append(doc.Packages, &spdx.Package{
		PackageName: name, PackageSPDXIdentifier: spdxImageID, PackageVersion: inv.Image.ID(),
		PackageDownloadLocation: spdxNoAssertion, PrimaryPackagePurpose: "CONTAINER",
		PackageLicenseConcluded: spdxNoAssertion, PackageLicenseDeclared: spdxNoAssertion, PackageCopyrightText: spdxNoAssertion,
		Annotations: annotate(imgProps),
	})
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA: common.MakeDocElementID("", "DOCUMENT"), RefB: common.MakeDocElementID("", string(spdxImageID)), Relationship: common.TypeRelationshipDescribe,
	})
	if d := inv.Distro; d != nil {
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName: d.ID, PackageSPDXIdentifier: spdxOSID, PackageVersion: d.VersionID, PackageDescription: d.PrettyName,
			PackageDownloadLocation: spdxNoAssertion, PrimaryPackagePurpose: "OPERATING-SYSTEM",
			PackageLicenseConcluded: spdxNoAssertion, PackageLicenseDeclared: spdxNoAssertion, PackageCopyrightText: spdxNoAssertion,
			Annotations: annotate([]prop{{propDistro, mustJSON(d)}}),
		})
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", string(spdxImageID)), RefB: common.MakeDocElementID("", string(spdxOSID)), Relationship: common.TypeRelationshipContains,
		})
	}
	others := map[string]bool{}
	ids := map[common.ElementID]bool{}
	for _, p := range inv.Packages {
		id := common.ElementID("Package-" + spdxIDUnsafe.ReplaceAllString(p.Type+"-"+p.Name, "-") + "-" + shortHash(p.Key()))
		for n := 2; ids[id]; n++ {
			id = common.ElementID(fmt.Sprintf("%s-%d", id, n))
		}
		ids[id] = true
		sp := &spdx.Package{
			PackageName: p.Name, PackageSPDXIdentifier: id, PackageVersion: p.Version,
			PackageDownloadLocation: spdxNoAssertion, PackageLicenseConcluded: spdxNoAssertion,
			PackageLicenseDeclared: spdxLicense(p.Licenses, doc, others), PackageCopyrightText: spdxNoAssertion,
			PrimaryPackagePurpose: "LIBRARY",
			Annotations:           annotate(packageProps(p)),
		}
		if p.Source != "" && p.Source != p.Name {
			sp.PackageSourceInfo = "built from source package " + p.Source + " " + p.SourceVersion
		}
		if p.PURL != "" {
			sp.PackageExternalReferences = []*spdx.PackageExternalReference{{
				Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: p.PURL,
			}}
		}
		doc.Packages = append(doc.Packages, sp)
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", string(spdxImageID)), RefB: common.MakeDocElementID("", string(id)), Relationship: common.TypeRelationshipContains,
		})
	}
	return doc
}

// spdxLicense writes licenses as one SPDX expression, naming licenses that
// are not on the SPDX list with LicenseRef- entries.
func spdxLicense(ls []string, doc *spdx.Document, others map[string]bool) string {
	if len(ls) == 0 {
		return spdxNoAssertion
	}
	var parts []string
	for _, l := range ls {
		switch {
		case isSPDXID(l):
			parts = append(parts, l)
		case isSPDXExpression(l):
			parts = append(parts, "("+l+")")
		default:
			ref := "LicenseRef-" + strings.Trim(spdxIDUnsafe.ReplaceAllString(l, "-"), "-")
			if len(ref) > 80 {
				ref = "LicenseRef-" + shortHash(l)
			}
			if !others[ref] {
				others[ref] = true
				doc.OtherLicenses = append(doc.OtherLicenses, &spdx.OtherLicense{LicenseIdentifier: ref, ExtractedText: l, LicenseName: l})
			}
			parts = append(parts, ref)
		}
	}
	return strings.Join(parts, " AND ")
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

func encodeSPDX(w io.Writer, inv *customs.Inventory) error {
	return spdxjson.Write(ToSPDX(inv), w, spdxjson.Indent("  "))
}

func decodeSPDX(b []byte) (*customs.Inventory, error) {
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("SPDX: %w", err)
	}
	inv := &customs.Inventory{Schema: customs.InventorySchema, Packages: []customs.Package{}}
	inv.Image.Ref = doc.DocumentName
	if doc.CreationInfo != nil {
		if t, err := time.Parse(time.RFC3339, doc.CreationInfo.Created); err == nil {
			inv.Created = t
		}
		for _, c := range doc.CreationInfo.Creators {
			if c.CreatorType == "Tool" {
				name, ver, _ := strings.Cut(c.Creator, "-")
				inv.Tool = customs.Tool{Name: name, Version: ver}
				break
			}
		}
	}
	annotationProps := func(p *spdx.Package) []prop {
		var out []prop
		for _, a := range p.Annotations {
			if k, v, ok := strings.Cut(a.AnnotationComment, "="); ok && strings.HasPrefix(k, "customs:") {
				out = append(out, prop{k, v})
			}
		}
		return out
	}
	var pkgs []*spdx.Package
	for _, p := range doc.Packages {
		if p == nil {
			continue
		}
		switch p.PrimaryPackagePurpose {
		case "CONTAINER":
			inv.Image.Ref = p.PackageName
			for _, kv := range annotationProps(p) {
				switch kv.name {
				case propImage:
					if err := json.Unmarshal([]byte(kv.value), &inv.Image); err != nil {
						return nil, fmt.Errorf("SPDX: annotation %s: %w", propImage, err)
					}
				case propWarnings:
					_ = json.Unmarshal([]byte(kv.value), &inv.Warnings)
				}
			}
		case "OPERATING-SYSTEM":
			d := &customs.Distro{ID: p.PackageName, VersionID: p.PackageVersion, PrettyName: p.PackageDescription}
			for _, kv := range annotationProps(p) {
				if kv.name == propDistro {
					_ = json.Unmarshal([]byte(kv.value), d)
				}
			}
			inv.Distro = d
		default:
			pkgs = append(pkgs, p)
		}
	}
	if inv.Image.Source == "" {
		inv.Image.Source = "sbom"
	}
	refNames := map[string]string{}
	for _, o := range doc.OtherLicenses {
		if o != nil {
			refNames[o.LicenseIdentifier] = firstNonEmpty(o.LicenseName, o.ExtractedText)
		}
	}
	for _, sp := range pkgs {
		p := customs.Package{Name: sp.PackageName, Version: sp.PackageVersion}
		for _, r := range sp.PackageExternalReferences {
			if r != nil && r.RefType == common.TypePackageManagerPURL {
				p.PURL = r.Locator
			}
		}
		seenLicense := false
		for _, kv := range annotationProps(sp) {
			applyProp(&p, kv.name, kv.value, &seenLicense)
		}
		if !seenLicense {
			if l := sp.PackageLicenseDeclared; l != "" && l != spdxNoAssertion && l != "NONE" {
				for _, part := range strings.Split(l, " AND ") {
					part = strings.TrimSpace(part)
					if n, ok := refNames[part]; ok {
						part = n
					}
					p.Licenses = append(p.Licenses, strings.TrimSuffix(strings.TrimPrefix(part, "("), ")"))
				}
			}
		}
		if inv.Distro == nil && p.PURL != "" {
			inv.Distro = distroFromPURL(p.PURL)
		}
		fillFromPURL(&p, inv.Distro)
		if p.Type == "" {
			continue
		}
		inv.Packages = append(inv.Packages, p)
	}
	return inv, nil
}
