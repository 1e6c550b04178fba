// Package report is the act stage's output: it writes a scan result as a
// table for people, as JSON, as SARIF 2.1.0 for code-scanning dashboards, or
// as CycloneDX with its vulnerabilities.
package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/customs-sec/customs"
)

// Format is a report format.
type Format string

// The formats.
const (
	Table     Format = "table"
	JSON      Format = "json"
	SARIF     Format = "sarif"
	CycloneDX Format = "cyclonedx"
)

// Options tune a report.
type Options struct {
	// Color writes ANSI colours (a terminal).
	Color bool
	// Width is the terminal width for the table (0: 160).
	Width int
}

// CheckFormat says whether f is a scan report format.
func CheckFormat(f Format) error {
	switch f {
	case Table, JSON, SARIF, CycloneDX:
		return nil
	}
	return fmt.Errorf("unknown report format %q (table, json, sarif, cyclonedx)", f)
}

// Write writes a scan result. inv, needed for CycloneDX, may be nil for the
// other formats.
func Write(w io.Writer, res *customs.ScanResult, inv *customs.Inventory, f Format, opts Options) error {
	switch f {
	case Table:
		return writeTable(w, res, opts)
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	case SARIF:
		return writeSARIF(w, res)
	case CycloneDX:
		if inv == nil {
			return fmt.Errorf("a CycloneDX report needs the inventory")
		}
		return writeCycloneDX(w, res, inv)
	}
	return CheckFormat(f)
}
