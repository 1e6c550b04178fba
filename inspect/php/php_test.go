package php_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/php"
	"github.com/customs-sec/customs/internal/catalogertest"
	"github.com/customs-sec/customs/internal/testimage"
)

// composerLock has the shape of github.com/007xBramasta/php-logging
// composer.lock (Composer 2.x): packages and packages-dev, tag versions
// with and without "v", license arrays; trimmed, plus a path package.
const composerLock = `{
    "_readme": [
        "This file locks the dependencies of your project to a known state",
        "This file is @generated automatically"
    ],
    "content-hash": "35cc32d6e2308ffe6ef5b4612b59068c",
    "packages": [
        {
            "name": "monolog/monolog",
            "version": "3.4.0",
            "source": {"type": "git", "url": "https://github.com/Seldaek/monolog.git", "reference": "e2392369686d420ca32df3803de28b5d6f76867d"},
            "dist": {"type": "zip", "url": "https://api.github.com/repos/Seldaek/monolog/zipball/e2392369686d420ca32df3803de28b5d6f76867d", "reference": "e2392369686d420ca32df3803de28b5d6f76867d", "shasum": ""},
            "require": {"php": ">=8.1", "psr/log": "^2.0 || ^3.0"},
            "type": "library",
            "notification-url": "https://packagist.org/downloads/",
            "license": ["MIT"],
            "time": "2023-06-21T08:46:11+00:00"
        },
        {
            "name": "psr/log",
            "version": "3.0.0",
            "dist": {"type": "zip", "url": "https://api.github.com/repos/php-fig/log/zipball/fe5ea303b0887d5caefd3d431c3e61ad47037001", "reference": "fe5ea303b0887d5caefd3d431c3e61ad47037001", "shasum": ""},
            "type": "library",
            "license": ["MIT"]
        },
        {
            "name": "acme/internal",
            "version": "dev-main",
            "dist": {"type": "path", "url": "../packages/internal", "reference": "abc"},
            "type": "library",
            "license": "proprietary"
        }
    ],
    "packages-dev": [
        {
            "name": "doctrine/deprecations",
            "version": "v1.1.1",
            "dist": {"type": "zip", "url": "https://api.github.com/repos/doctrine/deprecations/zipball/612a3ee5ab0d5dd97b7cf3874a6efe24325efac3", "reference": "612a3ee5ab0d5dd97b7cf3874a6efe24325efac3", "shasum": ""},
            "type": "library",
            "license": ["MIT"]
        },
        {
            "name": "nikic/php-parser",
            "version": "v4.17.1",
            "type": "library",
            "license": ["BSD-3-Clause"]
        }
    ],
    "aliases": [],
    "minimum-stability": "stable",
    "stability-flags": [],
    "prefer-stable": false,
    "prefer-lowest": false,
    "platform": [],
    "platform-dev": [],
    "plugin-api-version": "2.3.0"
}`

// installedV2 has the shape of the same project's
// vendor/composer/installed.json (Composer 2): packages with
// version_normalized and install-path, "dev" and "dev-package-names";
// composer install --no-dev would have left out the dev packages, as here
// for nikic/php-parser.
const installedV2 = `{
    "packages": [
        {
            "name": "doctrine/deprecations",
            "version": "v1.1.1",
            "version_normalized": "1.1.1.0",
            "dist": {"type": "zip", "url": "https://api.github.com/repos/doctrine/deprecations/zipball/612a3ee5ab0d5dd97b7cf3874a6efe24325efac3", "reference": "612a3ee5ab0d5dd97b7cf3874a6efe24325efac3", "shasum": ""},
            "time": "2023-06-03T09:27:29+00:00",
            "type": "library",
            "installation-source": "dist",
            "notification-url": "https://packagist.org/downloads/",
            "license": ["MIT"],
            "install-path": "../doctrine/deprecations"
        },
        {
            "name": "monolog/monolog",
            "version": "3.4.0",
            "version_normalized": "3.4.0.0",
            "require": {"php": ">=8.1", "psr/log": "^2.0 || ^3.0"},
            "type": "library",
            "installation-source": "dist",
            "license": ["MIT"],
            "install-path": "../monolog/monolog"
        },
        {
            "name": "psr/log",
            "version": "3.0.0",
            "version_normalized": "3.0.0.0",
            "type": "library",
            "license": ["MIT"],
            "install-path": "../psr/log"
        }
    ],
    "dev": true,
    "dev-package-names": [
        "doctrine/deprecations"
    ]
}`

// installedV1 is Composer 1's installed.json: a bare array of the same
// package objects, without dev information.
const installedV1 = `[
    {
        "name": "monolog/monolog",
        "version": "3.4.0",
        "version_normalized": "3.4.0.0",
        "type": "library",
        "installation-source": "dist",
        "license": ["MIT"]
    },
    {
        "name": "Doctrine/Deprecations",
        "version": "v1.1.1",
        "version_normalized": "1.1.1.0",
        "type": "library",
        "license": ["MIT"]
    }
]`

func summary(ps []customs.Package) string {
	var out []string
	for _, p := range ps {
		s := fmt.Sprintf("%s@%s %s %v", p.Name, p.Version, p.PURL, p.Licenses)
		keys := make([]string, 0, len(p.Metadata))
		for k := range p.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s += " " + k + "=" + p.Metadata[k]
		}
		if p.Ecosystem == "" {
			s += " (no ecosystem)"
		} else if p.Ecosystem != "Packagist" {
			s += " ecosystem " + p.Ecosystem
		}
		if len(p.Locations) > 0 {
			s += " " + p.Locations[0]
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func TestParseLock(t *testing.T) {
	ps, err := php.ParseLock([]byte(composerLock))
	if err != nil {
		t.Fatal(err)
	}
	want := `acme/internal@dev-main pkg:composer/acme/internal@dev-main [proprietary] source=path+../packages/internal (no ecosystem)
doctrine/deprecations@1.1.1 pkg:composer/doctrine/deprecations@1.1.1 [MIT] dev=true version_raw=v1.1.1
monolog/monolog@3.4.0 pkg:composer/monolog/monolog@3.4.0 [MIT]
nikic/php-parser@4.17.1 pkg:composer/nikic/php-parser@4.17.1 [BSD-3-Clause] dev=true version_raw=v4.17.1
psr/log@3.0.0 pkg:composer/psr/log@3.0.0 [MIT]`
	if got := summary(ps); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestParseInstalled(t *testing.T) {
	ps, devKnown, err := php.ParseInstalled([]byte(installedV2))
	if err != nil || !devKnown {
		t.Fatal(err, devKnown)
	}
	want := `doctrine/deprecations@1.1.1 pkg:composer/doctrine/deprecations@1.1.1 [MIT] dev=true version_raw=v1.1.1
monolog/monolog@3.4.0 pkg:composer/monolog/monolog@3.4.0 [MIT]
psr/log@3.0.0 pkg:composer/psr/log@3.0.0 [MIT]`
	if got := summary(ps); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	ps, devKnown, err = php.ParseInstalled([]byte("\ufeff" + installedV1))
	if err != nil || devKnown || len(ps) != 2 || ps[1].Name != "doctrine/deprecations" {
		t.Fatalf("%+v %v %v", ps, devKnown, err)
	}
}

func inventory(t *testing.T, layers ...[]testimage.File) *customs.Inventory {
	t.Helper()
	return catalogertest.Files(t, []inspect.Cataloger{php.Cataloger{}}, layers...)
}

// TestInstalledWins: in a project with both files, installed.json is what
// is reported (the lock's packages-dev that were not installed are not);
// for Composer 1 the lock marks dev; a lock alone is reported as locked; a
// package's own composer.lock under vendor/ is not the image's.
func TestInstalledWins(t *testing.T) {
	inv := inventory(t,
		[]testimage.File{
			{Name: "srv/app/composer.lock", Body: composerLock},
			{Name: "srv/app/vendor/composer/installed.json", Body: installedV2},
			{Name: "srv/app/vendor/monolog/monolog/composer.lock", Body: composerLock},
			{Name: "srv/old/composer.lock", Body: composerLock},
			{Name: "srv/old/vendor/composer/installed.json", Body: installedV1},
			{Name: "srv/locked/composer.lock", Body: `{"packages": [{"name": "psr/log", "version": "1.1.4", "license": ["MIT"]}]}`},
		},
	)
	want := `doctrine/deprecations@1.1.1 pkg:composer/doctrine/deprecations@1.1.1 [MIT] dev=true version_raw=v1.1.1 /srv/app/vendor/composer/installed.json
doctrine/deprecations@1.1.1 pkg:composer/doctrine/deprecations@1.1.1 [MIT] dev=true version_raw=v1.1.1 /srv/old/vendor/composer/installed.json
monolog/monolog@3.4.0 pkg:composer/monolog/monolog@3.4.0 [MIT] /srv/app/vendor/composer/installed.json
monolog/monolog@3.4.0 pkg:composer/monolog/monolog@3.4.0 [MIT] /srv/old/vendor/composer/installed.json
psr/log@1.1.4 pkg:composer/psr/log@1.1.4 [MIT] /srv/locked/composer.lock
psr/log@3.0.0 pkg:composer/psr/log@3.0.0 [MIT] /srv/app/vendor/composer/installed.json`
	if got := summary(inv.Packages); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Deleting vendor/ in a later layer leaves the lock file's view.
	inv = inventory(t,
		[]testimage.File{
			{Name: "app/composer.lock", Body: composerLock},
			{Name: "app/vendor/composer/installed.json", Body: installedV2},
		},
		[]testimage.File{{Name: "app/.wh.vendor"}},
	)
	if len(inv.Packages) != 5 || inv.Packages[0].Locations[0] != "/app/composer.lock" {
		t.Errorf("%s", summary(inv.Packages))
	}
}

func TestWants(t *testing.T) {
	file := &image.Entry{Kind: image.KindFile}
	for p, want := range map[string]bool{
		"composer.lock":                                 true,
		"var/www/html/composer.lock":                    true,
		"vendor/composer/installed.json":                true,
		"var/www/html/vendor/composer/installed.json":   true,
		"var/www/html/vendor/acme/x/composer.lock":      false,
		"vendor/acme/x/composer.lock":                   false,
		"var/www/html/myvendor/composer/installed.json": false,
		"var/www/html/composer.json":                    false,
		"var/www/html/xcomposer.lock":                   false,
	} {
		if got := (php.Cataloger{}).Wants(p, file); got != want {
			t.Errorf("Wants(%s) = %v", p, got)
		}
	}
}

func TestNormalizeVersion(t *testing.T) {
	for in, want := range map[string]string{"v1.2.3": "1.2.3", "V2.0": "2.0", "1.0.0": "1.0.0", "dev-main": "dev-main", "v": "v", "vx": "vx"} {
		if got := php.NormalizeVersion(in); got != want {
			t.Errorf("NormalizeVersion(%q) = %q", in, got)
		}
	}
}

func TestOversizedFileIsSkippedWithWarning(t *testing.T) {
	f := &inspect.File{Path: "app/vendor/composer/installed.json", Entry: &image.Entry{Kind: image.KindFile}}
	big := strings.NewReader(strings.Repeat(" ", 64<<20+10))
	out, err := (php.Cataloger{}).Parse(context.Background(), f, big)
	if err != nil || len(out.Packages) != 0 || len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "installed.json over 64 MiB") {
		t.Fatalf("%+v %v", out, err)
	}
	if big.Len() < 8 {
		t.Error("read the whole file")
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{composerLock, installedV2, installedV1, `{"packages":[{"name":"a/b","version":"v1","license":"MIT"}]}`, `[{"name":"A/B"}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		check := func(ps []customs.Package) {
			for _, p := range ps {
				if p.Name == "" || p.Version == "" || strings.Count(p.Name, "/") != 1 || p.Name != strings.ToLower(p.Name) || p.Type != customs.TypeComposer {
					t.Fatalf("bad package %+v", p)
				}
			}
		}
		if ps, err := php.ParseLock([]byte(in)); err == nil {
			check(ps)
		}
		if ps, _, err := php.ParseInstalled([]byte(in)); err == nil {
			check(ps)
		}
	})
}

// composerShow runs Composer (offline) in a project directory and returns
// what it lists: "name version dev" per package. locked reads composer.lock
// (show --locked); otherwise vendor/composer/installed.json (show), with the
// dev flag from the difference to show --no-dev.
func composerShow(t *testing.T, dir string, locked bool) []string {
	t.Helper()
	composer := testimage.Require(t, "composer")
	run := func(args ...string) map[string]string {
		cmd := exec.Command(composer, append(args, "--format=json", "--no-interaction", "--no-plugins")...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "COMPOSER_HOME="+filepath.Join(dir, ".composer-home"), "COMPOSER_DISABLE_NETWORK=1", "COMPOSER_ALLOW_SUPERUSER=1", "COMPOSER_NO_AUDIT=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("composer %v: %v", args, err)
		}
		var res map[string][]struct{ Name, Version string }
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("composer %v: %v\n%s", args, err, out)
		}
		m := map[string]string{}
		for _, l := range res {
			for _, p := range l {
				m[p.Name] = p.Version
			}
		}
		return m
	}
	base := []string{"show"}
	if locked {
		base = append(base, "--locked")
	}
	all, prod := run(base...), run(append(base, "--no-dev")...)
	var out []string
	for n, v := range all {
		_, isProd := prod[n]
		out = append(out, fmt.Sprintf("%s %s %v", n, v, !isProd))
	}
	sort.Strings(out)
	return out
}

// composerLicenses is `composer licenses` over the installed packages.
func composerLicenses(t *testing.T, dir string) map[string]string {
	t.Helper()
	composer := testimage.Require(t, "composer")
	cmd := exec.Command(composer, "licenses", "--format=json", "--no-interaction", "--no-plugins")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COMPOSER_HOME="+filepath.Join(dir, ".composer-home"), "COMPOSER_DISABLE_NETWORK=1", "COMPOSER_ALLOW_SUPERUSER=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("composer licenses: %v", err)
	}
	var res struct {
		Dependencies map[string]struct{ License []string }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for n, d := range res.Dependencies {
		m[n] = strings.Join(d.License, ",")
	}
	return m
}

// project writes a Composer project: composer.json, the lock file and,
// when installed is set, vendor/composer/installed.json with a directory
// for each package (Composer lists only packages whose directory exists).
func project(t *testing.T, lock, installed string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("composer.json", `{"name": "acme/app", "require": {"monolog/monolog": "^3.4"}, "require-dev": {"doctrine/deprecations": "^1.1"}}`)
	if lock != "" {
		write("composer.lock", lock)
	}
	if installed != "" {
		write("vendor/composer/installed.json", installed)
		var list []struct{ Name string }
		var v2 struct{ Packages []struct{ Name string } }
		if json.Unmarshal([]byte(installed), &list) != nil {
			json.Unmarshal([]byte(installed), &v2)
			list = v2.Packages
		}
		for _, p := range list {
			if err := os.MkdirAll(filepath.Join(dir, "vendor", filepath.FromSlash(p.Name)), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func asShown(ps []customs.Package) []string {
	var out []string
	for _, p := range ps {
		v := p.Version
		if raw := p.Metadata["version_raw"]; raw != "" {
			v = raw
		}
		out = append(out, fmt.Sprintf("%s %s %v", p.Name, v, p.Metadata["dev"] == "true"))
	}
	sort.Strings(out)
	return out
}

// TestMatchesComposer compares the parsers with Composer's own reading of
// the same files: show --locked for composer.lock, show for a Composer 2
// installed.json (dev from dev-package-names), and licenses.
func TestMatchesComposer(t *testing.T) {
	dir := project(t, composerLock, "")
	locked, err := php.ParseLock([]byte(composerLock))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := asShown(locked), composerShow(t, dir, true); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("composer.lock:\n got %v\nwant %v (composer show --locked)", got, want)
	}
	dir = project(t, composerLock, installedV2)
	installed, devKnown, err := php.ParseInstalled([]byte(installedV2))
	if err != nil || !devKnown {
		t.Fatal(err, devKnown)
	}
	if got, want := asShown(installed), composerShow(t, dir, false); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("installed.json:\n got %v\nwant %v (composer show)", got, want)
	}
	lic := composerLicenses(t, dir)
	if len(lic) != len(installed) {
		t.Errorf("composer licenses lists %d packages, parsed %d", len(lic), len(installed))
	}
	for _, p := range installed {
		if got := strings.Join(p.Licenses, ","); got != lic[p.Name] {
			t.Errorf("%s: licenses %q, composer says %q", p.Name, got, lic[p.Name])
		}
		if want := "pkg:composer/" + p.Name + "@" + p.Version; p.PURL != want || p.Ecosystem != "Packagist" {
			t.Errorf("%s: purl %s ecosystem %q", p.Name, p.PURL, p.Ecosystem)
		}
	}
	// Composer 1's installed.json (an array): the same set of names and
	// versions (dev is not recorded there; Collect takes it from the lock).
	dir = project(t, composerLock, installedV1)
	installed, devKnown, err = php.ParseInstalled([]byte(installedV1))
	if err != nil || devKnown {
		t.Fatal(err, devKnown)
	}
	var got, want []string
	for _, s := range asShown(installed) {
		got = append(got, strings.TrimSuffix(s, " false"))
	}
	for _, s := range composerShow(t, dir, false) {
		want = append(want, strings.TrimSuffix(strings.TrimSuffix(s, " true"), " false"))
	}
	// Composer prints a name as the file spells it; Packagist names are
	// lower case, as the parser reports them.
	if strings.Join(got, "\n") != strings.ToLower(strings.Join(want, "\n")) {
		t.Errorf("Composer 1 installed.json:\n got %v\nwant %v (composer show)", got, want)
	}
}
