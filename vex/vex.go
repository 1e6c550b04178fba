// Package vex reads OpenVEX documents (https://openvex.dev) and applies
// their statements to findings: "not_affected" and "fixed" suppress a
// finding (it stays visible as suppressed, with the justification), while
// "affected" and "under_investigation" annotate it.
package vex

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/package-url/packageurl-go"

	"github.com/customs-sec/customs"
)

const maxDocument = 16 << 20

// Document is an OpenVEX document.
type Document struct {
	Context    string      `json:"@context"`
	ID         string      `json:"@id"`
	Author     string      `json:"author"`
	Timestamp  *time.Time  `json:"timestamp"`
	Statements []Statement `json:"statements"`
	// Name is where the document was read from (shown with suppressions).
	Name string `json:"-"`
}

// Statement is one VEX statement.
type Statement struct {
	Vulnerability Vulnerability `json:"vulnerability"`
	Products      []Product     `json:"products"`
	Status        string        `json:"status"`
	Justification string        `json:"justification,omitempty"`
	Impact        string        `json:"impact_statement,omitempty"`
	Action        string        `json:"action_statement,omitempty"`
	Timestamp     *time.Time    `json:"timestamp,omitempty"`
}

// Vulnerability is named by id or name; OpenVEX 0.0.x wrote a bare string.
type Vulnerability struct {
	Name    string   `json:"name"`
	ID      string   `json:"@id"`
	Aliases []string `json:"aliases"`
}

// UnmarshalJSON accepts a string or an object.
func (v *Vulnerability) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v.Name = s
		return nil
	}
	type plain Vulnerability
	return json.Unmarshal(b, (*plain)(v))
}

// Product names a product (and the subcomponents a statement is about);
// OpenVEX 0.0.x wrote bare strings.
type Product struct {
	ID            string         `json:"@id"`
	Identifiers   map[string]any `json:"identifiers"`
	Subcomponents []Product      `json:"subcomponents"`
}

// UnmarshalJSON accepts a string or an object.
func (p *Product) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		p.ID = s
		return nil
	}
	type plain Product
	return json.Unmarshal(b, (*plain)(p))
}

var statuses = map[string]bool{"not_affected": true, "affected": true, "fixed": true, "under_investigation": true}

// Parse reads an OpenVEX document.
func Parse(r io.Reader, name string) (*Document, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxDocument+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxDocument {
		return nil, fmt.Errorf("VEX document %s is over %d bytes", name, maxDocument)
	}
	var d Document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("VEX document %s: %w", name, err)
	}
	if !strings.Contains(d.Context, "openvex") {
		return nil, fmt.Errorf("VEX document %s: not OpenVEX (@context %q)", name, d.Context)
	}
	for i, s := range d.Statements {
		if !statuses[s.Status] {
			return nil, fmt.Errorf("VEX document %s: statement %d: unknown status %q", name, i, s.Status)
		}
		if s.Vulnerability.Name == "" && s.Vulnerability.ID == "" {
			return nil, fmt.Errorf("VEX document %s: statement %d names no vulnerability", name, i)
		}
		if s.Status == "not_affected" && s.Justification == "" && s.Impact == "" {
			return nil, fmt.Errorf("VEX document %s: statement %d: not_affected needs a justification or impact statement", name, i)
		}
	}
	d.Name = name
	return &d, nil
}

// Apply matches statements to findings, newest statement first. It returns
// the findings still reported (annotated where a statement says so) and
// those a statement suppressed.
func Apply(docs []*Document, img customs.Image, findings []customs.Finding) (kept, suppressed []customs.Finding) {
	for _, f := range findings {
		if st, doc := bestStatement(docs, img, f); st != nil {
			f.VEX = &customs.VEXStatement{Status: st.Status, Justification: st.Justification, Impact: st.Impact, Action: st.Action, Document: doc}
			if st.Status == "not_affected" || st.Status == "fixed" {
				suppressed = append(suppressed, f)
				continue
			}
		}
		kept = append(kept, f)
	}
	return kept, suppressed
}

func bestStatement(docs []*Document, img customs.Image, f customs.Finding) (*Statement, string) {
	var best *Statement
	var bestDoc string
	var bestTime time.Time
	ids := map[string]bool{}
	for _, id := range f.IDs() {
		ids[id] = true
	}
	for _, d := range docs {
		for i := range d.Statements {
			s := &d.Statements[i]
			if !namesVulnerability(s.Vulnerability, ids) || !appliesTo(s.Products, img, f) {
				continue
			}
			t := time.Time{}
			if s.Timestamp != nil {
				t = *s.Timestamp
			} else if d.Timestamp != nil {
				t = *d.Timestamp
			}
			if best == nil || !t.Before(bestTime) {
				best, bestDoc, bestTime = s, d.Name, t
			}
		}
	}
	return best, bestDoc
}

func namesVulnerability(v Vulnerability, ids map[string]bool) bool {
	if ids[v.Name] || ids[v.ID] {
		return true
	}
	for _, a := range v.Aliases {
		if ids[a] {
			return true
		}
	}
	return false
}

// appliesTo: a product that is the package itself, or the image with the
// package among its subcomponents (or no subcomponents: the whole image).
func appliesTo(products []Product, img customs.Image, f customs.Finding) bool {
	for _, p := range products {
		if purlMatches(p.ID, f.Package.PURL) {
			return true
		}
		if isImage(p.ID, img) {
			if len(p.Subcomponents) == 0 {
				return true
			}
			for _, sc := range p.Subcomponents {
				if purlMatches(sc.ID, f.Package.PURL) {
					return true
				}
			}
		}
	}
	return false
}

// purlMatches compares type, namespace and name, and the version when the
// statement gives one; qualifiers in the statement must agree when given.
func purlMatches(statement, pkg string) bool {
	if statement == "" || pkg == "" {
		return false
	}
	s, err1 := packageurl.FromString(statement)
	p, err2 := packageurl.FromString(pkg)
	if err1 != nil || err2 != nil {
		return false
	}
	if s.Type != p.Type || !strings.EqualFold(s.Namespace, p.Namespace) || s.Name != p.Name {
		return false
	}
	if s.Version != "" && s.Version != p.Version {
		return false
	}
	pq := p.Qualifiers.Map()
	for k, v := range s.Qualifiers.Map() {
		if pq[k] != v {
			return false
		}
	}
	return true
}

// isImage says whether a product id names the scanned image: its digest,
// an OCI purl with that digest, or its reference.
func isImage(id string, img customs.Image) bool {
	if id == "" {
		return false
	}
	for _, d := range []string{img.ManifestDigest, img.ConfigDigest} {
		if d != "" && (id == d || strings.Contains(id, strings.ReplaceAll(d, ":", "%3A")) || strings.HasSuffix(id, "@"+d)) {
			return true
		}
	}
	return img.Ref != "" && id == img.Ref
}

// ErrNoStatements is returned for a document with nothing to apply.
var ErrNoStatements = errors.New("VEX document has no statements")
