package java

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A minimal reader of zip central directories. archive/zip keeps a File for
// every entry (a few hundred bytes each, so a jar of a million tiny entries
// costs hundreds of megabytes before we can look at a name); this reader
// streams the directory, lets the caller keep only the entries it wants, and
// opens those by offset. It reads what Java's jar tool, Maven, Gradle and
// Spring Boot write: stored and deflated entries, zip64, data descriptors and
// a launch script prepended to the archive.

const (
	eocdLen          = 22
	eocdSig          = 0x06054b50
	eocd64LocatorLen = 20
	eocd64LocatorSig = 0x07064b50
	eocd64Len        = 56
	eocd64Sig        = 0x06064b50
	cdHeaderLen      = 46
	cdHeaderSig      = 0x02014b50
	localHeaderLen   = 30
	localHeaderSig   = 0x04034b50
	zip64ExtraID     = 0x0001

	methodStore   = 0
	methodDeflate = 8
	flagEncrypted = 0x1
)

var errNotZip = errors.New("not a zip archive")

// zipEntry is one central directory record: enough to find and read it.
type zipEntry struct {
	name   string
	flags  uint16
	method uint16
	csize  uint64
	usize  uint64
	offset uint64 // of the local header, relative to the archive's base
}

type zipReader struct {
	ra   io.ReaderAt
	size int64
	// base is the number of bytes prepended to the archive (a launch script
	// on Spring Boot's "fully executable" jars); offsets in the archive do
	// not count them.
	base   int64
	cdOff  int64 // absolute
	cdSize int64
}

// openZip finds the end of central directory record.
func openZip(ra io.ReaderAt, size int64) (*zipReader, error) {
	if size < eocdLen {
		return nil, fmt.Errorf("%w: %d bytes", errNotZip, size)
	}
	// The record is the last 22 bytes plus a comment of at most 65535 bytes.
	tail := int64(eocdLen + 0xffff)
	if tail > size {
		tail = size
	}
	buf := make([]byte, tail)
	if _, err := ra.ReadAt(buf, size-tail); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading end of central directory: %w", err)
	}
	at := -1
	for i := len(buf) - eocdLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) == eocdSig {
			n := int(binary.LittleEndian.Uint16(buf[i+20:]))
			if i+eocdLen+n <= len(buf) {
				at = i
				break
			}
		}
	}
	if at < 0 {
		return nil, fmt.Errorf("%w: no end of central directory record", errNotZip)
	}
	rec := buf[at:]
	endOff := size - tail + int64(at)
	records := uint64(binary.LittleEndian.Uint16(rec[10:]))
	cdSize := uint64(binary.LittleEndian.Uint32(rec[12:]))
	cdOff := uint64(binary.LittleEndian.Uint32(rec[16:]))
	if records == 0xffff || cdSize == 0xffffffff || cdOff == 0xffffffff {
		if off, s, o, ok := readZip64End(ra, endOff); ok {
			endOff, cdSize, cdOff = off, s, o
		}
	}
	if cdSize > uint64(size) || cdOff > uint64(size) {
		return nil, fmt.Errorf("%w: central directory (%d bytes at %d) outside a file of %d bytes", errNotZip, cdSize, cdOff, size)
	}
	base := endOff - int64(cdSize) - int64(cdOff)
	if base < 0 {
		return nil, fmt.Errorf("%w: central directory overlaps its end record", errNotZip)
	}
	// Like archive/zip: when the end record implies prepended bytes but a
	// directory header sits at the recorded offset anyway, trust the offset.
	if base > 0 && cdSize > 0 {
		var sig [4]byte
		if _, err := ra.ReadAt(sig[:], int64(cdOff)); err == nil && binary.LittleEndian.Uint32(sig[:]) == cdHeaderSig {
			base = 0
		}
	}
	return &zipReader{ra: ra, size: size, base: base, cdOff: base + int64(cdOff), cdSize: int64(cdSize)}, nil
}

// readZip64End reads the zip64 end record that the locator before the end
// record points to.
func readZip64End(ra io.ReaderAt, endOff int64) (off int64, cdSize, cdOff uint64, ok bool) {
	if endOff < eocd64LocatorLen {
		return 0, 0, 0, false
	}
	var loc [eocd64LocatorLen]byte
	if _, err := ra.ReadAt(loc[:], endOff-eocd64LocatorLen); err != nil || binary.LittleEndian.Uint32(loc[:]) != eocd64LocatorSig {
		return 0, 0, 0, false
	}
	p := binary.LittleEndian.Uint64(loc[8:])
	if p > uint64(endOff) {
		return 0, 0, 0, false
	}
	var rec [eocd64Len]byte
	if _, err := ra.ReadAt(rec[:], int64(p)); err != nil || binary.LittleEndian.Uint32(rec[:]) != eocd64Sig {
		return 0, 0, 0, false
	}
	return int64(p), binary.LittleEndian.Uint64(rec[40:]), binary.LittleEndian.Uint64(rec[48:]), true
}

// errStop ends a walk early without an error.
var errStop = errors.New("stop")

// walk calls fn for every central directory record, in order. It reads the
// directory as a stream: memory does not grow with the number of entries.
// The directory's own length, not its declared entry count, ends the walk
// (the count is only 16 bits in archives written without zip64).
func (z *zipReader) walk(fn func(e *zipEntry) error) error {
	br := bufio.NewReaderSize(io.NewSectionReader(z.ra, z.cdOff, z.cdSize), 64<<10)
	var hdr [cdHeaderLen]byte
	var nameExtra []byte
	var e zipEntry
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("central directory: %w", err)
		}
		if binary.LittleEndian.Uint32(hdr[:]) != cdHeaderSig {
			return nil // a digital signature or zip64 record follows the entries
		}
		nameLen := int(binary.LittleEndian.Uint16(hdr[28:]))
		extraLen := int(binary.LittleEndian.Uint16(hdr[30:]))
		commentLen := int(binary.LittleEndian.Uint16(hdr[32:]))
		if cap(nameExtra) < nameLen+extraLen {
			nameExtra = make([]byte, nameLen+extraLen)
		}
		nameExtra = nameExtra[:nameLen+extraLen]
		if _, err := io.ReadFull(br, nameExtra); err != nil {
			return fmt.Errorf("central directory: %w", err)
		}
		if _, err := br.Discard(commentLen); err != nil {
			return fmt.Errorf("central directory: %w", err)
		}
		e = zipEntry{
			name:   string(nameExtra[:nameLen]),
			flags:  binary.LittleEndian.Uint16(hdr[8:]),
			method: binary.LittleEndian.Uint16(hdr[10:]),
			csize:  uint64(binary.LittleEndian.Uint32(hdr[20:])),
			usize:  uint64(binary.LittleEndian.Uint32(hdr[24:])),
			offset: uint64(binary.LittleEndian.Uint32(hdr[42:])),
		}
		applyZip64(&e, nameExtra[nameLen:])
		if err := fn(&e); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
}

// applyZip64 takes the 64-bit sizes and offset from a zip64 extra field:
// each is present only when its 32-bit field is saturated.
func applyZip64(e *zipEntry, extra []byte) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if n > len(extra) {
			return
		}
		field := extra[:n]
		extra = extra[n:]
		if id != zip64ExtraID {
			continue
		}
		for _, v := range []*uint64{&e.usize, &e.csize, &e.offset} {
			if *v != 0xffffffff {
				continue
			}
			if len(field) < 8 {
				return
			}
			*v = binary.LittleEndian.Uint64(field)
			field = field[8:]
		}
		return
	}
}

// data returns where an entry's compressed bytes are, after its local header.
func (z *zipReader) data(e *zipEntry) (int64, int64, error) {
	if e.offset > uint64(z.size) || e.csize > uint64(z.size) {
		return 0, 0, fmt.Errorf("entry %q lies outside the archive", e.name)
	}
	at := z.base + int64(e.offset)
	var lh [localHeaderLen]byte
	if _, err := z.ra.ReadAt(lh[:], at); err != nil {
		return 0, 0, fmt.Errorf("entry %q: local header: %w", e.name, err)
	}
	if binary.LittleEndian.Uint32(lh[:]) != localHeaderSig {
		return 0, 0, fmt.Errorf("entry %q: no local header at offset %d", e.name, at)
	}
	start := at + localHeaderLen + int64(binary.LittleEndian.Uint16(lh[26:])) + int64(binary.LittleEndian.Uint16(lh[28:]))
	if start+int64(e.csize) > z.size {
		return 0, 0, fmt.Errorf("entry %q: %d compressed bytes run past the end of the archive", e.name, e.csize)
	}
	return start, int64(e.csize), nil
}
