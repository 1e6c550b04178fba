package vex_test

import (
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/vex"
)

const doc = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/1",
  "author": "security@example.com",
  "timestamp": "2026-01-01T00:00:00Z",
  "version": 1,
  "statements": [
    {"vulnerability": {"name": "CVE-2026-0001"}, "products": [{"@id": "pkg:deb/debian/openssl@3.0.1"}],
     "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
    {"vulnerability": {"name": "CVE-2026-0002"}, "products": [{"@id": "pkg:deb/debian/openssl"}],
     "status": "affected", "action_statement": "upgrade"}
  ]
}`

func finding(id string) customs.Finding {
	return customs.Finding{ID: id, Package: customs.PackageRef{Name: "openssl", Version: "3.0.1", PURL: "pkg:deb/debian/openssl@3.0.1?arch=amd64"}}
}

func TestNotAffectedSuppressesAndAffectedAnnotates(t *testing.T) {
	d, err := vex.Parse(strings.NewReader(doc), "a.vex.json")
	if err != nil {
		t.Fatal(err)
	}
	kept, suppressed := vex.Apply([]*vex.Document{d}, customs.Image{}, []customs.Finding{finding("CVE-2026-0001"), finding("CVE-2026-0002"), finding("CVE-2026-0003")})
	if len(suppressed) != 1 || suppressed[0].ID != "CVE-2026-0001" || suppressed[0].VEX == nil {
		t.Fatalf("suppressed: %+v", suppressed)
	}
	if len(kept) != 2 || kept[0].VEX == nil || kept[0].VEX.Status != "affected" || kept[1].VEX != nil {
		t.Fatalf("kept: %+v", kept)
	}
}

func TestBadDocumentsSayWhatAndWhere(t *testing.T) {
	for name, body := range map[string]string{
		"notjson":   `{`,
		"notopen":   `{"@context": "https://cyclonedx.org", "statements": []}`,
		"status":    `{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "maybe"}]}`,
		"novuln":    `{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"status": "affected"}]}`,
		"unjustify": `{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "not_affected"}]}`,
		"huge":      `{"@context": "https://openvex.dev/ns/v0.2.0", "x": "` + strings.Repeat("a", 64<<20) + `"}`,
	} {
		_, err := vex.Parse(strings.NewReader(body), name+".json")
		if err == nil || !strings.Contains(err.Error(), name+".json") {
			t.Errorf("%s: want an error naming the document, got %v", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(doc)
	f.Add(`{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"@id": "x"}, "status": "fixed", "products": ["pkg:npm/a"]}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := vex.Parse(strings.NewReader(s), "f.json")
		if err != nil {
			return
		}
		vex.Apply([]*vex.Document{d}, customs.Image{}, []customs.Finding{finding("CVE-2026-0001")})
	})
}
