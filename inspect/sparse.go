package inspect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
)

// Sparse capture of ELF files.
//
// The Go and Rust catalogers both read every large ELF file of an image,
// so such a file used to be copied whole to a scan-private file (a copy in
// memory would raise peak memory by the largest binary) for both to read
// with random access. Yet for the hundreds of C programs and libraries of a
// distribution they read only the ELF and program headers, the section
// table and the section names, and conclude "neither Go nor Rust"; writing
// and deleting those copies was a tenth of the CPU of reading a Debian
// image. What they can read lies in known places: the headers at the start;
// the section table, the section names and cargo-auditable's .dep-v0 (not
// loaded, so linkers put them after every loaded segment) in the unloaded
// tail; Go's .go.buildinfo in the writable segment. A file is kept in those
// parts only (planned from its headers, before its body is read), unless
// it carries a Go build ID note (every Go linker writes one at the start,
// and strip keeps it): a Go binary may point from its build information
// anywhere (before Go 1.18), so it is still copied whole.

// SparseELF is implemented by catalogers that read ELF files only where
// Sparse keeps them (headers, section table, unloaded sections, writable
// segment) and tell a read outside them (Sparse.Missed) from a file that is
// not theirs.
type SparseELF interface {
	ReadsSparseELF()
}

// Sparse is the parts of a file that were kept, readable at their offsets.
// Reads elsewhere fail with ErrNotKept and are remembered (Missed).
type Sparse struct {
	size   int64
	parts  []sparsePart // in file order, not overlapping
	missed bool
	pos    int64 // Read's offset
}

type sparsePart struct {
	off  int64
	data []byte
}

// ErrNotKept is a read of a part of a sparse file that was not kept.
var ErrNotKept = errors.New("reading a part of the file that was not kept")

// ReadAt implements io.ReaderAt.
func (s *Sparse) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= s.size {
			return n, io.EOF
		}
		found := false
		for _, part := range s.parts {
			if pos >= part.off && pos < part.off+int64(len(part.data)) {
				n += copy(p[n:], part.data[pos-part.off:])
				found = true
				break
			}
		}
		if !found {
			s.missed = true
			return n, ErrNotKept
		}
	}
	return n, nil
}

// Read reads on from the last Read (catalogers use ReadAt).
func (s *Sparse) Read(p []byte) (int, error) {
	n, err := s.ReadAt(p, s.pos)
	s.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Size is the whole file's size.
func (s *Sparse) Size() int64 { return s.size }

// Missed says whether a read asked for bytes that were not kept.
func (s *Sparse) Missed() bool { return s.missed }

// Limits on a sparse capture; a file that needs more is copied whole.
const (
	sparseHead    = 4 << 10 // ELF header and program headers
	sparseBudget  = 1 << 20 // everything kept of one file
	elfHeaderSize = 64
)

// planSparse decides from a file's first bytes (head, at least the ELF
// header and program headers) which ranges to keep: [off, end) pairs in
// file order. ok is false for a file to copy whole: not a 64-bit
// little-endian ELF file, program headers past the head, a Go build ID
// note, no section table, or more than the budget to keep.
func planSparse(head []byte, size int64) (ranges [][2]int64, ok bool) {
	if len(head) < elfHeaderSize || !bytes.HasPrefix(head, []byte("\x7fELF\x02\x01")) {
		return nil, false
	}
	le := binary.LittleEndian
	phoff, shoff := le.Uint64(head[0x20:]), le.Uint64(head[0x28:])
	phentsize, phnum := uint64(le.Uint16(head[0x36:])), uint64(le.Uint16(head[0x38:]))
	shentsize, shnum := uint64(le.Uint16(head[0x3a:])), uint64(le.Uint16(head[0x3c:]))
	if phentsize < 56 || phoff > uint64(len(head)) || phnum > (uint64(len(head))-phoff)/phentsize {
		return nil, false // program headers beyond the head (or none)
	}
	if shoff == 0 || shnum == 0 || shentsize < 64 || shoff >= uint64(size) || shnum > (uint64(size)-shoff)/shentsize {
		return nil, false // no section table (or 65,280+ sections): copy whole
	}
	ranges = append(ranges, [2]int64{0, int64(len(head))})
	loadEnd, writable := uint64(0), uint64(0)
	var rw [][2]int64
	for i := range phnum {
		ph := head[phoff+i*phentsize:]
		typ, flags := le.Uint32(ph), le.Uint32(ph[4:])
		off, filesz := le.Uint64(ph[8:]), le.Uint64(ph[32:])
		if off > uint64(size) || filesz > uint64(size)-off {
			return nil, false // segments beyond the file: leave it to the full reading
		}
		switch typ {
		case 1: // PT_LOAD
			loadEnd = max(loadEnd, off+filesz)
			if flags&2 != 0 && filesz > 0 { // PF_W
				writable += filesz
				rw = append(rw, [2]int64{int64(off), int64(off + filesz)})
			}
		case 4: // PT_NOTE
			if off+filesz > uint64(len(head)) || hasGoNote(head[off:off+filesz]) {
				return nil, false // a Go binary, or notes we cannot see
			}
		}
	}
	tableEnd := shoff + shnum*shentsize
	tail := min(loadEnd, shoff)
	kept := uint64(len(head)) + (uint64(size) - tail)
	if shoff < tail {
		kept += tableEnd - shoff
	}
	if kept > sparseBudget {
		return nil, false // a large unloaded tail (symbols, debug information)
	}
	if kept+writable <= sparseBudget { // else a Go binary without its note goes unread, with a warning
		ranges = append(ranges, rw...)
	}
	ranges = append(ranges, [2]int64{int64(tail), size})
	if shoff < tail { // a section table inside the loaded segments (Go's linker puts it at the start)
		ranges = append(ranges, [2]int64{int64(shoff), int64(tableEnd)})
	}
	return mergeRanges(ranges), true
}

// hasGoNote says whether ELF notes hold Go's build ID (name "Go", type 4).
func hasGoNote(notes []byte) bool {
	le := binary.LittleEndian
	for len(notes) >= 12 {
		namesz, descsz, typ := uint64(le.Uint32(notes)), uint64(le.Uint32(notes[4:])), le.Uint32(notes[8:])
		name := (namesz + 3) &^ 3
		desc := (descsz + 3) &^ 3
		if name > uint64(len(notes)-12) || desc > uint64(len(notes)-12)-name {
			return true // damaged: assume the worst, read it whole
		}
		if typ == 4 && namesz == 3 && string(notes[12:15]) == "Go\x00" || typ == 4 && namesz == 4 && string(notes[12:16]) == "Go\x00\x00" {
			return true
		}
		notes = notes[12+name+desc:]
	}
	return false
}

// mergeRanges sorts ranges and joins those that overlap or touch.
func mergeRanges(rs [][2]int64) [][2]int64 {
	for i := 1; i < len(rs); i++ { // few ranges: insertion sort
		for j := i; j > 0 && rs[j][0] < rs[j-1][0]; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	out := rs[:1]
	for _, r := range rs[1:] {
		if last := &out[len(out)-1]; r[0] <= last[1] {
			last[1] = max(last[1], r[1])
		} else {
			out = append(out, r)
		}
	}
	return out
}

// captureSparse reads a file of size bytes from r, keeping only what
// planSparse allows, into arena's storage (grown as needed and reused by
// the caller for the next file). When the file is to be copied whole
// instead, ok is false and rest replays every byte read so far, then r.
func captureSparse(r io.Reader, size int64, arena *[]byte, scratch []byte) (s *Sparse, rest io.Reader, ok bool, err error) {
	head := make([]byte, min(size, sparseHead))
	n, err := io.ReadFull(r, head)
	head = head[:n]
	if err != nil {
		return nil, io.MultiReader(bytes.NewReader(head), r), false, nil // shorter than it says: let the full reading report it
	}
	ranges, ok := planSparse(head, size)
	if !ok {
		return nil, io.MultiReader(bytes.NewReader(head), r), false, nil
	}
	total := 0
	for _, rg := range ranges {
		total += int(rg[1] - rg[0])
	}
	if cap(*arena) < total {
		*arena = make([]byte, total)
	}
	buf := (*arena)[:total]
	s = &Sparse{size: size}
	pos := int64(len(head))
	for _, rg := range ranges {
		part := sparsePart{rg[0], buf[:rg[1]-rg[0]]}
		buf = buf[len(part.data):]
		s.parts = append(s.parts, part)
		data, start := part.data, rg[0]
		if start < int64(len(head)) { // the range holding the head (ranges are merged: only the first)
			copied := copy(data, head[start:])
			data, start = data[copied:], start+int64(copied)
		}
		if len(data) == 0 {
			continue
		}
		if start > pos {
			if err := skip(r, start-pos, scratch); err != nil {
				return nil, nil, true, err
			}
			pos = start
		}
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, nil, true, err
		}
		pos += int64(len(data))
	}
	return s, nil, true, nil
}

// skip reads and drops n bytes.
func skip(r io.Reader, n int64, scratch []byte) error {
	for n > 0 {
		k, err := r.Read(scratch[:min(int64(len(scratch)), n)])
		n -= int64(k)
		if err != nil {
			if n > 0 && errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			if n > 0 {
				return err
			}
		}
	}
	return nil
}
