package rpm_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect/rpm"
	"github.com/customs-sec/customs/internal/catalogertest"
	"github.com/customs-sec/customs/internal/testimage"
)

// rpmdbFixtures are real rpm databases taken from real images, shipped in
// go-rpmdb's module (testdata/): CentOS 7 (Berkeley DB), Fedora 35 (SQLite),
// SLE 15 BCI (NDB).
func rpmdbFixtures(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/knqyf263/go-rpmdb").Output()
	if err != nil {
		t.Skipf("go-rpmdb module not found: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata")
}

// rpmQuery asks the real rpm (Debian's rpm package) for name|epoch:version-release|arch.
func rpmQuery(t *testing.T, dbDir, backend string) []string {
	t.Helper()
	testimage.Require(t, "rpm")
	// rpm wants a writable database directory.
	tmp := t.TempDir()
	ents, _ := os.ReadDir(dbDir)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dbDir, e.Name()))
		os.WriteFile(filepath.Join(tmp, e.Name()), b, 0o644)
	}
	out, err := exec.Command("rpm", "--define", "_db_backend "+backend, "--dbpath", tmp, "-qa",
		"--qf", "%{NAME}|%{EPOCHNUM}:%{VERSION}-%{RELEASE}|%{ARCH}|%{SOURCERPM}\n").Output()
	if err != nil {
		t.Fatalf("rpm -qa: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(l, "gpg-pubkey|") {
			continue
		}
		lines = append(lines, strings.Replace(l, "|0:", "|", 1))
	}
	sort.Strings(lines)
	return lines
}

func inventoryOf(t *testing.T, dbPath, dbFile string) *customs.Inventory {
	t.Helper()
	b, err := os.ReadFile(dbFile)
	if err != nil {
		t.Fatal(err)
	}
	inv := catalogertest.Inventory(t, nil, testimage.LayerTar(t, []testimage.File{
		{Name: "etc/os-release", Body: "ID=\"centos\"\nVERSION_ID=\"7\"\n"},
		{Name: dbPath, Body: string(b)},
	}))
	return inv
}

func TestDatabasesMatchRPM(t *testing.T) {
	fx := rpmdbFixtures(t)
	for _, tc := range []struct{ name, file, path, backend string }{
		{"centos7-bdb", "centos7-plain/Packages", "var/lib/rpm/Packages", "bdb_ro"},
		{"fedora35-sqlite", "fedora35/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite", "sqlite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			truth := rpmQuery(t, filepath.Dir(filepath.Join(fx, tc.file)), tc.backend)
			inv := inventoryOf(t, tc.path, filepath.Join(fx, tc.file))
			var got []string
			for _, p := range inv.Packages {
				got = append(got, p.Name+"|"+p.Version+"|"+p.Arch+"|"+p.Metadata["source_rpm"])
				if p.Locations[0] != "/"+tc.path || p.Type != customs.TypeRPM || !strings.HasPrefix(p.PURL, "pkg:rpm/") {
					t.Errorf("package %+v", p)
				}
				if p.Source == "" || p.SourceVersion == "" {
					t.Errorf("%s: no source package", p.Name)
				}
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(truth, "\n") {
				t.Errorf("%d packages, rpm -qa lists %d; first difference:\n%s", len(got), len(truth), firstDiff(got, truth))
			}
		})
	}
}

func firstDiff(a, b []string) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return "ours: " + a[i] + "\nrpm:  " + b[i]
		}
	}
	return "(one list is a prefix of the other)"
}

// TestNDB reads SUSE's NDB format, which Debian's rpm cannot read: the
// packages must be well formed and include what any SLE image with an NDB
// database has: sles-release, and rpm-ndb, the rpm build that writes NDB.
func TestNDB(t *testing.T) {
	out, err := rpm.ParseFile(filepath.Join(rpmdbFixtures(t), "sle15-bci", "Packages.db"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range out.Packages {
		if p.Name == "" || p.Version == "" || p.Arch == "" || !strings.Contains(p.Version, "-") {
			t.Errorf("malformed %+v", p)
		}
		names[p.Name] = true
	}
	for _, want := range []string{"bash", "glibc", "sles-release", "rpm-ndb"} {
		if !names[want] {
			t.Errorf("no %s among %d packages", want, len(out.Packages))
		}
	}
}

func TestGarbageDatabase(t *testing.T) {
	for _, body := range []string{"", "SQLite format 3\x00garbage", strings.Repeat("\x00\x01", 10000), "\x00\x06\x15\x61" + strings.Repeat("x", 5000)} {
		f := filepath.Join(t.TempDir(), "Packages")
		os.WriteFile(f, []byte(body), 0o644)
		if _, err := rpm.ParseFile(f); err == nil {
			t.Errorf("garbage %q... parsed without error", body[:min(len(body), 16)])
		}
	}
}

func TestSplitSourceRPM(t *testing.T) {
	for in, want := range map[string]string{
		"bash-5.1.8-6.el9.src.rpm":        "bash 5.1.8 6.el9",
		"python3.11-3.11.2-2.el9.src.rpm": "python3.11 3.11.2 2.el9",
		"glibc-2.34-60.el9_2.7.nosrc.rpm": "glibc 2.34 60.el9_2.7",
	} {
		n, v, r, ok := rpm.SplitSourceRPM(in)
		if !ok || n+" "+v+" "+r != want {
			t.Errorf("%s: %s %s %s %v", in, n, v, r, ok)
		}
	}
	if _, _, _, ok := rpm.SplitSourceRPM("nodash.src.rpm"); ok {
		t.Error("accepted a name without version")
	}
}
