package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/pipeline"
)

// app holds what every command shares: streams and global flags.
type app struct {
	stdout, stderr io.Writer
	quiet, debug   bool
	log            *slog.Logger
}

// imageFlags are the flags of every command that opens an image.
type imageFlags struct {
	platform string
	insecure bool
}

func (f *imageFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.platform, "platform", "", "platform to pick from a multi-platform image, as os/arch[/variant] (default: this host's)")
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "allow plain HTTP and unverified TLS to registries (for loopback test registries)")
}

// outputFlags are the flags of every command that writes a report.
type outputFlags struct {
	format string
	output string
}

func (f *outputFlags) register(cmd *cobra.Command, def, formats string) {
	cmd.Flags().StringVarP(&f.format, "format", "f", def, "output format: "+formats)
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write to FILE instead of standard output")
}

// write runs fn on the output: standard output, or FILE written whole (a
// temporary file renamed into place, so a failed run never leaves half a
// report). A FILE that is not a regular file (-o /dev/null, a named pipe)
// is written in place, since a rename would replace the device itself; a
// symbolic link is followed, and a file replaced keeps its permissions.
func (f *outputFlags) write(a *app, fn func(io.Writer) error) error {
	if f.output == "" || f.output == "-" {
		return fn(a.stdout)
	}
	target, err := followLinks(f.output)
	if err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(target); err == nil {
		if !fi.Mode().IsRegular() {
			if fi.IsDir() {
				return fmt.Errorf("output %s is a directory", target)
			}
			out, err := os.OpenFile(target, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			if err := fn(out); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		}
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), ".customs-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fn(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}

// followLinks resolves a chain of symbolic links to the path it ends at,
// which need not exist yet (a link to a report not written before).
func followLinks(p string) (string, error) {
	for range 40 {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return p, nil
		}
		dest, err := os.Readlink(p)
		if err != nil {
			return "", fmt.Errorf("output %s: %w", p, err)
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(p), dest)
		}
		p = dest
	}
	return "", fmt.Errorf("output %s: too many symbolic links", p)
}

// inventory acquires and inspects an image (or reads an SBOM), with progress
// on a terminal and warnings on standard error.
func (a *app) inventory(ctx context.Context, ref string, f imageFlags, opts pipeline.Options) (*customs.Inventory, error) {
	opts.Image.Platform = f.platform
	opts.Image.Insecure = f.insecure
	opts.Image.Warn = func(s string) { a.log.Warn(s) }
	prog := newProgress(a.stderr, !a.quiet)
	if prog != nil {
		opts.Image.Progress = prog.update
		defer prog.done()
	}
	inv, err := pipeline.Inventory(ctx, ref, opts)
	if prog != nil {
		prog.done()
	}
	if err != nil {
		return nil, err
	}
	a.warnings(inv.Warnings)
	return inv, nil
}

func (a *app) warnings(ws []string) {
	if a.quiet {
		return
	}
	const show = 20
	for i, w := range ws {
		if i == show {
			fmt.Fprintf(a.stderr, "warning: ... and %d more (see the JSON output)\n", len(ws)-show)
			break
		}
		fmt.Fprintln(a.stderr, "warning: "+w)
	}
}
