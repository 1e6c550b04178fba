package rust

import (
	"bytes"
	"compress/zlib"
	"testing"

	"github.com/customs-sec/customs"
)

func checkCrates(t *testing.T, ps []customs.Package) {
	t.Helper()
	for _, p := range ps {
		if !validName(p.Name) || !validVersion(p.Version) || p.Type != customs.TypeCargo || p.PURL == "" {
			t.Fatalf("bad package %+v", p)
		}
	}
}

func FuzzParseCargoLock(f *testing.F) {
	f.Add("version = 3\n\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\ndependencies = [\n \"b\",\n]\n")
	f.Add("[[package]]\nname = \"t\"\nversion = \"1.0.0\" # c\nsource = \"git+https://x/y#abc\"\n[metadata]\n\"checksum a\" = \"x\"\n")
	f.Add("[[package]]\nname=\"\\\"\"\nversion=\"1\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		ps, _ := ParseCargoLock([]byte(in))
		checkCrates(t, ps)
	})
}

func FuzzParseAuditData(f *testing.F) {
	z := func(s string) []byte {
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	f.Add(z(`{"packages":[{"name":"a","version":"1.0.0","source":"crates.io","root":true},{"name":"b","version":"2.0.0","source":{"Other":"x"},"kind":"build","dependencies":[0]}]}`))
	f.Add(z(`{"format":8,"packages":[]}`))
	f.Add([]byte("x"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if ps, err := ParseAuditData(in); err == nil {
			checkCrates(t, ps)
		}
	})
}

// FuzzParseBinary feeds arbitrary bytes to the ELF reader, with and without
// the section name planted, to reach debug/elf.
func FuzzParseBinary(f *testing.F) {
	h := make([]byte, 256)
	copy(h, "\x7fELF\x02\x01\x01")
	h[16], h[18], h[40] = 2, 0x3e, 64
	f.Add(append(h, ".dep-v0"...))
	f.Add([]byte("\x7fELF\x01\x02\x01"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := parseBinary(int64(len(in)), bytes.NewReader(in))
		if err == nil && out != nil {
			checkCrates(t, out.Packages)
		}
	})
}
