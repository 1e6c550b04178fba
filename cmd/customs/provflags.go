package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/pipeline"
	"github.com/customs-sec/customs/provenance"
)

// provenanceFlags are the trust flags of check: which keys (or keyless
// identities) signatures must come from.
type provenanceFlags struct {
	keys []string
	keylessFlags
	trust *provenance.Trust // loaded before the command runs
}

// keylessFlags select keyless (certificate) trust, checked offline.
type keylessFlags struct {
	trustedRoot              string
	identity, identityRegexp string
	issuer, issuerRegexp     string
	ignoreSCT                bool
}

func (f *keylessFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.trustedRoot, "trusted-root", "", "Sigstore trusted_root.json (Fulcio CA, Rekor, CT log and TSA keys) for keyless verification, offline")
	cmd.Flags().StringVar(&f.identity, "certificate-identity", "", "keyless: the signer identity the certificate must name (email, URI)")
	cmd.Flags().StringVar(&f.identityRegexp, "certificate-identity-regexp", "", "keyless: a regular expression the certificate identity must match")
	cmd.Flags().StringVar(&f.issuer, "certificate-oidc-issuer", "", "keyless: the OIDC issuer the certificate must name")
	cmd.Flags().StringVar(&f.issuerRegexp, "certificate-oidc-issuer-regexp", "", "keyless: a regular expression the OIDC issuer must match")
	cmd.Flags().BoolVar(&f.ignoreSCT, "insecure-ignore-sct", false, "keyless: do not require a certificate transparency timestamp in the certificate")
}

func (f *keylessFlags) any() bool {
	return f.trustedRoot != "" || f.identity != "" || f.identityRegexp != "" || f.issuer != "" || f.issuerRegexp != ""
}

func (f *keylessFlags) load() (*provenance.Keyless, error) {
	if !f.any() {
		return nil, nil
	}
	if f.trustedRoot == "" {
		return nil, errors.New("--certificate-identity and --certificate-oidc-issuer need --trusted-root (keyless verification is offline, against a trusted root)")
	}
	tm, id, err := provenance.LoadTrustedRoot(f.trustedRoot)
	if err != nil {
		return nil, err
	}
	return &provenance.Keyless{Root: tm, RootID: id, Identity: f.identity, IdentityRegexp: f.identityRegexp,
		Issuer: f.issuer, IssuerRegexp: f.issuerRegexp, IgnoreSCT: f.ignoreSCT}, nil
}

// loadTrust reads the keys and trusted root; nil when none are given.
func loadTrust(keys []string, kf *keylessFlags, insecure bool) (*provenance.Trust, error) {
	if len(keys) == 0 && !kf.any() {
		return nil, nil
	}
	t := &provenance.Trust{Insecure: insecure}
	if len(keys) > 0 {
		ks, err := provenance.LoadPublicKeys(keys)
		if err != nil {
			return nil, err
		}
		t.Keys = ks
	}
	kl, err := kf.load()
	if err != nil {
		return nil, err
	}
	t.Keyless = kl
	return t, nil
}

func (f *provenanceFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.keys, "key", nil, "trusted public key (PEM, cosign format) or directory of keys; signatures from them count (repeatable)")
	f.keylessFlags.register(cmd)
	// Keys are loaded before the command runs, so a typo in --key is an
	// error (exit 2), not an unsigned image.
	prev := cmd.PreRunE
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		if prev != nil {
			if err := prev(cmd, args); err != nil {
				return err
			}
		}
		insecure, _ := cmd.Flags().GetBool("insecure")
		t, err := loadTrust(f.keys, &f.keylessFlags, insecure)
		if err != nil {
			return err
		}
		f.trust = t
		return nil
	}
}

// verifier returns how check verifies provenance; nil until keys are given.
func (f *provenanceFlags) verifier(a *app, img imageFlags) pipeline.Provenance {
	if f.trust == nil {
		return nil
	}
	trust := *f.trust
	trust.Insecure = img.insecure
	// A cache of this command's own: the process-wide one would keep an
	// "unsigned" answer for minutes in a process that runs many commands.
	v, err := provenance.NewVerifier(trust, provenance.NewCache(time.Minute, 16))
	return func(ctx context.Context, im customs.Image) (signatures, attestations []any, _ error) {
		if err != nil {
			return nil, nil, err
		}
		ref, err := digestRef(im)
		if err != nil {
			return nil, nil, err
		}
		ev, err := v.Verify(ctx, ref)
		if err != nil {
			return nil, nil, fmt.Errorf("verifying %s: %w", ref, err)
		}
		if a != nil && a.log != nil {
			a.log.Debug("provenance verified", "ref", ref, "signatures", len(ev.Signatures), "valid", len(ev.VerifiedSignatures()), "cached", ev.Cached)
		}
		signatures, attestations = []any{}, []any{}
		add := func(ev *provenance.Evidence) {
			for _, s := range ev.Signatures {
				signatures = append(signatures, s)
			}
			for _, at := range ev.Attestations {
				attestations = append(attestations, at)
			}
		}
		add(ev)
		// A tag naming a multi-platform index is signed at the index (what
		// cosign sign does by default), so its signatures count for the
		// platform image picked from it.
		if im.IndexDigest != "" {
			iref, err := refAt(im, im.IndexDigest)
			if err != nil {
				return nil, nil, err
			}
			iev, err := v.Verify(ctx, iref)
			if err != nil {
				return nil, nil, fmt.Errorf("verifying the index %s: %w", iref, err)
			}
			add(iev)
		}
		return signatures, attestations, nil
	}
}

// digestRef names the image check inspected by its manifest digest, where
// its signatures are kept: so the signatures checked are those of the
// content judged, even if the tag moves meanwhile.
func digestRef(im customs.Image) (string, error) {
	if im.ManifestDigest == "" {
		return "", fmt.Errorf("the %s image %s has no manifest digest to verify signatures of", im.Source, im.Ref)
	}
	return refAt(im, im.ManifestDigest)
}

// refAt names the image's repository or layout at digest.
func refAt(im customs.Image, digest string) (string, error) {
	r, err := image.ParseReference(im.Ref)
	if err != nil {
		return "", err
	}
	switch r.Transport {
	case image.TransportRegistry:
		for _, d := range im.RepoDigests {
			if strings.HasSuffix(d, "@"+digest) {
				return d, nil
			}
		}
		name := r.Name
		if i := strings.Index(name, "@"); i >= 0 {
			name = name[:i]
		} else if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
			name = name[:i]
		}
		return name + "@" + digest, nil
	case image.TransportOCI:
		return "oci:" + r.Path + ":" + digest, nil
	}
	return "", fmt.Errorf("signatures are kept in a registry or an OCI layout (oci:DIR); a %s image has none to verify", r.Transport)
}

// trustFlags are the flags of verify and verify-attestation.
type trustFlags struct {
	keys     []string
	insecure bool
	keylessFlags
}

func (f *trustFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.keys, "key", nil, "trusted public key (PEM, cosign format) or directory of *.pub / *.pem keys (repeatable)")
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "allow plain HTTP and unverified TLS to registries (for loopback test registries)")
	registryCompatFlags(cmd, &f.insecure)
	// cosign's flag: customs never asks the transparency log when verifying
	// with keys, so it is accepted and does nothing.
	var ignoreTlog bool
	cmd.Flags().BoolVar(&ignoreTlog, "insecure-ignore-tlog", false, "accepted for cosign compatibility; key verification never consults a transparency log")
	_ = cmd.Flags().MarkHidden("insecure-ignore-tlog")
	f.keylessFlags.register(cmd)
}

func (f *trustFlags) verifier() (*provenance.Verifier, error) {
	t, err := loadTrust(f.keys, &f.keylessFlags, f.insecure)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, errors.New("nothing to verify with: give --key PUB (repeatable, or a directory), or --trusted-root with --certificate-identity and --certificate-oidc-issuer")
	}
	return provenance.NewVerifier(*t, nil)
}
