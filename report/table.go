package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/customs-sec/customs"
)

const (
	ansiReset  = "\033[0m"
	ansiBold   = "\033[1m"
	ansiRed    = "\033[31m"
	ansiYellow = "\033[33m"
	ansiBlue   = "\033[34m"
	ansiGray   = "\033[90m"
)

func severityColor(s string) string {
	switch s {
	case customs.SeverityCritical:
		return ansiBold + ansiRed
	case customs.SeverityHigh:
		return ansiRed
	case customs.SeverityMedium:
		return ansiYellow
	case customs.SeverityLow:
		return ansiBlue
	}
	return ansiGray
}

func writeTable(w io.Writer, res *customs.ScanResult, opts Options) error {
	c := func(code, s string) string {
		if !opts.Color || code == "" {
			return s
		}
		return code + s + ansiReset
	}
	width := opts.Width
	if width <= 0 {
		width = 160
	}
	img := res.Image
	title := img.Ref
	if res.Distro != nil {
		title += " (" + res.Distro.ID + " " + firstNonEmpty(res.Distro.VersionID, res.Distro.Codename) + ")"
	}
	fmt.Fprintln(w, c(ansiBold, title))
	if id := img.ID(); id != "" {
		fmt.Fprintf(w, "image %s, %d layers, %d packages\n", shortDigest(id), len(img.Layers), res.Packages)
	}
	var sev []string
	for _, s := range []string{customs.SeverityCritical, customs.SeverityHigh, customs.SeverityMedium, customs.SeverityLow, customs.SeverityNegligible, customs.SeverityUnknown} {
		if n := res.Summary.BySeverity[s]; n > 0 {
			sev = append(sev, c(severityColor(s), fmt.Sprintf("%s %d", s, n)))
		}
	}
	fmt.Fprintf(w, "Total: %d vulnerabilities", res.Summary.Total)
	if len(sev) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(sev, ", "))
	}
	fmt.Fprintf(w, ", %d fixable", res.Summary.Fixable)
	if res.Summary.Suppressed > 0 {
		fmt.Fprintf(w, ", %d suppressed by VEX", res.Summary.Suppressed)
	}
	fmt.Fprintln(w)

	// Group by layer, so what the base image brought and what the
	// application added are fixed in different places.
	byLayer := map[int][]customs.Finding{}
	for _, f := range res.Findings {
		byLayer[f.Layer.Index] = append(byLayer[f.Layer.Index], f)
	}
	var layers []int
	for l := range byLayer {
		layers = append(layers, l)
	}
	sort.Ints(layers)
	distroLayer := -1
	if res.Distro != nil {
		for _, f := range res.Findings {
			if f.Package.Type == customs.TypeDeb || f.Package.Type == customs.TypeApk || f.Package.Type == customs.TypeRPM {
				if distroLayer < 0 || f.Layer.Index < distroLayer {
					distroLayer = f.Layer.Index
				}
			}
		}
	}
	for _, l := range layers {
		fs := byLayer[l]
		fmt.Fprintln(w)
		kind := "application layer"
		if l == distroLayer && l == 0 {
			kind = "base image layer"
		}
		header := fmt.Sprintf("Layer %d (%s)", l+1, kind)
		if l < len(img.Layers) {
			if d := firstNonEmpty(img.Layers[l].DiffID, img.Layers[l].Digest); d != "" {
				header += " " + shortDigest(d)
			}
			if cb := img.Layers[l].CreatedBy; cb != "" {
				header += "  " + clip(cb, 80)
			}
		}
		fmt.Fprintln(w, c(ansiBold, header))
		rows := [][]string{{"PACKAGE", "VULNERABILITY", "SEVERITY", "INSTALLED", "FIXED", "STATUS", "TITLE"}}
		colors := []string{""}
		for _, f := range fs {
			pkg := f.Package.Name
			if f.Package.Type != "" {
				pkg += " (" + f.Package.Type + ")"
			}
			status := f.Status
			if f.VEX != nil {
				status += ", vex: " + f.VEX.Status
			}
			rows = append(rows, []string{pkg, f.ID, f.Severity, f.Installed, f.Fixed, status, f.Title})
			colors = append(colors, severityColor(f.Severity))
		}
		printRows(w, rows, colors, width, c)
	}
	if len(res.Suppressed) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, c(ansiBold, "Suppressed by VEX"))
		rows := [][]string{{"PACKAGE", "VULNERABILITY", "STATUS", "JUSTIFICATION", "DOCUMENT"}}
		colors := []string{""}
		for _, f := range res.Suppressed {
			rows = append(rows, []string{f.Package.Name, f.ID, f.VEX.Status, firstNonEmpty(f.VEX.Justification, f.VEX.Impact), f.VEX.Document})
			colors = append(colors, ansiGray)
		}
		printRows(w, rows, colors, width, c)
	}
	for _, warn := range res.Warnings {
		fmt.Fprintln(w, c(ansiYellow, "warning: ")+warn)
	}
	return nil
}

// printRows prints aligned columns; the last column takes what width remains.
func printRows(w io.Writer, rows [][]string, colors []string, width int, c func(string, string) string) {
	n := len(rows[0])
	widths := make([]int, n)
	for _, r := range rows {
		for i := 0; i < n-1; i++ {
			if l := utf8.RuneCountInString(r[i]); l > widths[i] {
				widths[i] = min(l, 48)
			}
		}
	}
	used := 0
	for i := 0; i < n-1; i++ {
		used += widths[i] + 2
	}
	last := max(width-used, 20)
	for ri, r := range rows {
		var b strings.Builder
		for i := 0; i < n; i++ {
			cell := r[i]
			if i < n-1 {
				cell = clip(cell, widths[i])
				cell += strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)+2)
			} else {
				cell = clip(cell, last)
			}
			if ri > 0 && i == 2 {
				cell = c(colors[ri], cell)
			}
			b.WriteString(cell)
		}
		line := strings.TrimRight(b.String(), " ")
		if ri == 0 {
			line = c(ansiBold, line)
		}
		fmt.Fprintln(w, line)
	}
}

func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	if n <= 1 {
		return string(r[:n])
	}
	return string(r[:n-1]) + "…"
}

func shortDigest(d string) string {
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return d
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
