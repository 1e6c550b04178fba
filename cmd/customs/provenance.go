package main

import "github.com/spf13/cobra"

// provenanceCommands returns key, sign, verify, attest and verify-attestation.
func (a *app) provenanceCommands() []*cobra.Command { return nil }
