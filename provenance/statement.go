package provenance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/in-toto/in-toto-golang/in_toto"
	slsa02 "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/v0.2"
	slsa1 "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/v1"
)

// Predicate type URIs beyond those in-toto-golang names.
const (
	// ScanPredicateType is the predicate type of a customs scan result.
	ScanPredicateType = "https://customs.dev/attestation/scan/v1"

	cosignCustomPredicateType = "https://cosign.sigstore.dev/attestation/v1"
	cosignVulnPredicateType   = "https://cosign.sigstore.dev/attestation/vuln/v1"
	openVEXPredicateType      = "https://openvex.dev/ns"
	// cosignSignPredicateType marks the statement `cosign sign
	// --new-bundle-format` signs: a signature, not an attestation.
	cosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1"

	statementV01 = "https://in-toto.io/Statement/v0.1"
	statementV1  = "https://in-toto.io/Statement/v1"
)

// predicateTypes is cosign's --type table (cmd/cosign/cli/options/predicate.go),
// plus customs' own scan result. A function, not a map variable, so that
// nothing package-level can be changed.
func predicateTypes() map[string]string {
	return map[string]string{
		"custom":           cosignCustomPredicateType,
		"slsaprovenance":   slsa02.PredicateSLSAProvenance,
		"slsaprovenance02": slsa02.PredicateSLSAProvenance,
		"slsaprovenance1":  slsa1.PredicateSLSAProvenance,
		"spdx":             in_toto.PredicateSPDX,
		"spdxjson":         in_toto.PredicateSPDX,
		"cyclonedx":        in_toto.PredicateCycloneDX,
		"link":             in_toto.PredicateLinkV1,
		"vuln":             cosignVulnPredicateType,
		"openvex":          openVEXPredicateType,
		"customs":          ScanPredicateType,
	}
}

// PredicateTypeNames lists the --type names, sorted.
func PredicateTypeNames() []string {
	var out []string
	for k := range predicateTypes() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// PredicateType maps a --type value to its predicate type URI exactly as
// cosign does: a known name, or else any URI as itself.
func PredicateType(t string) (string, error) {
	if uri, ok := predicateTypes()[t]; ok {
		return uri, nil
	}
	if _, err := url.ParseRequestURI(t); err != nil {
		return "", fmt.Errorf("invalid predicate type %q: use one of %s, or a URI", t, strings.Join(PredicateTypeNames(), ", "))
	}
	return t, nil
}

// cosignPredicate is the predicate of --type custom.
type cosignPredicate struct {
	Data      any
	Timestamp string
}

// The predicate of --type vuln, as in cosign's pkg/cosign/attestation.
type vulnPredicate struct {
	Invocation struct {
		Parameters any    `json:"parameters"`
		URI        string `json:"uri"`
		EventID    string `json:"event_id"`
		BuilderID  string `json:"builder.id"`
	} `json:"invocation"`
	Scanner struct {
		URI     string `json:"uri"`
		Version string `json:"version"`
		DB      struct {
			URI     string `json:"uri"`
			Version string `json:"version"`
		} `json:"db"`
		Result any `json:"result"`
	} `json:"scanner"`
	Metadata struct {
		ScanStartedOn  time.Time `json:"scanStartedOn"`
		ScanFinishedOn time.Time `json:"scanFinishedOn"`
	} `json:"metadata"`
}

// statement builds the in-toto statement cosign's `attest --type typ` would
// build for predicate, about the image digestHex in repo (mirroring
// pkg/cosign/attestation.GenerateStatement, so both tools write the same
// statement for the same input).
func statement(typ string, predicate []byte, digestHex, repo string, now time.Time) ([]byte, error) {
	uri, err := PredicateType(typ)
	if err != nil {
		return nil, err
	}
	header := in_toto.StatementHeader{
		Type:          statementV01,
		PredicateType: uri,
		Subject:       []in_toto.Subject{{Name: repo, Digest: map[string]string{"sha256": digestHex}}},
	}
	var st any
	switch typ {
	case "slsaprovenance", "slsaprovenance02":
		var p slsa02.ProvenancePredicate
		if err := requireFields(predicate, reflect.TypeOf(p)); err != nil {
			return nil, fmt.Errorf("provenance predicate: %w", err)
		}
		if err := json.Unmarshal(predicate, &p); err != nil {
			return nil, fmt.Errorf("provenance predicate: %w", err)
		}
		st = in_toto.ProvenanceStatementSLSA02{StatementHeader: header, Predicate: p}
	case "slsaprovenance1":
		var p slsa1.ProvenancePredicate
		if err := requireFields(predicate, reflect.TypeOf(p)); err != nil {
			return nil, fmt.Errorf("provenance predicate: %w", err)
		}
		if err := json.Unmarshal(predicate, &p); err != nil {
			return nil, fmt.Errorf("provenance predicate: %w", err)
		}
		st = in_toto.ProvenanceStatementSLSA1{StatementHeader: header, Predicate: p} //nolint:staticcheck // the type cosign writes
	case "link":
		var l in_toto.Link
		if err := requireFields(predicate, reflect.TypeOf(l)); err != nil {
			return nil, fmt.Errorf("link predicate: %w", err)
		}
		if err := json.Unmarshal(predicate, &l); err != nil {
			return nil, fmt.Errorf("link predicate: %w", err)
		}
		st = in_toto.LinkStatement{StatementHeader: header, Predicate: l}
	case "spdx":
		// cosign embeds tag-value SPDX as a string.
		st = in_toto.SPDXStatement{StatementHeader: header, Predicate: string(predicate)}
	case "vuln":
		var p vulnPredicate
		if err := json.Unmarshal(predicate, &p); err != nil {
			return nil, fmt.Errorf("vuln predicate: %w", err)
		}
		st = in_toto.Statement{StatementHeader: header, Predicate: p} //nolint:staticcheck // the type cosign writes
	case "custom":
		st = in_toto.Statement{StatementHeader: header, Predicate: &cosignPredicate{Data: string(predicate), Timestamp: now.UTC().Format(time.RFC3339)}} //nolint:staticcheck
	default:
		// spdxjson, cyclonedx, openvex, customs and URIs: the predicate is
		// JSON, embedded as it is (an object, for URIs, as cosign requires).
		var p any
		if err := json.Unmarshal(predicate, &p); err != nil {
			return nil, fmt.Errorf("predicate for type %s is not JSON: %w", typ, err)
		}
		if _, known := predicateTypes()[typ]; !known {
			if _, ok := p.(map[string]any); !ok {
				return nil, fmt.Errorf("predicate for type %s must be a JSON object", typ)
			}
		}
		st = in_toto.Statement{StatementHeader: header, Predicate: p} //nolint:staticcheck
	}
	return json.Marshal(st)
}

// requireFields checks that every field of typ without omitempty is present,
// as cosign's checkRequiredJSONFields does, so a predicate cosign refuses is
// refused here too.
func requireFields(raw []byte, typ reflect.Type) error {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	for i := 0; i < typ.NumField(); i++ {
		tag := strings.SplitN(typ.Field(i).Tag.Get("json"), ",", 2)
		if len(tag) < 2 {
			if _, ok := m[tag[0]]; !ok {
				return fmt.Errorf("required field %s missing", tag[0])
			}
		}
	}
	return nil
}

// Statement is a parsed in-toto statement.
type Statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []Subject       `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject is one artifact a statement is about.
type Subject struct {
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest"`
}

// maxSubjects bounds the subjects compared for one statement.
const maxSubjects = 1024

// ParseStatement reads an in-toto statement (untrusted input).
func ParseStatement(b []byte) (*Statement, error) {
	if len(b) > DefaultMaxPayloadBytes {
		return nil, fmt.Errorf("statement is %d bytes, over the %d-byte limit", len(b), DefaultMaxPayloadBytes)
	}
	var s Statement
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("parsing in-toto statement: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parsing in-toto statement: data after the JSON object")
	}
	if s.Type != statementV01 && s.Type != statementV1 {
		return nil, fmt.Errorf("not an in-toto statement: _type is %q", truncate(s.Type, 80))
	}
	if s.PredicateType == "" {
		return nil, errors.New("in-toto statement has no predicateType")
	}
	if len(s.Subject) == 0 {
		return nil, errors.New("in-toto statement has no subject")
	}
	if len(s.Subject) > maxSubjects {
		return nil, fmt.Errorf("in-toto statement has %d subjects, over the limit of %d", len(s.Subject), maxSubjects)
	}
	return &s, nil
}

// about says whether the statement names the digest (sha256 hex) as a subject.
func (s *Statement) about(hex string) bool {
	for _, sub := range s.Subject {
		if strings.EqualFold(sub.Digest["sha256"], hex) {
			return true
		}
	}
	return false
}

func (s *Statement) subjectDigests() string {
	var out []string
	for i, sub := range s.Subject {
		if i == 3 {
			out = append(out, fmt.Sprintf("and %d more", len(s.Subject)-3))
			break
		}
		if d, ok := sub.Digest["sha256"]; ok {
			out = append(out, "sha256:"+truncate(d, 64))
		}
	}
	if len(out) == 0 {
		return "no sha256 digest"
	}
	return strings.Join(out, ", ")
}
