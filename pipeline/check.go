package pipeline

import (
	"context"
	"time"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/catalogers"
	"github.com/customs-sec/customs/inspect/filemode"
	"github.com/customs-sec/customs/inspect/secret"
	"github.com/customs-sec/customs/misconfig"
	"github.com/customs-sec/customs/policy"
)

// Provenance verifies an image's signatures and attestations for a check;
// each returned item is a JSON object with at least "verified".
type Provenance func(ctx context.Context, img customs.Image) (signatures, attestations []any, err error)

// CheckOptions configure Check.
type CheckOptions struct {
	Options
	DB         *advisory.DB
	Filter     Filter
	Engine     *policy.Engine
	Provenance Provenance
	Now        func() time.Time
}

// CheckResult is a verdict with what it was based on.
type CheckResult struct {
	Verdict   *policy.Verdict
	Evidence  *policy.Evidence
	Scan      *customs.ScanResult
	Inventory *customs.Inventory
}

// CheckCatalogers are the package catalogers plus secrets and file modes.
// With nil rules, the built-in secret rules are used.
func CheckCatalogers(rules *secret.Rules) []inspect.Cataloger {
	if rules == nil {
		var err error
		if rules, err = secret.LoadRules(); err != nil {
			panic("the embedded secret rules do not compile: " + err.Error()) // caught by the secret package's tests
		}
	}
	return append(catalogers.Packages(), &secret.Cataloger{Rules: rules}, filemode.Cataloger{})
}

// Check inspects an image (packages, secrets, file modes), matches it,
// verifies its provenance, checks its configuration and judges it.
func Check(ctx context.Context, ref string, opts CheckOptions) (*CheckResult, error) {
	if opts.SecretRules == nil {
		rules, err := secret.LoadRules()
		if err != nil {
			return nil, err
		}
		opts.SecretRules = rules
	}
	if opts.Catalogers == nil {
		opts.Catalogers = CheckCatalogers(opts.SecretRules)
	}
	inv, err := Inventory(ctx, ref, opts.Options)
	if err != nil {
		return nil, err
	}
	return CheckInventory(ctx, inv, opts)
}

// CheckInventory judges an inventory already made (the server's path).
func CheckInventory(ctx context.Context, inv *customs.Inventory, opts CheckOptions) (*CheckResult, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	scan, err := ScanInventory(ctx, inv, opts.DB, opts.Filter)
	if err != nil {
		return nil, err
	}
	ev := policy.NewEvidence(inv, scan, misconfig.Run(inv), misconfig.BaseLayers(inv), now())
	if opts.Provenance != nil {
		sigs, atts, err := opts.Provenance(ctx, inv.Image)
		if err != nil {
			sigs = append(sigs, map[string]any{"verified": false, "error": err.Error()})
		}
		if err := ev.AddProvenance(sigs, atts); err != nil {
			return nil, err
		}
	}
	return &CheckResult{Verdict: opts.Engine.Evaluate(ctx, ev), Evidence: ev, Scan: scan, Inventory: inv}, nil
}
