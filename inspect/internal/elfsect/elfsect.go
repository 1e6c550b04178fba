// Package elfsect reads the section table of an ELF file with random
// access: each section's name, type, offset and size, nothing else.
//
// Why not debug/elf: catalogers ask of every ELF file in an image (hundreds
// in a distribution) only whether it has one named section (.go.buildinfo,
// .dep-v0). debug/elf.NewFile also reads and allocates the program headers
// and a Section with its own reader for every section, and two catalogers
// asking was about a tenth of the Go time of reading such an image. This
// reads the header, the section header table and the section name table:
// three reads, and one small allocation for each table. Its answers are checked against debug/elf
// (elfsect_test.go, FuzzSections).
package elfsect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Section is one section header.
type Section struct {
	Name   string
	Type   uint32
	Offset uint64
	// FileSize is the section's size in the file as its header says
	// (sh_size; for SHT_NOBITS it occupies nothing).
	FileSize uint64
}

// Section types and flags.
const (
	TypeStrTab     = 3     // SHT_STRTAB
	TypeNoBits     = 8     // SHT_NOBITS
	flagCompressed = 0x800 // SHF_COMPRESSED
)

// Limits on what a hostile file can make this read.
const (
	maxSections = 1 << 16
	maxNames    = 1 << 20 // bytes of section names
	maxTable    = 16 << 20
)

var errNotELF = errors.New("not an ELF file")

// Sections returns the sections of an ELF file, in table order (nil when it
// has no section header table). size bounds the file (0: unknown).
func Sections(ra io.ReaderAt, size int64) ([]Section, error) {
	var hdr [64]byte
	if size > 0 && size < 52 {
		return nil, errNotELF
	}
	if _, err := ra.ReadAt(hdr[:52], 0); err != nil {
		return nil, errNotELF
	}
	if string(hdr[:4]) != "\x7fELF" || hdr[6] != 1 {
		return nil, errNotELF
	}
	var bo binary.ByteOrder
	switch hdr[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("unknown ELF data encoding %d", hdr[5])
	}
	var shoff uint64
	var shentsize, shnum, shstrndx int
	var is64 bool
	switch hdr[4] {
	case 1:
		shoff = uint64(bo.Uint32(hdr[0x20:]))
		shentsize, shnum, shstrndx = int(bo.Uint16(hdr[0x2e:])), int(bo.Uint16(hdr[0x30:])), int(bo.Uint16(hdr[0x32:]))
	case 2:
		if size > 0 && size < 64 {
			return nil, errNotELF
		}
		if _, err := ra.ReadAt(hdr[:64], 0); err != nil {
			return nil, errNotELF
		}
		is64 = true
		shoff = bo.Uint64(hdr[0x28:])
		shentsize, shnum, shstrndx = int(bo.Uint16(hdr[0x3a:])), int(bo.Uint16(hdr[0x3c:])), int(bo.Uint16(hdr[0x3e:]))
	default:
		return nil, fmt.Errorf("unknown ELF class %d", hdr[4])
	}
	want := 40
	if is64 {
		want = 64
	}
	if shoff == 0 {
		return nil, nil
	}
	if shentsize < want {
		return nil, fmt.Errorf("section header entries of %d bytes, fewer than %d", shentsize, want)
	}
	read := func(off uint64, n int) ([]byte, error) {
		if off > 1<<62 || (size > 0 && off+uint64(n) > uint64(size)) {
			return nil, fmt.Errorf("%d bytes at offset %d lie past the end of the file", n, off)
		}
		b := make([]byte, n)
		if _, err := ra.ReadAt(b, int64(off)); err != nil {
			return nil, fmt.Errorf("reading %d bytes at offset %d: %w", n, off, err)
		}
		return b, nil
	}
	parse := func(b []byte) (name, typ uint32, flags, off, fsize uint64, link uint32) {
		if is64 {
			return bo.Uint32(b), bo.Uint32(b[4:]), bo.Uint64(b[8:]), bo.Uint64(b[24:]), bo.Uint64(b[32:]), bo.Uint32(b[40:])
		}
		return bo.Uint32(b), bo.Uint32(b[4:]), uint64(bo.Uint32(b[8:])), uint64(bo.Uint32(b[16:])), uint64(bo.Uint32(b[20:])), bo.Uint32(b[24:])
	}
	// Extended numbering: a count or name-table index too large for the
	// header is kept in section 0.
	if shnum == 0 || shstrndx == 0xffff {
		first, err := read(shoff, shentsize)
		if err != nil {
			return nil, err
		}
		_, _, _, _, n, link := parse(first)
		if shnum == 0 {
			if n > maxSections {
				return nil, fmt.Errorf("%d sections", n)
			}
			shnum = int(n)
		}
		if shstrndx == 0xffff {
			shstrndx = int(link)
		}
	}
	if shnum == 0 {
		return nil, nil
	}
	if shstrndx >= shnum {
		return nil, fmt.Errorf("section name table %d of %d sections", shstrndx, shnum)
	}
	if size <= 0 && shnum*shentsize > maxTable {
		// Unknown file size: bound what a 64-byte header can make us read.
		return nil, fmt.Errorf("a section header table of %d bytes", shnum*shentsize)
	}
	table, err := read(shoff, shnum*shentsize)
	if err != nil {
		return nil, err
	}
	secs := make([]Section, shnum)
	nameOff := make([]uint32, shnum)
	var strtabFlags uint64
	for i := range secs {
		var s Section
		var flags uint64
		nameOff[i], s.Type, flags, s.Offset, s.FileSize, _ = parse(table[i*shentsize:])
		if i == shstrndx {
			strtabFlags = flags
		}
		secs[i] = s
	}
	if shstrndx == 0 {
		return secs, nil // no section name table: every name is empty
	}
	strtab := secs[shstrndx]
	switch {
	case strtab.Type != TypeStrTab:
		return nil, fmt.Errorf("section name table of type %d", strtab.Type)
	case strtabFlags&flagCompressed != 0:
		return nil, errors.New("compressed section name table")
	case strtab.FileSize > maxNames:
		return nil, fmt.Errorf("section name table of %d bytes", strtab.FileSize)
	}
	names, err := read(strtab.Offset, int(strtab.FileSize))
	if err != nil {
		return nil, fmt.Errorf("section name table: %w", err)
	}
	for i := range secs {
		off := int(nameOff[i])
		if uint64(nameOff[i]) >= uint64(len(names)) {
			return nil, fmt.Errorf("section %d: name at %d of a %d-byte table", i, nameOff[i], len(names))
		}
		end := bytes.IndexByte(names[off:], 0)
		if end < 0 {
			return nil, fmt.Errorf("section %d: name not terminated", i)
		}
		secs[i].Name = string(names[off : off+end])
	}
	return secs, nil
}

// Find returns the section named name, if the file has it.
func Find(secs []Section, name string) (Section, bool) {
	for _, s := range secs {
		if s.Name == name {
			return s, true
		}
	}
	return Section{}, false
}

// SizeOf is the size of a reader that knows it (bytes.Reader,
// io.SectionReader, a file), else 0.
func SizeOf(ra io.ReaderAt) int64 {
	switch r := ra.(type) {
	case interface{ Size() int64 }:
		return r.Size()
	case *os.File:
		if fi, err := r.Stat(); err == nil {
			return fi.Size()
		}
	}
	return 0
}
