package rust

import (
	"bytes"
	"compress/zlib"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/internal/elfsect"
)

const (
	auditSection = ".dep-v0"
	// maxAudit bounds the compressed section and the JSON it holds; the
	// format's authors say 8 MiB holds any legitimate audit data.
	maxAudit = 8 << 20
	// maxTail bounds the unloaded end of an ELF file that is buffered to
	// look for the section.
	maxTail = 64 << 20
	// maxHead bounds the ELF and program headers read from the start.
	maxHead = 64 << 10
	// valueUnchecked marks, in Parsed.Values, a binary whose unloaded data
	// was over maxTail.
	valueUnchecked = "unchecked"
)

// parseBinary looks for cargo-auditable data in an ELF file read as a
// stream. cargo-auditable writes .dep-v0 without SHF_ALLOC, so linkers put
// it after every loaded segment, with the other unloaded sections and the
// section header table at the end of the file. Only the headers at the
// start and that unloaded tail are kept; the loaded segments (the bulk of
// a binary) are read past, not buffered. A file without the section's
// name in its tail is dropped without parsing.
func parseBinary(size int64, r io.Reader) (out *inspect.Parsed, err error) {
	// debug/elf is hardened against hostile files; should it still panic on
	// one, that file is skipped rather than the scan.
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("unreadable ELF file: %v", p)
		}
	}()
	if ra, ok := r.(io.ReaderAt); ok {
		// Random access (a file several catalogers share): the section table
		// and the section are read where they lie, nothing is buffered.
		return auditableAt(ra)
	}
	head := make([]byte, 64)
	n, err := io.ReadFull(r, head)
	if err != nil {
		return nil, nil // shorter than an ELF header
	}
	head = head[:n]
	h, ok := elfHeader(head)
	if !ok || h.shoff == 0 || h.shoff >= uint64(size) {
		return nil, nil // not ELF, or no section headers: nothing to find
	}
	// Program headers, to find where the loaded segments end.
	phEnd := h.phoff + uint64(h.phnum)*uint64(h.phentsize)
	if h.phoff > maxHead {
		h.phnum, phEnd = 0, 0 // program headers far from the start: buffer from the section headers on
	}
	if h.phnum > 0 && phEnd <= maxHead && phEnd > uint64(len(head)) {
		more := make([]byte, phEnd-uint64(len(head)))
		if _, err := io.ReadFull(r, more); err != nil {
			return nil, nil
		}
		head = append(head, more...)
	}
	loadEnd := uint64(0)
	if phEnd <= uint64(len(head)) {
		for i := 0; i < int(h.phnum); i++ {
			ph := head[h.phoff+uint64(i)*uint64(h.phentsize):]
			typ, off, filesz := h.prog(ph)
			if typ == uint32(elf.PT_LOAD) && off+filesz > loadEnd && off+filesz >= off {
				loadEnd = off + filesz
			}
		}
	}
	tailStart := min(loadEnd, h.shoff)
	if tailStart < uint64(len(head)) {
		tailStart = uint64(len(head))
	}
	if size >= 0 && uint64(size) > tailStart && uint64(size)-tailStart > maxTail {
		return &inspect.Parsed{Values: []string{valueUnchecked}}, nil
	}
	if _, err := io.CopyN(io.Discard, r, int64(tailStart)-int64(len(head))); err != nil {
		return nil, nil // shorter than its headers say
	}
	tail, err := io.ReadAll(io.LimitReader(r, maxTail+1))
	if err != nil {
		return nil, fmt.Errorf("reading ELF file: %w", err)
	}
	if len(tail) > maxTail {
		return &inspect.Parsed{Values: []string{valueUnchecked}}, nil
	}
	if !bytes.Contains(tail, []byte(auditSection)) {
		return nil, nil
	}
	data := &segments{{0, head}, {int64(tailStart), tail}}
	ef, err := elf.NewFile(data)
	if err != nil {
		return nil, nil // not an ELF file debug/elf can read: no audit data to trust
	}
	sec := ef.Section(auditSection)
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		return nil, nil
	}
	if sec.Offset < tailStart || sec.FileSize > maxAudit {
		return &inspect.Parsed{Warnings: []string{fmt.Sprintf("cargo-auditable section of %d bytes at offset %d not read", sec.FileSize, sec.Offset)}}, nil
	}
	raw := make([]byte, sec.FileSize)
	if _, err := data.ReadAt(raw, int64(sec.Offset)); err != nil {
		return nil, fmt.Errorf("reading %s section: %w", auditSection, err)
	}
	pkgs, err := ParseAuditData(raw)
	if err != nil {
		return nil, err
	}
	return &inspect.Parsed{Packages: pkgs}, nil
}

func auditableAt(ra io.ReaderAt) (*inspect.Parsed, error) {
	secs, err := elfsect.Sections(ra, elfsect.SizeOf(ra))
	if err != nil {
		return nil, nil // not an ELF file we can read: no audit data to trust
	}
	sec, ok := elfsect.Find(secs, auditSection)
	if !ok || sec.Type == elfsect.TypeNoBits {
		return nil, nil
	}
	if sec.FileSize > maxAudit {
		return &inspect.Parsed{Warnings: []string{fmt.Sprintf("cargo-auditable section of %d bytes at offset %d not read", sec.FileSize, sec.Offset)}}, nil
	}
	raw := make([]byte, sec.FileSize)
	if _, err := ra.ReadAt(raw, int64(sec.Offset)); err != nil {
		return nil, fmt.Errorf("reading %s section: %w", auditSection, err)
	}
	pkgs, err := ParseAuditData(raw)
	if err != nil {
		return nil, err
	}
	return &inspect.Parsed{Packages: pkgs}, nil
}

// elfHdr is what parseBinary needs of an ELF header.
type elfHdr struct {
	is64                 bool
	bo                   binary.ByteOrder
	phoff, shoff         uint64
	phentsize, phnum     uint16
	shentsize, shnum     uint16
	wantPhent, wantShent uint16
}

func elfHeader(b []byte) (elfHdr, bool) {
	var h elfHdr
	if len(b) < 52 || !bytes.HasPrefix(b, []byte("\x7fELF")) {
		return h, false
	}
	switch b[elf.EI_DATA] {
	case byte(elf.ELFDATA2LSB):
		h.bo = binary.LittleEndian
	case byte(elf.ELFDATA2MSB):
		h.bo = binary.BigEndian
	default:
		return h, false
	}
	switch b[elf.EI_CLASS] {
	case byte(elf.ELFCLASS32):
		h.phoff, h.shoff = uint64(h.bo.Uint32(b[28:])), uint64(h.bo.Uint32(b[32:]))
		h.phentsize, h.phnum = h.bo.Uint16(b[42:]), h.bo.Uint16(b[44:])
		h.wantPhent = 32
	case byte(elf.ELFCLASS64):
		if len(b) < 64 {
			return h, false
		}
		h.is64 = true
		h.phoff, h.shoff = h.bo.Uint64(b[32:]), h.bo.Uint64(b[40:])
		h.phentsize, h.phnum = h.bo.Uint16(b[54:]), h.bo.Uint16(b[56:])
		h.wantPhent = 56
	default:
		return h, false
	}
	if h.phnum > 0 && h.phentsize < h.wantPhent {
		h.phnum = 0 // unusable program headers: buffer from the section headers on
	}
	return h, true
}

// prog reads a program header's type, file offset and file size.
func (h elfHdr) prog(b []byte) (typ uint32, off, filesz uint64) {
	if h.is64 {
		return h.bo.Uint32(b[0:]), h.bo.Uint64(b[8:]), h.bo.Uint64(b[32:])
	}
	return h.bo.Uint32(b[0:]), uint64(h.bo.Uint32(b[4:])), uint64(h.bo.Uint32(b[16:]))
}

// segments is an io.ReaderAt over the parts of a file that were kept;
// reading anything else fails.
type segments []struct {
	off  int64
	data []byte
}

var errNotKept = errors.New("part of the file that was not kept")

func (s *segments) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		found := false
		for _, seg := range *s {
			if pos >= seg.off && pos < seg.off+int64(len(seg.data)) {
				n += copy(p[n:], seg.data[pos-seg.off:])
				found = true
				break
			}
		}
		if !found {
			if n == 0 && pos >= (*s)[len(*s)-1].off+int64(len((*s)[len(*s)-1].data)) {
				return 0, io.EOF
			}
			return n, errNotKept
		}
	}
	return n, nil
}

// auditPackage is one package of cargo-auditable's JSON
// (cargo-auditable.schema.json: name, version, source, kind, root,
// dependencies).
type auditPackage struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	Source  json.RawMessage `json:"source"`
	Kind    string          `json:"kind"`
	Root    bool            `json:"root"`
}

// ParseAuditData reads the content of a .dep-v0 section: zlib-compressed
// JSON {"packages": [...]}. Decompression stops at 8 MiB. Build-time
// dependencies (kind "build": build scripts, proc-macros) are reported
// with Metadata["kind"] = "build": they ran at build time but are not in
// the binary.
func ParseAuditData(compressed []byte) ([]customs.Package, error) {
	zr, err := zlib.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, fmt.Errorf("cargo-auditable data: %w", err)
	}
	js, err := io.ReadAll(io.LimitReader(zr, maxAudit+1))
	if err != nil {
		return nil, fmt.Errorf("cargo-auditable data: %w", err)
	}
	if len(js) > maxAudit {
		return nil, fmt.Errorf("cargo-auditable data over %d MiB decompressed", maxAudit>>20)
	}
	var info struct {
		Packages []auditPackage `json:"packages"`
	}
	if err := json.Unmarshal(js, &info); err != nil {
		return nil, fmt.Errorf("cargo-auditable data: %w", err)
	}
	var out []customs.Package
	for _, ap := range info.Packages {
		var md map[string]string
		if ap.Kind == "build" {
			md = map[string]string{"kind": "build"}
		}
		if p, ok := crate(ap.Name, ap.Version, auditSource(ap.Source), md); ok {
			out = append(out, p)
		}
		if len(out) >= maxPackages {
			break
		}
	}
	return out, nil
}

// auditSource is a package's source: "crates.io", "git", "local",
// "registry", or the value of {"Other": "..."}; empty when unreadable
// (treated as local: nothing to match). cargo-auditable writes the
// lower-case forms; its JSON schema names the variants "CratesIo", "Git",
// "Local" and "Registry", which are read as the same.
func auditSource(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "CratesIo":
			return "crates.io"
		case "Git", "Local", "Registry":
			return strings.ToLower(s)
		}
		return s
	}
	var other struct {
		Other string `json:"Other"`
	}
	if json.Unmarshal(raw, &other) == nil && other.Other != "" {
		return other.Other
	}
	return ""
}
