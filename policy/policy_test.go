package policy_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/policy"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// evidence is an image with n packages, one fixable high vulnerability in
// openssl, running as a non-root user and signed.
func evidence(n int) *policy.Evidence {
	inv := &customs.Inventory{Image: customs.Image{Ref: "app:1", Source: "oci", ConfigDigest: "sha256:cfg",
		Config: &customs.Config{User: "app", Labels: map[string]string{"owner": "a"}}}}
	for i := range n {
		inv.Packages = append(inv.Packages, customs.Package{Name: fmt.Sprintf("pkg%d", i), Version: "1.0", Type: "deb",
			PURL: fmt.Sprintf("pkg:deb/debian/pkg%d@1.0", i), Locations: []string{}})
	}
	published := now.AddDate(0, -2, 0)
	scan := &customs.ScanResult{Findings: []customs.Finding{{
		ID: "CVE-2026-1111", Aliases: []string{"DSA-9999-1"}, Package: customs.PackageRef{Name: "openssl", Version: "3.0.1", Type: "deb", PURL: "pkg:deb/debian/openssl@3.0.1"},
		Installed: "3.0.1", Fixed: "3.0.2", Status: "fixed", Severity: "high", Published: &published, Locations: []string{},
	}}}
	ev := policy.NewEvidence(inv, scan, nil, 0, now)
	ev.AddProvenance([]any{map[string]any{"verified": true}}, nil)
	return ev
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func engine(t testing.TB, opts policy.Options) *policy.Engine {
	t.Helper()
	e, err := policy.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func reasonIDs(rs []policy.Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestBuiltinPolicyTestsPass(t *testing.T) {
	var out bytes.Buffer
	passed, failed, err := policy.RunTests(context.Background(), &out, policy.TestOptions{Builtin: true})
	if err != nil {
		t.Fatal(err)
	}
	if failed > 0 || passed < 10 {
		t.Fatalf("built-in policy tests: %d passed, %d failed\n%s", passed, failed, out.String())
	}
}

func TestPolicyTestReportsFailingTests(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"mine.rego":      "package customs.policy.mine\nimport rego.v1\ndeny contains \"no\" if input.bad\n",
		"mine_test.rego": "package customs.policy.mine_test\nimport rego.v1\nimport data.customs.policy.mine\ntest_denies if { count(mine.deny) == 1 with input as {\"bad\": true} }\ntest_wrong if { count(mine.deny) == 1 with input as {} }\n",
	})
	var out bytes.Buffer
	passed, failed, err := policy.RunTests(context.Background(), &out, policy.TestOptions{Dirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if passed != 1 || failed != 1 || !strings.Contains(out.String(), "test_wrong") {
		t.Fatalf("want 1 passed and test_wrong failed, got %d/%d\n%s", passed, failed, out.String())
	}
}

func TestBuiltinDeniesFixableHighVulnerability(t *testing.T) {
	v := engine(t, policy.Options{}).Evaluate(context.Background(), evidence(10))
	if v.Decision != policy.Deny || len(v.Deny) != 1 || v.Deny[0].ID != "vulnerability" {
		t.Fatalf("want one vulnerability deny, got %s %v %v", v.Decision, reasonIDs(v.Deny), v.Errors)
	}
	if !strings.Contains(v.Deny[0].Message, "CVE-2026-1111") || !strings.Contains(v.Deny[0].Fix, "3.0.2") {
		t.Fatalf("reason does not name the vulnerability and its fix: %+v", v.Deny[0])
	}
}

func TestExceptionsWaiveUntilTheyExpire(t *testing.T) {
	for _, tc := range []struct {
		name, exception string
		wantDecision    string
		wantExpiredWarn bool
	}{
		{"active by id", `{"rule": "vulnerability", "id": "CVE-2026-1111", "reason": "not reachable", "expires": "2026-07-01"}`, policy.Allow, false},
		{"active by alias and package", `{"rule": "vulnerability", "id": "DSA-9999-1", "package": "openssl", "reason": "r", "expires": "2026-07-01"}`, policy.Allow, false},
		{"expires at the end of its day", `{"rule": "vulnerability", "id": "CVE-2026-1111", "reason": "r", "expires": "2026-06-01"}`, policy.Allow, false},
		{"expired", `{"rule": "vulnerability", "id": "CVE-2026-1111", "reason": "r", "expires": "2026-05-31"}`, policy.Deny, true},
		{"other package", `{"rule": "vulnerability", "id": "CVE-2026-1111", "package": "zlib", "reason": "r", "expires": "2026-07-01"}`, policy.Deny, false},
		{"other image", `{"rule": "vulnerability", "image": "sha256:other", "reason": "r", "expires": "2026-07-01"}`, policy.Deny, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"data.json": `{"customs": {"exceptions": [` + tc.exception + `]}}`})
			v := engine(t, policy.Options{DataFiles: []string{filepath.Join(dir, "data.json")}}).Evaluate(context.Background(), evidence(3))
			if v.Decision != tc.wantDecision {
				t.Fatalf("decision %s, want %s (deny %v, excepted %v)", v.Decision, tc.wantDecision, reasonIDs(v.Deny), reasonIDs(v.Excepted))
			}
			if tc.wantDecision == policy.Allow && (len(v.Excepted) != 1 || v.Excepted[0].Exception == nil) {
				t.Fatalf("the waived reason should be reported with its exception: %+v", v.Excepted)
			}
			expired := false
			for _, w := range v.Warn {
				expired = expired || w.ID == "exception-expired"
			}
			if expired != tc.wantExpiredWarn {
				t.Fatalf("expired-exception warning %v, want %v: %v", expired, tc.wantExpiredWarn, v.Warn)
			}
		})
	}
}

func TestExceptionsNeedReasonAndExpiry(t *testing.T) {
	for _, x := range []string{
		`{"rule": "vulnerability", "id": "CVE-1", "reason": "r"}`,
		`{"rule": "vulnerability", "id": "CVE-1", "expires": "2026-01-01"}`,
		`{"rule": "vulnerability", "id": "CVE-1", "reason": "r", "expires": "next week"}`,
	} {
		dir := writeFiles(t, map[string]string{"d.yaml": "customs:\n  exceptions:\n    - " + x + "\n"})
		if _, err := policy.New(context.Background(), policy.Options{DataFiles: []string{filepath.Join(dir, "d.yaml")}}); err == nil {
			t.Errorf("accepted %s", x)
		}
	}
}

func TestBadPoliciesNeverAllowByAccident(t *testing.T) {
	ctx := context.Background()
	t.Run("syntax error names file and line", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"broken.rego": "package customs.policy.x\nimport rego.v1\n\ndeny contains \"x\" if {\n"})
		_, err := policy.New(ctx, policy.Options{Dirs: []string{dir}})
		if err == nil || !strings.Contains(err.Error(), "broken.rego:") {
			t.Fatalf("want a parse error naming broken.rego:LINE, got %v", err)
		}
	})
	t.Run("network builtins are refused", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"net.rego": "package customs.policy.x\nimport rego.v1\ndeny contains r.body if { r := http.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:1\"}) }\n"})
		if _, err := policy.New(ctx, policy.Options{Dirs: []string{dir}}); err == nil || !strings.Contains(err.Error(), "http.send") {
			t.Fatalf("want http.send refused, got %v", err)
		}
	})
	runtime := map[string]string{"rt.rego": "package customs.policy.x\nimport rego.v1\ndeny contains x if { x := to_number(input.image.ref) }\n"}
	t.Run("runtime error denies", func(t *testing.T) {
		v := engine(t, policy.Options{Dirs: []string{writeFiles(t, runtime)}, NoBuiltin: true}).Evaluate(ctx, evidence(1))
		if v.Decision != policy.Deny || len(v.Errors) == 0 {
			t.Fatalf("want deny with an error, got %s %v", v.Decision, v.Errors)
		}
	})
	t.Run("runtime error allows only when configured", func(t *testing.T) {
		v := engine(t, policy.Options{Dirs: []string{writeFiles(t, runtime)}, NoBuiltin: true, OnError: policy.Allow}).Evaluate(ctx, evidence(1))
		if v.Decision != policy.Allow || len(v.Errors) == 0 {
			t.Fatalf("want allow with the error kept, got %s %v", v.Decision, v.Errors)
		}
	})
	t.Run("endless evaluation times out and denies", func(t *testing.T) {
		// 4e10 iterations: Rego always terminates, but not within a lifetime.
		dir := writeFiles(t, map[string]string{"slow.rego": "package customs.policy.x\nimport rego.v1\ndeny contains \"never\" if { some i in numbers.range(1, 200000); some j in numbers.range(1, 200000); i + j < 0 }\n"})
		start := time.Now()
		v := engine(t, policy.Options{Dirs: []string{dir}, NoBuiltin: true, Timeout: 300 * time.Millisecond}).Evaluate(ctx, evidence(1))
		if v.Decision != policy.Deny || len(v.Errors) == 0 || !strings.Contains(v.Errors[0], "did not finish within") {
			t.Fatalf("want a timeout deny, got %s %v", v.Decision, v.Errors)
		}
		t.Logf("stopped after %s", time.Since(start).Round(time.Millisecond))
	})
	t.Run("huge output is bounded and denies", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"huge.rego": "package customs.policy.x\nimport rego.v1\nwarn contains sprintf(\"%d\", [i]) if some i in numbers.range(1, 50000)\n"})
		v := engine(t, policy.Options{Dirs: []string{dir}, NoBuiltin: true, MaxReasons: 1000}).Evaluate(ctx, evidence(1))
		if v.Decision != policy.Deny || len(v.Warn) > 1000 || len(v.Errors) == 0 {
			t.Fatalf("want at most 1000 reasons and a deny, got %s, %d warnings, %v", v.Decision, len(v.Warn), v.Errors)
		}
	})
	t.Run("conflicting complete rule denies", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"conflict.rego": "package customs.policy.x\nimport rego.v1\nallow := true if input.image\nallow := false if input.config\n"})
		v := engine(t, policy.Options{Dirs: []string{dir}, NoBuiltin: true}).Evaluate(ctx, evidence(1))
		if v.Decision != policy.Deny || len(v.Errors) == 0 {
			t.Fatalf("want deny on conflicting values, got %s %v", v.Decision, v.Errors)
		}
	})
	t.Run("oversized policy file", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"big.rego": "package customs.policy.x\n# " + strings.Repeat("x", 5<<20) + "\n"})
		if _, err := policy.New(ctx, policy.Options{Dirs: []string{dir}}); err == nil || !strings.Contains(err.Error(), "big.rego") {
			t.Fatalf("want a size error naming big.rego, got %v", err)
		}
	})
}

func TestUserPolicyAddsToBuiltin(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"team.rego": "package customs.policy.team\nimport rego.v1\ndeny contains {\"id\": \"team-label\", \"msg\": \"no team label\"} if not input.config.labels.team\n",
		"data.yaml": "customs:\n  settings:\n    vulnerabilities:\n      enabled: false\n",
	})
	v := engine(t, policy.Options{Dirs: []string{dir}}).Evaluate(context.Background(), evidence(1))
	got := strings.Join(reasonIDs(v.Deny), ",")
	if got != "team-label" {
		t.Fatalf("want only the user's team-label deny (data switched the vulnerability rule off), got %q", got)
	}
	if v.Deny[0].Policy != "customs.policy.team" {
		t.Fatalf("reason should name its package, got %q", v.Deny[0].Policy)
	}
}

// BenchmarkEvaluate2000Packages measures one prepared evaluation of the
// built-in policy over a 2,000-package inventory (target: < 20 ms).
func BenchmarkEvaluate2000Packages(b *testing.B) {
	e := engine(b, policy.Options{})
	ev := evidence(2000)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if v := e.Evaluate(ctx, ev); len(v.Errors) > 0 {
			b.Fatal(v.Errors)
		}
	}
}
