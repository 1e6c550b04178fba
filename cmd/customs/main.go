// Command customs secures the container lifecycle: it inventories images,
// finds their vulnerabilities and secrets, signs and verifies them, judges
// them against policy and keeps re-judging them as advisories change.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes: 0 success, 1 findings or deny (a gate closed), 2 error.
const (
	exitFindings = 1
	exitError    = 2
)

// exitError carries an exit code other than 2 out of a command.
type exitCodeError struct {
	code int
	msg  string
}

func (e *exitCodeError) Error() string { return e.msg }

func main() {
	dropStartupPages()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := &app{stdout: os.Stdout, stderr: os.Stderr}
	root := app.rootCommand()
	stopProfiles := startProfiles()
	err := root.ExecuteContext(ctx)
	stopProfiles()
	if err == nil {
		return
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		if ec.msg != "" {
			fmt.Fprintln(os.Stderr, ec.msg)
		}
		os.Exit(ec.code)
	}
	fmt.Fprintln(os.Stderr, "customs: "+err.Error())
	os.Exit(exitError)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "customs",
		Short: "Inventory, scan, sign, verify and gate container images",
		Long: `customs checks container images the way a port's customs office checks cargo:
it reads every layer once (packages, secrets, configuration), matches what it
finds against advisories, verifies signatures and attestations, judges the
result against policy, and keeps re-judging stored images as advisories change.

IMAGE REFERENCES
  oci:DIR[:REF]               an OCI image layout; REF is a ref name (or digest)
  oci-archive:FILE[:REF]      a tar of an OCI image layout
  docker-archive:FILE[:TAG]   docker save output (classic and Docker 25+ layouts)
  dir:PATH                    an unpacked root filesystem
  sbom:FILE                   a CycloneDX, SPDX or customs JSON inventory
  REGISTRY/REPO[:TAG|@DIGEST] an image in a registry (docker config.json credentials)

EXIT STATUS
  0  success; no finding at or above the gate
  1  findings at or above the gate, or the policy denied
  2  error`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			level := slog.LevelWarn
			if a.debug {
				level = slog.LevelDebug
			}
			if a.quiet {
				level = slog.LevelError
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
		},
	}
	root.PersistentFlags().BoolVarP(&a.quiet, "quiet", "q", false, "print nothing but results and errors")
	root.PersistentFlags().BoolVar(&a.debug, "debug", false, "log what customs does, to standard error")
	root.AddCommand(a.sbomCommand(), a.scanCommand(), a.checkCommand(), a.policyCommand(), a.dbCommand(), a.serveCommand(), a.versionCommand())
	root.AddCommand(a.provenanceCommands()...)
	return root
}
