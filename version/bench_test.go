package version

import "testing"

// The scanner compares ~10,000 installed packages against advisories;
// these measure one Compare on realistic versions of the hot ecosystems.

func benchCompare(b *testing.B, s Scheme, pairs [][2]string) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := pairs[i%len(pairs)]
		if _, err := s.Compare(p[0], p[1]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompareDPKG(b *testing.B) {
	benchCompare(b, dpkgScheme{}, [][2]string{
		{"7.88.1-10+deb12u4", "7.88.1-10+deb12u6"},
		{"1:1.2.13.dfsg-1", "1:1.2.11.dfsg-4.1"},
		{"3.0.13-1~deb12u1", "3.0.11-1~deb12u2"},
		{"2.36-9+deb12u3", "2.36-9+deb12u3"},
	})
}

func BenchmarkCompareSemVer(b *testing.B) {
	benchCompare(b, semverScheme{}, [][2]string{
		{"1.2.3", "1.2.4"},
		{"0.10.48", "0.10.55"},
		{"1.0.0-alpha.1", "1.0.0-alpha.beta"},
		{"2.0.0-rc.1+build.5", "2.0.0"},
	})
}

func BenchmarkCompareGo(b *testing.B) {
	benchCompare(b, goScheme{}, [][2]string{
		{"v0.0.0-20190125002852-4b62a64f59f7", "0.0.0-20190125091013-d26f9f9a57f3"},
		{"v0.17.0", "0.23.0"},
		{"1.20.14", "1.21.0-0"},
	})
}

func BenchmarkCompareRPM(b *testing.B) {
	benchCompare(b, rpmScheme{}, [][2]string{
		{"0:2.28-189.5.el8_6", "0:2.28-211.el8"},
		{"1:1.1.1k-6.el8_5", "1:1.1.1k-7.el8_6"},
	})
}

func BenchmarkCompareAPK(b *testing.B) {
	benchCompare(b, apkScheme{}, [][2]string{
		{"1.36.1-r15", "1.36.1-r19"},
		{"3.1.4-r5", "3.1.4_rc1-r0"},
	})
}

func BenchmarkAffectedDPKG(b *testing.B) {
	s := ForEcosystem("Debian:12")
	evs := []Event{{Introduced: "0"}, {Fixed: "7.88.1-10+deb12u6"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Affected(s, evs, "7.88.1-10+deb12u4"); err != nil {
			b.Fatal(err)
		}
	}
}
