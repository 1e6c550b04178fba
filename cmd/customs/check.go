package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/customs-sec/customs/inspect/secret"
	"github.com/customs-sec/customs/pipeline"
	"github.com/customs-sec/customs/policy"
	"github.com/customs-sec/customs/report"
)

func (a *app) checkCommand() *cobra.Command {
	var img imageFlags
	var out outputFlags
	var sf scanFlags
	var policyDirs, dataFiles, secretRules []string
	var noBuiltin bool
	var onError string
	var prov provenanceFlags
	cmd := &cobra.Command{
		Use:   "check IMAGE",
		Short: "Judge an image against policy: allow or deny, with every reason",
		Long: `Inspects IMAGE (packages, secrets in every layer and in the configuration, file
modes), matches its vulnerabilities, verifies its signatures, checks its
configuration, and evaluates Rego policies over one evidence document. Prints the
verdict with every reason: which rule, which package, secret or finding, and how to
fix it.

The built-in policy set denies: fixable critical and high vulnerabilities, images
without a signature from a trusted key (--key), secrets, running as root, and high
severity misconfigurations; it warns about unfixed critical vulnerabilities and lower
severity misconfigurations. Each rule is switched and tuned in a data file (--data);
see docs/policy.md. Add your own Rego with --policy DIR (packages under
customs.policy; rules deny, warn and allow).

Exceptions (a rule, what it waives, a reason and an expiry date) go in a data file
under customs.exceptions; expired exceptions stop applying by themselves.

A policy that fails to evaluate (syntax error, runtime error, timeout) denies,
unless --on-policy-error allow.

EXIT STATUS
  0  allow
  1  deny
  2  error`,
		Example: `  customs check oci:./layout:app --key cosign.pub
  customs check registry.example.com/team/app:1.4 --policy ./policies --data ./policy-data.yaml -f json -o verdict.json
  customs policy test ./policies`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format := report.Format(out.format)
			if format != report.Table && format != report.JSON && format != report.SARIF {
				return fmt.Errorf("unknown format %q (table, json, sarif)", out.format)
			}
			flt, err := sf.filter()
			if err != nil {
				return err
			}
			rules, err := secret.LoadRules(secretRules...)
			if err != nil {
				return err
			}
			engine, err := policy.New(cmd.Context(), policy.Options{Dirs: policyDirs, DataFiles: dataFiles, NoBuiltin: noBuiltin, OnError: onError})
			if err != nil {
				return err
			}
			db, err := a.scanDB(cmd.Context(), sf.db.path)
			if err != nil {
				return err
			}
			defer db.Close()
			opts := pipeline.CheckOptions{DB: db, Filter: flt, Engine: engine, Provenance: prov.verifier(a, img)}
			opts.SecretRules = rules
			opts.Image.Platform, opts.Image.Insecure = img.platform, img.insecure
			opts.Image.Warn = func(s string) { a.log.Warn(s) }
			prog := newProgress(a.stderr, !a.quiet)
			if prog != nil {
				opts.Image.Progress = prog.update
			}
			res, err := pipeline.Check(cmd.Context(), args[0], opts)
			if prog != nil {
				prog.done()
			}
			if err != nil {
				return err
			}
			a.warnings(res.Inventory.Warnings)
			a.scanWarnings(res.Scan)
			if err := out.write(a, func(w io.Writer) error {
				return report.WriteVerdict(w, res.Verdict, res.Evidence, format, report.Options{Color: out.output == "" && isTerminal(a.stdout)})
			}); err != nil {
				return err
			}
			if res.Verdict.Decision == policy.Deny {
				return &exitCodeError{code: exitFindings}
			}
			return nil
		},
	}
	img.register(cmd)
	out.register(cmd, "table", "table, json, sarif")
	sf.register(cmd)
	prov.register(cmd)
	cmd.Flags().StringArrayVar(&policyDirs, "policy", nil, "directory of Rego policies (and data files) to evaluate with the built-in set (repeatable)")
	cmd.Flags().StringArrayVar(&dataFiles, "data", nil, "YAML or JSON data file: customs.settings tune the built-in rules, customs.exceptions waive (repeatable)")
	cmd.Flags().BoolVar(&noBuiltin, "no-builtin", false, "evaluate only the policies given with --policy")
	cmd.Flags().StringVar(&onError, "on-policy-error", policy.Deny, "decision when a policy fails to evaluate: deny or allow")
	cmd.Flags().StringArrayVar(&secretRules, "secret-rules", nil, "extra secret rules file (YAML, the format of the built-in rules; repeatable)")
	return cmd
}

func (a *app) policyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Work with Rego policies"}
	var verbose, builtin bool
	var run string
	test := &cobra.Command{
		Use:   "test [DIR...]",
		Short: "Run Rego unit tests, as opa test does",
		Long: `Runs the test_ rules of the Rego files in DIR (with their data files), with the
built-in policy set loaded so tests can call it. Prints results as opa test does
and exits 1 when a test fails. --builtin also runs the built-in set's own tests.`,
		Example: `  customs policy test ./policies
  customs policy test --builtin`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !builtin {
				return fmt.Errorf("name a directory of policies, or --builtin")
			}
			passed, failed, err := policy.RunTests(cmd.Context(), a.stdout, policy.TestOptions{Dirs: args, Builtin: builtin, Run: run, Verbose: verbose})
			if err != nil {
				return err
			}
			if failed > 0 {
				return &exitCodeError{code: exitFindings}
			}
			if passed == 0 {
				return fmt.Errorf("no tests found")
			}
			return nil
		},
	}
	test.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every test, with traces of failures")
	test.Flags().BoolVar(&builtin, "builtin", false, "also run the built-in policy set's tests")
	test.Flags().StringVarP(&run, "run", "r", "", "run only tests whose name matches this regular expression")
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the built-in policy set (Rego), to read or to copy as a starting point",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			files := policy.BuiltinFiles()
			names := make([]string, 0, len(files))
			for n := range files {
				if !strings.HasSuffix(n, "_test.rego") {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			for _, n := range names {
				fmt.Fprintf(a.stdout, "# --- %s\n%s\n", n, files[n])
			}
			return nil
		},
	}
	cmd.AddCommand(test, show)
	return cmd
}
