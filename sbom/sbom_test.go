package sbom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/github/go-spdx/v2/spdxexp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/pipeline"
	"github.com/customs-sec/customs/sbom"
)

var (
	invOnce sync.Once
	appInv  *customs.Inventory
	invErr  error
)

func debianApp(t *testing.T) *customs.Inventory {
	t.Helper()
	layout := testimage.Layout(t)
	invOnce.Do(func() {
		appInv, invErr = pipeline.Inventory(context.Background(), "oci:"+layout+":debian-app", pipeline.Options{})
	})
	if invErr != nil {
		t.Fatal(invErr)
	}
	return appInv
}

func encode(t *testing.T, inv *customs.Inventory, f sbom.Format) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := sbom.Encode(&buf, inv, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// comparable drops what a format does not carry by design: installed file
// lists (native JSON only) and sub-second timestamps.
func comparable(inv *customs.Inventory, keepFiles bool) customs.Inventory {
	c := *inv
	c.Created = c.Created.Truncate(1e9).UTC()
	c.Packages = append([]customs.Package(nil), inv.Packages...)
	for i := range c.Packages {
		if !keepFiles {
			c.Packages[i].Files = nil
		}
		if len(c.Packages[i].Metadata) == 0 {
			c.Packages[i].Metadata = nil
		}
	}
	return c
}

func TestRoundTripIsLossless(t *testing.T) {
	inv := debianApp(t)
	if len(inv.Packages) < 100 {
		t.Fatalf("only %d packages", len(inv.Packages))
	}
	for _, f := range []sbom.Format{sbom.FormatJSON, sbom.FormatCycloneDX, sbom.FormatSPDX} {
		t.Run(string(f), func(t *testing.T) {
			b := encode(t, inv, f)
			back, err := sbom.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			keep := f == sbom.FormatJSON
			want, got := comparable(inv, keep), comparable(back, keep)
			if !reflect.DeepEqual(want.Image, got.Image) {
				t.Errorf("image differs:\n%+v\n%+v", want.Image, got.Image)
			}
			if !reflect.DeepEqual(want.Distro, got.Distro) {
				t.Errorf("distro differs: %+v vs %+v", want.Distro, got.Distro)
			}
			if len(want.Packages) != len(got.Packages) {
				t.Fatalf("%d packages back, want %d", len(got.Packages), len(want.Packages))
			}
			for i := range want.Packages {
				if !reflect.DeepEqual(want.Packages[i], got.Packages[i]) {
					t.Errorf("package %d differs:\nwant %+v\ngot  %+v", i, want.Packages[i], got.Packages[i])
					break
				}
			}
			if !want.Created.Equal(got.Created) || want.Tool != got.Tool {
				t.Errorf("created/tool: %v %v vs %v %v", want.Created, want.Tool, got.Created, got.Tool)
			}
		})
	}
}

// TestCycloneDXValidatesAgainstTheSchema checks our CycloneDX against the
// official 1.6 JSON schema (shipped in the cyclonedx-go module).
func TestCycloneDXValidatesAgainstTheSchema(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go").Output()
	if err != nil {
		t.Skipf("cyclonedx-go module not found: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "schema")
	c := jsonschema.NewCompiler()
	for _, f := range []string{"spdx.schema.json", "jsf-0.82.schemax.json", "bom-1.6.schema.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		id := "http://cyclonedx.org/schema/" + f
		if f == "jsf-0.82.schemax.json" {
			id = "http://cyclonedx.org/schema/jsf-0.82.schema.json"
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
	}
	sch, err := c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(encode(t, debianApp(t), sbom.FormatCycloneDX)))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Errorf("CycloneDX output is not valid 1.6: %v", err)
	}
	var probe struct{ SpecVersion string }
	json.Unmarshal(encode(t, debianApp(t), sbom.FormatCycloneDX), &probe)
	if probe.SpecVersion != "1.6" {
		t.Errorf("specVersion %q", probe.SpecVersion)
	}
}

// TestEncodeNeedsNoConversion holds EncodeCycloneDXBOM, which only stamps
// the version, to the bytes of the library's EncodeVersion, which converts
// a copy of the BOM to 1.6: a field newer than 1.6 in what customs builds
// (an SBOM, or a report's vulnerabilities, VEX analysis included) would
// make them differ.
func TestEncodeNeedsNoConversion(t *testing.T) {
	bom := sbom.ToCycloneDX(debianApp(t))
	score := 9.8
	bom.Vulnerabilities = &[]cdx.Vulnerability{{
		BOMRef: "CVE-2024-0001/0", ID: "CVE-2024-0001", Source: &cdx.Source{Name: "NVD", URL: "https://nvd.nist.gov/vuln/detail/CVE-2024-0001"},
		Description: "title", Detail: "description", Recommendation: "Upgrade bash to 5.2.15-2+b3",
		Affects:    &[]cdx.Affects{{Ref: (*bom.Components)[0].BOMRef}},
		Ratings:    &[]cdx.VulnerabilityRating{{Score: &score, Severity: cdx.SeverityCritical, Method: cdx.ScoringMethodCVSSv31, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		References: &[]cdx.VulnerabilityReference{{ID: "DSA-1-1", Source: &cdx.Source{Name: "Debian"}}},
		Analysis:   &cdx.VulnerabilityAnalysis{State: cdx.IASNotAffected, Justification: cdx.IAJCodeNotReachable, Detail: "not reachable"},
	}}
	var got, want bytes.Buffer
	if err := sbom.EncodeCycloneDXBOM(&got, bom); err != nil {
		t.Fatal(err)
	}
	enc := cdx.NewBOMEncoder(&want, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.EncodeVersion(bom, sbom.CycloneDXVersion); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		g, w := got.String(), want.String()
		i := 0
		for i < len(g) && i < len(w) && g[i] == w[i] {
			i++
		}
		t.Errorf("encodings differ at byte %d: %q vs EncodeVersion's %q", i, g[max(0, i-80):min(len(g), i+80)], w[max(0, i-80):min(len(w), i+80)])
	}
	if bom.SpecVersion != cdx.SpecVersion1_7 {
		t.Errorf("the caller's BOM was restamped: %v", bom.SpecVersion)
	}
}

var spdxIDRe = regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.\-]+$`)

func TestSPDXIsValid(t *testing.T) {
	b := encode(t, debianApp(t), sbom.FormatSPDX)
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Errorf("spdxlib: %v", err)
	}
	described, err := spdxlib.GetDescribedPackageIDs(doc)
	if err != nil || len(described) != 1 {
		t.Errorf("described packages %v %v", described, err)
	}
	var raw struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			ID              string `json:"SPDXID"`
			LicenseDeclared string `json:"licenseDeclared"`
			Download        string `json:"downloadLocation"`
		} `json:"packages"`
		Extracted []struct {
			ID string `json:"licenseId"`
		} `json:"hasExtractedLicensingInfos"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.SPDXVersion != "SPDX-2.3" {
		t.Errorf("version %s", raw.SPDXVersion)
	}
	refs := map[string]bool{}
	for _, e := range raw.Extracted {
		refs[e.ID] = true
	}
	for _, p := range raw.Packages {
		if !spdxIDRe.MatchString(p.ID) || p.Download == "" {
			t.Errorf("package id %q download %q", p.ID, p.Download)
		}
		if p.LicenseDeclared == "NOASSERTION" {
			continue
		}
		for _, part := range strings.Split(p.LicenseDeclared, " AND ") {
			part = strings.Trim(part, "()")
			if strings.HasPrefix(part, "LicenseRef-") {
				if !refs[part] {
					t.Errorf("%s not declared in hasExtractedLicensingInfos", part)
				}
				continue
			}
			if ok, bad := spdxexp.ValidateLicenses([]string{part}); !ok {
				t.Errorf("licenseDeclared %q: invalid %v", p.LicenseDeclared, bad)
			}
		}
	}
}

// TestDecodeForeignCycloneDX reads a BOM in the shape Trivy writes:
// packages named by purl, source and layer in trivy properties.
func TestDecodeForeignCycloneDX(t *testing.T) {
	in := `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,
	 "metadata":{"component":{"type":"container","name":"debian:12","properties":[{"name":"aquasecurity:trivy:ImageID","value":"sha256:abc"}]}},
	 "components":[
	  {"type":"operating-system","name":"debian","version":"12.5"},
	  {"type":"library","name":"libc6","version":"2.36-9+deb12u4","purl":"pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12.5",
	   "properties":[{"name":"aquasecurity:trivy:SrcName","value":"glibc"},{"name":"aquasecurity:trivy:SrcVersion","value":"2.36-9+deb12u4"},{"name":"aquasecurity:trivy:LayerDiffID","value":"sha256:l1"}]},
	  {"type":"library","group":"org.apache.logging.log4j","name":"log4j-core","version":"2.14.1","purl":"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"},
	  {"type":"library","name":"@babel/core","version":"7.0.0","purl":"pkg:npm/%40babel/core@7.0.0"},
	  {"type":"file","name":"/app/x.jar"}]}`
	inv, err := sbom.Decode(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if inv.Image.ConfigDigest != "sha256:abc" || inv.Distro == nil || inv.Distro.VersionID != "12.5" {
		t.Errorf("image %+v distro %+v", inv.Image, inv.Distro)
	}
	got := map[string]customs.Package{}
	for _, p := range inv.Packages {
		got[p.Name] = p
	}
	if len(got) != 3 {
		t.Fatalf("packages: %+v", inv.Packages)
	}
	if p := got["libc6"]; p.Type != "deb" || p.Source != "glibc" || p.Arch != "amd64" || p.Layer.DiffID != "sha256:l1" || p.Ecosystem != "Debian:12" {
		t.Errorf("libc6 %+v", p)
	}
	if p := got["org.apache.logging.log4j:log4j-core"]; p.Type != "maven" || p.Ecosystem != "Maven" {
		t.Errorf("log4j %+v", p)
	}
	if p := got["@babel/core"]; p.Type != "npm" || p.Ecosystem != "npm" {
		t.Errorf("babel %+v", p)
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "{}", "[1,2]", `{"bomFormat":"CycloneDX","components":7}`, `{"spdxVersion":"SPDX-9.9"}`, "\x00\x01"} {
		if _, err := sbom.Decode(strings.NewReader(in)); err == nil {
			t.Errorf("%q decoded without error", in)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"a","purl":"pkg:npm/a@1"}]}`)
	f.Add(`{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","packages":[{"name":"a","SPDXID":"SPDXRef-a","externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:deb/debian/a@1?distro=debian-12"}]}]}`)
	f.Add(`{"schema":"customs.inventory/v1","packages":[{"name":"x"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		inv, err := sbom.Decode(strings.NewReader(in))
		if err == nil && inv == nil {
			t.Fatal("nil inventory without error")
		}
	})
}
