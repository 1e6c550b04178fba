package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/customs-sec/customs"
)

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print customs' version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(a.stdout, "customs %s (%s, %s/%s)\n", customs.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
