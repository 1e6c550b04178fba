package report

import (
	"io"
	"strconv"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/sbom"
)

func writeCycloneDX(w io.Writer, res *customs.ScanResult, inv *customs.Inventory) error {
	bom, refs := sbom.ToCycloneDXWithRefs(inv)
	byKey := map[string]string{}
	for i, p := range inv.Packages {
		byKey[findingKey(p.Ref(), p.Locations)] = refs[i]
	}
	var vulns []cdx.Vulnerability
	add := func(f customs.Finding, suppressed bool) {
		v := cdx.Vulnerability{
			BOMRef:      f.ID + "/" + strconv.Itoa(len(vulns)),
			ID:          f.ID,
			Source:      source(f.ID),
			Description: f.Title,
			Detail:      f.Description,
			Affects:     &[]cdx.Affects{{Ref: byKey[findingKey(f.Package, f.Locations)]}},
		}
		if f.Fixed != "" {
			v.Recommendation = "Upgrade " + f.Package.Name + " to " + f.Fixed
		}
		var ratings []cdx.VulnerabilityRating
		for _, c := range f.CVSS {
			score := c.Score
			method := cdx.ScoringMethodCVSSv31
			switch c.Version {
			case "3.0":
				method = cdx.ScoringMethodCVSSv3
			case "4.0":
				method = cdx.ScoringMethodCVSSv4
			}
			ratings = append(ratings, cdx.VulnerabilityRating{Score: &score, Severity: cdx.Severity(c.Severity), Method: method, Vector: c.Vector})
		}
		if len(ratings) == 0 {
			sev := f.Severity
			if sev == customs.SeverityNegligible {
				sev = "info"
			}
			ratings = append(ratings, cdx.VulnerabilityRating{Severity: cdx.Severity(sev), Method: cdx.ScoringMethodOther})
		}
		v.Ratings = &ratings
		var refsOut []cdx.VulnerabilityReference
		for _, a := range f.Aliases {
			refsOut = append(refsOut, cdx.VulnerabilityReference{ID: a, Source: source(a)})
		}
		if len(refsOut) > 0 {
			v.References = &refsOut
		}
		if f.VEX != nil {
			v.Analysis = &cdx.VulnerabilityAnalysis{State: vexState(f.VEX.Status), Justification: vexJustification(f.VEX.Justification), Detail: f.VEX.Impact}
		}
		vulns = append(vulns, v)
	}
	for _, f := range res.Findings {
		add(f, false)
	}
	for _, f := range res.Suppressed {
		add(f, true)
	}
	bom.Vulnerabilities = &vulns
	return sbom.EncodeCycloneDXBOM(w, bom)
}

func findingKey(p customs.PackageRef, locs []string) string {
	return p.Type + "|" + p.Name + "|" + p.Version + "|" + strings.Join(locs, ",")
}

func source(id string) *cdx.Source {
	switch {
	case strings.HasPrefix(id, "CVE-"):
		return &cdx.Source{Name: "NVD", URL: "https://nvd.nist.gov/vuln/detail/" + id}
	case strings.HasPrefix(id, "GHSA-"):
		return &cdx.Source{Name: "GitHub", URL: "https://github.com/advisories/" + id}
	case strings.HasPrefix(id, "DSA-"), strings.HasPrefix(id, "DLA-"):
		return &cdx.Source{Name: "Debian", URL: "https://security-tracker.debian.org/tracker/" + id}
	}
	return &cdx.Source{Name: "OSV", URL: "https://osv.dev/vulnerability/" + id}
}

func vexState(s string) cdx.ImpactAnalysisState {
	switch s {
	case "not_affected":
		return cdx.IASNotAffected
	case "fixed":
		return cdx.IASResolved
	case "affected":
		return cdx.IASExploitable
	}
	return cdx.IASInTriage
}

func vexJustification(j string) cdx.ImpactAnalysisJustification {
	switch j {
	case "component_not_present":
		return cdx.IAJCodeNotPresent
	case "vulnerable_code_not_present":
		return cdx.IAJCodeNotPresent
	case "vulnerable_code_not_in_execute_path":
		return cdx.IAJCodeNotReachable
	case "vulnerable_code_cannot_be_controlled_by_adversary":
		return cdx.IAJProtectedByMitigatingControl
	case "inline_mitigations_already_exist":
		return cdx.IAJProtectedByMitigatingControl
	}
	return ""
}
