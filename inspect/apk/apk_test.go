package apk_test

import (
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect/apk"
	"github.com/customs-sec/customs/internal/catalogertest"
	"github.com/customs-sec/customs/internal/testimage"
)

// Stanzas in the format apk-tools writes /lib/apk/db/installed (from Alpine
// 3.19's musl and busybox packages).
const musl = `C:Q1KsBhUzT4rDiUzUzYjNWEVsd2zpsc=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407210
I:663552
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1705069616
c:6d37b78a8a3a4b8e5ef5d06d05f5d3c7d0d9d0f0
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1ZFSp4KtZOCpZKRknfd2UzLLTk9k=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

`
const busybox = `C:Q1/qfbRyZkM1Ef4M7k0jqC2Oq4U8Y=
P:busybox
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
F:bin
R:busybox
F:etc
R:securetty

`
const sslClient = `P:ssl_client
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
F:usr/bin
R:ssl_client

`

func TestInstalledDatabase(t *testing.T) {
	osRelease := testimage.File{Name: "etc/os-release", Body: "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n"}
	inv := catalogertest.Files(t, nil,
		[]testimage.File{osRelease, {Name: "lib/apk/db/installed", Body: musl + busybox}},
		[]testimage.File{{Name: "lib/apk/db/installed", Body: musl + busybox + sslClient}},
	)
	if inv.Distro == nil || inv.Distro.ID != "alpine" || inv.Distro.VersionID != "3.19.1" {
		t.Fatalf("distro %+v", inv.Distro)
	}
	got := map[string]customs.Package{}
	for _, p := range inv.Packages {
		got[p.Name] = p
	}
	if len(got) != 3 {
		t.Fatalf("packages %v", inv.Packages)
	}
	m := got["musl"]
	if m.Version != "1.2.4_git20230717-r4" || m.Arch != "x86_64" || m.Source != "musl" || m.Ecosystem != "Alpine:v3.19" ||
		m.PURL != "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1" || m.Layer.Index != 0 {
		t.Errorf("musl %+v", m)
	}
	if strings.Join(m.Files, ",") != "/lib/ld-musl-x86_64.so.1,/lib/libc.musl-x86_64.so.1" || m.Licenses[0] != "MIT" {
		t.Errorf("musl files %v licenses %v", m.Files, m.Licenses)
	}
	s := got["ssl_client"]
	if s.Source != "busybox" || s.Layer.Index != 1 || !strings.Contains(s.PURL, "upstream=busybox") {
		t.Errorf("ssl_client %+v", s)
	}
	if got["busybox"].Layer.Index != 0 {
		t.Errorf("busybox attributed to layer %d", got["busybox"].Layer.Index)
	}
}

func TestHostileInstalled(t *testing.T) {
	in := "P:ok\nV:1\n" + "T:" + strings.Repeat("x", 50<<20) + "\nnonsense\n\nP:noversion\n\nV:2\n\n"
	out, err := apk.ParseInstalled(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Packages) != 1 || out.Packages[0].Name != "ok" {
		t.Errorf("packages %+v", out.Packages)
	}
	if w := strings.Join(out.Warnings, ";"); !strings.Contains(w, "cut") || !strings.Contains(w, "not fields") {
		t.Errorf("warnings %q", w)
	}
}

func FuzzParseInstalled(f *testing.F) {
	f.Add(musl + busybox)
	f.Add("P:a\nV:1\nF:x\nR:y\n\nP:b\n")
	f.Add("\n\n:\nP\nV:\n")
	f.Fuzz(func(t *testing.T, in string) {
		out, err := apk.ParseInstalled(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, p := range out.Packages {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("bad package %+v", p)
			}
		}
	})
}
