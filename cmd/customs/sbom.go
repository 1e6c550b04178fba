package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/customs-sec/customs/pipeline"
	"github.com/customs-sec/customs/sbom"
)

func (a *app) sbomCommand() *cobra.Command {
	var img imageFlags
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "sbom IMAGE",
		Short: "List every package in an image, layer by layer, as an SBOM",
		Long: `Reads every layer of IMAGE once and lists its packages: OS packages (dpkg, apk,
rpm) and application dependencies, each with the layer that introduced it and
the file it was found in.

FORMATS
  json       customs' own inventory: everything, including installed file lists
  cyclonedx  CycloneDX 1.6 JSON
  spdx       SPDX 2.3 JSON

Any of them can be read back as IMAGE with sbom:FILE.`,
		Example: `  customs sbom oci:./layout:myapp
  customs sbom docker-archive:app.tar -f cyclonedx -o app.cdx.json
  customs sbom registry.example.com/team/app:1.4 -f spdx`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format := sbom.Format(out.format)
			if err := sbom.CheckFormat(format); err != nil {
				return err
			}
			inv, err := a.inventory(cmd.Context(), args[0], img, pipeline.Options{})
			if err != nil {
				return err
			}
			return out.write(a, func(w io.Writer) error { return sbom.Encode(w, inv, format) })
		},
	}
	img.register(cmd)
	out.register(cmd, "json", "json, cyclonedx, spdx")
	return cmd
}
