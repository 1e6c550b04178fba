package secret_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect/secret"
	"github.com/customs-sec/customs/internal/testimage"
)

// randomFrom returns n characters drawn from alphabet: fake credentials in
// the real formats, fresh on every run so nothing is matched by accident.
func randomFrom(t *testing.T, alphabet string, n int) string {
	t.Helper()
	var b strings.Builder
	for range n {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteByte(alphabet[i.Int64()])
	}
	return b.String()
}

const (
	upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	alnum       = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b64chars    = alnum + "+/"
)

// keyFromTool makes a real private key with an independent tool.
func keyFromTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	tool := testimage.Tool(t, name)
	dir := t.TempDir()
	out := filepath.Join(dir, "key")
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "OUT", out)
	}
	if b, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type positive struct {
	name, path, content, rule, secret string
}

func truePositives(t *testing.T) []positive {
	rsa := keyFromTool(t, "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "OUT")
	ec := keyFromTool(t, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "OUT")
	ssh := keyFromTool(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", "OUT")
	akid := "AKIA" + randomFrom(t, upperDigits, 16)
	aksecret := randomFrom(t, b64chars, 40)
	ghp := "ghp_" + randomFrom(t, alnum, 36)
	glpat := "glpat-" + randomFrom(t, alnum, 20)
	slack := "xoxb-" + randomFrom(t, "0123456789", 12) + "-" + randomFrom(t, "0123456789", 12) + "-" + randomFrom(t, alnum, 24)
	stripe := "sk_live_" + randomFrom(t, alnum, 24)
	npm := "npm_" + randomFrom(t, alnum, 36)
	pypi := "pypi-AgEIcHlwaS5vcmc" + randomFrom(t, alnum, 60)
	gcpKeyID := randomFrom(t, "0123456789abcdef", 40)
	azure := randomFrom(t, b64chars, 86) + "=="
	dockerAuth := base64.StdEncoding.EncodeToString([]byte("ci-bot:" + randomFrom(t, alnum, 20)))
	npmrcTok := randomFrom(t, alnum, 36)
	pw := randomFrom(t, alnum, 16)
	raw := make([]byte, 12)
	rand.Read(raw)
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + base64.RawURLEncoding.EncodeToString(append(raw, raw...))
	urlPw := hex.EncodeToString(raw)

	return []positive{
		{"rsa pkcs8", "app/certs/server.key", rsa, "private-key", ""},
		{"ec sec1", "etc/app/ec.pem", ec, "private-key", ""},
		{"openssh ed25519", "root/.ssh/id_ed25519", ssh, "private-key", ""},
		{"aws access key id", "root/.aws/credentials", "[default]\naws_access_key_id = " + akid + "\n", "aws-access-key-id", akid},
		{"aws secret", "root/.aws/credentials", "[default]\naws_secret_access_key = " + aksecret + "\n", "aws-secret-access-key", aksecret},
		{"github", "app/deploy.sh", "git clone https://x:" + ghp + "@github.com/o/r\n", "github-token", ghp},
		{"gitlab", "app/ci.sh", "export TOKEN=" + glpat + "\n", "gitlab-token", glpat},
		{"slack", "app/notify.py", "SLACK = '" + slack + "'\n", "slack-token", slack},
		{"stripe", "app/pay.js", "const k = \"" + stripe + "\";\n", "stripe-key", stripe},
		{"npm token", "app/publish.sh", "NPM_TOKEN=" + npm + "\n", "npm-token", npm},
		{"npmrc", "root/.npmrc", "//registry.example.com/:_authToken=" + npmrcTok + "\n", "npmrc-auth", npmrcTok},
		{"pypi", "root/.pypirc", "[pypi]\nusername = __token__\ntoken = " + pypi + "\n", "pypi-token", pypi},
		{"gcp service account", "app/sa.json", `{"type": "service_account", "project_id": "p", "private_key_id": "` + gcpKeyID + `", "client_email": "a@p.iam.gserviceaccount.com"}`, "gcp-service-account", gcpKeyID},
		{"azure storage", "app/appsettings.json", `{"Storage": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=` + azure + `;EndpointSuffix=core.windows.net"}`, "azure-storage-key", azure},
		{"docker config", "root/.docker/config.json", `{"auths": {"registry.example.com": {"auth": "` + dockerAuth + `"}}}`, "docker-config-auth", dockerAuth},
		{"password in .env", "app/.env", "DB_HOST=db\nDB_PASSWORD=" + pw + "\n", "password-in-config", pw},
		{"jwt", "app/config.js", "const token = '" + jwt + "'\n", "jwt", jwt},
		{"credentials in url", "app/config.yaml", "database: postgres://app:" + urlPw + "@db.internal:5432/app\n", "credentials-in-url", urlPw},
	}
}

func TestTruePositivesOnRealFormatKeys(t *testing.T) {
	rules, err := secret.LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range truePositives(t) {
		t.Run(tc.name, func(t *testing.T) {
			fs := rules.Scan(tc.path, []byte(tc.content))
			var hit *secret.Finding
			for i := range fs {
				if fs[i].Rule.ID == tc.rule {
					hit = &fs[i]
				}
			}
			if hit == nil {
				t.Fatalf("rule %s did not fire on %s; findings: %v", tc.rule, tc.path, fs)
			}
			want := tc.secret
			if want == "" { // a PEM key: the body is the secret
				want = strings.Join(strings.Fields(tc.content), "")
			}
			for _, f := range fs {
				if len(want) >= 8 && strings.Contains(f.Match, want) {
					t.Fatalf("finding shows the whole secret: %q", f.Match)
				}
				if len(f.Match) > 0 && strings.Count(f.Match, "*")+strings.Count(f.Match, "…") == 0 {
					t.Fatalf("finding is not masked: %q", f.Match)
				}
			}
			if tc.secret != "" && (!strings.HasPrefix(hit.Match, tc.secret[:1]) || !strings.HasSuffix(hit.Match, tc.secret[len(tc.secret)-1:])) {
				t.Errorf("masked %q should keep the first and last characters of the secret", hit.Match)
			}
		})
	}
}

func TestExamplesAndPlaceholdersAreNotSecrets(t *testing.T) {
	rules, err := secret.LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	for path, content := range map[string]string{
		"app/README.md":   "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
		"app/config.yaml": "password: ${DB_PASSWORD}\nother_password: changeme\n",
		"app/.env":        "PASSWORD=\n",
		"app/main.go":     "password := os.Getenv(\"PASSWORD\")\n",
	} {
		if fs := rules.Scan(path, []byte(content)); len(fs) > 0 {
			t.Errorf("%s: example or placeholder reported as a secret: %v", path, fs[0].Rule.ID)
		}
	}
}

// TestNoFalsePositivesInDebianUsrShare scans every text file of the Debian
// base image's /usr/share, documentation included (the built-in path
// allow-list is bypassed), and reports the count: ordinary files are full
// of words like "password" and "token".
func TestNoFalsePositivesInDebianUsrShare(t *testing.T) {
	root := testimage.Unpack(t, "debian-base")
	rules, err := secret.LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	files, bytesRead, found := 0, 0, 0
	err = filepath.WalkDir(filepath.Join(root, "usr", "share"), func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) > secret.MaxFileSize || strings.IndexByte(string(b[:min(len(b), 512)]), 0) >= 0 {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		// A path outside every allow-list, so that only the rules judge.
		fs := rules.Scan("scan/"+filepath.ToSlash(rel), b)
		for _, f := range fs {
			t.Logf("false positive: %s:%d %s %s", rel, f.Line, f.Rule.ID, f.Match)
		}
		files++
		bytesRead += len(b)
		found += len(fs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("only %d text files under /usr/share: the corpus is not what this test expects", files)
	}
	t.Logf("debian-base /usr/share: %d text files, %d bytes, %d findings", files, bytesRead, found)
	if found > 0 {
		t.Errorf("%d false positives in debian-base /usr/share", found)
	}
}

func TestConfigSecretsAreFoundAndRedacted(t *testing.T) {
	rules, err := secret.LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	aws := randomFrom(t, b64chars, 40)
	tok := "ghp_" + randomFrom(t, alnum, 36)
	img := customs.Image{
		Config: &customs.Config{
			Env:    []string{"PATH=/usr/bin", "AWS_SECRET_ACCESS_KEY=" + aws, "DEBUG=true"},
			Labels: map[string]string{"owner": "team-a"},
		},
		History: []customs.History{
			{CreatedBy: "/bin/sh -c #(nop) ENV PATH=/usr/bin"},
			{CreatedBy: "|1 GITHUB_TOKEN=" + tok + " /bin/sh -c make"},
		},
	}
	found := rules.ScanConfig(img)
	locs := map[string]bool{}
	for _, s := range found {
		loc, _, _ := strings.Cut(s.Location, " build arg")
		loc, _, _ = strings.Cut(loc, "[AWS")
		locs[loc] = true
		if s.Layer.Index >= 0 {
			t.Errorf("a config secret has no layer, got %+v", s.Layer)
		}
	}
	if len(found) < 2 || !locs["config.Env"] || !locs["history[1].created_by"] {
		t.Fatalf("want the Env and the build-arg secret, got %+v (%v)", found, locs)
	}
	red, _ := rules.Redact(img)
	all := strings.Join(red.Config.Env, " ") + red.History[1].CreatedBy
	if strings.Contains(all, aws) || strings.Contains(all, tok) {
		t.Fatalf("redacted config still holds a secret: %s", all)
	}
	if !strings.Contains(all, "PATH=/usr/bin") || !strings.Contains(all, "DEBUG=true") {
		t.Fatalf("redaction removed more than the secrets: %s", all)
	}
}

func TestBadUserRulesAreRejectedWithTheirID(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"badregex.yaml": "rules:\n  - id: broken\n    title: x\n    severity: high\n    regex: '(unclosed'\n",
		"noid.yaml":     "rules:\n  - title: x\n    severity: high\n    regex: 'abc'\n",
		"notyaml.yaml":  "rules: [",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		_, err := secret.LoadRules(p)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error does not say which file: %v", name, err)
		}
	}
}

func FuzzScan(f *testing.F) {
	rules, err := secret.LoadRules()
	if err != nil {
		f.Fatal(err)
	}
	f.Add("root/.aws/credentials", "aws_secret_access_key = abcdefghijABCDEFGHIJ0123456789+/abcdefgh")
	f.Add("app/.env", "PASSWORD=hunter2hunter2\nTOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789")
	f.Add("k.pem", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n")
	f.Add("root/.docker/config.json", `{"auths":{"r":{"auth":"dXNlcjpwYXNzd29yZA=="}}}`)
	f.Add("a.yaml", "url: postgres://u:p4ssw0rd@h/db")
	f.Fuzz(func(t *testing.T, p, content string) {
		for _, x := range rules.Scan(p, []byte(content)) {
			if x.Line < 1 || x.Line > strings.Count(content, "\n")+1 {
				t.Fatalf("line %d out of range", x.Line)
			}
			if len(x.Match) >= 16 && strings.Contains(content, x.Match) && !strings.ContainsAny(x.Match, "*…") {
				t.Fatalf("unmasked match %q", x.Match)
			}
		}
	})
}
