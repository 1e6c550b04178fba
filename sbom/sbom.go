// Package sbom writes an inventory as CycloneDX 1.6 JSON, SPDX 2.3 JSON or
// customs' own JSON, and reads any of them back into an inventory, so an SBOM
// made in CI can be scanned later without the image.
package sbom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/customs-sec/customs"
)

// Format is an SBOM format.
type Format string

// The formats.
const (
	FormatJSON      Format = "json"
	FormatCycloneDX Format = "cyclonedx"
	FormatSPDX      Format = "spdx"
)

// maxSBOM bounds an SBOM read back (they are untrusted input too).
const maxSBOM = 512 << 20

// Encode writes inv in a format.
func Encode(w io.Writer, inv *customs.Inventory, f Format) error {
	switch f {
	case FormatJSON, "":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(inv)
	case FormatCycloneDX:
		return encodeCycloneDX(w, inv)
	case FormatSPDX:
		return encodeSPDX(w, inv)
	}
	return fmt.Errorf("unknown SBOM format %q (json, cyclonedx, spdx)", f)
}

// Decode reads an inventory from CycloneDX JSON, SPDX JSON or customs JSON,
// telling them apart by content.
func Decode(r io.Reader) (*customs.Inventory, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSBOM+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSBOM {
		return nil, fmt.Errorf("SBOM larger than %d bytes", maxSBOM)
	}
	var probe struct {
		Schema      string `json:"schema"`
		BOMFormat   string `json:"bomFormat"`
		SPDXVersion string `json:"spdxVersion"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("not a JSON SBOM: %w", err)
	}
	switch {
	case probe.Schema == customs.InventorySchema:
		var inv customs.Inventory
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&inv); err != nil {
			return nil, fmt.Errorf("customs inventory: %w", err)
		}
		return &inv, nil
	case probe.BOMFormat == "CycloneDX":
		return decodeCycloneDX(b)
	case probe.SPDXVersion != "":
		return decodeSPDX(b)
	}
	return nil, fmt.Errorf("unrecognized SBOM: neither CycloneDX (bomFormat), SPDX (spdxVersion) nor a customs inventory (schema)")
}

// CheckFormat says whether f is an SBOM format.
func CheckFormat(f Format) error {
	switch f {
	case FormatJSON, FormatCycloneDX, FormatSPDX:
		return nil
	}
	return fmt.Errorf("unknown SBOM format %q (json, cyclonedx, spdx)", f)
}
