package customs

import "time"

// ScanSchema names the version of the scan result format.
const ScanSchema = "customs.scan/v1"

// ScanResult is what scanning one image found.
type ScanResult struct {
	Schema   string        `json:"schema"`
	Tool     Tool          `json:"tool"`
	Created  time.Time     `json:"created"`
	Image    Image         `json:"image"`
	Distro   *Distro       `json:"distro,omitempty"`
	Packages int           `json:"packages"`
	Database *DatabaseInfo `json:"database,omitempty"`
	Findings []Finding     `json:"findings"`
	// Suppressed are findings a VEX statement or an ignore rule took out,
	// kept so a report can say why.
	Suppressed []Finding `json:"suppressed,omitempty"`
	Summary    Summary   `json:"summary"`
	Warnings   []string  `json:"warnings,omitempty"`
}

// DatabaseInfo says which advisories a scan used.
type DatabaseInfo struct {
	Path    string    `json:"path"`
	Updated time.Time `json:"updated"`
	Records int       `json:"records"`
	Stale   bool      `json:"stale,omitempty"`
}

// Summary counts findings.
type Summary struct {
	Total      int            `json:"total"`
	Fixable    int            `json:"fixable"`
	BySeverity map[string]int `json:"by_severity"`
	ByStatus   map[string]int `json:"by_status"`
	Suppressed int            `json:"suppressed,omitempty"`
}

// Summarize counts findings.
func Summarize(fs []Finding, suppressed int) Summary {
	s := Summary{Total: len(fs), BySeverity: map[string]int{}, ByStatus: map[string]int{}, Suppressed: suppressed}
	for _, f := range fs {
		s.BySeverity[f.Severity]++
		s.ByStatus[f.Status]++
		if f.Fixed != "" {
			s.Fixable++
		}
	}
	return s
}
