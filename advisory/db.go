package advisory

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver (pure Go)
)

// SchemaVersion is the layout of the database file; a file of another
// version is refused with a clear message rather than misread. Version 4
// added the packs table (see pack.go); version 5 the generation the match
// snapshot is stamped with (snapshot.go), so that a customs that does not
// write snapshots cannot change a file that has one. Older files are
// migrated when opened for writing and read the old way (3) or without a
// snapshot (4) when opened read-only.
const SchemaVersion = "5"

// Previous layouts, which this version still reads.
const (
	schemaNoPacks      = "3"
	schemaNoGeneration = "4"
)

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
	name TEXT PRIMARY KEY, url TEXT NOT NULL DEFAULT '', etag TEXT NOT NULL DEFAULT '',
	last_modified TEXT NOT NULL DEFAULT '', updated TEXT NOT NULL DEFAULT '', records INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS records (
	id TEXT PRIMARY KEY, source TEXT NOT NULL, modified TEXT NOT NULL DEFAULT '',
	published TEXT NOT NULL DEFAULT '', withdrawn TEXT NOT NULL DEFAULT '',
	digest BLOB NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS records_by_source ON records(source);
CREATE TABLE IF NOT EXISTS affected (
	ecosystem TEXT NOT NULL, name TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL,
	PRIMARY KEY (ecosystem, name, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS affected_by_id ON affected(id);
` + packsSchema + `
CREATE TABLE IF NOT EXISTS aliases (alias TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (alias, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS aliases_by_id ON aliases(id);
CREATE TABLE IF NOT EXISTS distro_status (
	ecosystem TEXT NOT NULL, name TEXT NOT NULL, vuln TEXT NOT NULL, status TEXT NOT NULL,
	note TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (ecosystem, name, vuln)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS support (
	ecosystem TEXT NOT NULL, pattern TEXT NOT NULL, kind TEXT NOT NULL, last_version TEXT NOT NULL DEFAULT '',
	date TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (ecosystem, pattern, kind)) WITHOUT ROWID;
`

// packsSchema holds the match index (pack.go). In schema 3 the affected
// table's data column held each row's entries as JSON; from 4 it is empty.
const packsSchema = `CREATE TABLE IF NOT EXISTS packs (
	ecosystem TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (ecosystem, name));`

// DB is an advisory database file.
type DB struct {
	sql  *sql.DB
	path string
	enc  *zstd.Encoder
	dec  *zstd.Decoder
	now  func() time.Time
	// rowIndex: a schema-3 file opened read-only, whose entries are in
	// the affected table's data column rather than in packs.
	rowIndex bool

	// The match snapshot (snapshot.go): snap is mapped while snapMu is
	// read-locked; snapWrite orders writers; noteMu guards which
	// generation was last looked for and why it was not used.
	snapMu              sync.RWMutex
	snap                *snapshot
	snapWrite           sync.Mutex
	noteMu              sync.Mutex
	snapTried, snapNote string
	snapSeen            os.FileInfo // the file last looked at
	snapReread          int         // records the last snapshot write read again; -1: all (tests)
}

// Options configure Open.
type Options struct {
	// ReadOnly opens an existing database without creating or migrating it.
	ReadOnly bool
	// Now is the clock (tests); defaults to time.Now.
	Now func() time.Time
}

// DefaultPath is where the database lives when none is named: the user's
// cache directory.
func DefaultPath() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "customs", "advisories.db")
}

// Open opens (or, unless read-only, creates) a database file.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("advisory database %s: %w (import advisories with `customs db import` or `customs db update`)", path, err)
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(0)&_pragma=mmap_size(1073741824)&_pragma=cache_size(-65536)"
	if opts.ReadOnly {
		dsn += "&mode=ro"
	}
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("advisory database %s: %w", path, err)
	}
	db := &DB{sql: sdb, path: path, now: opts.Now}
	if db.now == nil {
		db.now = time.Now
	}
	// Reads run on several connections at once (records, AliasesOf): keep
	// them open between calls.
	sdb.SetMaxIdleConns(maxReaders + 2)
	if err := db.init(ctx, opts.ReadOnly); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("advisory database %s: %w", path, err)
	}
	db.enc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	db.dec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(64<<20))
	if !opts.ReadOnly && canMap {
		// A database that was migrated, or whose last write did not get to
		// write its snapshot, gets one now; until it does, scans read SQLite.
		if err := db.ensureSnapshot(ctx); err != nil {
			db.noteMu.Lock()
			db.snapNote = "could not be written: " + err.Error()
			db.noteMu.Unlock()
		}
	}
	return db, nil
}

// ensureSnapshot writes the snapshot of the database's generation unless
// it exists.
func (db *DB) ensureSnapshot(ctx context.Context) error {
	s, release, err := db.useSnapshot(ctx)
	if err != nil || s != nil {
		if s != nil {
			release()
		}
		return err
	}
	gen, err := generation(ctx, db.sql)
	if err != nil {
		return err
	}
	return db.writeSnapshot(ctx, "", gen, nil)
}

func (db *DB) init(ctx context.Context, readOnly bool) error {
	var version string
	err := db.sql.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema'`).Scan(&version)
	switch {
	case err == nil && version == schemaNoPacks && readOnly:
		db.rowIndex = true
		return nil
	case err == nil && version == schemaNoPacks:
		if err := db.migratePacks(ctx); err != nil {
			return err
		}
		return db.migrateGeneration(ctx)
	case err == nil && version == schemaNoGeneration && readOnly:
		return nil // no generation: matched without a snapshot
	case err == nil && version == schemaNoGeneration:
		return db.migrateGeneration(ctx)
	case err == nil:
		if version != SchemaVersion {
			return fmt.Errorf("database schema %s, this customs reads schema %s: rebuild it with `customs db update` or `customs db import`", version, SchemaVersion)
		}
		return nil
	case readOnly:
		if strings.Contains(err.Error(), "no such table") {
			return errors.New("not a customs advisory database (no meta table)")
		}
		return fmt.Errorf("unreadable (truncated or not a database?): %w", err)
	case !strings.Contains(err.Error(), "no such table") && !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("unreadable (truncated or not a database?): %w", err)
	}
	if _, err := db.sql.ExecContext(ctx, schema); err != nil {
		return err
	}
	return db.migrateGeneration(ctx)
}

// migrateGeneration gives a schema-4 (or new) file its generation.
func (db *DB) migrateGeneration(ctx context.Context) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, _, err := newGeneration(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO meta(key, value) VALUES ('schema', ?)`, SchemaVersion); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes the database.
func (db *DB) Close() error {
	db.snapMu.Lock()
	db.snap.close()
	db.snap = nil
	db.snapMu.Unlock()
	if db.enc != nil {
		db.enc.Close()
	}
	if db.dec != nil {
		db.dec.Close()
	}
	return db.sql.Close()
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// PackageKey is an (ecosystem, name) pair as the index keys it.
type PackageKey struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
}

// Key normalizes an ecosystem and package name into an index key.
func Key(ecosystem, name string) PackageKey {
	eco := NormalizeEcosystem(ecosystem)
	return PackageKey{Ecosystem: eco, Name: NormalizeName(eco, name)}
}

// Delta is what an import or update changed.
type Delta struct {
	Added     []string `json:"added"`
	Modified  []string `json:"modified"`
	Withdrawn []string `json:"withdrawn"`
	// Packages are the (ecosystem, name) pairs whose advisories changed:
	// exactly the packages whose images need re-judging.
	Packages  []PackageKey `json:"packages"`
	Unchanged int          `json:"unchanged"`
	// Skipped are inputs that were not imported, each with the reason.
	Skipped []string `json:"skipped,omitempty"`
	// Unsupported counts records in ecosystems no customs cataloger produces.
	Statuses int `json:"distro_statuses,omitempty"`
	// Warnings say what went wrong after the import was committed (the
	// match snapshot could not be written: scans are slower, not wrong).
	Warnings []string `json:"warnings,omitempty"`
}

// Empty says whether nothing changed.
func (d *Delta) Empty() bool {
	return len(d.Added)+len(d.Modified)+len(d.Withdrawn) == 0 && d.Statuses == 0
}

// txn is one import transaction with its prepared statements.
type txn struct {
	db      *DB
	tx      *sql.Tx
	get     *sql.Stmt
	put     *sql.Stmt
	delAff  *sql.Stmt
	oldAff  *sql.Stmt
	putAff  *sql.Stmt
	delAls  *sql.Stmt
	putAls  *sql.Stmt
	getPack *sql.Stmt
	putPack *sql.Stmt
	delPack *sql.Stmt
	delta   *Delta
	touched map[PackageKey]bool
	seen    map[string]bool // ids written in this transaction
	pend    pending         // index entries not yet merged into packs
}

func (db *DB) begin(ctx context.Context) (*txn, error) {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	t := &txn{db: db, tx: tx, delta: &Delta{}, touched: map[PackageKey]bool{}, seen: map[string]bool{}}
	for _, p := range []struct {
		s   **sql.Stmt
		sql string
	}{
		{&t.get, `SELECT digest, withdrawn FROM records WHERE id = ?`},
		{&t.put, `INSERT OR REPLACE INTO records(id, source, modified, published, withdrawn, digest, body) VALUES (?,?,?,?,?,?,?)`},
		{&t.oldAff, `SELECT ecosystem, name FROM affected WHERE id = ?`},
		{&t.delAff, `DELETE FROM affected WHERE id = ?`},
		{&t.putAff, `INSERT OR REPLACE INTO affected(ecosystem, name, id, data) VALUES (?,?,?,?)`},
		{&t.delAls, `DELETE FROM aliases WHERE id = ?`},
		{&t.putAls, `INSERT OR IGNORE INTO aliases(alias, id) VALUES (?,?)`},
		{&t.getPack, `SELECT data FROM packs WHERE ecosystem = ? AND name = ?`},
		{&t.putPack, `INSERT OR REPLACE INTO packs(ecosystem, name, data) VALUES (?,?,?)`},
		{&t.delPack, `DELETE FROM packs WHERE ecosystem = ? AND name = ?`},
	} {
		if *p.s, err = tx.PrepareContext(ctx, p.sql); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return t, nil
}

func (t *txn) rollback() { t.tx.Rollback() }

func (t *txn) commit() (*Delta, error) {
	ctx := context.Background() // the import is read: merging packs finishes it
	if err := t.flushPacks(ctx); err != nil {
		t.rollback()
		return nil, err
	}
	var prevGen, gen string
	changed := slices.Concat(t.delta.Added, t.delta.Modified, t.delta.Withdrawn)
	if len(changed) > 0 {
		var err error
		if prevGen, gen, err = newGeneration(ctx, t.tx); err != nil {
			t.rollback()
			return nil, err
		}
	}
	if err := t.tx.Commit(); err != nil {
		return nil, err
	}
	if len(changed) > 0 && canMap {
		if err := t.db.writeSnapshot(ctx, prevGen, gen, changed); err != nil {
			t.delta.Warnings = append(t.delta.Warnings, fmt.Sprintf("the match snapshot was not written (scans read the database instead, more slowly): %v", err))
		}
	}
	for k := range t.touched {
		t.delta.Packages = append(t.delta.Packages, k)
	}
	sort.Slice(t.delta.Packages, func(i, j int) bool {
		a, b := t.delta.Packages[i], t.delta.Packages[j]
		return a.Ecosystem < b.Ecosystem || (a.Ecosystem == b.Ecosystem && a.Name < b.Name)
	})
	for _, s := range [][]string{t.delta.Added, t.delta.Modified, t.delta.Withdrawn} {
		sort.Strings(s)
	}
	return t.delta, nil
}

// put stores one record, noting in the delta whether it is new, changed or
// withdrawn.
func (t *txn) putRecord(ctx context.Context, raw []byte, r *Record, source string) error {
	digest := sha256.Sum256(raw)
	var oldDigest []byte
	var oldWithdrawn string
	err := t.get.QueryRowContext(ctx, r.ID).Scan(&oldDigest, &oldWithdrawn)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if exists && string(oldDigest) == string(digest[:]) {
		if !t.seen[r.ID] {
			t.delta.Unchanged++
		}
		t.seen[r.ID] = true
		return nil
	}
	withdrawn := r.Withdrawn != nil && !r.Withdrawn.IsZero() && !r.Withdrawn.After(t.db.now())
	switch {
	case withdrawn && (!exists || oldWithdrawn == ""):
		t.delta.Withdrawn = append(t.delta.Withdrawn, r.ID)
	case !exists:
		t.delta.Added = append(t.delta.Added, r.ID)
	case !t.seen[r.ID]:
		t.delta.Modified = append(t.delta.Modified, r.ID)
	}
	t.seen[r.ID] = true
	if err := t.dropAffected(ctx, r.ID); err != nil {
		return err
	}
	body := t.db.enc.EncodeAll(raw, nil)
	fmtTime := func(tm *time.Time) string {
		if tm == nil || tm.IsZero() {
			return ""
		}
		return tm.UTC().Format(time.RFC3339)
	}
	wd := ""
	if withdrawn {
		wd = fmtTime(r.Withdrawn)
	}
	if _, err := t.put.ExecContext(ctx, r.ID, source, fmtTime(&r.Modified), fmtTime(r.Published), wd, digest[:], body); err != nil {
		return err
	}
	if _, err := t.delAls.ExecContext(ctx, r.ID); err != nil {
		return err
	}
	for _, a := range append(append([]string{}, r.Aliases...), r.Upstream...) {
		if a != "" && a != r.ID {
			if _, err := t.putAls.ExecContext(ctx, a, r.ID); err != nil {
				return err
			}
		}
	}
	if withdrawn {
		return nil
	}
	// One affected row per (package, record), and that package's entries
	// to merge into its pack: matching reads packs and inflates the record
	// only on a hit.
	byKey := map[PackageKey][]Affected{}
	var order []PackageKey
	for _, a := range r.Affected {
		if a.Package.Name == "" || a.Package.Ecosystem == "" {
			continue
		}
		k := Key(a.Package.Ecosystem, a.Package.Name)
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		a.Package = Package{}
		byKey[k] = append(byKey[k], a)
	}
	for _, k := range order {
		if _, err := t.putAff.ExecContext(ctx, k.Ecosystem, k.Name, r.ID, []byte{}); err != nil {
			return err
		}
		t.pend.put(k, r.ID, string(encodeEntries(nil, byKey[k])))
		t.touched[k] = true
	}
	if t.pend.bytes > pendingLimit {
		return t.flushPacks(ctx)
	}
	return nil
}

// dropAffected removes a record's index rows, noting the packages it named.
func (t *txn) dropAffected(ctx context.Context, id string) error {
	rows, err := t.oldAff.QueryContext(ctx, id)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k PackageKey
		if err := rows.Scan(&k.Ecosystem, &k.Name); err != nil {
			rows.Close()
			return err
		}
		t.touched[k] = true
		t.pend.remove(k, id)
	}
	rows.Close()
	_, err = t.delAff.ExecContext(ctx, id)
	return err
}

// removeRecord deletes a record that disappeared from its source.
func (t *txn) removeRecord(ctx context.Context, id string) error {
	if err := t.dropAffected(ctx, id); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM records WHERE id = ?`, id); err != nil {
		return err
	}
	if _, err := t.delAls.ExecContext(ctx, id); err != nil {
		return err
	}
	t.delta.Withdrawn = append(t.delta.Withdrawn, id)
	return nil
}

// Candidate is a record's entries for one package, before version checks.
type Candidate struct {
	ID       string
	Affected []Affected
}

// Candidates returns, for each key, the records that name it, in id order.
// Keys are looked up in batches, so ten thousand packages cost a few
// queries, and each key's records come from its one pack (a schema-3 file
// opened read-only: from its one JSON row per package and record).
func (db *DB) Candidates(ctx context.Context, keys []PackageKey) (map[PackageKey][]Candidate, error) {
	out := map[PackageKey][]Candidate{}
	var mu sync.Mutex // batches are read in parallel
	if db.rowIndex {
		err := db.eachNameBatch(ctx, keys, `SELECT name, id, data FROM affected`, func(eco string, rows *sql.Rows) error {
			var name, id string
			var data []byte
			if err := rows.Scan(&name, &id, &data); err != nil {
				return err
			}
			var aff []Affected
			if err := json.Unmarshal(data, &aff); err != nil {
				return fmt.Errorf("index entry %s/%s/%s: %w", eco, name, id, err)
			}
			k := PackageKey{Ecosystem: eco, Name: name}
			mu.Lock()
			out[k] = append(out[k], Candidate{ID: id, Affected: aff})
			mu.Unlock()
			return nil
		})
		return out, err
	}
	err := db.eachNameBatch(ctx, keys, `SELECT name, data FROM packs`, func(eco string, rows *sql.Rows) error {
		var name string
		var data sql.RawBytes // decoded (copied) before the next row
		if err := rows.Scan(&name, &data); err != nil {
			return err
		}
		cs, err := decodePack(data)
		if err != nil {
			return fmt.Errorf("index pack %s/%s: %w", eco, name, err)
		}
		mu.Lock()
		out[PackageKey{Ecosystem: eco, Name: name}] = cs
		mu.Unlock()
		return nil
	})
	return out, err
}

// EachPack calls fn with the pack of each key that has one, in no
// particular order and from several goroutines at once: matching evaluates
// each package's records as its pack is read, decoding them one at a time
// (PackCursor) instead of all at once (Candidates). A pack, and every
// string read from it, is valid only until fn returns: what fn keeps, it
// copies (a pack may be a view of the match snapshot's mapping). A
// schema-3 file opened read-only has no packs; its rows are made into
// packs first.
func (db *DB) EachPack(ctx context.Context, keys []PackageKey, fn func(Pack) error) error {
	if db.rowIndex {
		cands, err := db.Candidates(ctx, keys)
		if err != nil {
			return err
		}
		for k, cs := range cands {
			recs := make([]packRecord, len(cs))
			for i, c := range cs {
				recs[i] = packRecord{id: c.ID, entries: string(encodeEntries(nil, c.Affected))}
			}
			if err := fn(Pack{Key: k, s: string(encodePack(recs))}); err != nil {
				return err
			}
		}
		return nil
	}
	if s, release, err := db.useSnapshot(ctx); err != nil || s != nil {
		if err != nil {
			return err
		}
		defer release()
		return s.eachPack(ctx, keys, fn)
	}
	return db.eachNameBatch(ctx, keys, `SELECT name, data FROM packs`, func(eco string, rows *sql.Rows) error {
		var name string
		var data sql.RawBytes // copied before the next row
		if err := rows.Scan(&name, &data); err != nil {
			return err
		}
		return fn(Pack{Key: PackageKey{Ecosystem: eco, Name: name}, s: string(data)})
	})
}

// eachNameBatch runs selectFrom (a SELECT … FROM table whose rows have
// ecosystem and name columns) for the keys, grouped by ecosystem in
// batches of names read on every core (inParallel), and hands each row to
// fn, which may run on several goroutines at once. A key's rows all come
// from one query, in the table's order.
func (db *DB) eachNameBatch(ctx context.Context, keys []PackageKey, selectFrom string, fn func(eco string, rows *sql.Rows) error) error {
	byEco := map[string][]string{}
	for _, k := range keys {
		byEco[k.Ecosystem] = append(byEco[k.Ecosystem], k.Name)
	}
	const batch = 500
	type job struct {
		eco   string
		names []string
	}
	var jobs []job
	for eco, names := range byEco {
		sort.Strings(names)
		names = dedupeSorted(names)
		for i := 0; i < len(names); i += batch {
			jobs = append(jobs, job{eco, names[i:min(i+batch, len(names))]})
		}
	}
	return inParallel(ctx, len(jobs), 1, func() func(start, end int) error {
		return func(start, _ int) error {
			j := jobs[start]
			rows, err := db.sql.QueryContext(ctx, selectFrom+` WHERE ecosystem = ? AND name IN `+inList, j.eco, jsonList(j.names))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := fn(j.eco, rows); err != nil {
					return err
				}
			}
			return rows.Close()
		}
	})
}

// migratePacks turns a schema-3 file into schema 4: each package's JSON
// rows become its pack, and the rows keep only their keys.
func (db *DB) migratePacks(ctx context.Context) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, packsSchema); err != nil {
		return err
	}
	var keys []PackageKey
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT ecosystem, name FROM affected ORDER BY ecosystem, name`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k PackageKey
		if err := rows.Scan(&k.Ecosystem, &k.Name); err != nil {
			rows.Close()
			return err
		}
		keys = append(keys, k)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, k := range keys {
		rows, err := tx.QueryContext(ctx, `SELECT id, data FROM affected WHERE ecosystem = ? AND name = ? ORDER BY id`, k.Ecosystem, k.Name)
		if err != nil {
			return err
		}
		var recs []packRecord
		for rows.Next() {
			var id string
			var data []byte
			if err := rows.Scan(&id, &data); err != nil {
				rows.Close()
				return err
			}
			var aff []Affected
			if err := json.Unmarshal(data, &aff); err != nil {
				rows.Close()
				return fmt.Errorf("migrating index entry %s/%s/%s: %w", k.Ecosystem, k.Name, id, err)
			}
			recs = append(recs, packRecord{id: id, entries: string(encodeEntries(nil, aff))})
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO packs(ecosystem, name, data) VALUES (?,?,?)`, k.Ecosystem, k.Name, encodePack(recs)); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE affected SET data = x''`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO meta(key, value) VALUES ('schema', ?)`, schemaNoGeneration); err != nil {
		return err
	}
	return tx.Commit()
}

func dedupeSorted(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// Records inflates full records by id.
func (db *DB) Records(ctx context.Context, ids []string) (map[string]*Record, error) {
	return db.records(ctx, ids, false)
}

// RecordsWithoutAffected is Records for a caller that already holds the
// affected entries it needs, as matching does (it read them from the
// index): each record's affected list, often most of its bytes (listed
// versions, Go symbols), is skipped instead of decoded, and Affected is nil.
func (db *DB) RecordsWithoutAffected(ctx context.Context, ids []string) (map[string]*Record, error) {
	return db.records(ctx, ids, true)
}

// MatchRecords returns what matching reads of the records ids: each
// record without its affected list (RecordsWithoutAffected), and the ids
// the database links to it beyond its own, sorted: the ids that point at
// any of the record's ids (its own, aliases and upstream ids) without being
// records themselves (AliasesOf), such as the DSA and DLA numbers the
// Debian tracker links to a CVE.
func (db *DB) MatchRecords(ctx context.Context, ids []string) (recs map[string]*Record, linked map[string][]string, err error) {
	if s, release, err := db.useSnapshot(ctx); err != nil || s != nil {
		if err != nil {
			return nil, nil, err
		}
		defer release()
		return s.matchRecords(ctx, ids)
	}
	if recs, err = db.records(ctx, ids, true); err != nil {
		return nil, nil, err
	}
	var all []string
	for _, r := range recs {
		all = append(all, r.IDs()...)
	}
	slices.Sort(all)
	nonRecord, err := db.AliasesOf(ctx, slices.Compact(all))
	if err != nil {
		return nil, nil, err
	}
	linked = map[string][]string{}
	for id, r := range recs {
		if l := linkedIDs(r, nonRecord); len(l) > 0 {
			linked[id] = l
		}
	}
	return recs, linked, nil
}

// skipJSON takes a JSON value and keeps nothing of it.
type skipJSON struct{}

func (*skipJSON) UnmarshalJSON([]byte) error { return nil }

// records reads, inflates and decodes records in batches on every core,
// each worker on its own connection: a scan with thousands of findings
// needs thousands of records, and reading them one query at a time while
// others decoded left the reading alone on one core.
func (db *DB) records(ctx context.Context, ids []string, lean bool) (map[string]*Record, error) {
	result := make(map[string]*Record, len(ids))
	var mu sync.Mutex
	const batch = 500
	err := inParallel(ctx, len(ids), batch, func() func(start, end int) error {
		var raw []byte // this worker's inflate buffer
		return func(start, end int) error {
			rows, err := db.sql.QueryContext(ctx, `SELECT id, body FROM records WHERE id IN `+inList, jsonList(ids[start:end]))
			if err != nil {
				return err
			}
			defer rows.Close()
			got := make(map[string]*Record, end-start)
			for rows.Next() {
				var id string
				var body sql.RawBytes // inflated before the next row
				if err := rows.Scan(&id, &body); err != nil {
					return err
				}
				if raw, err = db.dec.DecodeAll(body, raw[:0]); err != nil {
					return fmt.Errorf("record %s: %w", id, err)
				}
				var r *Record
				if lean {
					r, err = decodeRecordLean(raw)
				} else {
					r = &Record{}
					err = json.Unmarshal(raw, r)
				}
				if err != nil {
					return fmt.Errorf("record %s: %w", id, err)
				}
				got[id] = r
			}
			if err := rows.Close(); err != nil {
				return err
			}
			mu.Lock()
			maps.Copy(result, got)
			mu.Unlock()
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	return result, nil
}

// maxReaders bounds the connections one call reads on at once.
const maxReaders = 8

// inParallel calls the functions newWorker makes, one per worker, for the
// batches [start, end) of n items, on every core (at most maxReaders), and
// returns the first error; after one, no new batch starts.
func inParallel(ctx context.Context, n, batch int, newWorker func() func(start, end int) error) error {
	batches := (n + batch - 1) / batch
	workers := min(runtime.GOMAXPROCS(0), maxReaders, batches)
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do := newWorker()
			for {
				b := int(next.Add(1) - 1)
				mu.Lock()
				stop := firstErr != nil
				mu.Unlock()
				if b >= batches || stop {
					return
				}
				if err := cmp.Or(ctx.Err(), do(b*batch, min(n, (b+1)*batch))); err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// inList is the right side of "x IN …" for a list of strings given as
// one parameter (jsonList). Binding each value of a batch on its own, and
// preparing a statement for each batch size, was about a quarter of the
// cost of these queries.
const inList = `(SELECT value FROM json_each(?))`

// jsonList spells vals as a JSON array for inList. Values that are not
// valid UTF-8 are left out: encoding/json would replace their bad bytes,
// and no stored key or id has any (they were all decoded from JSON).
func jsonList(vals []string) string {
	b := []byte{'['}
	for _, v := range vals {
		if !utf8.ValidString(v) {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return string(append(b, ']'))
}

// appendJSONString appends v, valid UTF-8, as a JSON string.
func appendJSONString(b []byte, v string) []byte {
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = fmt.Appendf(b, `\u%04x`, c)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Raw returns a stored record as imported.
func (db *DB) Raw(ctx context.Context, id string) ([]byte, error) {
	var body []byte
	if err := db.sql.QueryRowContext(ctx, `SELECT body FROM records WHERE id = ?`, id).Scan(&body); err != nil {
		return nil, err
	}
	return db.dec.DecodeAll(body, nil)
}

// Resolve gives the record ids known by an id or alias.
func (db *DB) Resolve(ctx context.Context, id string) ([]string, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id FROM records WHERE id = ? UNION SELECT id FROM aliases WHERE alias = ?`, id, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// DistroStatus is what a distribution's tracker says about a vulnerability
// in a source package of one release, beyond what OSV records carry.
type DistroStatus struct {
	Status string // will-not-fix, fix-deferred, end-of-life, not-affected
	Note   string
	Source string // e.g. "debian-tracker: no-dsa"
}

// DistroStatuses returns tracker statuses for packages of one ecosystem.
func (db *DB) DistroStatuses(ctx context.Context, ecosystem string, names []string) (map[string]map[string]DistroStatus, error) {
	out := map[string]map[string]DistroStatus{}
	if len(names) == 0 {
		return out, nil
	}
	const batch = 400
	for i := 0; i < len(names); i += batch {
		chunk := names[i:min(i+batch, len(names))]
		args := []any{ecosystem}
		for _, n := range chunk {
			args = append(args, n)
		}
		rows, err := db.sql.QueryContext(ctx, `SELECT name, vuln, status, note, source FROM distro_status WHERE ecosystem = ? AND name IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var name, vuln string
			var st DistroStatus
			if err := rows.Scan(&name, &vuln, &st.Status, &st.Note, &st.Source); err != nil {
				rows.Close()
				return nil, err
			}
			if out[name] == nil {
				out[name] = map[string]DistroStatus{}
			}
			out[name][vuln] = st
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Support is a package whose security support ended or is limited.
type Support struct {
	Pattern     string
	Kind        string // ended, limited
	LastVersion string
	Date        string
	Note        string
}

// SupportFor returns support notices that apply to a source package.
func (db *DB) SupportFor(ctx context.Context, ecosystem string) ([]Support, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT pattern, kind, last_version, date, note FROM support WHERE ecosystem = ? OR ecosystem = ?`, ecosystem, BaseEcosystem(ecosystem))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Support
	for rows.Next() {
		var s Support
		if err := rows.Scan(&s.Pattern, &s.Kind, &s.LastVersion, &s.Date, &s.Note); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Matches says whether a support pattern names a package ("golang.*" style).
func (s Support) Matches(name string) bool {
	if p, ok := strings.CutSuffix(s.Pattern, ".*"); ok {
		return strings.HasPrefix(name, p)
	}
	return s.Pattern == name
}

// Source describes one source of records.
type Source struct {
	Name         string    `json:"name"`
	URL          string    `json:"url,omitempty"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	Updated      time.Time `json:"updated"`
	Records      int       `json:"records"`
}

// Status summarizes the database.
type Status struct {
	Path        string         `json:"path"`
	Schema      string         `json:"schema"`
	Updated     time.Time      `json:"updated"`
	Records     int            `json:"records"`
	Withdrawn   int            `json:"withdrawn"`
	Ecosystems  map[string]int `json:"ecosystems"`
	Sources     []Source       `json:"sources"`
	Statuses    int            `json:"distro_statuses"`
	SizeBytes   int64          `json:"size_bytes"`
	Stale       bool           `json:"stale"`
	StaleAfter  string         `json:"stale_after"`
	StaleReason string         `json:"stale_reason,omitempty"`
	// The match snapshot (snapshot.go): its size when matching reads it,
	// else why it does not.
	SnapshotPath  string `json:"snapshot_path"`
	SnapshotBytes int64  `json:"snapshot_bytes"`
	SnapshotNote  string `json:"snapshot_note,omitempty"`
}

// StaleAfter is how old a database may get before scans warn.
const StaleAfter = 7 * 24 * time.Hour

// Status reads the summary.
func (db *DB) Status(ctx context.Context) (*Status, error) {
	st := &Status{Path: db.path, Schema: SchemaVersion, Ecosystems: map[string]int{}, StaleAfter: StaleAfter.String()}
	if fi, err := os.Stat(db.path); err == nil {
		st.SizeBytes = fi.Size()
	}
	if err := db.sql.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema'`).Scan(&st.Schema); err != nil {
		return nil, err
	}
	st.SnapshotPath = db.snapshotPath()
	st.SnapshotBytes, st.SnapshotNote = db.snapshotState(ctx)
	q := func(query string, args []any, fn func(*sql.Rows) error) error {
		rows, err := db.sql.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := fn(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	if err := q(`SELECT COUNT(*), COALESCE(SUM(withdrawn != ''), 0) FROM records`, nil, func(r *sql.Rows) error { return r.Scan(&st.Records, &st.Withdrawn) }); err != nil {
		return nil, err
	}
	if err := q(`SELECT ecosystem, COUNT(DISTINCT id) FROM affected GROUP BY ecosystem`, nil, func(r *sql.Rows) error {
		var e string
		var n int
		if err := r.Scan(&e, &n); err != nil {
			return err
		}
		st.Ecosystems[e] = n
		return nil
	}); err != nil {
		return nil, err
	}
	if err := q(`SELECT COUNT(*) FROM distro_status`, nil, func(r *sql.Rows) error { return r.Scan(&st.Statuses) }); err != nil {
		return nil, err
	}
	if err := q(`SELECT name, url, etag, last_modified, updated, records FROM sources ORDER BY name`, nil, func(r *sql.Rows) error {
		var s Source
		var updated string
		if err := r.Scan(&s.Name, &s.URL, &s.ETag, &s.LastModified, &updated, &s.Records); err != nil {
			return err
		}
		s.Updated, _ = time.Parse(time.RFC3339, updated)
		if s.Updated.After(st.Updated) {
			st.Updated = s.Updated
		}
		st.Sources = append(st.Sources, s)
		return nil
	}); err != nil {
		return nil, err
	}
	switch {
	case st.Records == 0:
		st.Stale, st.StaleReason = true, "the database holds no advisories"
	case db.now().Sub(st.Updated) > StaleAfter:
		st.Stale = true
		st.StaleReason = fmt.Sprintf("last updated %s ago", db.now().Sub(st.Updated).Round(time.Hour))
	}
	return st, nil
}

func (t *txn) touchSource(ctx context.Context, s Source) error {
	var n int
	if err := t.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM records WHERE source = ?`, s.Name).Scan(&n); err != nil {
		return err
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO sources(name, url, etag, last_modified, updated, records) VALUES (?,?,?,?,?,?)
		ON CONFLICT(name) DO UPDATE SET url=excluded.url, etag=excluded.etag, last_modified=excluded.last_modified, updated=excluded.updated, records=excluded.records`,
		s.Name, s.URL, s.ETag, s.LastModified, t.db.now().UTC().Format(time.RFC3339), n)
	return err
}

// AliasesOf returns ids that point at any of ids without being records
// themselves: the DSA and DLA numbers the Debian tracker links to CVEs.
// Batches of ids are looked up on every core.
func (db *DB) AliasesOf(ctx context.Context, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	var mu sync.Mutex
	const batch = 1000
	err := inParallel(ctx, len(ids), batch, func() func(start, end int) error {
		return func(start, end int) error {
			rows, err := db.sql.QueryContext(ctx, `SELECT alias, id FROM aliases WHERE id IN `+inList+`
				AND alias NOT IN (SELECT id FROM records)`, jsonList(ids[start:end]))
			if err != nil {
				return err
			}
			defer rows.Close()
			var got [][2]string
			for rows.Next() {
				var alias, id string
				if err := rows.Scan(&alias, &id); err != nil {
					return err
				}
				got = append(got, [2]string{alias, id})
			}
			if err := rows.Close(); err != nil {
				return err
			}
			mu.Lock()
			for _, g := range got {
				out[g[1]] = append(out[g[1]], g[0])
			}
			mu.Unlock()
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
