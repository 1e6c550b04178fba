package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/customs-sec/customs"
)

// SARIF levels: what code-scanning shows as errors, warnings and notes.
func sarifLevel(sev string) string {
	switch sev {
	case customs.SeverityCritical, customs.SeverityHigh:
		return "error"
	case customs.SeverityMedium:
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub's numeric severity property for a rule.
func securitySeverity(f customs.Finding) string {
	best := 0.0
	for _, c := range f.CVSS {
		if c.Score > best {
			best = c.Score
		}
	}
	if best == 0 {
		best = map[string]float64{customs.SeverityCritical: 9.5, customs.SeverityHigh: 8.0, customs.SeverityMedium: 5.5, customs.SeverityLow: 2.0}[f.Severity]
	}
	return fmt.Sprintf("%.1f", best)
}

func writeSARIF(w io.Writer, res *customs.ScanResult) error {
	rep, err := sarif.New(sarif.Version210)
	if err != nil {
		return err
	}
	run := sarif.NewRunWithInformationURI("customs", "https://github.com/customs-sec/customs")
	run.Tool.Driver.Version = &res.Tool.Version
	seen := map[string]bool{}
	for _, f := range res.Findings {
		if !seen[f.ID] {
			seen[f.ID] = true
			help := fmt.Sprintf("Vulnerability %s\nSeverity: %s\n", f.ID, f.Severity)
			if len(f.Aliases) > 0 {
				help += "Also known as: " + strings.Join(f.Aliases, ", ") + "\n"
			}
			if len(f.References) > 0 {
				help += "References:\n  " + strings.Join(f.References, "\n  ")
			}
			rule := run.AddRule(f.ID).
				WithName("OsPackageVulnerability").
				WithShortDescription(sarif.NewMultiformatMessageString(firstNonEmpty(f.Title, f.ID))).
				WithFullDescription(sarif.NewMultiformatMessageString(firstNonEmpty(f.Description, f.Title, f.ID))).
				WithTextHelp(help).
				WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(sarifLevel(f.Severity))).
				WithProperties(sarif.Properties{
					"security-severity": securitySeverity(f),
					"tags":              []string{"vulnerability", "security", f.Severity},
					"precision":         "very-high",
				})
			if len(f.References) > 0 {
				rule.WithHelpURI(f.References[0])
			}
		}
		msg := fmt.Sprintf("Package: %s\nInstalled Version: %s\nVulnerability: %s\nSeverity: %s\nStatus: %s", f.Package.Name, f.Installed, f.ID, f.Severity, f.Status)
		if f.Fixed != "" {
			msg += "\nFixed Version: " + f.Fixed
		}
		loc := "image"
		if len(f.Locations) > 0 {
			loc = strings.TrimPrefix(f.Locations[0], "/")
		}
		result := run.CreateResultForRule(f.ID).
			WithLevel(sarifLevel(f.Severity)).
			WithMessage(sarif.NewTextMessage(msg))
		result.AddLocation(sarif.NewLocationWithPhysicalLocation(
			sarif.NewPhysicalLocation().
				WithArtifactLocation(sarif.NewSimpleArtifactLocation(loc).WithUriBaseId("ROOTPATH")).
				WithRegion(sarif.NewSimpleRegion(1, 1))))
		result.WithPartialFingerPrints(map[string]any{"customs/v1": f.ID + "|" + f.Package.PURL + "|" + loc})
	}
	run.OriginalUriBaseIDs = map[string]*sarif.ArtifactLocation{"ROOTPATH": {URI: strPtr("file:///")}}
	rep.AddRun(run)
	return rep.PrettyWrite(w)
}

func strPtr(s string) *string { return &s }
