package advisory

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// Packs: the match index.
//
// Matching asks, for every package of an image, for every record naming it
// with that package's ranges. Kept as one SQLite row per (package, record)
// holding JSON, a 10,000-package image against a full OSV export read about
// 120,000 rows and decoded as many JSON documents, and that was most of a
// scan. A pack is one row per (ecosystem, name) holding, for every record
// naming the package, its id and entries in a compact binary form: one
// lookup per package, and decoding is slicing strings out of one buffer.
//
// The affected table still lists (ecosystem, name, id) for bookkeeping (what
// a record named before it changed, counts by ecosystem); imports collect
// the entries of the records they write and merge them into the packs of
// the packages they touched, before commit or when enough is pending.
//
// Layout (uvarint lengths and counts, strings as length then bytes):
//
//	pack    = packFormat, count, totals, record...  records sorted by id
//	totals  = entries, severities, ranges, events, versions, raw bytes
//	record  = id, len(entries), entries
//	entries = count, entry...
//	entry   = count, (type, score)...             severity
//	          count, (type, repo, count, event...)... ranges
//	          count, version...
//	          ecosystem_specific, database_specific  raw JSON, "" for none
//	event   = mask byte (1 introduced, 2 fixed, 4 last_affected, 8 limit),
//	          then each set field's value in that order
const packFormat = 1

// maxPending bounds the entries an import holds before merging them into
// packs, so importing a full export does not hold all of it in memory.
const maxPending = 64 << 20

var pendingLimit = maxPending // tests lower it to merge after every record

var errPack = errors.New("advisory: damaged index pack")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeEntries encodes one record's entries for one package.
func encodeEntries(b []byte, entries []Affected) []byte {
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, a := range entries {
		b = binary.AppendUvarint(b, uint64(len(a.Severity)))
		for _, s := range a.Severity {
			b = appendString(b, s.Type)
			b = appendString(b, s.Score)
		}
		b = binary.AppendUvarint(b, uint64(len(a.Ranges)))
		for _, r := range a.Ranges {
			b = appendString(b, r.Type)
			b = appendString(b, r.Repo)
			b = binary.AppendUvarint(b, uint64(len(r.Events)))
			for _, e := range r.Events {
				var mask byte
				for i, v := range [...]string{e.Introduced, e.Fixed, e.LastAffected, e.Limit} {
					if v != "" {
						mask |= 1 << i
					}
				}
				b = append(b, mask)
				for _, v := range [...]string{e.Introduced, e.Fixed, e.LastAffected, e.Limit} {
					if v != "" {
						b = appendString(b, v)
					}
				}
			}
		}
		b = binary.AppendUvarint(b, uint64(len(a.Versions)))
		for _, v := range a.Versions {
			b = appendString(b, v)
		}
		b = appendRaw(b, a.EcosystemSpecific)
		b = appendRaw(b, a.DatabaseSpecific)
	}
	return b
}

// appendRaw stores a specific block compacted, as the JSON index did.
func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, 0)
	}
	var c bytes.Buffer
	if json.Compact(&c, raw) == nil {
		raw = c.Bytes()
	}
	b = binary.AppendUvarint(b, uint64(len(raw)))
	return append(b, raw...)
}

// packRecord is one record of a pack, still encoded.
type packRecord struct {
	id      string
	entries string
}

// packTotals are what a pack's records hold in all, stored in its header
// so that decoding allocates one slice of each kind per pack instead of
// several per entry.
type packTotals struct {
	entries, severities, ranges, events, versions, raw int
}

func (t *packTotals) fields() []*int {
	return []*int{&t.entries, &t.severities, &t.ranges, &t.events, &t.versions, &t.raw}
}

// encodePack builds a pack from records sorted by id.
func encodePack(recs []packRecord) []byte {
	var tot packTotals
	n := 64
	for _, r := range recs {
		n += len(r.id) + len(r.entries) + 8
		p := &packReader{s: r.entries}
		p.walkEntries(&tot, nil)
	}
	b := make([]byte, 0, n)
	b = append(b, packFormat)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, f := range tot.fields() {
		b = binary.AppendUvarint(b, uint64(*f))
	}
	for _, r := range recs {
		b = appendString(b, r.id)
		b = binary.AppendUvarint(b, uint64(len(r.entries)))
		b = append(b, r.entries...)
	}
	return b
}

// packReader reads a pack, held as a string: every string it reads is a
// slice of it, not a copy.
type packReader struct {
	s   string
	i   int
	err error
}

// uvarint is binary.Uvarint reading s, refusing values beyond the pack's
// size (no length or count can be larger).
func (p *packReader) uvarint() int {
	var v uint64
	for k, shift := 0, uint(0); k < binary.MaxVarintLen64 && p.i+k < len(p.s); k, shift = k+1, shift+7 {
		c := p.s[p.i+k]
		if c < 0x80 {
			if k == binary.MaxVarintLen64-1 && c > 1 {
				break // overflows 64 bits
			}
			v |= uint64(c) << shift
			if v > uint64(len(p.s)) {
				break
			}
			p.i += k + 1
			return int(v)
		}
		v |= uint64(c&0x7f) << shift
	}
	p.fail()
	return 0
}

func (p *packReader) fail() {
	if p.err == nil {
		p.err = errPack
	}
	p.i = len(p.s)
}

// span returns the bounds of the next length-prefixed item.
func (p *packReader) span() (int, int) {
	n := p.uvarint()
	if p.err != nil || n > len(p.s)-p.i {
		p.fail()
		return 0, 0
	}
	p.i += n
	return p.i - n, p.i
}

func (p *packReader) str() string {
	start, end := p.span()
	return p.s[start:end]
}

func (p *packReader) byte() byte {
	if p.i >= len(p.s) {
		p.fail()
		return 0
	}
	p.i++
	return p.s[p.i-1]
}

// count reads a count of items each at least min bytes long, refusing
// counts the rest of the pack cannot hold.
func (p *packReader) count(min int) int {
	n := p.uvarint()
	if n*min > len(p.s)-p.i {
		p.fail()
		return 0
	}
	return n
}

// slabs are a pack's slices of each kind, handed out in order.
type slabs struct {
	entries  []Affected
	sev      []Severity
	ranges   []Range
	events   []Event
	versions []string
	raw      []byte
}

// take cuts the next n items from a slab (capacity capped, so appending to
// one never writes into the next); ok is false when the slab is short.
func take[T any](s *[]T, n int) (v []T, ok bool) {
	if n > len(*s) {
		return nil, false
	}
	v, *s = (*s)[:n:n], (*s)[n:]
	return v, true
}

// walkEntries reads one record's entries: into sl when given, else only
// adding them up in tot.
func (p *packReader) walkEntries(tot *packTotals, sl *slabs) []Affected {
	var out []Affected
	n := p.count(5)
	if tot != nil {
		tot.entries += n
	} else if out, _ = take(&sl.entries, n); out == nil && n > 0 {
		p.fail()
	}
	for i := 0; i < n && p.err == nil; i++ {
		var a *Affected
		if sl != nil {
			a = &out[i]
			*a = Affected{} // the slab may be reused (PackCursor)
		}
		if ns := p.count(2); tot != nil {
			tot.severities += ns
			for range ns {
				p.str()
				p.str()
			}
		} else if ns > 0 {
			var ok bool
			if a.Severity, ok = take(&sl.sev, ns); !ok {
				p.fail()
			}
			for j := range a.Severity {
				a.Severity[j] = Severity{Type: p.str(), Score: p.str()}
			}
		}
		nr := p.count(3)
		if tot != nil {
			tot.ranges += nr
		} else if nr > 0 {
			var ok bool
			if a.Ranges, ok = take(&sl.ranges, nr); !ok {
				p.fail()
				nr = 0
			}
		}
		for j := 0; j < nr && p.err == nil; j++ {
			typ, repo := p.str(), p.str()
			ne := p.count(1)
			var evs []Event
			if tot != nil {
				tot.events += ne
			} else if ne > 0 {
				var ok bool
				if evs, ok = take(&sl.events, ne); !ok {
					p.fail()
				}
			}
			for k := 0; k < ne && p.err == nil; k++ {
				mask := p.byte()
				var e Event
				if mask&1 != 0 {
					e.Introduced = p.str()
				}
				if mask&2 != 0 {
					e.Fixed = p.str()
				}
				if mask&4 != 0 {
					e.LastAffected = p.str()
				}
				if mask&8 != 0 {
					e.Limit = p.str()
				}
				if evs != nil {
					evs[k] = e
				}
			}
			if a != nil {
				a.Ranges[j] = Range{Type: typ, Repo: repo, Events: evs}
			}
		}
		nv := p.count(1)
		if tot != nil {
			tot.versions += nv
			for range nv {
				p.str()
			}
		} else if nv > 0 {
			var ok bool
			if a.Versions, ok = take(&sl.versions, nv); !ok {
				p.fail()
			}
			for j := range a.Versions {
				a.Versions[j] = p.str()
			}
		}
		for k := 0; k < 2; k++ { // ecosystem_specific, database_specific
			start, end := p.span()
			if tot != nil {
				tot.raw += end - start
				continue
			}
			if end == start || p.err != nil {
				continue
			}
			raw, ok := take(&sl.raw, end-start)
			if !ok {
				p.fail()
				continue
			}
			copy(raw, p.s[start:end])
			if k == 0 {
				a.EcosystemSpecific = raw
			} else {
				a.DatabaseSpecific = raw
			}
		}
	}
	return out
}

// records splits a pack into its records without decoding their entries.
func (p *packReader) records() []packRecord {
	var tot packTotals
	out := make([]packRecord, p.header(&tot))
	for i := range out {
		out[i].id = p.str()
		out[i].entries = p.str()
	}
	if p.i != len(p.s) {
		p.fail()
	}
	return out
}

// header reads the format, the number of records and the totals, each
// bounded by the pack's size.
func (p *packReader) header(tot *packTotals) (records int) {
	if len(p.s) == 0 || p.byte() != packFormat {
		p.fail()
		return 0
	}
	records = p.count(2)
	for _, f := range tot.fields() {
		*f = p.uvarint()
	}
	return records
}

// decodePack decodes a whole pack into candidates: one copy of the pack
// as a string (every string is a slice of it) and one slice of each kind.
// b may be the driver's buffer: nothing keeps slices of it.
func decodePack(b []byte) ([]Candidate, error) {
	var c PackCursor
	c.Reset(Pack{s: string(b)})
	out := make([]Candidate, 0, c.left)
	for c.Next() {
		out = append(out, c.Candidate())
		c.buf = c.rest // keep what this record decoded: the next one takes after it
	}
	if c.Err() != nil {
		return nil, c.Err()
	}
	return out, nil
}

// Pack is one package's row of the match index: every record naming the
// package with that package's entries, still encoded. Read it with a
// PackCursor.
type Pack struct {
	Key PackageKey
	s   string
}

// PackCursor reads a pack's records one at a time. Each record's entries
// are decoded into storage the cursor reuses for the next record (and the
// next pack): matching reads every record naming each package of an image,
// about a hundred thousand for a large one, and keeps the few that hit.
// Strings are slices of the pack, never overwritten; slices of the
// entries (severities, ranges, events, versions, specific blocks) are
// valid only until the next call to Next or Reset, so a caller that keeps
// an entry copies them.
type PackCursor struct {
	p    packReader
	left int   // records not yet read
	buf  slabs // storage for the records of the pack
	rest slabs // what the current record left of buf
	cur  Candidate
}

// Reset points the cursor at the start of a pack.
func (c *PackCursor) Reset(pk Pack) {
	c.p = packReader{s: pk.s}
	c.cur = Candidate{}
	var tot packTotals
	c.left = c.p.header(&tot)
	// Every item takes at least this many bytes: a damaged header cannot
	// ask for more storage than the pack's size justifies.
	if c.p.err == nil && tot.entries*5+tot.severities*2+tot.ranges*3+tot.events+tot.versions+tot.raw > len(pk.s) {
		c.p.fail()
	}
	if c.p.err == nil && c.left == 0 && c.p.i != len(c.p.s) {
		c.p.fail() // no records, yet more bytes
	}
	if c.p.err != nil {
		c.left = 0
		return
	}
	c.buf = slabs{
		entries: reuse(c.buf.entries, tot.entries), sev: reuse(c.buf.sev, tot.severities), ranges: reuse(c.buf.ranges, tot.ranges),
		events: reuse(c.buf.events, tot.events), versions: reuse(c.buf.versions, tot.versions), raw: reuse(c.buf.raw, tot.raw),
	}
}

// reuse gives n items of s's storage, allocating only when s is short.
func reuse[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Next decodes the next record; it returns false at the end of the pack or
// on damage (Err).
func (c *PackCursor) Next() bool {
	if c.left == 0 || c.p.err != nil {
		return false
	}
	c.left--
	c.rest = c.buf // totals cover the whole pack, so any one record fits
	c.cur.ID = c.p.str()
	n := c.p.uvarint()
	end := c.p.i + n
	c.cur.Affected = c.p.walkEntries(nil, &c.rest)
	if c.p.err == nil && c.p.i != end {
		c.p.fail()
	}
	if c.p.err == nil && c.left == 0 && c.p.i != len(c.p.s) {
		c.p.fail()
	}
	return c.p.err == nil
}

// Candidate is the record Next decoded (see PackCursor for how long its
// slices stay valid).
func (c *PackCursor) Candidate() Candidate { return c.cur }

// Err says whether the pack was damaged.
func (c *PackCursor) Err() error { return c.p.err }

// pending is what an import has changed in packs and not yet merged.
type pending struct {
	add   map[PackageKey]map[string]string // encoded entries by record id
	drop  map[PackageKey]map[string]bool   // record ids that no longer name the key
	bytes int
}

func (pd *pending) put(k PackageKey, id string, entries string) {
	if pd.add == nil {
		pd.add = map[PackageKey]map[string]string{}
	}
	if pd.add[k] == nil {
		pd.add[k] = map[string]string{}
	}
	pd.add[k][id] = entries
	pd.bytes += len(entries) + len(id)
}

func (pd *pending) remove(k PackageKey, id string) {
	if pd.drop == nil {
		pd.drop = map[PackageKey]map[string]bool{}
	}
	if pd.drop[k] == nil {
		pd.drop[k] = map[string]bool{}
	}
	pd.drop[k][id] = true
	delete(pd.add[k], id)
}

// flushPacks merges what is pending into the packs of the keys it touches.
func (t *txn) flushPacks(ctx context.Context) error {
	keys := make([]PackageKey, 0, len(t.pend.add)+len(t.pend.drop))
	seen := map[PackageKey]bool{}
	for k := range t.pend.add {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for k := range t.pend.drop {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.Ecosystem < b.Ecosystem || (a.Ecosystem == b.Ecosystem && a.Name < b.Name)
	})
	for _, k := range keys {
		var old []byte
		err := t.getPack.QueryRowContext(ctx, k.Ecosystem, k.Name).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		add, drop := t.pend.add[k], t.pend.drop[k]
		var recs []packRecord
		if len(old) > 0 {
			p := &packReader{s: string(old)}
			for _, r := range p.records() {
				if _, replaced := add[r.id]; !replaced && !drop[r.id] {
					recs = append(recs, r)
				}
			}
			if p.err != nil {
				return fmt.Errorf("index pack %s/%s: %w", k.Ecosystem, k.Name, p.err)
			}
		}
		for id, e := range add {
			recs = append(recs, packRecord{id: id, entries: e})
		}
		if len(recs) == 0 {
			if _, err := t.delPack.ExecContext(ctx, k.Ecosystem, k.Name); err != nil {
				return err
			}
			continue
		}
		sort.Slice(recs, func(i, j int) bool { return recs[i].id < recs[j].id })
		if _, err := t.putPack.ExecContext(ctx, k.Ecosystem, k.Name, encodePack(recs)); err != nil {
			return err
		}
	}
	t.pend = pending{}
	return nil
}
