package elfsect

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// same checks Sections against debug/elf on one file: wherever debug/elf
// reads a section table, Sections must give the same names, types, offsets
// and sizes. Where debug/elf refuses a file, Sections may answer anything
// but must not panic.
func same(t *testing.T, label string, b []byte) bool {
	t.Helper()
	got, err := Sections(bytes.NewReader(b), int64(len(b)))
	ef, eerr := elf.NewFile(bytes.NewReader(b))
	if eerr != nil {
		return false
	}
	if err != nil {
		if strings.Contains(err.Error(), "compressed section name table") {
			return false // debug/elf inflates such a table; no linker writes one
		}
		t.Fatalf("%s: %v; debug/elf reads %d sections", label, err, len(ef.Sections))
	}
	if len(got) != len(ef.Sections) {
		t.Fatalf("%s: %d sections, debug/elf %d", label, len(got), len(ef.Sections))
	}
	for i, s := range ef.Sections {
		g := got[i]
		if g.Name != s.Name || g.Type != uint32(s.Type) || g.Offset != s.Offset || g.FileSize != s.FileSize {
			t.Fatalf("%s: section %d is %+v, debug/elf says %s type %d offset %d size %d", label, i, g, s.Name, s.Type, s.Offset, s.FileSize)
		}
	}
	return true
}

// TestMatchesDebugELF compares on this machine's executables and libraries
// and on the test binary itself (a Go binary with .go.buildinfo).
func TestMatchesDebugELF(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	files := []string{self}
	for _, glob := range []string{"/usr/bin/*", "/usr/lib/x86_64-linux-gnu/*.so*", "/usr/lib/x86_64-linux-gnu/*.o"} {
		m, _ := filepath.Glob(glob)
		files = append(files, m...)
	}
	checked := 0
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() > 64<<20 {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(b, []byte("\x7fELF")) {
			continue
		}
		if same(t, p, b) {
			checked++
		}
	}
	if checked < 50 {
		if runtime.GOOS != "linux" {
			t.Skipf("only %d ELF files on this system to compare", checked)
		}
		t.Fatalf("only %d ELF files compared", checked)
	}
	t.Logf("%d ELF files agree with debug/elf", checked)
	secs, err := Sections(mustOpen(t, self), 0)
	if _, ok := Find(secs, ".go.buildinfo"); err != nil || !ok {
		t.Errorf("the test binary: no .go.buildinfo (%v)", err)
	}
}

func mustOpen(t *testing.T, p string) *os.File {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestDamagedHeaders cuts and alters a real ELF file's headers: errors or
// answers, never a panic, and nothing read past the file.
func TestDamagedHeaders(t *testing.T) {
	b, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		t.Skip("no /usr/bin/true")
	}
	for _, n := range []int{0, 4, 20, 52, 63, 64, 1000, len(b) - 100, len(b) - 1} {
		r := &boundedReader{b: b[:n]}
		Sections(r, int64(n))
		if r.past && n > 0 { // 0: a size Sections takes as unknown
			t.Errorf("a file cut to %d bytes was read past its end", n)
		}
		// Size unknown: still no read past the end, and no huge allocation.
		r = &boundedReader{b: b[:n]}
		Sections(r, 0)
	}
	for i := 0; i < 64; i++ {
		for _, v := range []byte{0, 0xff, 0x80, 1} {
			c := bytes.Clone(b)
			c[i] = v
			same(t, "altered header", c)
		}
	}
}

// tinyELF is a 64-bit little-endian ELF file of three sections (null,
// .shstrtab, .dep-v0): a small seed the fuzzer can mutate quickly.
func tinyELF() []byte {
	names := []byte("\x00.shstrtab\x00.dep-v0\x00")
	le := binary.LittleEndian
	b := make([]byte, 64)
	copy(b, "\x7fELF\x02\x01\x01")
	le.PutUint16(b[0x10:], 2)  // ET_EXEC
	le.PutUint16(b[0x12:], 62) // EM_X86_64
	le.PutUint32(b[0x14:], 1)  // EV_CURRENT
	le.PutUint16(b[0x34:], 64) // e_ehsize
	namesAt := len(b)
	b = append(b, names...)
	dataAt := len(b)
	b = append(b, "payload!"...)
	shoff := len(b)
	le.PutUint64(b[0x28:], uint64(shoff))
	le.PutUint16(b[0x3a:], 64) // e_shentsize
	le.PutUint16(b[0x3c:], 3)  // e_shnum
	le.PutUint16(b[0x3e:], 1)  // e_shstrndx
	sh := func(name, typ uint32, off, size int) {
		h := make([]byte, 64)
		le.PutUint32(h, name)
		le.PutUint32(h[4:], typ)
		le.PutUint64(h[24:], uint64(off))
		le.PutUint64(h[32:], uint64(size))
		b = append(b, h...)
	}
	sh(0, 0, 0, 0)
	sh(1, 3, namesAt, len(names))
	sh(11, 1, dataAt, 8)
	return b
}

// boundedReader is a file that notes any read past its end.
type boundedReader struct {
	b    []byte
	past bool
}

func (r *boundedReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(r.b)) {
		r.past = true
	}
	return bytes.NewReader(r.b).ReadAt(p, off)
}

func FuzzSections(f *testing.F) {
	tiny := tinyELF()
	f.Add(tiny)
	f.Add(tiny[:100])
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, b []byte) { same(t, "fuzz input", b) })
}

// TestTinyELF checks the fuzzer's seed reads as built, by both readers.
func TestTinyELF(t *testing.T) {
	b := tinyELF()
	if !same(t, "tiny", b) {
		t.Fatal("debug/elf does not read the tiny ELF file")
	}
	secs, _ := Sections(bytes.NewReader(b), int64(len(b)))
	if s, ok := Find(secs, ".dep-v0"); !ok || string(b[s.Offset:s.Offset+s.FileSize]) != "payload!" {
		t.Fatalf("sections %+v", secs)
	}
}
