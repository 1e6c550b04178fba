// Package pipeline runs the stages in order for one reference: acquire and
// inspect an image (or read back an SBOM) into an inventory. The CLI and the
// server both call it, so a reference means the same thing everywhere.
package pipeline

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/catalogers"
	"github.com/customs-sec/customs/inspect/secret"
	"github.com/customs-sec/customs/sbom"
)

// Options configure how an image is read.
type Options struct {
	Image image.Options
	// Catalogers default to catalogers.Packages().
	Catalogers []inspect.Cataloger
	Cache      inspect.LayerCache
	CacheKey   string
	// OnLayerRead is told when a layer is actually read.
	OnLayerRead func(index int, diffID string)
	// SecretRules find secrets in the image configuration (and, with the
	// secret cataloger, in files); defaults to the built-in rules.
	SecretRules *secret.Rules
}

// Inventory acquires and inspects the image a reference names. An sbom:FILE
// reference reads a CycloneDX, SPDX or customs JSON inventory instead.
func Inventory(ctx context.Context, ref string, opts Options) (*customs.Inventory, error) {
	if path, ok := strings.CutPrefix(ref, "sbom:"); ok {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		inv, err := sbom.Decode(f)
		if err != nil {
			return nil, fmt.Errorf("reading SBOM %s: %w", path, err)
		}
		return inv, nil
	}
	img, err := image.Open(ctx, ref, opts.Image)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	cats := opts.Catalogers
	if cats == nil {
		cats = catalogers.Packages()
	}
	// Secrets in the configuration are found always: no report, SBOM or
	// evidence document may carry them in the clear. The rules compile
	// (tens of regular expressions) while the layers are read.
	type compiled struct {
		rules *secret.Rules
		err   error
	}
	rulesc := make(chan compiled, 1)
	if opts.SecretRules != nil {
		rulesc <- compiled{opts.SecretRules, nil}
	} else {
		go func() {
			r, err := secret.LoadRules()
			rulesc <- compiled{r, err}
		}()
	}
	in := &inspect.Inspector{Catalogers: cats, Cache: opts.Cache, CacheKey: opts.CacheKey, OnLayerRead: opts.OnLayerRead}
	inv, err := in.Inspect(ctx, img)
	c := <-rulesc
	if err != nil {
		return nil, err
	}
	rules := c.rules
	if c.err != nil {
		return nil, c.err
	}
	var found []customs.Secret
	inv.Image, found = rules.Redact(inv.Image)
	inv.Secrets = append(found, inv.Secrets...)
	return inv, nil
}
