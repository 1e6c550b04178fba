// Package advisory is the advisory database: OSV records from every
// ecosystem (and the distribution statuses OSV flattens), imported from files
// or downloaded, kept in one embedded SQLite file indexed by (ecosystem,
// package name), with each record compressed and inflated only when it
// matches. Every import and update reports what changed, so stored images can
// be re-judged without being read again.
package advisory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Record is an OSV record (https://ossf.github.io/osv-schema/), the fields
// customs uses.
type Record struct {
	SchemaVersion    string          `json:"schema_version,omitempty"`
	ID               string          `json:"id"`
	Modified         time.Time       `json:"modified"`
	Published        *time.Time      `json:"published,omitempty"`
	Withdrawn        *time.Time      `json:"withdrawn,omitempty"`
	Aliases          []string        `json:"aliases,omitempty"`
	Related          []string        `json:"related,omitempty"`
	Upstream         []string        `json:"upstream,omitempty"`
	Summary          string          `json:"summary,omitempty"`
	Details          string          `json:"details,omitempty"`
	Severity         []Severity      `json:"severity,omitempty"`
	Affected         []Affected      `json:"affected,omitempty"`
	References       []Reference     `json:"references,omitempty"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// Severity is a CVSS vector (or another scoring system's string).
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected names one package and the versions of it a record affects.
type Affected struct {
	Package           Package         `json:"package"`
	Severity          []Severity      `json:"severity,omitempty"`
	Ranges            []Range         `json:"ranges,omitempty"`
	Versions          []string        `json:"versions,omitempty"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  json.RawMessage `json:"database_specific,omitempty"`
}

// Package identifies a package in an ecosystem.
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl,omitempty"`
}

// Range is a set of events over one version scheme.
type Range struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo,omitempty"`
	Events []Event `json:"events"`
}

// Event is one range event; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Reference is a link.
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// Limits on one record, so a hostile file cannot exhaust memory or time.
const (
	MaxRecordBytes = 16 << 20
	maxAffected    = 10000
	maxEvents      = 100000
	maxVersions    = 200000
	maxIDLen       = 256
)

// ParseRecord decodes and checks one OSV record.
func ParseRecord(b []byte) (*Record, error) {
	if len(b) > MaxRecordBytes {
		return nil, fmt.Errorf("record of %d bytes is over the %d-byte limit", len(b), MaxRecordBytes)
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("not an OSV record: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks what matching relies on.
func (r *Record) Validate() error {
	if r.ID == "" {
		return errors.New("record has no id")
	}
	if len(r.ID) > maxIDLen || strings.IndexFunc(r.ID, func(c rune) bool { return unicode.IsSpace(c) || c == '/' || c < 32 }) >= 0 {
		return fmt.Errorf("record id %q is not a valid OSV id", truncate(r.ID, 80))
	}
	if len(r.Affected) > maxAffected {
		return fmt.Errorf("%s: %d affected entries (limit %d)", r.ID, len(r.Affected), maxAffected)
	}
	events, versions := 0, 0
	for i, a := range r.Affected {
		if a.Package.Name == "" && len(a.Ranges) > 0 {
			// GIT-only entries name a repository, not a package.
			continue
		}
		versions += len(a.Versions)
		for _, rg := range a.Ranges {
			events += len(rg.Events)
			switch rg.Type {
			case "ECOSYSTEM", "SEMVER", "GIT":
			default:
				return fmt.Errorf("%s: affected[%d]: unknown range type %q", r.ID, i, truncate(rg.Type, 40))
			}
		}
	}
	if events > maxEvents {
		return fmt.Errorf("%s: %d range events (limit %d)", r.ID, events, maxEvents)
	}
	if versions > maxVersions {
		return fmt.Errorf("%s: %d listed versions (limit %d)", r.ID, versions, maxVersions)
	}
	return nil
}

// IDs returns the record's id and every id it is known by.
func (r *Record) IDs() []string {
	out := []string{r.ID}
	out = append(out, r.Aliases...)
	out = append(out, r.Upstream...)
	return out
}

// NormalizeEcosystem maps an OSV ecosystem to the key customs indexes by:
// "Ubuntu:22.04:LTS" -> "Ubuntu:22.04" (inventories know the release, not
// the support channel); everything else as written.
func NormalizeEcosystem(eco string) string {
	if rest, ok := strings.CutPrefix(eco, "Ubuntu:"); ok {
		rest = strings.TrimSuffix(rest, ":LTS")
		return "Ubuntu:" + rest
	}
	return eco
}

// BaseEcosystem is the part of an ecosystem before its release: "Debian".
func BaseEcosystem(eco string) string {
	b, _, _ := strings.Cut(eco, ":")
	return b
}

// NormalizeName maps a package name to the form it is indexed under: names
// that an ecosystem treats case-insensitively are lower-cased (npm's registry
// is case-insensitive for lookups, and some advisories spell "Axios"), PyPI
// names per PEP 503, crates.io treating - and _ alike.
func NormalizeName(eco, name string) string {
	switch BaseEcosystem(eco) {
	case "PyPI":
		return PEP503(name)
	case "npm", "NuGet", "Packagist", "Alpine", "Debian", "Ubuntu", "Wolfi", "Chainguard":
		return strings.ToLower(name)
	case "crates.io":
		return strings.ReplaceAll(strings.ToLower(name), "_", "-")
	}
	return name
}

// PEP503 normalizes a Python package name: lower case, runs of -_. as one -.
func PEP503(name string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(name) {
		if c == '-' || c == '_' || c == '.' {
			if !dash {
				b.WriteByte('-')
			}
			dash = true
			continue
		}
		dash = false
		b.WriteRune(c)
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
