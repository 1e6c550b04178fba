package main

import (
	"github.com/spf13/cobra"

	"github.com/customs-sec/customs/pipeline"
)

// provenanceFlags are the trust flags of check: which keys (or keyless
// identities) signatures must come from.
type provenanceFlags struct {
	keys []string
}

func (f *provenanceFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.keys, "key", nil, "trusted public key (PEM, cosign format) or directory of keys; signatures from them count (repeatable)")
}

// verifier returns how check verifies provenance; nil until keys are given.
func (f *provenanceFlags) verifier(a *app, img imageFlags) pipeline.Provenance { return nil }
