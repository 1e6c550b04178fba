package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/advisory/embedded"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/pipeline"
	"github.com/customs-sec/customs/provenance"
	"github.com/customs-sec/customs/report"
	"github.com/customs-sec/customs/vex"
)

// scanFlags are the flags of commands that match vulnerabilities.
type scanFlags struct {
	db            dbFlag
	severity      string
	ignoreUnfixed bool
	vexFiles      []string
}

func (f *scanFlags) register(cmd *cobra.Command) {
	f.db.register(cmd)
	cmd.Flags().StringVar(&f.severity, "severity", "", "report findings at or above a severity (low, medium, high, critical), or only those listed (HIGH,CRITICAL)")
	cmd.Flags().BoolVar(&f.ignoreUnfixed, "ignore-unfixed", false, "leave out findings that have no fixed version yet")
	cmd.Flags().StringArrayVar(&f.vexFiles, "vex", nil, "OpenVEX document whose statements suppress or annotate findings (repeatable)")
}

func (f *scanFlags) filter() (pipeline.Filter, error) {
	flt := pipeline.Filter{IgnoreUnfixed: f.ignoreUnfixed}
	if s := strings.TrimSpace(f.severity); s != "" {
		parts := strings.Split(s, ",")
		for _, p := range parts {
			p = strings.ToLower(strings.TrimSpace(p))
			if customs.SeverityRank(p) == 0 && p != customs.SeverityUnknown {
				return flt, fmt.Errorf("--severity %q: not a severity (negligible, low, medium, high, critical, unknown)", p)
			}
			flt.Severities = append(flt.Severities, p)
		}
		if len(parts) == 1 {
			flt.MinSeverity, flt.Severities = flt.Severities[0], nil
		}
	}
	for _, path := range f.vexFiles {
		fh, err := os.Open(path)
		if err != nil {
			return flt, err
		}
		d, err := vex.Parse(fh, path)
		fh.Close()
		if err != nil {
			return flt, err
		}
		flt.VEX = append(flt.VEX, d)
	}
	return flt, nil
}

func (a *app) scanCommand() *cobra.Command {
	var img imageFlags
	var out outputFlags
	var sf scanFlags
	var exitCode int
	var attestKey string
	cmd := &cobra.Command{
		Use:   "scan IMAGE",
		Short: "Find the vulnerabilities in an image",
		Long: `Inventories IMAGE (or reads an SBOM given as sbom:FILE) and matches every
package against the advisory database: distribution packages by their source
package and release (so backported fixes count), application packages by
their ecosystem's version rules. Advisories naming the same vulnerability
(CVE, GHSA, GO-, DSA) are one finding with every id.

STATUS
  fixed         a fixed version exists (shown in FIXED)
  affected      no fix yet
  will-not-fix  the distribution will not fix it in this release (Debian no-dsa, ignored)
  fix-deferred  the fix waits for a later update (Debian postponed)
  end-of-life   the package's security support ended

FORMATS
  table      grouped by layer: what the base image brought, what the application added
  json       everything: findings with ids, aliases, purl, installed, fixed, status, severity, cvss, layer, locations
  sarif      SARIF 2.1.0 for code-scanning dashboards
  cyclonedx  the CycloneDX 1.6 SBOM with its vulnerabilities

ATTESTATION
  --attest KEY signs the scan result (the json format's document) with the
  private KEY and attaches it to the image as an in-toto attestation of
  predicate type ` + provenance.ScanPredicateType + `, stored as
  cosign stores attestations, so cosign verify-attestation --type
  ` + provenance.ScanPredicateType + ` accepts it. It names the
  manifest that was scanned, by digest, so it holds even if the tag moves.
  Registry images and OCI layouts (oci:DIR) only. The key's passphrase comes
  from CUSTOMS_PASSWORD (or COSIGN_PASSWORD) when set, even to the empty
  string; otherwise it is asked for on the terminal, before the scan.`,
		Example: `  customs scan oci:./layout:myapp
  customs scan registry.example.com/team/app:1.4 --severity high --exit-code 1
  customs scan sbom:app.cdx.json -f sarif -o results.sarif --vex app.vex.json
  CUSTOMS_PASSWORD=... customs scan registry.example.com/team/app:1.4 --attest customs.key`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format := report.Format(out.format)
			if err := report.CheckFormat(format); err != nil {
				return err
			}
			flt, err := sf.filter()
			if err != nil {
				return err
			}
			// The key is checked before the scan, so a wrong passphrase or
			// an image with nowhere to keep attestations fails at once.
			var pass []byte
			if attestKey != "" {
				if pass, err = a.attestable(args[0], attestKey); err != nil {
					return err
				}
			}
			db, err := a.scanDB(cmd.Context(), sf.db.path)
			if err != nil {
				return err
			}
			defer db.Close()
			inv, err := a.inventory(cmd.Context(), args[0], img, pipeline.Options{})
			if err != nil {
				return err
			}
			res, err := pipeline.ScanInventory(cmd.Context(), inv, db, flt)
			if err != nil {
				return err
			}
			a.scanWarnings(res)
			if err := out.write(a, func(w io.Writer) error {
				return report.Write(w, res, inv, format, report.Options{Color: out.output == "" && isTerminal(a.stdout)})
			}); err != nil {
				return err
			}
			if attestKey != "" {
				ref, err := digestRef(inv.Image)
				if err != nil {
					return err
				}
				if err := provenance.AttestScan(cmd.Context(), ref, attestKey, pass, res, img.insecure); err != nil {
					return fmt.Errorf("attesting the scan of %s: %w", ref, err)
				}
				if !a.quiet {
					fmt.Fprintf(a.stderr, "attested the scan result to %s (%s)\n", ref, provenance.ScanPredicateType)
				}
			}
			if exitCode != 0 && len(res.Findings) > 0 {
				return &exitCodeError{code: exitCode}
			}
			return nil
		},
	}
	img.register(cmd)
	out.register(cmd, "table", "table, json, sarif, cyclonedx")
	sf.register(cmd)
	cmd.Flags().IntVar(&exitCode, "exit-code", 0, "exit with this code when findings remain after filtering (a CI gate)")
	cmd.Flags().StringVar(&attestKey, "attest", "", "sign the scan result with this private key and attach it to the image as an in-toto attestation (registry and oci: images)")
	return cmd
}

// attestable checks, before a scan, that `scan --attest KEY` can attest
// ref: the image is kept where attestations can be (a registry or an OCI
// layout) and KEY opens with the passphrase. It returns the passphrase.
func (a *app) attestable(ref, keyPath string) ([]byte, error) {
	r, err := image.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if r.Transport != image.TransportRegistry && r.Transport != image.TransportOCI {
		return nil, fmt.Errorf("--attest: attestations are kept in a registry or an OCI layout (oci:DIR); a %s image has nowhere to keep one", r.Transport)
	}
	pass, err := a.passphrase(false)
	if err != nil {
		return nil, err
	}
	if _, err := provenance.LoadPrivateKey(keyPath, pass); err != nil {
		return nil, fmt.Errorf("--attest: %w", err)
	}
	return pass, nil
}

// scanWarnings prints what a reader of a machine-readable report would miss.
func (a *app) scanWarnings(res *customs.ScanResult) {
	if res.Database != nil && res.Database.Stale && !a.quiet {
		fmt.Fprintf(a.stderr, "warning: the advisory database at %s is stale; run `customs db update`\n", res.Database.Path)
	}
}

// scanDB opens the advisory database for a scan. When the default
// database does not exist yet, the sample embedded in the binary is
// installed there, so a first scan works offline.
func (a *app) scanDB(ctx context.Context, path string) (*advisory.DB, error) {
	if path == advisory.DefaultPath() {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			d, err := embedded.Install(ctx, path)
			if err != nil {
				return nil, fmt.Errorf("installing the embedded advisory sample at %s: %w", path, err)
			}
			if !a.quiet {
				fmt.Fprintf(a.stderr, "note: no advisory database yet; installed the embedded sample (%d records) at %s.\n      Run `customs db update` for complete advisory coverage.\n", len(d.Added), path)
			}
		}
	}
	return advisory.Open(ctx, path, advisory.Options{ReadOnly: true})
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
