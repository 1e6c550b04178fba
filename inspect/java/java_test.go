package java_test

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/java"
	"github.com/customs-sec/customs/internal/catalogertest"
	"github.com/customs-sec/customs/internal/testimage"
)

// pomProperties is the file maven-archiver writes into every jar it builds.
func pomProperties(group, artifact, version string) string {
	return "#Created by Apache Maven 3.9.6\ngroupId=" + group + "\nartifactId=" + artifact + "\nversion=" + version + "\n"
}

// makeJar packs files with the JDK's jar tool (stored, like Spring Boot's
// fat jars, when store is set) and returns the archive. manifest, if not
// empty, is merged into the manifest the tool writes.
func makeJar(t *testing.T, files map[string]string, manifest string, store bool) []byte {
	t.Helper()
	jar := testimage.Require(t, "jar")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for name, body := range files {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out.jar")
	args := []string{"--create", "--file", out}
	if store {
		args = append(args, "--no-compress")
	}
	if manifest != "" {
		m := filepath.Join(dir, "manifest.txt")
		if err := os.WriteFile(m, []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--manifest", m)
	}
	args = append(args, "-C", src, ".")
	if b, err := exec.Command(jar, args...).CombinedOutput(); err != nil {
		t.Fatalf("jar %v: %v\n%s", args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const pomXMLWithLicense = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.inner</groupId>
  <artifactId>inner-a</artifactId>
  <version>2.0</version>
  <licenses>
    <license>
      <name>Apache License, Version 2.0</name>
      <url>https://www.apache.org/licenses/LICENSE-2.0.txt</url>
    </license>
  </licenses>
</project>
`

// fixtures builds the archives of a typical Java image with the jar tool.
type fixtures struct {
	innerA, innerB, plain, demo, fat, shaded, war, ear []byte
}

func buildFixtures(t *testing.T) fixtures {
	t.Helper()
	var f fixtures
	f.innerA = makeJar(t, map[string]string{
		"META-INF/maven/org.inner/inner-a/pom.properties": pomProperties("org.inner", "inner-a", "2.0"),
		"META-INF/maven/org.inner/inner-a/pom.xml":        pomXMLWithLicense,
		"org/inner/A.class":                               "\xca\xfe\xba\xbe",
	}, "", false)
	// No pom.properties: identified by its manifest.
	f.innerB = makeJar(t, map[string]string{"org/vendor/B.class": "\xca\xfe\xba\xbe"},
		"Implementation-Title: inner-b\nImplementation-Version: 3.1\nImplementation-Vendor-Id: org.vendor\n", false)
	// Nothing at all: only the file name says what it is.
	f.plain = makeJar(t, map[string]string{"p/P.class": "\xca\xfe\xba\xbe"}, "", false)
	f.demo = makeJar(t, map[string]string{
		"META-INF/maven/com.example/demo/pom.properties": pomProperties("com.example", "demo", "1.0.0"),
		"com/example/Demo.class":                         "\xca\xfe\xba\xbe",
	}, "Bundle-License: Apache-2.0;link=\"https://www.apache.org/licenses/LICENSE-2.0.txt\"\n", false)
	// A Spring Boot fat jar: nested jars stored, read in place.
	f.fat = makeJar(t, map[string]string{
		"META-INF/maven/com.example/fat/pom.properties": pomProperties("com.example", "fat", "0.0.1-SNAPSHOT"),
		"BOOT-INF/classes/com/example/App.class":        "\xca\xfe\xba\xbe",
		"BOOT-INF/lib/inner-a-2.0.jar":                  string(f.innerA),
		"BOOT-INF/lib/inner-b.jar":                      string(f.innerB),
		"BOOT-INF/lib/plain-lib-4.5.6.jar":              string(f.plain),
	}, "Main-Class: org.springframework.boot.loader.launch.JarLauncher\nStart-Class: com.example.App\n", true)
	// A shaded jar: its own pom.properties and a relocated dependency's.
	f.shaded = makeJar(t, map[string]string{
		"META-INF/maven/com.example/shaded/pom.properties": pomProperties("com.example", "shaded", "1.0"),
		"META-INF/maven/org.dep/dep/pom.properties":        pomProperties("org.dep", "dep", "9.9"),
		"com/example/shaded/org/dep/D.class":               "\xca\xfe\xba\xbe",
	}, "Bundle-License: MIT\n", false)
	// A war: WEB-INF/lib jars deflated, read from memory.
	f.war = makeJar(t, map[string]string{
		"META-INF/maven/com.example/webapp/pom.properties": pomProperties("com.example", "webapp", "2.3.4"),
		"WEB-INF/web.xml":                     "<web-app/>",
		"WEB-INF/lib/inner-a-2.0.jar":         string(f.innerA),
		"WEB-INF/lib/demo.jar":                string(f.demo),
		"WEB-INF/classes/com/example/S.class": "\xca\xfe\xba\xbe",
	}, "", false)
	// An ear: the war and a library, two levels of nesting.
	f.ear = makeJar(t, map[string]string{
		"META-INF/application.xml": "<application/>",
		"webapp.war":               string(f.war),
		"lib/plain-lib-4.5.6.jar":  string(f.plain),
	}, "", false)
	return f
}

type row struct {
	name, version, location, confidence string
	layer                               int
}

func rows(pkgs []customs.Package) []row {
	var out []row
	for _, p := range pkgs {
		out = append(out, row{p.Name, p.Version, strings.Join(p.Locations, ","), p.Metadata["confidence"], p.Layer.Index})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].location != out[j].location {
			return out[i].location < out[j].location
		}
		return out[i].name < out[j].name
	})
	return out
}

// TestJarToolArchives builds the fixtures once (every jar run starts a
// JVM) and reads them in each way below.
func TestJarToolArchives(t *testing.T) {
	f := buildFixtures(t)
	t.Run("image", func(t *testing.T) { testImage(t, f) })
	t.Run("launch-script", func(t *testing.T) { testLaunchScript(t, f) })
	t.Run("temporary-files", func(t *testing.T) { testTemporaryFiles(t, f) })
	t.Run("limits", func(t *testing.T) { testLimits(t, f) })
}

func testImage(t *testing.T, f fixtures) {
	layer1 := testimage.LayerTar(t, []testimage.File{
		{Name: "app/", Type: tar.TypeDir},
		{Name: "app/app.jar", Body: string(f.fat)},
		{Name: "app/shaded-1.0.jar", Body: string(f.shaded)},
		{Name: "app/old.jar", Body: string(f.demo)},
		{Name: "app/link.jar", Type: tar.TypeLink, Linkname: "app/app.jar"},
		{Name: "srv/", Type: tar.TypeDir},
		{Name: "srv/APP.EAR", Body: string(f.ear)},
		{Name: "app/README.txt", Body: "not an archive"},
	})
	layer2 := testimage.LayerTar(t, []testimage.File{
		{Name: "app/.wh.old.jar", Body: ""},
		{Name: "srv/webapp.war", Body: string(f.war)},
	})
	inv := catalogertest.Inventory(t, []inspect.Cataloger{java.Cataloger{}}, layer1, layer2)
	if len(inv.Warnings) > 0 {
		t.Errorf("warnings: %v", inv.Warnings)
	}
	var want []row
	fat := func(root string) {
		want = append(want,
			row{"com.example:fat", "0.0.1-SNAPSHOT", root, "", 0},
			row{"org.inner:inner-a", "2.0", root + "!/BOOT-INF/lib/inner-a-2.0.jar", "", 0},
			row{"org.vendor:inner-b", "3.1", root + "!/BOOT-INF/lib/inner-b.jar", "medium", 0},
			row{"plain-lib", "4.5.6", root + "!/BOOT-INF/lib/plain-lib-4.5.6.jar", "low", 0},
		)
	}
	fat("/app/app.jar")
	fat("/app/link.jar")
	want = append(want,
		row{"com.example:shaded", "1.0", "/app/shaded-1.0.jar", "", 0},
		row{"org.dep:dep", "9.9", "/app/shaded-1.0.jar", "", 0},
		row{"plain-lib", "4.5.6", "/srv/APP.EAR!/lib/plain-lib-4.5.6.jar", "low", 0},
		row{"com.example:webapp", "2.3.4", "/srv/APP.EAR!/webapp.war", "", 0},
		row{"com.example:demo", "1.0.0", "/srv/APP.EAR!/webapp.war!/WEB-INF/lib/demo.jar", "", 0},
		row{"org.inner:inner-a", "2.0", "/srv/APP.EAR!/webapp.war!/WEB-INF/lib/inner-a-2.0.jar", "", 0},
		row{"com.example:webapp", "2.3.4", "/srv/webapp.war", "", 1},
		row{"com.example:demo", "1.0.0", "/srv/webapp.war!/WEB-INF/lib/demo.jar", "", 1},
		row{"org.inner:inner-a", "2.0", "/srv/webapp.war!/WEB-INF/lib/inner-a-2.0.jar", "", 1},
	)
	sort.Slice(want, func(i, j int) bool {
		if want[i].location != want[j].location {
			return want[i].location < want[j].location
		}
		return want[i].name < want[j].name
	})
	if got := rows(inv.Packages); !reflect.DeepEqual(got, want) {
		t.Errorf("packages:\n got %v\nwant %v", got, want)
	}
	for _, p := range inv.Packages {
		if p.Type != customs.TypeMaven || p.Ecosystem != "Maven" || p.FoundBy != "java" {
			t.Errorf("%s: type %q ecosystem %q found by %q", p.Name, p.Type, p.Ecosystem, p.FoundBy)
		}
		switch p.Name {
		case "org.inner:inner-a":
			if p.PURL != "pkg:maven/org.inner/inner-a@2.0" || strings.Join(p.Licenses, ",") != "Apache License, Version 2.0" {
				t.Errorf("inner-a: purl %s licenses %v", p.PURL, p.Licenses)
			}
		case "com.example:demo":
			if strings.Join(p.Licenses, ",") != "Apache-2.0" {
				t.Errorf("demo licenses %v (from Bundle-License)", p.Licenses)
			}
		case "com.example:shaded":
			if strings.Join(p.Licenses, ",") != "MIT" {
				t.Errorf("shaded licenses %v", p.Licenses)
			}
		case "org.dep:dep":
			if len(p.Licenses) != 0 {
				t.Errorf("the shaded jar's manifest license was given to its dependency: %v", p.Licenses)
			}
		case "plain-lib":
			if p.PURL != "pkg:maven/plain-lib@4.5.6" {
				t.Errorf("plain-lib purl %s", p.PURL)
			}
		case "org.vendor:inner-b":
			if p.PURL != "pkg:maven/org.vendor/inner-b@3.1" {
				t.Errorf("inner-b purl %s", p.PURL)
			}
		}
	}
}

func TestWants(t *testing.T) {
	c := java.Cataloger{}
	file := &image.Entry{Kind: image.KindFile}
	for p, want := range map[string]bool{
		"app/app.jar": true, "x/Y.JAR": true, "a.war": true, "b.Ear": true, "var/jenkins_home/plugins/git.jpi": true,
		"usr/share/jenkins/x.hpi": true, "jar": false, "app/x.jar.sha1": false, "app/.jar": true, "x.zip": false, "xjar": false,
	} {
		if got := c.Wants(p, file); got != want {
			t.Errorf("Wants(%q) = %v", p, got)
		}
	}
	if c.Wants("a.jar", &image.Entry{Kind: image.KindDir}) || c.Wants("a.jar", &image.Entry{Kind: image.KindSymlink}) {
		t.Error("wants a directory or symlink")
	}
}

// unzipTruth lists what each META-INF/maven/*/*/pom.properties of a jar
// says, read with Info-ZIP's unzip (an independent zip reader) and a plain
// key=value reading of the file.
func unzipTruth(t *testing.T, jar string) []string {
	t.Helper()
	list, err := exec.Command("unzip", "-Z1", jar).Output()
	if err != nil {
		t.Fatalf("unzip -Z1 %s: %v", jar, err)
	}
	var out []string
	for _, name := range strings.Split(string(list), "\n") {
		parts := strings.Split(name, "/")
		if len(parts) != 5 || parts[0] != "META-INF" || parts[1] != "maven" || parts[4] != "pom.properties" {
			continue
		}
		body, err := exec.Command("unzip", "-p", jar, name).Output()
		if err != nil {
			t.Fatalf("unzip -p %s %s: %v", jar, name, err)
		}
		kv := map[string]string{}
		for _, line := range strings.Split(string(body), "\n") {
			line = strings.TrimSpace(line)
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
				kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		out = append(out, kv["groupId"]+":"+kv["artifactId"]+" "+kv["version"])
	}
	sort.Strings(out)
	return out
}

// realJars lists the distinct real files behind the globs.
func realJars(t *testing.T, globs ...string) []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range globs {
		m, _ := filepath.Glob(g)
		for _, p := range m {
			r, err := filepath.EvalSymlinks(p)
			if err != nil || seen[r] {
				continue
			}
			seen[r] = true
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

func TestRealJarsMatchUnzip(t *testing.T) {
	testimage.Require(t, "unzip")
	jars := realJars(t, "/usr/share/maven/lib/*.jar", "/usr/share/java/*.jar")
	if len(jars) == 0 {
		t.Skip("no jars in /usr/share/maven/lib or /usr/share/java")
	}
	withPoms := 0
	for _, jar := range jars {
		want := unzipTruth(t, jar)
		b, err := os.ReadFile(jar)
		if err != nil {
			t.Fatal(err)
		}
		out := java.Cataloger{}.ParseArchive(context.Background(), bytes.NewReader(b), int64(len(b)), jar, "")
		if len(out.Warnings) > 0 {
			t.Errorf("%s: warnings %v", jar, out.Warnings)
		}
		var got []string
		for _, p := range out.Packages {
			if p.Locations[0] != jar {
				t.Errorf("%s: location %v", jar, p.Locations)
			}
			if len(want) > 0 {
				got = append(got, p.Name+" "+p.Version)
			} else if p.Metadata["confidence"] == "" {
				t.Errorf("%s: no pom.properties, yet %s %s is not marked as a guess", jar, p.Name, p.Version)
			}
		}
		if len(want) == 0 {
			// At most a guess, and none when neither the manifest nor the
			// file name carries a version (gettext.jar).
			if len(out.Packages) > 1 {
				t.Errorf("%s: no pom.properties; want at most one guessed package, got %v", jar, rows(out.Packages))
			}
			continue
		}
		withPoms++
		sort.Strings(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v\nwant %v (unzip)", jar, got, want)
		}
	}
	if withPoms < 10 {
		t.Errorf("only %d real jars with pom.properties checked", withPoms)
	}
	t.Logf("%d real jars checked, %d with pom.properties", len(jars), withPoms)
}

// TestMavenLibThroughPipeline puts Maven's own lib directory in an image.
func TestMavenLibThroughPipeline(t *testing.T) {
	testimage.Require(t, "unzip")
	jars := realJars(t, "/usr/share/maven/lib/*.jar")
	if len(jars) == 0 {
		t.Skip("no /usr/share/maven/lib")
	}
	var files []testimage.File
	want := map[string]bool{}
	for _, jar := range jars {
		b, err := os.ReadFile(jar)
		if err != nil {
			t.Fatal(err)
		}
		name := "usr/share/maven/lib/" + filepath.Base(jar)
		files = append(files, testimage.File{Name: name, Body: string(b)})
		for _, w := range unzipTruth(t, jar) {
			want[w+" /"+name] = true
		}
	}
	inv := catalogertest.Inventory(t, []inspect.Cataloger{java.Cataloger{}}, testimage.LayerTar(t, files))
	got := map[string]bool{}
	for _, p := range inv.Packages {
		if p.Metadata["confidence"] == "" {
			got[p.Name+" "+p.Version+" "+p.Locations[0]] = true
		}
	}
	if !reflect.DeepEqual(got, want) {
		for k := range want {
			if !got[k] {
				t.Errorf("missing %s", k)
			}
		}
		for k := range got {
			if !want[k] {
				t.Errorf("unexpected %s", k)
			}
		}
	}
}

// testLaunchScript reads a Spring Boot "fully executable" jar: a shell
// script before the zip, with offsets left as they were (plain cat) or
// adjusted by zip -A.
func testLaunchScript(t *testing.T, f fixtures) {
	script := "#!/bin/bash\n# launch script\nexec java -jar \"$0\" \"$@\"\n" + strings.Repeat("#", 5000) + "\n"
	check := func(name string, b []byte) {
		out := java.Cataloger{}.ParseArchive(context.Background(), bytes.NewReader(b), int64(len(b)), "/app/app.jar", "")
		if len(out.Warnings) > 0 || len(out.Packages) != 4 {
			t.Errorf("%s: packages %v warnings %v", name, rows(out.Packages), out.Warnings)
		}
	}
	check("cat", append([]byte(script), f.fat...))
	if _, err := exec.LookPath("zip"); err == nil {
		p := filepath.Join(t.TempDir(), "exec.jar")
		if err := os.WriteFile(p, append([]byte(script), f.fat...), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("zip", "-A", p).CombinedOutput(); err != nil {
			t.Fatalf("zip -A: %v\n%s", err, out)
		}
		b, _ := os.ReadFile(p)
		check("zip -A", b)
	}
}

func TestManifest(t *testing.T) {
	// As the jar tool writes it: CRLF, wrapped at 72 bytes mid-word.
	m := "Manifest-Version: 1.0\r\nBundle-License: Apache-2.0;link=\"https://www.apache.org/licenses/LICENSE\r\n -2.0.txt\", MIT\r\nImplementation-Title: demo\r\n" +
		"implementation-version: 1.0.0\r\nCreated-By: 17.0.15 (Debian)\r\n\r\nName: com/example/\r\nImplementation-Version: 9\r\n\r\n"
	a := java.ParseManifest([]byte(m))
	if a["bundle-license"] != `Apache-2.0;link="https://www.apache.org/licenses/LICENSE-2.0.txt", MIT` {
		t.Errorf("continuation: %q", a["bundle-license"])
	}
	if a["implementation-version"] != "1.0.0" || a["implementation-title"] != "demo" {
		t.Errorf("attributes %v (per-entry sections must not override the main one)", a)
	}
	// CR-only line ends, a byte-order mark, no final newline, a repeated name.
	a = java.ParseManifest([]byte("\xef\xbb\xbfA: 1\rB: x\r y\rA: 2"))
	if a["a"] != "2" || a["b"] != "xy" || len(a) != 2 {
		t.Errorf("CR manifest %v", a)
	}
	// Continuation without a header, lines without a colon, empty values.
	a = java.ParseManifest([]byte(" orphan\nnot a header\nEmpty:\nK: v\n"))
	if a["k"] != "v" || a["empty"] != "" || len(a) != 2 {
		t.Errorf("sloppy manifest %v", a)
	}
}

func TestJenkinsPlugin(t *testing.T) {
	hpi := makeJar(t, map[string]string{"WEB-INF/lib/git.jar": "not really a jar"},
		"Group-Id: org.jenkins-ci.plugins\nShort-Name: git\nPlugin-Version: 5.2.1\nLong-Name: Jenkins Git plugin\n", false)
	out := java.Cataloger{}.ParseArchive(context.Background(), bytes.NewReader(hpi), int64(len(hpi)), "/var/jenkins_home/plugins/git.jpi", "")
	if len(out.Packages) != 1 || out.Packages[0].Name != "org.jenkins-ci.plugins:git" || out.Packages[0].Version != "5.2.1" || out.Packages[0].Metadata != nil {
		t.Errorf("packages %+v", out.Packages)
	}
	// The nested "jar" is not a zip: a warning naming it.
	if w := strings.Join(out.Warnings, "\n"); !strings.Contains(w, "/var/jenkins_home/plugins/git.jpi!/WEB-INF/lib/git.jar: not a zip archive") {
		t.Errorf("warnings %q", w)
	}
}
