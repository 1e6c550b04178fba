package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/customs-sec/customs/advisory"
)

// dbFlag is the --db flag every command that reads advisories takes.
type dbFlag struct{ path string }

func (f *dbFlag) register(cmd *cobra.Command) {
	def := os.Getenv("CUSTOMS_DB")
	if def == "" {
		def = advisory.DefaultPath()
	}
	cmd.Flags().StringVar(&f.path, "db", def, "advisory database file (env CUSTOMS_DB)")
}

func (a *app) dbCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the advisory database",
		Long: `The advisory database holds OSV records of every ecosystem, indexed by package,
plus what distribution trackers say that OSV flattens (Debian's no-dsa,
postponed, ignored; packages whose security support ended).

It is one SQLite file (default: the user's cache directory). Scans work fully
offline from it; an old database makes scans warn, never fail.`,
	}
	cmd.AddCommand(a.dbImportCommand(), a.dbUpdateCommand(), a.dbStatusCommand())
	return cmd
}

func (a *app) dbImportCommand() *cobra.Command {
	var db dbFlag
	var source, format string
	cmd := &cobra.Command{
		Use:   "import PATH...",
		Short: "Import OSV records from files, directories and all.zip archives",
		Long: `Imports, in one transaction, OSV JSON records (files, directories of them, OSV
all.zip archives of any ecosystem), Debian security-tracker files (as
vuln-list-debian stores them) and Debian security-support lists.

Malformed records are skipped and listed; an unreadable file or archive
imports nothing. Prints what changed: added, modified and withdrawn records.`,
		Example: `  customs db import ./osv/Debian/all.zip ./osv/Go/all.zip
  customs db import --db ./advisories.db ./private-advisories/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := a.openDB(cmd.Context(), db.path, false)
			if err != nil {
				return err
			}
			defer d.Close()
			start := time.Now()
			prog := newCounter(a.stderr, !a.quiet, "records read")
			opts := advisory.ImportOptions{Source: source}
			if prog != nil {
				opts.Progress = prog.set
			}
			delta, err := d.Import(cmd.Context(), args, opts)
			if prog != nil {
				prog.done()
			}
			if err != nil {
				return err
			}
			return a.printDelta(delta, format, time.Since(start))
		},
	}
	db.register(cmd)
	cmd.Flags().StringVar(&source, "source", "import", "name the records' source (shown by db status)")
	cmd.Flags().StringVarP(&format, "format", "f", "text", "output: text or json (the delta)")
	return cmd
}

func (a *app) dbUpdateCommand() *cobra.Command {
	var db dbFlag
	var base, format string
	var ecosystems []string
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Download OSV archives that changed since the last update",
		Long: `Downloads OSV's per-ecosystem all.zip archives from --base-url, asking the
server for only those that changed (ETag and If-Modified-Since), and applies
each in its own transaction. Records that left an archive are removed.
Prints what changed. A failed download changes nothing.`,
		Example: `  customs db update
  customs db update --ecosystem Debian --ecosystem Go
  customs db update --base-url https://mirror.example.com/osv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := a.openDB(cmd.Context(), db.path, false)
			if err != nil {
				return err
			}
			defer d.Close()
			start := time.Now()
			opts := advisory.UpdateOptions{BaseURL: base, Ecosystems: ecosystems}
			if p := newCounter(a.stderr, !a.quiet, ""); p != nil {
				opts.Progress = func(eco string, read, total int64) {
					p.message(fmt.Sprintf("%s: %s of %s", eco, mib(read), mib(total)))
				}
				defer p.done()
			}
			delta, err := d.Update(cmd.Context(), opts)
			if delta != nil {
				if perr := a.printDelta(delta, format, time.Since(start)); perr != nil {
					return perr
				}
			}
			return err
		},
	}
	db.register(cmd)
	cmd.Flags().StringVar(&base, "base-url", advisory.DefaultBaseURL, "where the OSV archives are: BASE/ECOSYSTEM/all.zip")
	cmd.Flags().StringSliceVar(&ecosystems, "ecosystem", nil, "ecosystems to update (default: "+strings.Join(advisory.DefaultEcosystems, ", ")+")")
	cmd.Flags().StringVarP(&format, "format", "f", "text", "output: text or json (the delta)")
	return cmd
}

func (a *app) dbStatusCommand() *cobra.Command {
	var db dbFlag
	var format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the database's sources, counts and age",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := a.openDB(cmd.Context(), db.path, true)
			if err != nil {
				return err
			}
			defer d.Close()
			st, err := d.Status(cmd.Context())
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(a.stdout, st)
			}
			fmt.Fprintf(a.stdout, "database  %s (%s, schema %s)\n", st.Path, mib(st.SizeBytes), st.Schema)
			fmt.Fprintf(a.stdout, "updated   %s\n", st.Updated.Format(time.RFC3339))
			fmt.Fprintf(a.stdout, "records   %d (%d withdrawn), %d distribution statuses\n", st.Records, st.Withdrawn, st.Statuses)
			for _, s := range st.Sources {
				fmt.Fprintf(a.stdout, "source    %-24s %7d records, updated %s\n", s.Name, s.Records, s.Updated.Format(time.RFC3339))
			}
			for eco, n := range st.Ecosystems {
				fmt.Fprintf(a.stdout, "ecosystem %-24s %7d records\n", eco, n)
			}
			if st.SnapshotBytes > 0 {
				fmt.Fprintf(a.stdout, "snapshot  %s (%s, what matching reads)\n", st.SnapshotPath, mib(st.SnapshotBytes))
			} else {
				fmt.Fprintf(a.stdout, "snapshot  none: %s (matching reads the database, more slowly; any import writes one)\n", st.SnapshotNote)
			}
			if st.Stale {
				fmt.Fprintf(a.stdout, "STALE     %s: run `customs db update`\n", st.StaleReason)
			}
			return nil
		},
	}
	db.register(cmd)
	cmd.Flags().StringVarP(&format, "format", "f", "text", "output: text or json")
	return cmd
}

func (a *app) openDB(ctx context.Context, path string, readOnly bool) (*advisory.DB, error) {
	return advisory.Open(ctx, path, advisory.Options{ReadOnly: readOnly})
}

func (a *app) printDelta(d *advisory.Delta, format string, took time.Duration) error {
	if format == "json" {
		return writeJSON(a.stdout, d)
	}
	fmt.Fprintf(a.stdout, "%d added, %d modified, %d withdrawn, %d unchanged; %d distribution statuses; %d packages affected by the change (%s)\n",
		len(d.Added), len(d.Modified), len(d.Withdrawn), d.Unchanged, d.Statuses, len(d.Packages), took.Round(time.Millisecond))
	for _, s := range d.Skipped {
		fmt.Fprintln(a.stderr, "skipped: "+s)
	}
	for _, s := range d.Warnings {
		fmt.Fprintln(a.stderr, "warning: "+s)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
