package osrelease_test

import (
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect/osrelease"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		file, body string
		want       customs.Distro
		eco        string
	}{
		{"usr/lib/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
			customs.Distro{ID: "debian", VersionID: "12", Codename: "bookworm"}, "Debian:12"},
		{"etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=trixie\nID=debian\n",
			customs.Distro{ID: "debian", Codename: "trixie"}, "Debian:13"},
		{"etc/os-release", "NAME=\"Ubuntu\"\nVERSION=\"22.04.3 LTS (Jammy Jellyfish)\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\nVERSION_CODENAME=jammy\n",
			customs.Distro{ID: "ubuntu", VersionID: "22.04", Codename: "jammy"}, "Ubuntu:22.04"},
		{"etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n", customs.Distro{ID: "alpine", VersionID: "3.19.1"}, "Alpine:v3.19"},
		{"etc/os-release", "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n", customs.Distro{ID: "rocky", VersionID: "9.3"}, "Rocky Linux:9"},
		{"etc/alpine-release", "3.18.4\n", customs.Distro{ID: "alpine", VersionID: "3.18.4"}, "Alpine:v3.18"},
		{"etc/debian_version", "11.8\n", customs.Distro{ID: "debian", VersionID: "11"}, "Debian:11"},
		{"etc/debian_version", "bookworm/sid\n", customs.Distro{ID: "debian", Codename: "bookworm"}, "Debian:12"},
		{"etc/centos-release", "CentOS Linux release 7.9.2009 (Core)\n", customs.Distro{ID: "centos", VersionID: "7.9.2009"}, "Red Hat:7"},
		{"etc/lsb-release", "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=20.04\nDISTRIB_CODENAME=focal\n", customs.Distro{ID: "ubuntu", VersionID: "20.04", Codename: "focal"}, "Ubuntu:20.04"},
	} {
		d := osrelease.Parse(tc.file, []byte(tc.body))
		if d == nil {
			t.Errorf("%s %q: nothing", tc.file, tc.body)
			continue
		}
		if d.ID != tc.want.ID || d.VersionID != tc.want.VersionID || d.Codename != tc.want.Codename {
			t.Errorf("%s: got %+v want %+v", tc.file, *d, tc.want)
		}
		if e := customs.OSEcosystem(d); e != tc.eco {
			t.Errorf("%s: ecosystem %q want %q", tc.file, e, tc.eco)
		}
	}
	for _, bad := range []string{"", "garbage", "ID=\n", "NAME=x\n"} {
		if d := osrelease.Parse("etc/os-release", []byte(bad)); d != nil {
			t.Errorf("%q gave %+v", bad, d)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
	f.Add("etc/centos-release", "CentOS Linux release 7.9.2009 (Core)")
	f.Add("etc/debian_version", "bookworm/sid")
	f.Add("etc/os-release", "ID='x'\nVERSION=\"(\"\nA=\"\\q\"")
	f.Fuzz(func(t *testing.T, file, body string) {
		d := osrelease.Parse(file, []byte(body))
		if d != nil && d.ID == "" {
			t.Fatalf("distro without ID: %+v", d)
		}
		_ = customs.OSEcosystem(d)
	})
}
