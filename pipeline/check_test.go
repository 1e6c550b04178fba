package pipeline_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/misconfig"
	"github.com/customs-sec/customs/pipeline"
	"github.com/customs-sec/customs/policy"
)

func corpusDB(t *testing.T) *advisory.DB {
	t.Helper()
	corpus := testimage.Corpus(t)
	db, err := advisory.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"), advisory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	adv := filepath.Join(corpus, "advisories")
	if _, err := db.Import(context.Background(), []string{filepath.Join(adv, "go"), filepath.Join(adv, "npm"), filepath.Join(adv, "debian", "osv-derived-bookworm")}, advisory.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	return db
}

func check(t *testing.T, ref string, db *advisory.DB, dataFiles ...string) *pipeline.CheckResult {
	t.Helper()
	eng, err := policy.New(context.Background(), policy.Options{DataFiles: dataFiles})
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Check(context.Background(), ref, pipeline.CheckOptions{DB: db, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestCheckDeniesDebianAppForEachKnownProblem: debian-app runs as root,
// carries an AWS key in its Env and, in layer 2, secrets that layer 4
// deletes (still shipped), and has fixable vulnerabilities.
func TestCheckDeniesDebianAppForEachKnownProblem(t *testing.T) {
	db := corpusDB(t)
	dir := testimage.Layout(t)
	res := check(t, "oci:"+dir+":debian-app", db)
	v := res.Verdict
	if v.Decision != policy.Deny {
		t.Fatalf("decision %s, want deny", v.Decision)
	}
	layers := res.Inventory.Image.Layers
	if len(layers) < 4 {
		t.Fatalf("debian-app has %d layers; the corpus changed", len(layers))
	}
	var all strings.Builder
	has := map[string]bool{}
	for _, r := range v.Deny {
		has[r.ID] = true
		all.WriteString(r.Message + "\n")
		if r.Fix == "" {
			t.Errorf("reason %s has no fix: %s", r.ID, r.Message)
		}
	}
	for _, id := range []string{"root-user", "secret", "vulnerability", "signature"} {
		if !has[id] {
			t.Errorf("no %s reason in\n%s", id, all.String())
		}
	}
	text := all.String()
	if !strings.Contains(text, "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("the AWS key in Env is not named:\n%s", text)
	}
	// The secrets layer 2 wrote and layer 4 deleted: named with both layers.
	for _, file := range []string{".aws/credentials", "tls.key", "app.yaml"} {
		found := false
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, file) && strings.Contains(line, layers[1].DiffID) && strings.Contains(line, "still shipped") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no reason naming layer 2 (%s) and its deletion:\n%s", file, layers[1].DiffID, text)
		}
	}
	// The secrets themselves never appear.
	b, _ := json.Marshal(res)
	raw, err := testimage.LayoutImage(t, dir, "debian-app").ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range raw.Config.Env {
		if k, val, _ := strings.Cut(s, "="); strings.Contains(k, "SECRET") && len(val) > 8 && strings.Contains(string(b), val) {
			t.Errorf("the value of %s appears in the result", k)
		}
	}
}

// TestPermissiveDataAllowsDebianBase: with the signature rule off and
// vulnerabilities only warned about, the plain Debian image passes.
func TestPermissiveDataAllowsDebianBase(t *testing.T) {
	db := corpusDB(t)
	data := filepath.Join(t.TempDir(), "permissive.yaml")
	os.WriteFile(data, []byte(`customs:
  settings:
    signature: {enabled: false}
    vulnerabilities: {enabled: false}
    root_user: {enabled: false}
`), 0o644)
	res := check(t, "oci:"+testimage.Layout(t)+":debian-base", db, data)
	if res.Verdict.Decision != policy.Allow {
		t.Fatalf("debian-base with permissive data: %s %+v %v", res.Verdict.Decision, res.Verdict.Deny, res.Verdict.Errors)
	}
	if len(res.Inventory.Secrets) != 0 {
		t.Fatalf("secrets in the Debian base image: %+v", res.Inventory.Secrets)
	}
}

// TestMisconfigurationsOfABuiltImage builds an image with each problem the
// misconfiguration checks know, and one clean counterpart of each.
func TestMisconfigurationsOfABuiltImage(t *testing.T) {
	base := testimage.LayerTar(t, []testimage.File{
		{Name: "etc/", Type: tar.TypeDir},
		{Name: "etc/os-release", Body: "ID=debian\nVERSION_ID=\"12\"\n"},
		{Name: "usr/bin/", Type: tar.TypeDir},
		{Name: "usr/bin/su", Body: "\x7fELF", Mode: 0o4755}, // the base's own: not reported
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},     // sticky: fine
	})
	app := testimage.LayerTar(t, []testimage.File{
		{Name: "usr/local/bin/", Type: tar.TypeDir},
		{Name: "usr/local/bin/helper", Body: "\x7fELF", Mode: 0o4755},
		{Name: "srv/", Type: tar.TypeDir},
		{Name: "srv/shared", Body: "data", Mode: 0o666},
		{Name: "var/cache/apt/archives/curl_8.0_amd64.deb", Body: "!<arch>\n"},
	})
	img := testimage.BuildImage(t, base, app)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Config.User = "0"
	cfg.Config.ExposedPorts = map[string]struct{}{"80/tcp": {}, "8080/tcp": {}}
	cfg.Config.Volumes = map[string]struct{}{"/var/run/docker.sock": {}, "/data": {}}
	cfg.Config.Labels = map[string]string{"org.opencontainers.image.base.name": "docker.io/library/debian:latest"}
	cfg.History[1].CreatedBy = "|1 NPM_TOKEN=abc123def /bin/sh -c ADD https://example.com/tool.tgz /opt/ && make"
	created := v1.Time{Time: time.Unix(1700000000, 0)}
	cfg.Created = created
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "m"})); err != nil {
		t.Fatal(err)
	}
	inv, err := pipeline.Inventory(context.Background(), "oci:"+dir+":m", pipeline.Options{Catalogers: pipeline.CheckCatalogers(nil)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, m := range misconfig.Run(inv) {
		got[m.ID] = append(got[m.ID], m.Message)
		if m.Fix == "" || m.Severity == "" {
			t.Errorf("%s has no fix or severity", m.ID)
		}
	}
	for _, id := range []string{"root-user", "no-healthcheck", "add-from-url", "latest-base", "privileged-port", "sensitive-volume", "setuid-binary", "world-writable", "package-cache", "secret-build-arg"} {
		if len(got[id]) == 0 {
			t.Errorf("check %s did not fire; got %v", id, got)
		}
	}
	joined := func(id string) string { return strings.Join(got[id], "|") }
	if strings.Contains(joined("setuid-binary"), "usr/bin/su") || !strings.Contains(joined("setuid-binary"), "usr/local/bin/helper") {
		t.Errorf("setuid: want only the application's helper, got %v", got["setuid-binary"])
	}
	if strings.Contains(joined("privileged-port"), "8080") || len(got["privileged-port"]) != 1 {
		t.Errorf("privileged ports: want only 80, got %v", got["privileged-port"])
	}
	if strings.Contains(joined("sensitive-volume"), "/data") {
		t.Errorf("/data is not sensitive: %v", got["sensitive-volume"])
	}
	if strings.Contains(joined("world-writable"), "tmp") {
		t.Errorf("a sticky /tmp is fine: %v", got["world-writable"])
	}
}

// TestSecretDeletedInALaterLayerIsStillReported: the file is gone from the
// container's view, but its layer ships with the image.
func TestSecretDeletedInALaterLayerIsStillReported(t *testing.T) {
	key := "AKIA" + strings.Repeat("Q7", 8)
	l1 := testimage.LayerTar(t, []testimage.File{{Name: "root/", Type: tar.TypeDir}, {Name: "root/.aws/", Type: tar.TypeDir},
		{Name: "root/.aws/credentials", Body: "[default]\naws_access_key_id = " + key + "\n"}})
	l2 := testimage.LayerTar(t, []testimage.File{{Name: "app/", Type: tar.TypeDir}, {Name: "app/run", Body: "#!/bin/sh\n"}})
	l3 := testimage.LayerTar(t, []testimage.File{{Name: "root/.aws/.wh.credentials"}})
	dir := testimage.BuildLayout(t, "s", l1, l2, l3)
	inv, err := pipeline.Inventory(context.Background(), "oci:"+dir+":s", pipeline.Options{Catalogers: pipeline.CheckCatalogers(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, s := range inv.Secrets {
		if s.RuleID != "aws-access-key-id" {
			continue
		}
		found = true
		if s.Location != "/root/.aws/credentials" || s.Layer.Index != 0 || s.Layer.DiffID != inv.Image.Layers[0].DiffID {
			t.Errorf("secret should be in layer 1 at /root/.aws/credentials: %+v", s)
		}
		if s.DeletedIn == nil || s.DeletedIn.Index != 2 {
			t.Errorf("secret should be marked deleted by layer 3: %+v", s.DeletedIn)
		}
		if strings.Contains(s.Match, key) {
			t.Errorf("the key is shown whole: %s", s.Match)
		}
	}
	if !found {
		t.Fatalf("the deleted credentials were not reported: %+v", inv.Secrets)
	}
}
