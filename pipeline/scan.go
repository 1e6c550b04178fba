package pipeline

import (
	"context"
	"fmt"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/match"
	"github.com/customs-sec/customs/vex"
)

// Filter decides which findings a scan reports.
type Filter struct {
	// MinSeverity drops findings below it ("" keeps all; unknown severities
	// are kept unless a threshold is set).
	MinSeverity string
	// Severities keeps only these (a comma list on the command line).
	Severities []string
	// IgnoreUnfixed drops findings without a fixed version.
	IgnoreUnfixed bool
	// VEX documents suppress or annotate findings.
	VEX []*vex.Document
}

// Keep says whether a finding passes the severity and fix filters.
func (f Filter) Keep(x customs.Finding) bool {
	if f.IgnoreUnfixed && x.Fixed == "" {
		return false
	}
	if len(f.Severities) > 0 {
		for _, s := range f.Severities {
			if strings.EqualFold(s, x.Severity) {
				return true
			}
		}
		return false
	}
	if f.MinSeverity != "" && customs.SeverityRank(x.Severity) < customs.SeverityRank(f.MinSeverity) {
		return false
	}
	return true
}

// ScanInventory matches an inventory against the advisory database.
func ScanInventory(ctx context.Context, inv *customs.Inventory, db *advisory.DB, filter Filter) (*customs.ScanResult, error) {
	res, err := match.Match(ctx, db, inv)
	if err != nil {
		return nil, err
	}
	out := &customs.ScanResult{
		Schema: customs.ScanSchema, Tool: inv.Tool, Created: inv.Created, Image: inv.Image, Distro: inv.Distro,
		Packages: len(inv.Packages), Findings: []customs.Finding{},
	}
	out.Tool = customs.Tool{Name: "customs", Version: customs.Version()}
	if st, err := db.Status(ctx); err == nil {
		out.Database = &customs.DatabaseInfo{Path: st.Path, Updated: st.Updated, Records: st.Records, Stale: st.Stale}
		if st.Stale {
			out.Warnings = append(out.Warnings, fmt.Sprintf("advisory database %s is stale (%s): run `customs db update`", st.Path, st.StaleReason))
		}
		if len(st.Sources) == 1 && st.Sources[0].Name == "embedded-sample" {
			out.Warnings = append(out.Warnings, "the advisory database holds only the sample embedded in customs: run `customs db update` for complete coverage")
		}
	}
	out.Warnings = append(out.Warnings, inv.Warnings...)
	out.Warnings = append(out.Warnings, res.Notes...)
	kept, suppressed := vex.Apply(filter.VEX, inv.Image, res.Findings)
	for _, f := range kept {
		if filter.Keep(f) {
			out.Findings = append(out.Findings, f)
		}
	}
	out.Suppressed = suppressed
	out.Summary = customs.Summarize(out.Findings, len(suppressed))
	return out, nil
}
