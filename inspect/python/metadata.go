package python

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect"
)

// maxLicenseField is the longest License header kept as a license name;
// longer (or multi-line) values are the license text itself.
const maxLicenseField = 128

// ParseMetadata reads the core metadata of an installed distribution
// (METADATA, PKG-INFO, or a single-file .egg-info): RFC 822 style headers,
// of which Name, Version, License-Expression, License and the license
// classifiers are kept. Only the header block is read; the description that
// follows it is not.
func ParseMetadata(r io.Reader) (customs.Package, []string, error) {
	lr := inspect.NewLineReader(io.LimitReader(r, maxHeaders), maxLine)
	var (
		name, version, expr, license string
		licenseLines                 int
		classifiers                  []string
		cur                          string // the field a continuation line belongs to
		read                         int
	)
	for {
		line, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return customs.Package{}, nil, fmt.Errorf("reading metadata: %w", err)
		}
		read += len(line) + 1
		if len(line) == 0 || len(line) == 1 && line[0] == '\r' {
			break // the headers end at the first empty line
		}
		// A line starting with whitespace, even one of whitespace only,
		// continues the previous field (as Python's email parser reads it).
		if line[0] == ' ' || line[0] == '\t' {
			if cur == "license" {
				licenseLines++
			}
			continue
		}
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			cur = ""
			continue
		}
		val := string(bytes.TrimSpace(v))
		switch cur = strings.ToLower(string(bytes.TrimSpace(k))); cur {
		case "name":
			name = val
		case "version":
			version = val
		case "license-expression":
			expr = val
		case "license":
			license, licenseLines = val, 0
		case "classifier":
			if rest, ok := strings.CutPrefix(val, "License ::"); ok {
				parts := strings.Split(rest, "::")
				if last := strings.TrimSpace(parts[len(parts)-1]); len(parts) > 1 && last != "" {
					classifiers = append(classifiers, last)
				}
			}
		}
	}
	var warns []string
	if read >= maxHeaders {
		warns = append(warns, fmt.Sprintf("metadata headers over %d MiB; the rest was not read", maxHeaders>>20))
	}
	if name == "" || version == "" {
		return customs.Package{}, nil, errors.New("metadata without Name or Version")
	}
	if !validName(name) || !validVersion(version) {
		return customs.Package{}, nil, fmt.Errorf("invalid name or version %q %q", truncate(name, 64), truncate(version, 64))
	}
	p := newPackage(name, version, nil)
	p.Licenses = licenses(expr, license, licenseLines, classifiers)
	return p, warns, nil
}

// licenses prefers the SPDX License-Expression (metadata 2.4), then a short
// License field, then the classifiers' license names.
func licenses(expr, license string, licenseLines int, classifiers []string) []string {
	if expr != "" {
		return []string{expr}
	}
	switch strings.ToLower(license) {
	case "", "unknown", "none", "n/a":
	default:
		if licenseLines == 0 && len(license) <= maxLicenseField {
			return []string{license}
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range classifiers {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}
