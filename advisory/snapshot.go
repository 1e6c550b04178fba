package advisory

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// The match snapshot.
//
// Matching a large image asks the database for about ten thousand packs and
// ten thousand records. Through SQLite each record lookup cost about 25 µs
// of CPU (b-tree pages, then zstd, then JSON), which alone was more than the
// whole match may take. So every write that changes records also writes an
// immutable file beside the database (DB path + ".match") holding what
// matching reads, in the form it reads it: every pack, and every record
// without its affected list (already in the packs), uncompressed and
// binary-encoded, with the ids the database links to it (MatchRecords).
// The file is memory-mapped and looked up by binary search over sorted,
// fixed-width indexes: a lookup is a few hundred nanoseconds and touches
// a few pages.
//
// The snapshot is a cache: it is stamped with the database's generation (a
// random token every write that changes records replaces, in the same
// transaction), and a file of another generation is ignored, so a crash
// between the database's commit and the snapshot's rename, or a copy of an
// old snapshot, can only make matching slower (it reads SQLite, as before),
// never wrong. Files are replaced by rename, never changed in place, so a
// mapping stays valid however the file is replaced. A write whose previous
// snapshot is current rewrites only the records it changed (and those up
// to two alias hops from them, recordsSince), copying the rest.
//
// Layout (little-endian):
//
//	header  = magic "CUSTOMSM", format u32, 0 u32, generation [32]byte,
//	          packs table, records table
//	table   = index offset u64, entries u64, keys offset u64, keys length u64
//	index   = entries × (key offset u32, key length u32, value offset u64,
//	          value length u64), sorted by key (bytes); offsets of keys
//	          are within the table's keys, of values within the file
//	pack key    = uvarint len(ecosystem), ecosystem, name;  value: a pack (pack.go)
//	record key  = id;  value: count, linked id..., lean record
//	lean record = schema_version, id, summary, details, modified, published,
//	          withdrawn (times as time.MarshalBinary, "" for none), aliases,
//	          related, upstream (count+1, 0 for none; then strings), count+1,
//	          (type, score)..., count+1, (type, url)..., database_specific
const (
	snapMagic      = "CUSTOMSM"
	snapFormat     = 1
	snapHeaderSize = 8 + 4 + 4 + 32 + 2*32
	snapEntrySize  = 24
)

// snapshotSuffix names the snapshot beside its database.
const snapshotSuffix = ".match"

// snapshot is a mapped snapshot file.
type snapshot struct {
	data    []byte
	unmap   func() error
	gen     string
	packs   snapTable
	records snapTable
}

// snapTable is one sorted index of a snapshot.
type snapTable struct {
	data  []byte // the whole file: values are anywhere in it
	index []byte
	keys  []byte
	n     int
}

var errSnapshot = errors.New("damaged match snapshot")

// openSnapshot maps a snapshot file and checks its header and the bounds of
// its indexes; every lookup checks the bounds of what it reads.
func openSnapshot(path string) (*snapshot, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	s, err := parseSnapshot(data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.unmap = unmap
	return s, nil
}

// parseSnapshot reads a snapshot's header over its bytes.
func parseSnapshot(data []byte) (*snapshot, error) {
	if len(data) < snapHeaderSize || string(data[:8]) != snapMagic {
		return nil, fmt.Errorf("%w: no snapshot header", errSnapshot)
	}
	if f := binary.LittleEndian.Uint32(data[8:]); f != snapFormat {
		return nil, fmt.Errorf("%w: format %d, this customs reads %d", errSnapshot, f, snapFormat)
	}
	s := &snapshot{data: data, gen: strings.TrimRight(string(data[16:48]), "\x00")}
	for i, t := range []*snapTable{&s.packs, &s.records} {
		h := data[48+32*i:]
		idx, n := binary.LittleEndian.Uint64(h), binary.LittleEndian.Uint64(h[8:])
		keys, keysLen := binary.LittleEndian.Uint64(h[16:]), binary.LittleEndian.Uint64(h[24:])
		size := uint64(len(data))
		if idx > size || n > (size-idx)/snapEntrySize || keys > size || keysLen > size-keys {
			return nil, fmt.Errorf("%w: table %d out of bounds", errSnapshot, i)
		}
		*t = snapTable{data: data, index: data[idx : idx+n*snapEntrySize], keys: data[keys : keys+keysLen], n: int(n)}
	}
	return s, nil
}

func (s *snapshot) close() error {
	if s == nil || s.unmap == nil {
		return nil
	}
	return s.unmap()
}

// entry returns the key and value of index entry i; ok is false when
// either lies outside the file.
func (t *snapTable) entry(i int) (key, value []byte, ok bool) {
	e := t.index[i*snapEntrySize:]
	ko, kl := uint64(binary.LittleEndian.Uint32(e)), uint64(binary.LittleEndian.Uint32(e[4:]))
	vo, vl := binary.LittleEndian.Uint64(e[8:]), binary.LittleEndian.Uint64(e[16:])
	if ko > uint64(len(t.keys)) || kl > uint64(len(t.keys))-ko || vo > uint64(len(t.data)) || vl > uint64(len(t.data))-vo {
		return nil, nil, false
	}
	return t.keys[ko : ko+kl], t.data[vo : vo+vl], true
}

// find returns the value stored under key: a slice of the mapping, valid
// while the snapshot is open.
func (t *snapTable) find(key string) ([]byte, error) {
	lo, hi := 0, t.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		k, v, ok := t.entry(mid)
		if !ok {
			return nil, fmt.Errorf("%w: index entry %d out of bounds", errSnapshot, mid)
		}
		switch c := strings.Compare(unsafe.String(unsafe.SliceData(k), len(k)), key); {
		case c < 0:
			lo = mid + 1
		case c > 0:
			hi = mid
		default:
			return v, nil
		}
	}
	return nil, nil
}

// packKey is a pack's key in a snapshot: the ecosystem's length first, so
// no two (ecosystem, name) pairs share a key whatever bytes they hold.
func packKey(b []byte, k PackageKey) []byte {
	b = binary.AppendUvarint(b, uint64(len(k.Ecosystem)))
	return append(append(b, k.Ecosystem...), k.Name...)
}

// snapshotRecord is a record's value in a snapshot.
type snapshotRecord struct {
	linked []string // see MatchRecords
	lean   string   // the encoded record, see decodeLean
}

// splitRecordValue separates a record value's linked ids from its record.
func splitRecordValue(v string) (snapshotRecord, error) {
	p := packReader{s: v}
	n := p.count(1)
	var r snapshotRecord
	if n > 0 {
		r.linked = make([]string, n)
		for i := range r.linked {
			r.linked[i] = p.str()
		}
	}
	if p.err != nil {
		return snapshotRecord{}, errSnapshot
	}
	r.lean = v[p.i:]
	return r, nil
}

func appendRecordValue(b []byte, linked []string, lean []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(linked)))
	for _, a := range linked {
		b = appendString(b, a)
	}
	return append(b, lean...)
}

// linkedIDs is what MatchRecords says is linked to r, from the
// non-record aliases of records by id (nonRecordAliases).
func linkedIDs(r *Record, nonRecord map[string][]string) []string {
	var out []string
	for _, id := range r.IDs() {
		out = append(out, nonRecord[id]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// encodeLean encodes a record but for its affected list.
func encodeLean(b []byte, r *Record) []byte {
	for _, s := range []string{r.SchemaVersion, r.ID, r.Summary, r.Details} {
		b = appendString(b, s)
	}
	for _, t := range []*time.Time{&r.Modified, r.Published, r.Withdrawn} {
		if t == nil || (t == &r.Modified && t.IsZero()) {
			b = append(b, 0)
			continue
		}
		tb, err := t.MarshalBinary()
		if err != nil { // a year beyond what the encoding holds: none
			tb = nil
		}
		b = appendString(b, string(tb))
	}
	for _, l := range [][]string{r.Aliases, r.Related, r.Upstream} {
		b = appendCount(b, l == nil, len(l))
		for _, s := range l {
			b = appendString(b, s)
		}
	}
	b = appendCount(b, r.Severity == nil, len(r.Severity))
	for _, s := range r.Severity {
		b = appendString(appendString(b, s.Type), s.Score)
	}
	b = appendCount(b, r.References == nil, len(r.References))
	for _, ref := range r.References {
		b = appendString(appendString(b, ref.Type), ref.URL)
	}
	if r.DatabaseSpecific == nil {
		return append(b, 0)
	}
	return appendString(append(b, 1), string(r.DatabaseSpecific))
}

// appendCount writes a list's length plus one, or 0 for a nil list, so
// that a record decodes to what encoding/json made of it (an empty list
// stays empty, a missing one nil).
func appendCount(b []byte, isNil bool, n int) []byte {
	if isNil {
		return append(b, 0)
	}
	return binary.AppendUvarint(b, uint64(n)+1)
}

// decodeLean decodes encodeLean's bytes. Its strings are slices of s.
func decodeLean(s string) (*Record, error) {
	p := packReader{s: s}
	r := &Record{}
	r.SchemaVersion, r.ID, r.Summary, r.Details = p.str(), p.str(), p.str(), p.str()
	var err error
	for i, t := range []**time.Time{nil, &r.Published, &r.Withdrawn} {
		tb := p.str()
		if tb == "" || p.err != nil {
			continue
		}
		var buf [32]byte
		var tm time.Time
		if len(tb) > len(buf) {
			err = errSnapshot
			continue
		}
		if e := tm.UnmarshalBinary(buf[:copy(buf[:], tb)]); e != nil {
			err = errSnapshot
		}
		if i == 0 {
			r.Modified = tm
		} else {
			*t = &tm
		}
	}
	for _, l := range []*[]string{&r.Aliases, &r.Related, &r.Upstream} {
		if n := p.count(1) - 1; n >= 0 && p.err == nil {
			*l = make([]string, n)
			for i := range *l {
				(*l)[i] = p.str()
			}
		}
	}
	if n := p.count(2) - 1; n >= 0 && p.err == nil {
		r.Severity = make([]Severity, n)
		for i := range r.Severity {
			r.Severity[i] = Severity{Type: p.str(), Score: p.str()}
		}
	}
	if n := p.count(2) - 1; n >= 0 && p.err == nil {
		r.References = make([]Reference, n)
		for i := range r.References {
			r.References[i] = Reference{Type: p.str(), URL: p.str()}
		}
	}
	if p.byte() == 1 {
		r.DatabaseSpecific = []byte(p.str())
	}
	if p.err != nil || err != nil || p.i != len(s) {
		return nil, errSnapshot
	}
	return r, nil
}

// The snapshot's part of DB: finding it, using it, replacing it.

// SnapshotPath is where the match snapshot of the database at dbPath
// lives. A database moved without it is matched without one (opened for
// writing, it writes one).
func SnapshotPath(dbPath string) string { return dbPath + snapshotSuffix }

func (db *DB) snapshotPath() string { return SnapshotPath(db.path) }

// useSnapshot returns the snapshot of the database's current generation,
// if there is one, read-locked: the caller calls release when it has copied
// what it read. Each call checks the generation (a lookup in meta), so a
// database another process updated is matched through its new snapshot, or
// through SQLite until that is written, never through an old one.
func (db *DB) useSnapshot(ctx context.Context) (s *snapshot, release func(), err error) {
	gen, err := generation(ctx, db.sql)
	if err != nil || gen == "" {
		return nil, nil, err
	}
	for range 2 {
		db.snapMu.RLock()
		if db.snap != nil && db.snap.gen == gen {
			return db.snap, db.snapMu.RUnlock, nil
		}
		db.snapMu.RUnlock()
		db.noteMu.Lock()
		tried := db.snapTried == gen
		seen := db.snapSeen
		db.noteMu.Unlock()
		if tried {
			// Looked at already: look again only if another handle has
			// since written a file (snapshots are replaced by rename).
			if fi, err := os.Stat(db.snapshotPath()); err != nil || (seen != nil && os.SameFile(fi, seen)) {
				break
			}
		}
		db.loadSnapshot(gen)
	}
	return nil, nil, nil
}

// loadSnapshot maps the snapshot beside the database if it is of
// generation gen. A missing, damaged or stale file is not an error:
// matching reads SQLite instead, and the file is not opened again until
// the generation or the file changes.
func (db *DB) loadSnapshot(gen string) {
	seen, _ := os.Stat(db.snapshotPath())
	s, err := openSnapshot(db.snapshotPath())
	note := ""
	switch {
	case errors.Is(err, os.ErrNotExist):
		note = "missing"
	case err != nil:
		note = err.Error()
	case s.gen != gen:
		note = "written for another state of the database"
		s.close()
	default:
		db.snapMu.Lock() // waits for readers of the snapshot it replaces
		db.snap, s = s, db.snap
		db.snapMu.Unlock()
		s.close()
	}
	db.noteMu.Lock()
	db.snapTried, db.snapNote, db.snapSeen = gen, note, seen
	db.noteMu.Unlock()
}

// snapshotState says how large the snapshot matching reads is or, when it
// reads none, why.
func (db *DB) snapshotState(ctx context.Context) (size int64, note string) {
	s, release, err := db.useSnapshot(ctx)
	if err != nil {
		return 0, err.Error()
	}
	if s == nil {
		if gen, _ := generation(ctx, db.sql); gen == "" {
			return 0, "the database predates snapshots"
		}
		if !canMap {
			return 0, "not used on this system"
		}
		db.noteMu.Lock()
		defer db.noteMu.Unlock()
		return 0, cmp.Or(db.snapNote, "missing")
	}
	defer release()
	return int64(len(s.data)), ""
}

// generation reads the database's generation (q: the database or a transaction).
func generation(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (string, error) {
	var g string
	err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'generation'`).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return g, err
}

// newGeneration writes a fresh generation in a write transaction and
// returns it and the one it replaced.
func newGeneration(ctx context.Context, tx *sql.Tx) (old, gen string, err error) {
	if old, err = generation(ctx, tx); err != nil {
		return "", "", err
	}
	var b [16]byte
	rand.Read(b[:])
	gen = hex.EncodeToString(b[:])
	_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO meta(key, value) VALUES ('generation', ?)`, gen)
	return old, gen, err
}

// writeSnapshot writes the snapshot of generation gen and makes it
// current. A write transaction that replaced generation prevGen with gen
// and changed the records changed calls it after its commit: when the
// current snapshot is of prevGen, only those records are read again; any
// other call reads everything. When the database has moved past gen (a
// later write committed meanwhile), it writes nothing: that write's own
// call writes the snapshot.
func (db *DB) writeSnapshot(ctx context.Context, prevGen, gen string, changed []string) error {
	db.snapWrite.Lock() // one writer at a time, so snapshots are written in generation order
	defer db.snapWrite.Unlock()
	tx, err := db.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // one consistent view
	if err != nil {
		return err
	}
	defer tx.Rollback()
	switch now, err := generation(ctx, tx); {
	case err != nil:
		return err
	case now != gen || gen == "":
		return nil
	}
	// prev stays read-locked while its records are copied: a reader that
	// finds another process's newer snapshot waits to replace it.
	db.snapMu.RLock()
	prev := db.snap
	// Many changes (a first import, a full update) are read faster as one
	// pass over every record than as a query each.
	if prev == nil || prev.gen != prevGen || prevGen == "" || len(changed) > max(1000, prev.records.n/8) {
		prev = nil
		db.snapMu.RUnlock()
	} else {
		defer func() {
			if prev != nil {
				db.snapMu.RUnlock()
			}
		}()
	}
	removeAbandoned(db.snapshotPath())
	f, err := os.CreateTemp(filepath.Dir(db.path), filepath.Base(db.snapshotPath())+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename, a no-op
	f.Chmod(0o644)            // as the database beside it
	w := &snapWriter{w: bufio.NewWriterSize(f, 1<<20), off: snapHeaderSize}
	w.w.Write(make([]byte, snapHeaderSize)) // the header is written last
	if err := w.packs(ctx, tx); err != nil {
		f.Close()
		return fmt.Errorf("writing the match snapshot's packs: %w", err)
	}
	if prev != nil {
		db.snapReread, err = w.recordsSince(ctx, tx, db, prev, changed)
	} else {
		db.snapReread, err = -1, w.allRecords(ctx, tx, db)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("writing the match snapshot's records: %w", err)
	}
	header, err := w.finish(gen)
	if err == nil {
		_, err = f.WriteAt(header, 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the match snapshot: %w", err)
	}
	if err := os.Rename(f.Name(), db.snapshotPath()); err != nil {
		return err
	}
	if prev != nil {
		prev = nil
		db.snapMu.RUnlock()
	}
	db.loadSnapshot(gen)
	return nil
}

// removeAbandoned deletes snapshot files a killed writer left half
// written (hundreds of MB each for a full database). A file still being
// written by another process is recent; only those untouched for an hour
// go.
func removeAbandoned(snapshotPath string) {
	old, _ := filepath.Glob(snapshotPath + ".tmp-*")
	for _, p := range old {
		if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > time.Hour {
			os.Remove(p)
		}
	}
}

// snapWriter writes a snapshot's values as they come and its indexes last.
type snapWriter struct {
	w       *bufio.Writer
	off     uint64
	tables  [2][]snapEntry
	current int // the table values are being written for
	err     error
}

type snapEntry struct {
	key      string
	off, len uint64
}

// put writes one value of the current table.
func (w *snapWriter) put(key string, value []byte) {
	if w.err != nil {
		return
	}
	_, w.err = w.w.Write(value)
	w.tables[w.current] = append(w.tables[w.current], snapEntry{key, w.off, uint64(len(value))})
	w.off += uint64(len(value))
}

// packs copies every pack: they are a fraction of the records' bytes and
// read without decoding.
func (w *snapWriter) packs(ctx context.Context, tx *sql.Tx) error {
	w.current = 0
	rows, err := tx.QueryContext(ctx, `SELECT ecosystem, name, data FROM packs`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var key []byte
	for rows.Next() {
		var k PackageKey
		var data sql.RawBytes
		if err := rows.Scan(&k.Ecosystem, &k.Name, &data); err != nil {
			return err
		}
		key = packKey(key[:0], k)
		w.put(string(key), data)
	}
	return cmp.Or(rows.Close(), w.err)
}

// nonRecordAliases reads the aliases of records that are not records
// themselves, by record id: for the records ids, or (ids nil) every record.
func nonRecordAliases(ctx context.Context, tx *sql.Tx, ids []string) (map[string][]string, error) {
	q := `SELECT id, alias FROM aliases WHERE alias NOT IN (SELECT id FROM records)`
	args := []any{}
	if ids != nil {
		q += ` AND id IN ` + inList
		args = append(args, jsonList(ids))
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var id, alias string
		if err := rows.Scan(&id, &alias); err != nil {
			return nil, err
		}
		out[id] = append(out[id], alias)
	}
	return out, rows.Close()
}

// allRecords encodes every record, inflating and decoding them on every
// core while one connection reads them.
func (w *snapWriter) allRecords(ctx context.Context, tx *sql.Tx, db *DB) error {
	w.current = 1
	nonRecord, err := nonRecordAliases(ctx, tx, nil)
	if err != nil {
		return err
	}
	type row struct {
		id   string
		body []byte
	}
	type encoded struct {
		id    string
		value []byte
		err   error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in, out := make(chan row, 256), make(chan encoded, 256)
	var readErr error
	go func() {
		defer close(in)
		rows, err := tx.QueryContext(ctx, `SELECT id, body FROM records`)
		if err != nil {
			readErr = err
			return
		}
		defer rows.Close()
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.body); err != nil {
				readErr = err
				return
			}
			select {
			case in <- r:
			case <-ctx.Done():
				return
			}
		}
		readErr = rows.Close()
	}()
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var raw []byte
			for r := range in {
				e := encoded{id: r.id}
				e.value, raw, e.err = db.encodeStored(r.id, r.body, raw, func(r *Record) ([]string, error) { return linkedIDs(r, nonRecord), nil })
				select {
				case out <- e:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()
	for e := range out {
		if e.err != nil {
			cancel()
			for range out {
			}
			return e.err
		}
		w.put(e.id, e.value)
	}
	return cmp.Or(readErr, w.err)
}

// encodeStored makes a stored record's snapshot value; raw is scratch for
// inflating it.
func (db *DB) encodeStored(id string, body, raw []byte, linked func(*Record) ([]string, error)) (value, rawOut []byte, err error) {
	if raw, err = db.dec.DecodeAll(body, raw[:0]); err != nil {
		return nil, raw, fmt.Errorf("record %s: %w", id, err)
	}
	r, err := decodeRecordLean(raw)
	if err != nil {
		return nil, raw, fmt.Errorf("record %s: %w", id, err)
	}
	l, err := linked(r)
	if err != nil {
		return nil, raw, err
	}
	return appendRecordValue(nil, l, encodeLean(nil, r)), raw, nil
}

// recordsSince copies prev's records but those a write changed, which it
// reads again: the changed ones and those whose linked ids they can
// change. A record's linked ids are the non-record aliases of each of its
// ids, so they change when one of its ids is a changed record, or names
// as an alias a record that was added or removed (two hops: GHSA-a →
// DEBIAN-CVE-1 → DSA-1-1).
func (w *snapWriter) recordsSince(ctx context.Context, tx *sql.Tx, db *DB, prev *snapshot, changed []string) (reread int, err error) {
	w.current = 1
	again := map[string]bool{}
	for _, id := range changed {
		again[id] = true
	}
	// Hop one: records whose aliases name a changed id (their non-record
	// aliases may have changed); hop two: records whose aliases name those.
	frontier := changed
	for range 2 {
		var next []string
		for batch := range slices.Chunk(frontier, 500) {
			rows, err := tx.QueryContext(ctx, `SELECT DISTINCT id FROM aliases WHERE alias IN `+inList, jsonList(batch))
			if err != nil {
				return 0, err
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return 0, err
				}
				if !again[id] {
					again[id] = true
					next = append(next, id)
				}
			}
			if err := rows.Close(); err != nil {
				return 0, err
			}
		}
		frontier = next
	}
	t := &prev.records
	for i := range t.n {
		k, v, ok := t.entry(i)
		if !ok {
			return 0, fmt.Errorf("%w: index entry %d out of bounds", errSnapshot, i)
		}
		if !again[string(k)] {
			w.put(string(k), v)
		}
	}
	get, err := tx.PrepareContext(ctx, `SELECT body FROM records WHERE id = ?`)
	if err != nil {
		return 0, err
	}
	defer get.Close()
	var raw []byte
	for id := range again {
		var body []byte
		switch err := get.QueryRowContext(ctx, id).Scan(&body); {
		case errors.Is(err, sql.ErrNoRows):
			continue // removed
		case err != nil:
			return 0, err
		}
		var value []byte
		var err error
		if value, raw, err = db.encodeStored(id, body, raw, func(r *Record) ([]string, error) {
			nonRecord, err := nonRecordAliases(ctx, tx, r.IDs())
			return linkedIDs(r, nonRecord), err
		}); err != nil {
			return 0, err
		}
		w.put(id, value)
	}
	return len(again), w.err
}

// finish writes the indexes and returns the header.
func (w *snapWriter) finish(gen string) ([]byte, error) {
	header := make([]byte, 0, snapHeaderSize)
	header = append(header, snapMagic...)
	header = binary.LittleEndian.AppendUint32(header, snapFormat)
	header = binary.LittleEndian.AppendUint32(header, 0)
	var g [32]byte
	if copy(g[:], gen) != len(gen) {
		return nil, fmt.Errorf("generation %q is too long", gen)
	}
	header = append(header, g[:]...)
	for i := range w.tables {
		entries := w.tables[i]
		slices.SortFunc(entries, func(a, b snapEntry) int { return strings.Compare(a.key, b.key) })
		for j := 1; j < len(entries); j++ {
			if entries[j].key == entries[j-1].key {
				return nil, fmt.Errorf("key %q written twice", entries[j].key)
			}
		}
		keys := w.off
		var keyOff uint64
		for _, e := range entries {
			w.write([]byte(e.key))
			keyOff += uint64(len(e.key))
		}
		if keyOff > 1<<32-1 {
			return nil, errors.New("keys beyond 4 GiB")
		}
		index := w.off
		var e [snapEntrySize]byte
		keyOff = 0
		for _, en := range entries {
			binary.LittleEndian.PutUint32(e[:], uint32(keyOff))
			binary.LittleEndian.PutUint32(e[4:], uint32(len(en.key)))
			binary.LittleEndian.PutUint64(e[8:], en.off)
			binary.LittleEndian.PutUint64(e[16:], en.len)
			w.write(e[:])
			keyOff += uint64(len(en.key))
		}
		header = binary.LittleEndian.AppendUint64(header, index)
		header = binary.LittleEndian.AppendUint64(header, uint64(len(entries)))
		header = binary.LittleEndian.AppendUint64(header, keys)
		header = binary.LittleEndian.AppendUint64(header, keyOff)
	}
	if w.err == nil {
		w.err = w.w.Flush()
	}
	return header, w.err
}

func (w *snapWriter) write(b []byte) {
	if w.err == nil {
		_, w.err = w.w.Write(b)
		w.off += uint64(len(b))
	}
}

// Reading a snapshot: what EachPack and MatchRecords read when the database has a current one. Everything handed out is
// copied out of the mapping, which the caller unmaps when it is done.

func (s *snapshot) eachPack(ctx context.Context, keys []PackageKey, fn func(Pack) error) error {
	seen := make(map[PackageKey]bool, len(keys))
	unique := make([]PackageKey, 0, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			unique = append(unique, k)
		}
	}
	return inParallel(ctx, len(unique), 64, func() func(start, end int) error {
		var key []byte
		return func(start, end int) error {
			for _, k := range unique[start:end] {
				key = packKey(key[:0], k)
				v, err := s.packs.find(string(key))
				if err != nil {
					return fmt.Errorf("pack %s/%s: %w", k.Ecosystem, k.Name, err)
				}
				if len(v) == 0 {
					continue
				}
				// A view of the mapping, not a copy: EachPack's packs live
				// only until fn returns, and the snapshot stays mapped until
				// EachPack does.
				if err := fn(Pack{Key: k, s: unsafe.String(&v[0], len(v))}); err != nil {
					return err
				}
			}
			return nil
		}
	})
}

// matchRecords decodes records on every core; each record's strings share
// one copy of its bytes.
func (s *snapshot) matchRecords(ctx context.Context, ids []string) (map[string]*Record, map[string][]string, error) {
	result := make(map[string]*Record, len(ids))
	linked := map[string][]string{}
	var mu sync.Mutex
	err := inParallel(ctx, len(ids), 256, func() func(start, end int) error {
		return func(start, end int) error {
			got := make([]*Record, 0, end-start)
			var links [][]string
			for _, id := range ids[start:end] {
				v, err := s.records.find(id)
				if err != nil || v == nil {
					if err != nil {
						return fmt.Errorf("record %s: %w", id, err)
					}
					got = append(got, nil)
					links = append(links, nil)
					continue
				}
				sr, err := splitRecordValue(string(v))
				if err == nil {
					var r *Record
					if r, err = decodeLean(sr.lean); err == nil {
						got = append(got, r)
						links = append(links, sr.linked)
						continue
					}
				}
				return fmt.Errorf("record %s: %w", id, err)
			}
			mu.Lock()
			for i, r := range got {
				if r != nil {
					result[ids[start+i]] = r
				}
				if links[i] != nil {
					linked[ids[start+i]] = links[i]
				}
			}
			mu.Unlock()
			return nil
		}
	})
	if err != nil {
		return nil, nil, err
	}
	return result, linked, nil
}
