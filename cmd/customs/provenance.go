package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/customs-sec/customs/provenance"
)

// provenanceCommands returns key, sign, verify, attest and verify-attestation.
func (a *app) provenanceCommands() []*cobra.Command {
	return []*cobra.Command{a.keyCommand(), a.signCommand(), a.verifyCommand(), a.attestCommand(), a.verifyAttestationCommand()}
}

const passwordHelp = `The private key's passphrase comes from CUSTOMS_PASSWORD (or, for keys shared
with cosign, COSIGN_PASSWORD) when set, even to the empty string; otherwise it is
asked for on the terminal.`

func (a *app) keyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Make signing keys (cosign-compatible)"}
	var prefix string
	var force bool
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Make an ECDSA P-256 key pair: PREFIX.key (encrypted) and PREFIX.pub",
		Long: `Makes an ECDSA P-256 key pair in the current directory: customs.key, the private
key encrypted with a passphrase in the PEM format cosign uses (scrypt and
secretbox, "ENCRYPTED SIGSTORE PRIVATE KEY"), and customs.pub, the public key.
The keys work in both tools: cosign sign --key customs.key, customs verify
--key cosign.pub.

` + passwordHelp,
		Example: `  CUSTOMS_PASSWORD=... customs key generate
  customs key generate --output-prefix release`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if prefix == "" {
				return errors.New("--output-prefix is empty")
			}
			keyPath, pubPath := prefix+".key", prefix+".pub"
			if !force {
				for _, p := range []string{keyPath, pubPath} {
					if _, err := os.Lstat(p); err == nil {
						return fmt.Errorf("%s exists; not overwriting it (--force to replace)", p)
					}
				}
			}
			pass, err := a.passphrase(true)
			if err != nil {
				return err
			}
			priv, pub, err := provenance.GenerateKeyPair(pass)
			if err != nil {
				return err
			}
			if err := writeFileAtomic(keyPath, priv, 0o600); err != nil {
				return err
			}
			if err := writeFileAtomic(pubPath, pub, 0o644); err != nil {
				return err
			}
			if !a.quiet {
				fmt.Fprintf(a.stderr, "Private key written to %s\nPublic key written to %s\n", keyPath, pubPath)
			}
			return nil
		},
	}
	gen.Flags().StringVar(&prefix, "output-prefix", "customs", "write PREFIX.key and PREFIX.pub")
	gen.Flags().BoolVar(&force, "force", false, "overwrite existing key files")
	cmd.AddCommand(gen)
	return cmd
}

// passphrase reads the key passphrase: CUSTOMS_PASSWORD, COSIGN_PASSWORD,
// or the terminal (twice when confirm).
func (a *app) passphrase(confirm bool) ([]byte, error) {
	for _, env := range []string{"CUSTOMS_PASSWORD", "COSIGN_PASSWORD"} {
		if p, ok := os.LookupEnv(env); ok {
			return []byte(p), nil
		}
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, errors.New("no passphrase: set CUSTOMS_PASSWORD (standard input is not a terminal to ask on)")
	}
	fmt.Fprint(a.stderr, "Enter passphrase for the private key: ")
	p1, err := term.ReadPassword(fd)
	fmt.Fprintln(a.stderr)
	if err != nil {
		return nil, fmt.Errorf("reading passphrase: %w", err)
	}
	if confirm {
		fmt.Fprint(a.stderr, "Enter passphrase again: ")
		p2, err := term.ReadPassword(fd)
		fmt.Fprintln(a.stderr)
		if err != nil {
			return nil, fmt.Errorf("reading passphrase: %w", err)
		}
		if !bytes.Equal(p1, p2) {
			return nil, errors.New("the passphrases differ")
		}
	}
	return p1, nil
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// registryCompatFlags accepts cosign's spellings of --insecure, hidden, so
// scripts written for cosign work.
func registryCompatFlags(cmd *cobra.Command, insecure *bool) {
	for _, n := range []string{"allow-insecure-registry", "allow-http-registry"} {
		cmd.Flags().BoolVar(insecure, n, false, "same as --insecure")
		_ = cmd.Flags().MarkHidden(n)
	}
}

func (a *app) loadPrivateKey(path string) (*provenance.PrivateKey, error) {
	if path == "" {
		return nil, errors.New("--key is required: the private key to sign with (customs key generate makes one)")
	}
	pass, err := a.passphrase(false)
	if err != nil {
		return nil, err
	}
	return provenance.LoadPrivateKey(path, pass)
}

func (a *app) reportWrite(format string, res *provenance.Result, what string) error {
	if format == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	if res.Image != res.Ref && !strings.Contains(res.Image, res.Digest) {
		fmt.Fprintf(a.stderr, "resolved %s to %s\n", res.Image, res.Digest)
	}
	if res.Unchanged {
		fmt.Fprintf(a.stdout, "%s already holds this %s (%s); nothing written\n", res.Ref, what, res.Stored)
		return nil
	}
	fmt.Fprintf(a.stdout, "%s %s, stored as %s\n", what, res.Ref, res.Stored)
	return nil
}

func (a *app) signCommand() *cobra.Command {
	var img imageFlags
	var keyPath, format string
	var annotations []string
	cmd := &cobra.Command{
		Use:   "sign --key KEY IMAGE",
		Short: "Sign an image by digest, stored the way cosign stores signatures",
		Long: `Signs IMAGE's manifest digest (a tag is resolved first, and the digest reported)
with the private key, and stores the signature as cosign does: a layer holding the
simple-signing payload, with the signature in its annotation, appended to the
image tagged sha256-<digest>.sig in the same repository (or, for an OCI layout
oci:DIR[:REF], the manifest named sha256-<digest>.sig in the same layout). cosign
verify reads it.

Keyless signing (Fulcio and Rekor) needs the live Sigstore services and is not
done by customs; customs verifies keyless signatures offline (verify
--trusted-root).

` + passwordHelp,
		Example: `  customs sign --key customs.key registry.example.com/team/app:1.4
  customs sign --key customs.key -a git-sha=abc123 oci:./layout:app`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ann, err := parseAnnotations(annotations)
			if err != nil {
				return err
			}
			key, err := a.loadPrivateKey(keyPath)
			if err != nil {
				return err
			}
			res, err := provenance.Sign(cmd.Context(), args[0], key, provenance.SignOptions{Insecure: img.insecure, Platform: img.platform, Annotations: ann})
			if err != nil {
				return err
			}
			return a.reportWrite(format, res, "signed")
		},
	}
	img.register(cmd)
	registryCompatFlags(cmd, &img.insecure)
	cmd.Flags().StringVar(&keyPath, "key", "", "private key (cosign's encrypted PEM format)")
	cmd.Flags().StringArrayVarP(&annotations, "annotation", "a", nil, "KEY=VALUE to sign into the payload's optional section (repeatable)")
	cmd.Flags().StringVarP(&format, "format", "f", "text", "output format: text, json")
	cmd.Flags().Lookup("platform").Usage = "sign the image for this platform (os/arch[/variant]) of a multi-platform index, instead of the index"
	return cmd
}

func parseAnnotations(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("annotation %q: want KEY=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}

func (a *app) attestCommand() *cobra.Command {
	var img imageFlags
	var keyPath, typ, predicate, format string
	var replace bool
	cmd := &cobra.Command{
		Use:   "attest --key KEY --type TYPE --predicate FILE IMAGE",
		Short: "Attest a predicate about an image (in-toto in DSSE, stored as cosign does)",
		Long: `Wraps the predicate in an in-toto statement about IMAGE's digest (a tag is
resolved first), signs it in a DSSE envelope and stores it as cosign does: a layer
of the image tagged sha256-<digest>.att (or, in an OCI layout, the manifest named
so). cosign verify-attestation reads it.

TYPES (cosign's --type names, or any predicate type URI)
  slsaprovenance, slsaprovenance02  SLSA provenance v0.2
  slsaprovenance1                   SLSA provenance v1
  cyclonedx                         CycloneDX SBOM (JSON)
  spdxjson                          SPDX SBOM (JSON); spdx embeds tag-value text
  vuln                              cosign's vulnerability scan predicate
  openvex                           OpenVEX
  link                              in-toto link
  custom                            any data, wrapped as cosign does ({Data, Timestamp})
  customs                           a customs scan result (customs scan -f json)

` + passwordHelp,
		Example: `  customs attest --key customs.key --type slsaprovenance1 --predicate provenance.json registry.example.com/app:1.4
  customs attest --key customs.key --type cyclonedx --predicate sbom.cdx.json oci:./layout:app`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if predicate == "" {
				return errors.New("--predicate is required: the file holding the predicate (- for standard input)")
			}
			if _, err := provenance.PredicateType(typ); err != nil {
				return err
			}
			pred, err := readPredicate(predicate)
			if err != nil {
				return err
			}
			key, err := a.loadPrivateKey(keyPath)
			if err != nil {
				return err
			}
			res, err := provenance.Attest(cmd.Context(), args[0], key, typ, pred, provenance.AttestOptions{Insecure: img.insecure, Platform: img.platform, Replace: replace})
			if err != nil {
				return err
			}
			return a.reportWrite(format, res, "attested")
		},
	}
	img.register(cmd)
	registryCompatFlags(cmd, &img.insecure)
	cmd.Flags().StringVar(&keyPath, "key", "", "private key (cosign's encrypted PEM format)")
	cmd.Flags().StringVar(&typ, "type", "custom", "predicate type: a cosign --type name or a URI")
	cmd.Flags().StringVar(&predicate, "predicate", "", "file holding the predicate (- for standard input)")
	cmd.Flags().BoolVar(&replace, "replace", false, "drop earlier attestations of the same predicate type")
	cmd.Flags().StringVarP(&format, "format", "f", "text", "output format: text, json")
	cmd.Flags().Lookup("platform").Usage = "attest the image for this platform (os/arch[/variant]) of a multi-platform index, instead of the index"
	return cmd
}

// maxPredicateBytes bounds a predicate file; verifiers read envelopes of at
// most 1 MiB by default.
const maxPredicateBytes = 16 << 20

func readPredicate(path string) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("reading predicate: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxPredicateBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading predicate: %w", err)
	}
	if len(b) > maxPredicateBytes {
		return nil, fmt.Errorf("predicate %s is over %d MiB", path, maxPredicateBytes>>20)
	}
	return b, nil
}

func (a *app) verifyCommand() *cobra.Command {
	var tf trustFlags
	var format string
	cmd := &cobra.Command{
		Use:   "verify --key PUB IMAGE",
		Short: "Verify an image's signatures (cosign's, or customs')",
		Long: `Verifies IMAGE's signatures against the trusted keys (--key, repeatable; a
directory contributes every *.pub and *.pem in it) or, offline, against a
Sigstore trusted root for one keyless identity. A tag is resolved first and the
digest reported; signatures are read where cosign stores them (the
sha256-<digest>.sig tag, or beside the image in an OCI layout) and from the OCI 1.1
referrers (cosign's experimental OCI 1.1 signatures and Sigstore bundles).

Every signature found is reported, with why it does not verify when it does not:
a wrong key, a payload for another digest (a signature copied from another image,
or left from the tag's old digest), a malformed manifest or payload.

Results are cached in the process by digest and trust configuration.

EXIT STATUS
  0  at least one valid signature
  1  no valid signature
  2  error (the registry could not be read, a key could not be loaded)`,
		Example: `  customs verify --key cosign.pub registry.example.com/team/app:1.4
  customs verify --key ./trusted-keys/ -f json oci:./layout:app
  customs verify --trusted-root trusted_root.json --certificate-identity dev@example.com \
      --certificate-oidc-issuer https://accounts.google.com registry.example.com/app@sha256:...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("unknown format %q (text, json)", format)
			}
			v, err := tf.verifier()
			if err != nil {
				return err
			}
			ev, err := v.Verify(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ok := len(ev.VerifiedSignatures()) > 0
			if format == "json" {
				if err := writeJSON(a.stdout, ev); err != nil {
					return err
				}
			} else {
				a.printSignatures(ev)
			}
			if !ok {
				return &exitCodeError{code: exitFindings, msg: "customs: " + noValid(ev, "signature", len(ev.Signatures))}
			}
			return nil
		},
	}
	tf.register(cmd)
	cmd.Flags().StringVarP(&format, "format", "f", "text", "output format: text, json (every signature: verified or not, by whom, why not)")
	return cmd
}

func (a *app) verifyAttestationCommand() *cobra.Command {
	var tf trustFlags
	var format, typ string
	cmd := &cobra.Command{
		Use:   "verify-attestation --key PUB [--type TYPE] IMAGE",
		Short: "Verify an image's attestations and print their predicates",
		Long: `Verifies IMAGE's attestations (in-toto statements in DSSE envelopes, read from
the sha256-<digest>.att tag, beside the image in an OCI layout, or from OCI 1.1
referrers) against the trusted keys or a keyless identity: the envelope's
signature, that the statement's subject is this image's digest, and (with --type)
the predicate type. Prints the verified attestations with their predicates.

EXIT STATUS
  0  at least one valid attestation (of --type)
  1  none
  2  error`,
		Example: `  customs verify-attestation --key cosign.pub --type slsaprovenance registry.example.com/app:1.4
  customs verify-attestation --key cosign.pub --type cyclonedx -f json oci:./layout:app`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("unknown format %q (text, json)", format)
			}
			uri := ""
			if typ != "" {
				var err error
				if uri, err = provenance.PredicateType(typ); err != nil {
					return err
				}
			}
			v, err := tf.verifier()
			if err != nil {
				return err
			}
			ev, err := v.Verify(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			// Only the attestations of the type asked about are reported.
			var atts []provenance.Attestation
			for _, at := range ev.Attestations {
				if uri == "" || at.PredicateType == uri || (!at.Verified && at.PredicateType == "") {
					atts = append(atts, at)
				}
			}
			ev.Attestations = atts
			if atts == nil {
				ev.Attestations = []provenance.Attestation{}
			}
			ok := len(ev.VerifiedAttestations(uri)) > 0
			if format == "json" {
				out := struct {
					*provenance.Evidence
					Signatures []provenance.Signature `json:"signatures,omitempty"`
				}{Evidence: ev}
				if err := writeJSON(a.stdout, out); err != nil {
					return err
				}
			} else {
				a.printAttestations(ev)
			}
			if !ok {
				what := "attestation"
				if typ != "" {
					what = "attestation of type " + uri
				}
				return &exitCodeError{code: exitFindings, msg: "customs: " + noValid(ev, what, len(atts))}
			}
			return nil
		},
	}
	tf.register(cmd)
	cmd.Flags().StringVar(&typ, "type", "", "predicate type to require: a cosign --type name or a URI (default: any)")
	cmd.Flags().StringVarP(&format, "format", "f", "text", "output format: text, json (verified attestations with their predicates)")
	return cmd
}

func noValid(ev *provenance.Evidence, what string, found int) string {
	where := ev.Ref
	if ev.ResolvedFrom != "" {
		where += " (resolved from " + ev.ResolvedFrom + ")"
	}
	if found == 0 {
		return fmt.Sprintf("no valid %s for %s: none found", what, where)
	}
	return fmt.Sprintf("no valid %s for %s: %d found, none verifies", what, where, found)
}

func (a *app) printHeader(ev *provenance.Evidence) {
	if ev.ResolvedFrom != "" {
		fmt.Fprintf(a.stdout, "%s resolved to %s\n", ev.ResolvedFrom, ev.Digest)
	}
}

func signerText(s *provenance.Signer) string {
	if s == nil {
		return ""
	}
	if s.Identity != "" {
		return s.Identity + " (issuer " + s.Issuer + ")"
	}
	if s.Key != "" {
		return s.Key + " (" + s.Fingerprint + ")"
	}
	return s.Fingerprint
}

func (a *app) printSignatures(ev *provenance.Evidence) {
	a.printHeader(ev)
	for _, s := range ev.Signatures {
		if s.Verified {
			fmt.Fprintf(a.stdout, "VERIFIED  %s signed by %s [%s]\n", ev.Ref, signerText(s.Signer), s.Source)
		} else {
			fmt.Fprintf(a.stdout, "INVALID   [%s] %s\n", s.Source, s.Error)
		}
	}
}

func (a *app) printAttestations(ev *provenance.Evidence) {
	a.printHeader(ev)
	for _, at := range ev.Attestations {
		if at.Verified {
			fmt.Fprintf(a.stdout, "VERIFIED  %s attestation of %s signed by %s [%s]\n", at.PredicateType, ev.Ref, signerText(at.Signer), at.Source)
		} else {
			fmt.Fprintf(a.stdout, "INVALID   [%s] %s\n", at.Source, at.Error)
		}
	}
}
