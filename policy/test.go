package policy

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestOptions configure RunTests.
type TestOptions struct {
	// Dirs hold policies, their tests (test_ rules, usually in *_test.rego)
	// and data files.
	Dirs []string
	// Builtin also runs the built-in policy set's own tests.
	Builtin bool
	// Run keeps only tests whose name matches this regular expression.
	Run     string
	Verbose bool
	Timeout time.Duration
}

// RunTests runs Rego unit tests with `opa test` semantics (rules named
// test_*, reported as opa test reports them) and says how many passed and
// failed. The built-in policy set is always loaded, so user tests can call it.
func RunTests(ctx context.Context, w io.Writer, opts TestOptions) (passed, failed int, err error) {
	modules := map[string]*ast.Module{}
	parse := func(name, src string) error {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		modules[name] = m
		return nil
	}
	for name, src := range BuiltinFiles() {
		if strings.HasSuffix(name, "_test.rego") && !opts.Builtin {
			continue
		}
		if err := parse("builtin/"+name, src); err != nil {
			return 0, 0, err
		}
	}
	data := map[string]any{}
	for _, dir := range opts.Dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			switch filepath.Ext(p) {
			case ".rego":
				b, err := readBounded(p)
				if err != nil {
					return err
				}
				return parse(p, string(b))
			case ".json", ".yaml", ".yml":
				return loadDataFile(p, data)
			}
			return nil
		})
		if err != nil {
			return 0, 0, fmt.Errorf("loading %s: %w", dir, err)
		}
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	r := tester.NewRunner().
		SetStore(inmem.NewFromObject(data)).
		SetDefaultRegoVersion(ast.RegoV1).
		RaiseBuiltinErrors(true).
		SetTimeout(opts.Timeout).
		Filter(opts.Run)
	ch, err := r.Run(ctx, modules)
	if err != nil {
		return 0, 0, err
	}
	var results []*tester.Result
	for res := range ch {
		results = append(results, res)
		if res.Pass() {
			passed++
		} else {
			failed++
		}
	}
	rc := make(chan *tester.Result, len(results))
	for _, res := range results {
		rc <- res
	}
	close(rc)
	if err := (tester.PrettyReporter{Output: w, Verbose: opts.Verbose, FailureLine: true}).Report(rc); err != nil {
		return passed, failed, err
	}
	return passed, failed, nil
}
