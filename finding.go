package customs

import (
	"strings"
	"time"
)

// Finding statuses.
const (
	StatusFixed       = "fixed"        // a fixed version exists
	StatusAffected    = "affected"     // no fix yet
	StatusWillNotFix  = "will-not-fix" // the distribution decided not to fix it in this release
	StatusFixDeferred = "fix-deferred" // the fix waits for a later update
	StatusEndOfLife   = "end-of-life"  // the package or release gets no more security support
)

// Severities, lowest to highest.
const (
	SeverityUnknown    = "unknown"
	SeverityNegligible = "negligible"
	SeverityLow        = "low"
	SeverityMedium     = "medium"
	SeverityHigh       = "high"
	SeverityCritical   = "critical"
)

// SeverityRank orders severities; unknown ranks lowest but is never
// filtered out by a threshold of "unknown".
func SeverityRank(s string) int {
	switch strings.ToLower(s) {
	case SeverityNegligible:
		return 1
	case SeverityLow:
		return 2
	case SeverityMedium, "moderate":
		return 3
	case SeverityHigh, "important":
		return 4
	case SeverityCritical:
		return 5
	}
	return 0
}

// Finding is one vulnerability in one package of an image. Advisories that
// name the same vulnerability (CVE, GHSA, GO-, DSA ids) are one finding.
type Finding struct {
	ID      string   `json:"id"`
	Aliases []string `json:"aliases,omitempty"`
	// Records are the advisory records that matched.
	Records     []string          `json:"records"`
	Package     PackageRef        `json:"package"`
	Installed   string            `json:"installed"`
	Fixed       string            `json:"fixed,omitempty"`
	Status      string            `json:"status"`
	StatusNote  string            `json:"status_note,omitempty"`
	Severity    string            `json:"severity"`
	CVSS        []CVSS            `json:"cvss,omitempty"`
	Title       string            `json:"title,omitempty"`
	Description string            `json:"description,omitempty"`
	Layer       LayerRef          `json:"layer"`
	Locations   []string          `json:"locations"`
	References  []string          `json:"references,omitempty"`
	Published   *time.Time        `json:"published,omitempty"`
	Modified    *time.Time        `json:"modified,omitempty"`
	MatchedBy   string            `json:"matched_by,omitempty"`
	VEX         *VEXStatement     `json:"vex,omitempty"`
	Extra       map[string]string `json:"extra,omitempty"`
}

// PackageRef names the package a finding is in.
type PackageRef struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	Type          string `json:"type"`
	PURL          string `json:"purl"`
	Ecosystem     string `json:"ecosystem,omitempty"`
	Source        string `json:"source,omitempty"`
	SourceVersion string `json:"source_version,omitempty"`
}

// Ref makes a PackageRef of a package.
func (p Package) Ref() PackageRef {
	return PackageRef{Name: p.Name, Version: p.Version, Type: p.Type, PURL: p.PURL, Ecosystem: p.Ecosystem, Source: p.Source, SourceVersion: p.SourceVersion}
}

// CVSS is one scored vector.
type CVSS struct {
	Version  string  `json:"version"`
	Vector   string  `json:"vector"`
	Score    float64 `json:"score"`
	Severity string  `json:"severity"`
}

// VEXStatement is what a VEX document said about a finding.
type VEXStatement struct {
	Status        string `json:"status"` // not_affected, affected, fixed, under_investigation
	Justification string `json:"justification,omitempty"`
	Impact        string `json:"impact_statement,omitempty"`
	Action        string `json:"action_statement,omitempty"`
	Document      string `json:"document,omitempty"`
}

// IDs returns the finding's id and aliases.
func (f Finding) IDs() []string { return append([]string{f.ID}, f.Aliases...) }
