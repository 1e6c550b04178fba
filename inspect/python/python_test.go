package python_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/python"
	"github.com/customs-sec/customs/internal/catalogertest"
	"github.com/customs-sec/customs/internal/testimage"
)

func inventory(t *testing.T, layers ...[]testimage.File) *customs.Inventory {
	t.Helper()
	return catalogertest.Files(t, []inspect.Cataloger{python.Cataloger{}}, layers...)
}

// distTruth is what Python's importlib.metadata reports for a directory on
// sys.path: every distribution with its name, version and the license
// fields, so names, versions and licenses are compared with Python's own
// reading of the same files.
type distTruth struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Expr        string   `json:"expr"`
	License     string   `json:"license"`
	Classifiers []string `json:"classifiers"`
}

const importlibScript = `
import importlib.metadata as m, json, sys
out = []
for d in m.distributions(path=[sys.argv[1]]):
    md = d.metadata
    out.append({"name": md["Name"] or "", "version": d.version or "",
                "expr": md.get("License-Expression") or "", "license": md.get("License") or "",
                "classifiers": md.get_all("Classifier") or []})
print(json.dumps(out))
`

func importlibDists(t *testing.T, dir string) []distTruth {
	t.Helper()
	py := testimage.Require(t, "python3")
	out, err := exec.Command(py, "-c", importlibScript, dir).Output()
	if err != nil {
		t.Fatalf("importlib.metadata over %s: %v", dir, err)
	}
	var ds []distTruth
	if err := json.Unmarshal(out, &ds); err != nil {
		t.Fatal(err)
	}
	return ds
}

// wantLicenses applies the cataloger's documented preference to the fields
// Python read: License-Expression, else a one-line License of at most 128
// bytes, else the classifiers' license names.
func wantLicenses(d distTruth) []string {
	if d.Expr != "" {
		return []string{d.Expr}
	}
	l := strings.TrimSpace(d.License)
	switch strings.ToLower(l) {
	case "", "unknown", "none", "n/a":
	default:
		if !strings.Contains(l, "\n") && len(l) <= 128 {
			return []string{l}
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range d.Classifiers {
		rest, ok := strings.CutPrefix(c, "License ::")
		if !ok {
			continue
		}
		parts := strings.Split(rest, "::")
		if last := strings.TrimSpace(parts[len(parts)-1]); len(parts) > 1 && last != "" && !seen[last] {
			seen[last] = true
			out = append(out, last)
		}
	}
	return out
}

// metadataFiles copies a real site-packages tree's metadata (every file of
// every *.dist-info and *.egg-info directory, and single-file .egg-info) into
// layer entries at the same absolute paths.
func metadataFiles(t *testing.T, dir string) []testimage.File {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	rel := strings.TrimPrefix(dir, "/")
	var files []testimage.File
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".dist-info") && !strings.HasSuffix(n, ".egg-info") {
			continue
		}
		p := filepath.Join(dir, n)
		if !e.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, testimage.File{Name: rel + "/" + n, Body: string(b)})
			continue
		}
		sub, err := os.ReadDir(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sub {
			if s.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(p, s.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, testimage.File{Name: rel + "/" + n + "/" + s.Name(), Body: string(b)})
		}
	}
	return files
}

// TestInstalledTreesMatchImportlib builds an image from the metadata of this
// machine's real installed Python trees (Debian's dist-packages and every
// pyenv site-packages) and compares the inventory with what
// importlib.metadata reports for the same directories.
func TestInstalledTreesMatchImportlib(t *testing.T) {
	dirs := []string{"/usr/lib/python3/dist-packages"}
	more, _ := filepath.Glob("/root/.pyenv/versions/*/lib/python3*/site-packages")
	dirs = append(dirs, more...)
	var layer []testimage.File
	var truth []distTruth
	compared := 0
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		layer = append(layer, metadataFiles(t, d)...)
		for _, dt := range importlibDists(t, d) {
			dt.Name = d + "\x00" + dt.Name // keep the tree, to compare per tree
			truth = append(truth, dt)
		}
	}
	if len(truth) == 0 {
		t.Skip("no installed Python distributions on this machine")
	}
	inv := inventory(t, layer)
	got := map[string][]customs.Package{}
	for _, p := range inv.Packages {
		dir := path.Dir(p.Locations[0])
		if b := path.Base(p.Locations[0]); b == "METADATA" || b == "PKG-INFO" {
			dir = path.Dir(dir)
		}
		got[dir+"\x00"+p.Name+"@"+p.Version] = append(got[dir+"\x00"+p.Name+"@"+p.Version], p)
		if p.Ecosystem != "PyPI" || p.Type != "pypi" || p.PURL != "pkg:pypi/"+p.Name+"@"+p.Version {
			t.Errorf("%s: ecosystem %q purl %q", p.Name, p.Ecosystem, p.PURL)
		}
	}
	want := map[string]int{}
	for _, d := range truth {
		dir, name, _ := strings.Cut(d.Name, "\x00")
		key := dir + "\x00" + python.NormalizeName(name) + "@" + d.Version
		want[key]++
		compared++
		ps := got[key]
		if len(ps) == 0 {
			continue
		}
		if l := wantLicenses(d); strings.Join(ps[0].Licenses, "|") != strings.Join(l, "|") {
			t.Errorf("%s: licenses %q, want %q", key, ps[0].Licenses, l)
		}
		if name != ps[0].Name && ps[0].Metadata["name"] != name {
			t.Errorf("%s: original name %q not kept (%v)", key, name, ps[0].Metadata)
		}
	}
	for k, n := range want {
		if len(got[k]) != n {
			t.Errorf("%q: %d found, importlib lists %d", k, len(got[k]), n)
		}
	}
	for k := range got {
		if want[k] == 0 {
			t.Errorf("%q found, importlib does not list it", k)
		}
	}
	if len(inv.Warnings) > 0 {
		t.Errorf("warnings: %v", inv.Warnings)
	}
	t.Logf("compared %d installed distributions in %d trees with importlib.metadata", compared, len(dirs))
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"Django": "django", "zope.interface": "zope-interface", "ruamel.yaml.clib": "ruamel-yaml-clib",
		"typing_extensions": "typing-extensions", "A-_.b": "a-b", "pyOpenSSL": "pyopenssl",
	} {
		if got := python.NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWants(t *testing.T) {
	file := &image.Entry{Kind: image.KindFile}
	for p, want := range map[string]bool{
		"usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA":    true,
		"usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO":          true,
		"usr/lib/python3.11/site-packages/distro-1.0.egg-info":                true,
		"usr/lib/python3.6/site-packages/six-1.0-py3.6.egg/EGG-INFO/PKG-INFO": true,
		"app/requirements.txt":     true,
		"app/requirements-dev.txt": true,
		"app/poetry.lock":          true,
		"app/Pipfile.lock":         true,
		"uv.lock":                  true,
		"srv/pdm.lock":             true,
		"usr/lib/python3/dist-packages/x/pdm.lock":             false,
		"usr/lib/python3/dist-packages/foo/requirements.txt":   false,
		"usr/local/lib/python3.12/site-packages/x/poetry.lock": false,
		"app/METADATA":        false,
		"src/pkg/PKG-INFO":    false,
		"app/requirements.in": false,
	} {
		if got := (python.Cataloger{}).Wants(p, file); got != want {
			t.Errorf("Wants(%s) = %v", p, got)
		}
	}
	if (python.Cataloger{}).Wants("app/uv.lock", &image.Entry{Kind: image.KindDir}) {
		t.Error("wants a directory")
	}
}

func TestParseMetadata(t *testing.T) {
	// Metadata 2.4 with License-Expression, a folded header and a body that
	// must not be read as headers.
	in := "Metadata-Version: 2.4\nName: Flask_Cors\nVersion: 6.0.2\nLicense-Expression: MIT\n" +
		"Classifier: License :: OSI Approved :: MIT License\nDescription-Content-Type: text/markdown\n\n" +
		"Name: not-this\nVersion: 0\n"
	p, warns, err := python.ParseMetadata(strings.NewReader(in))
	if err != nil || len(warns) > 0 {
		t.Fatal(err, warns)
	}
	if p.Name != "flask-cors" || p.Version != "6.0.2" || p.Metadata["name"] != "Flask_Cors" ||
		strings.Join(p.Licenses, ",") != "MIT" || p.PURL != "pkg:pypi/flask-cors@6.0.2" {
		t.Errorf("%+v", p)
	}
	// A License header holding the license text itself falls back to classifiers.
	in = "Metadata-Version: 2.1\nName: x\nVersion: 1.0\nLicense: Copyright (c) 2020\n        Permission is hereby granted\n" +
		"Classifier: License :: OSI Approved :: BSD License\nClassifier: License :: OSI Approved\n"
	if p, _, err = python.ParseMetadata(strings.NewReader(in)); err != nil || strings.Join(p.Licenses, ",") != "BSD License" {
		t.Errorf("%+v %v", p, err)
	}
	for _, bad := range []string{"", "Name: x\n", "Version: 1\n", "Name: bad name\nVersion: 1\n", "Name: x\nVersion: 1 2\n"} {
		if _, _, err := python.ParseMetadata(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestParseRequirements(t *testing.T) {
	in := `# comment
requests==2.28.1
Django[argon2]==4.2.3 ; python_version >= "3.8"
urllib3===1.26.16 \
    --hash=sha256:8d36afa7616d8ab714608411b4a3b13e58f463aee519024578e062e141dce20f
flask>=2.0
jinja2
numpy==1.*
pkg==1.0,<2
-r base.txt
-e git+https://github.com/org/repo.git#egg=repo
--index-url https://example.com/simple
pip @ https://example.com/pip.whl
zope.interface == 6.0  # pinned
`
	ps, err := python.ParseRequirements([]byte(in), false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Name+"@"+p.Version)
		if p.Metadata["dev"] != "" || p.Ecosystem != "PyPI" {
			t.Errorf("%+v", p)
		}
	}
	if want := "requests@2.28.1 django@4.2.3 urllib3@1.26.16 zope-interface@6.0"; strings.Join(got, " ") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, " "), want)
	}
	ps, _ = python.ParseRequirements([]byte("pytest==7.4.0\n"), true)
	if len(ps) != 1 || ps[0].Metadata["dev"] != "true" {
		t.Errorf("%+v", ps)
	}
}

// poetryLegacy has the shape of a Poetry 1.1 lock (category per package),
// as in github.com/01protocol/zo-sdk-py poetry.lock.
const poetryLegacy = `[[package]]
name = "anchorpy"
version = "0.8.1"
description = "The Python Anchor client."
category = "main"
optional = false
python-versions = ">=3.9,<4.0"

[package.dependencies]
apischema = ">=0.16.6,<0.17.0"

[package.extras]
cli = ["typer (>=0.4.0,<0.5.0)", "ipython (>=8.0.1,<9.0.0)"]

[[package]]
name = "black"
version = "22.3.0"
description = "The uncompromising code formatter."
category = "dev"
optional = false
python-versions = ">=3.6.2"

[package.dependencies]
tomli = {version = ">=1.1.0", markers = "python_version < \"3.11\""}

[metadata]
lock-version = "1.1"
python-versions = "^3.9"
content-hash = "4d6e3c1a"

[metadata.files]
anchorpy = [
    {file = "anchorpy-0.8.1-py3-none-any.whl", hash = "sha256:0c2d"},
]
`

// poetryGroups has the shape of a Poetry 2 lock (groups per package, a
// directory source), as in github.com/google/osv.dev
// gcp/workers/worker/poetry.lock.
const poetryGroups = `# This file is automatically @generated by Poetry 2.2.1 and should not be changed by hand.

[[package]]
name = "absl-py"
version = "2.3.1"
description = "Abseil Python Common Libraries, see https://github.com/abseil/abseil-py."
optional = false
python-versions = ">=3.8"
groups = ["main"]
files = [
    {file = "absl_py-2.3.1-py3-none-any.whl", hash = "sha256:eeecf07f0c2a93ace0772c92e596ace6d3d3996c042b2128459aaae2a76de11d"},
    {file = "absl_py-2.3.1.tar.gz", hash = "sha256:a97820526f7fbfd2ec1bce83f3f25e3a14840dac0d8e02a0b71cd75db3f77fc9"},
]

[[package]]
name = "astroid"
version = "4.0.3"
description = "An abstract syntax tree for Python with inference support."
optional = false
python-versions = ">=3.10.0"
groups = ["dev"]
files = [
    {file = "astroid-4.0.3-py3-none-any.whl", hash = "sha256:864a0a34af1bd70e1049ba1e61cee843a7252c826d97825fcee9b2fcbd9e1b14"},
]

[[package]]
name = "cffi"
version = "2.0.0"
description = "Foreign Function Interface for Python calling C code."
optional = false
python-versions = ">=3.9"
groups = ["main", "dev"]
markers = "platform_python_implementation != \"PyPy\""
files = [
    {file = "cffi-2.0.0.tar.gz", hash = "sha256:44d1b5909021139fe36001ae048dbdde8214afa20200eda0f64c068cac5d5529"},
]

[package.dependencies]
pycparser = {version = "*", markers = "implementation_name != \"PyPy\""}

[[package]]
name = "osv"
version = "0.0.22"
description = "Open Source Vulnerabilities library"
optional = false
python-versions = ">=3.11"
groups = ["main"]
files = []
develop = true

[package.source]
type = "directory"
url = "../../.."

[metadata]
lock-version = "2.1"
python-versions = ">=3.11,<4.0"
content-hash = "8604fd1238bb6733970e9156e6113cc8b3e6aa3306bb318b690972d93648db51"
`

// pipfileLock has the shape of github.com/juiceinc/recipe Pipfile.lock
// (an editable entry without a version, hashes, markers).
const pipfileLock = `{
    "_meta": {
        "hash": {"sha256": "2f6c956d29af4122814075826d5ba71f3e17eefa2d087b6681755b2b80b8e941"},
        "pipfile-spec": 6,
        "requires": {},
        "sources": [{"name": "pypi", "url": "https://pypi.python.org/simple", "verify_ssl": true}]
    },
    "default": {
        "4d34739": {"editable": true, "path": "/Users/jasonmyers/dev/recipe"},
        "aspy.yaml": {"hashes": ["sha256:be70cc0ccd1ee1d30f589f2403792eb2ffa7546470af0a17179541b13d8374df"], "version": "==1.0.0"},
        "certifi": {"hashes": ["sha256:54a07c09c586b0e4c619f02a5e94e36619da8e2b053e20f594348c0611803704"], "version": "==2017.7.27.1"},
        "requests": {"git": "https://github.com/psf/requests.git", "ref": "abc"}
    },
    "develop": {
        "certifi": {"version": "==2017.7.27.1"},
        "pytest": {"hashes": ["sha256:ab"], "markers": "python_version >= '3.5'", "version": "==6.2.2"}
    }
}`

// uvLock has the shape of github.com/aekasitt/fastapi-csrf-protect uv.lock:
// the project itself (editable) with dependencies, optional and dev
// dependencies, registry packages with sdist and wheels, plus a git source.
const uvLock = `version = 1
requires-python = ">=3.8"
resolution-markers = [
    "python_full_version < '3.13'",
    "python_full_version >= '3.13'",
]

[[package]]
name = "anyio"
version = "4.5.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "idna" },
    { name = "sniffio" },
]
sdist = { url = "https://files.pythonhosted.org/packages/a0/44/anyio-4.5.0.tar.gz", hash = "sha256:c5a275fe5ca0afd788001f58fca1e69e29ce706d746e317d660e21f70c530ef9", size = 169376 }
wheels = [
    { url = "https://files.pythonhosted.org/packages/3b/68/anyio-4.5.0-py3-none-any.whl", hash = "sha256:fdeb095b7cc5a5563175eedd926ec4ae55413bb4be5770c424af0ba46ccb4a78", size = 89250 },
]

[[package]]
name = "fastapi-csrf-protect"
version = "1.0.0"
source = { editable = "." }
dependencies = [
    { name = "itsdangerous" },
]

[package.optional-dependencies]
examples = [
    { name = "jinja2" },
]

[package.dev-dependencies]
dev = [
    { name = "httpx" },
    { name = "pytest" },
]

[package.metadata]
requires-dist = [
    { name = "itsdangerous", specifier = ">=2.0.1,<3.0.0" },
    { name = "jinja2", marker = "extra == 'examples'", specifier = ">=3.0.1" },
]

[package.metadata.requires-dev]
dev = [
    { name = "httpx", specifier = ">=0.24.1" },
    { name = "pytest", specifier = ">=7.3.1" },
]

[[package]]
name = "httpx"
version = "0.27.2"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "anyio" },
    { name = "idna" },
]

[[package]]
name = "idna"
version = "3.10"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "itsdangerous"
version = "2.2.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "jinja2"
version = "3.1.4"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "markupsafe" },
]

[[package]]
name = "markupsafe"
version = "2.1.5"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "pytest"
version = "8.3.3"
source = { git = "https://github.com/pytest-dev/pytest?rev=8.3.3#abcdef" }

[[package]]
name = "sniffio"
version = "1.3.1"
source = { registry = "https://pypi.org/simple" }
`

func summary(ps []customs.Package) string {
	var out []string
	for _, p := range ps {
		s := p.Name + "@" + p.Version
		keys := make([]string, 0, len(p.Metadata))
		for k := range p.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s += fmt.Sprintf(" %s=%s", k, p.Metadata[k])
		}
		if p.Ecosystem == "" {
			s += " (no ecosystem)"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// pdmLock has the shape of a PDM 2 lock (format 4.4, with per-package
// groups): a default package, a dev-only one, one in both, a git
// dependency, and a name in a non-normalized spelling.
const pdmLock = `# This file is @generated by PDM.
# It is not intended for manual editing.

[metadata]
groups = ["default", "dev"]
strategy = ["inherit_metadata"]
lock_version = "4.4.1"
content_hash = "sha256:0a1b"

[[package]]
name = "certifi"
version = "2024.2.2"
requires_python = ">=3.6"
summary = "Python package for providing Mozilla's CA Bundle."
groups = ["default"]
files = [
    {file = "certifi-2024.2.2-py3-none-any.whl", hash = "sha256:dc383c07b76109f368f6106eee2b593b04a011ea4d55f652c6ca24a754d1cdd1"},
]

[[package]]
name = "pytest"
version = "8.0.2"
requires_python = ">=3.8"
groups = ["dev"]
dependencies = [
    "iniconfig",
    "packaging",
]

[[package]]
name = "Packaging"
version = "23.2"
groups = ["default", "dev"]

[[package]]
name = "mylib"
version = "0.3.0"
git = "https://github.com/acme/mylib.git"
revision = "4f2a9c1"
groups = ["default"]
`

func TestLockFiles(t *testing.T) {
	for _, c := range []struct {
		name  string
		parse func([]byte) ([]customs.Package, error)
		in    string
		want  string
	}{
		{"poetry 1.1", python.ParsePoetryLock, poetryLegacy, "anchorpy@0.8.1\nblack@22.3.0 dev=true"},
		{"poetry 2", python.ParsePoetryLock, poetryGroups,
			"absl-py@2.3.1\nastroid@4.0.3 dev=true\ncffi@2.0.0\nosv@0.0.22 source=directory+../../.. (no ecosystem)"},
		{"Pipfile.lock", python.ParsePipfileLock, pipfileLock,
			"aspy-yaml@1.0.0 name=aspy.yaml\ncertifi@2017.7.27.1\ncertifi@2017.7.27.1 dev=true\npytest@6.2.2 dev=true"},
		{"uv.lock", python.ParseUVLock, uvLock,
			"anyio@4.5.0 dev=true\nhttpx@0.27.2 dev=true\nidna@3.10 dev=true\nitsdangerous@2.2.0\njinja2@3.1.4\nmarkupsafe@2.1.5\n" +
				"pytest@8.3.3 dev=true source=git+https://github.com/pytest-dev/pytest?rev=8.3.3#abcdef (no ecosystem)\nsniffio@1.3.1 dev=true"},
		{"pdm.lock", python.ParsePDMLock, pdmLock,
			"certifi@2024.2.2\nmylib@0.3.0 source=git+https://github.com/acme/mylib.git@4f2a9c1 (no ecosystem)\npackaging@23.2 name=Packaging\npytest@8.0.2 dev=true"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps, err := c.parse([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(ps); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

// TestPipeline runs the whole pipeline: an installed distribution, a
// single-file egg-info, lock files, a distribution a later layer deleted,
// and a lock file inside site-packages that is not the image's.
func TestPipeline(t *testing.T) {
	meta := func(name, version string) string {
		return "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nLicense: MIT\n\nbody\n"
	}
	inv := inventory(t,
		[]testimage.File{
			{Name: "usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA", Body: meta("requests", "2.28.1")},
			{Name: "usr/lib/python3/dist-packages/old-1.0.dist-info/METADATA", Body: meta("old", "1.0")},
			{Name: "usr/lib/python3.11/site-packages/distro-1.0.egg-info", Body: meta("distro", "1.0")},
			{Name: "usr/lib/python3.11/site-packages/x/poetry.lock", Body: poetryLegacy},
			{Name: "app/poetry.lock", Body: poetryLegacy},
			{Name: "app/requirements.txt", Body: "requests==2.28.1\n"},
		},
		[]testimage.File{{Name: "usr/lib/python3/dist-packages/.wh.old-1.0.dist-info"}},
	)
	var got []string
	for _, p := range inv.Packages {
		got = append(got, fmt.Sprintf("%s@%s %s layer%d %v", p.Name, p.Version, p.Locations[0], p.Layer.Index, p.Licenses))
	}
	want := []string{
		"anchorpy@0.8.1 /app/poetry.lock layer0 []",
		"black@22.3.0 /app/poetry.lock layer0 []",
		"distro@1.0 /usr/lib/python3.11/site-packages/distro-1.0.egg-info layer0 [MIT]",
		"requests@2.28.1 /app/requirements.txt layer0 []",
		"requests@2.28.1 /usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA layer0 [MIT]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOversizedLockIsSkippedWithWarning(t *testing.T) {
	f := &inspect.File{Path: "app/poetry.lock", Entry: &image.Entry{Kind: image.KindFile}}
	big := strings.NewReader(strings.Repeat("#", 64<<20+10))
	out, err := (python.Cataloger{}).Parse(context.Background(), f, big)
	if err != nil || len(out.Packages) != 0 || len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "poetry.lock over 64 MiB") {
		t.Fatalf("%+v %v", out, err)
	}
	if big.Len() < 8 {
		t.Errorf("read the whole file")
	}
}
