package advisory

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// matchView is everything matching reads from a database: every pack and
// every record with its linked ids, as JSON, through the public calls.
func matchView(t *testing.T, db *DB) string {
	t.Helper()
	ctx := context.Background()
	var keys []PackageKey
	var ids []string
	rows, err := db.sql.QueryContext(ctx, `SELECT ecosystem, name FROM packs`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k PackageKey
		rows.Scan(&k.Ecosystem, &k.Name)
		keys = append(keys, k)
	}
	rows.Close()
	if err := db.sql.QueryRowContext(ctx, `SELECT json_group_array(id) FROM records`).Scan(scanJSON(&ids)); err != nil {
		t.Fatal(err)
	}
	keys = append(keys, PackageKey{"npm", "no-such-package"})
	ids = append(ids, "NO-SUCH-RECORD")
	packs := map[string][]Candidate{}
	var mu sync.Mutex
	err = db.EachPack(ctx, keys, func(p Pack) error {
		var c PackCursor
		c.Reset(p)
		var cs []Candidate
		for c.Next() {
			b, _ := json.Marshal(c.Candidate()) // copied before fn returns
			var cand Candidate
			json.Unmarshal(b, &cand)
			cs = append(cs, cand)
		}
		mu.Lock()
		packs[p.Key.Ecosystem+"/"+p.Key.Name] = cs
		mu.Unlock()
		return c.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	recs, linked, err := db.MatchRecords(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(map[string]any{"packs": packs, "records": recs, "linked": linked}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type jsonScanner struct{ v any }

func (s jsonScanner) Scan(src any) error {
	b, ok := src.(string)
	if !ok {
		return fmt.Errorf("not text: %T", src)
	}
	return json.Unmarshal([]byte(b), s.v)
}

func scanJSON(v any) sql.Scanner { return jsonScanner{v} }

// openAt opens (creating) a database at path, closed when the test ends
// (closing twice is harmless).
func openAt(t *testing.T, path string, opts Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// withoutSnapshot opens a copy of db's file that has no snapshot, read-only:
// matching reads SQLite, as before snapshots existed.
func withoutSnapshot(t *testing.T, db *DB) *DB {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy.db")
	src, err := os.Open(db.path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out, _ := os.Create(dst)
	io.Copy(out, src)
	out.Close()
	c, err := Open(context.Background(), dst, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if s, _, _ := c.useSnapshot(context.Background()); s != nil {
		t.Fatal("the copy has a snapshot")
	}
	return c
}

func hasSnapshot(t *testing.T, db *DB) {
	t.Helper()
	s, release, err := db.useSnapshot(context.Background())
	if err != nil || s == nil {
		size, note := db.snapshotState(context.Background())
		t.Fatalf("no current snapshot (%d bytes, %s, %v)", size, note, err)
	}
	release()
}

func sameView(t *testing.T, what string, got, want string) {
	t.Helper()
	if got != want {
		g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				t.Fatalf("%s: differs at line %d:\n got %s\nwant %s", what, i+1, g[i], w[i])
			}
		}
		t.Fatalf("%s: %d lines, want %d", what, len(g), len(w))
	}
}

// TestSnapshotAgreesWithDatabase imports the real sample and checks that
// what matching reads through the snapshot is what it reads from SQLite.
func TestSnapshotAgreesWithDatabase(t *testing.T) {
	dir := sampleAdvisories()
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no corpus:", err)
	}
	ctx := context.Background()
	db := openAt(t, filepath.Join(t.TempDir(), "a.db"), Options{})
	if _, err := db.Import(ctx, []string{dir}, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	hasSnapshot(t, db)
	got, want := matchView(t, db), matchView(t, withoutSnapshot(t, db))
	if !strings.Contains(want, `"CVE-`) {
		t.Fatal("the view holds no records")
	}
	sameView(t, "snapshot vs SQLite", got, want)
}

// linkedRecord names packages of npm and has aliases (some of them records).
func linkedRecord(id, modified string, aliases []string, pkgs ...string) string {
	var aff []string
	for _, p := range pkgs {
		aff = append(aff, fmt.Sprintf(`{"package":{"ecosystem":"npm","name":%q},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"2.0.0"}]}]}`, p))
	}
	al, _ := json.Marshal(aliases)
	return fmt.Sprintf(`{"id":%q,"modified":%q,"aliases":%s,"summary":"s %s","published":"2023-05-06T07:08:09.5+02:00","references":[{"type":"WEB","url":"https://x/%s"}],"database_specific":{"severity":"HIGH"},"affected":[%s]}`,
		id, modified, al, id, id, strings.Join(aff, ","))
}

// TestSnapshotFollowsWrites runs imports that add, change and withdraw
// records, among them records other records name as aliases (so their
// linked ids change), and checks after each that the snapshot was written
// from the previous one (reading again only what changed) and that it
// agrees with SQLite and with a snapshot written from scratch.
func TestSnapshotFollowsWrites(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "a.db"), Options{})
	check := func(step string, maxReread int) {
		t.Helper()
		hasSnapshot(t, db)
		if db.snapReread < 0 || db.snapReread > maxReread {
			t.Fatalf("%s: the snapshot read %d records again, want at most %d (-1: all)", step, db.snapReread, maxReread)
		}
		got := matchView(t, db)
		sameView(t, step+": snapshot vs SQLite", got, matchView(t, withoutSnapshot(t, db)))
		// From scratch: a writable open of a copy without the snapshot.
		c := withoutSnapshot(t, db)
		c.Close()
		fresh := openAt(t, c.path, Options{})
		hasSnapshot(t, fresh)
		if fresh.snapReread != -1 {
			t.Fatalf("a fresh snapshot was not written whole")
		}
		sameView(t, step+": incremental vs from scratch", got, matchView(t, fresh))
	}
	var filler []string
	for i := range 40 {
		filler = append(filler, linkedRecord(fmt.Sprintf("GHSA-%04d", i), "2024-01-01T00:00:00Z", []string{fmt.Sprintf("CVE-2024-%04d", i)}, "f"))
	}
	importRecords(t, db, append(filler,
		linkedRecord("GHSA-a", "2024-01-01T00:00:00Z", []string{"CVE-1", "DEBIAN-CVE-1"}, "a"),
		linkedRecord("DEBIAN-CVE-1", "2024-01-01T00:00:00Z", []string{"DSA-1-1"}, "b"))...)
	check("first import", 42) // from the empty database's snapshot
	var probe struct{ Linked map[string][]string }
	json.Unmarshal([]byte(matchView(t, db)), &probe)
	if !slices.Equal(probe.Linked["GHSA-a"], []string{"CVE-1", "DSA-1-1"}) {
		t.Fatalf("GHSA-a is linked to %v, want CVE-1 (its non-record alias) and DSA-1-1 (its alias record's)", probe.Linked["GHSA-a"])
	}
	// DEBIAN-CVE-1 gains an alias: GHSA-a, which names it, is read again.
	importRecords(t, db, linkedRecord("DEBIAN-CVE-1", "2024-02-01T00:00:00Z", []string{"DSA-1-1", "DLA-9-1"}, "b"))
	check("an alias record changed", 2)
	// CVE-1 becomes a record: it leaves GHSA-a's linked ids.
	importRecords(t, db, linkedRecord("CVE-1", "2024-01-01T00:00:00Z", nil, "c"))
	check("an alias became a record", 3)
	// Withdrawn: still a record, named by no pack.
	importRecords(t, db, strings.Replace(linkedRecord("DEBIAN-CVE-1", "2024-03-01T00:00:00Z", []string{"DSA-1-1"}, "b"), `"modified"`, `"withdrawn":"2024-03-01T00:00:00Z","modified"`, 1))
	check("withdrawn", 2)
	// DSA-1-1, an alias of an alias of GHSA-a, becomes a record: it leaves
	// DEBIAN-CVE-1's non-record aliases, so GHSA-a's linked ids, two hops
	// away from the change.
	importRecords(t, db, linkedRecord("DSA-1-1", "2024-01-01T00:00:00Z", nil, "d"))
	check("an alias two hops away became a record", 3)
	var now struct{ Linked map[string][]string }
	json.Unmarshal([]byte(matchView(t, db)), &now)
	if slices.Contains(now.Linked["GHSA-a"], "DSA-1-1") {
		t.Fatalf("GHSA-a is still linked to DSA-1-1, now a record: %v", now.Linked["GHSA-a"])
	}
	// Nothing changed: the snapshot stays as it is.
	before := db.snapReread
	importRecords(t, db, filler[0])
	if db.snapReread != before {
		t.Fatal("an import that changed nothing wrote the snapshot")
	}
}

// TestSnapshotOfAnotherGeneration puts back the snapshot of an earlier
// state: it is ignored (matching reads SQLite and sees the change), and a
// writable open writes a current one.
func TestSnapshotOfAnotherGeneration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	db := openAt(t, path, Options{})
	importRecords(t, db, linkedRecord("GHSA-1", "2024-01-01T00:00:00Z", nil, "a"))
	old, _ := os.ReadFile(SnapshotPath(path))
	importRecords(t, db, linkedRecord("GHSA-2", "2024-01-01T00:00:00Z", nil, "a"))
	db.Close()
	if err := os.WriteFile(SnapshotPath(path), old, 0o644); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if s, _, _ := ro.useSnapshot(ctx); s != nil {
		t.Fatal("the old snapshot was used")
	}
	if _, note := ro.snapshotState(ctx); !strings.Contains(note, "another state") {
		t.Errorf("state %q", note)
	}
	var probe struct{ Packs map[string][]Candidate }
	json.Unmarshal([]byte(matchView(t, ro)), &probe)
	if len(probe.Packs["npm/a"]) != 2 {
		t.Fatalf("npm/a: %d records through the database, want 2", len(probe.Packs["npm/a"]))
	}
	rw, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	hasSnapshot(t, rw)
	// The read-only handle sees the new snapshot on its next call.
	hasSnapshot(t, ro)
	sameView(t, "after the rewrite", matchView(t, ro), matchView(t, withoutSnapshot(t, rw)))
}

// TestSnapshotWrittenByAnotherHandle: one process's import is seen by
// another that has the database open, through the new snapshot.
func TestSnapshotWrittenByAnotherHandle(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	w := openAt(t, path, Options{})
	importRecords(t, w, linkedRecord("GHSA-1", "2024-01-01T00:00:00Z", nil, "a"))
	r := openAt(t, path, Options{ReadOnly: true})
	hasSnapshot(t, r)
	importRecords(t, w, linkedRecord("GHSA-2", "2024-01-01T00:00:00Z", []string{"CVE-2"}, "a"))
	hasSnapshot(t, r)
	recs, linked, err := r.MatchRecords(ctx, []string{"GHSA-1", "GHSA-2"})
	if err != nil || len(recs) != 2 || !slices.Equal(linked["GHSA-2"], []string{"CVE-2"}) {
		t.Fatalf("%d records, linked %v, %v", len(recs), linked, err)
	}
}

// TestLeanEncoding: a record encoded for the snapshot decodes to what the
// JSON decoder made of it, for odd records and every record of the sample.
func TestLeanEncoding(t *testing.T) {
	check := func(b []byte) {
		r, err := decodeRecordLean(b)
		if err != nil {
			return
		}
		got, err := decodeLean(string(encodeLean(nil, r)))
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("%s:\n got %#v\nwant %#v", b, got, r)
		}
	}
	for _, s := range recordSeeds {
		check([]byte(s))
	}
	if eachSampleRecord(check) == 0 {
		t.Log("no sample records")
	}
}

// FuzzSnapshot reads arbitrary bytes as a snapshot file: every lookup and
// decode ends in a value or an error, never a panic or an out-of-bounds
// read. Seeds are a real snapshot and cuts of it.
func FuzzSnapshot(f *testing.F) {
	ctx := context.Background()
	path := filepath.Join(f.TempDir(), "a.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		f.Fatal(err)
	}
	recs := []string{linkedRecord("GHSA-1", "2024-01-01T00:00:00Z", []string{"CVE-1", "GHSA-2"}, "a", "b"),
		linkedRecord("GHSA-2", "2024-01-01T00:00:00Z", []string{"DSA-1"}, "a")}
	if _, err := db.ImportReader(ctx, strings.NewReader("["+strings.Join(recs, ",")+"]"), ImportOptions{}); err != nil {
		f.Fatal(err)
	}
	db.Close()
	good, err := os.ReadFile(SnapshotPath(path))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:snapHeaderSize])
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseSnapshot(data)
		if err != nil {
			return
		}
		for _, tab := range []*snapTable{&s.packs, &s.records} {
			for i := range min(tab.n, 64) {
				if _, _, ok := tab.entry(i); !ok {
					break
				}
			}
		}
		s.eachPack(ctx, []PackageKey{{"npm", "a"}, {"npm", "b"}, {"npm", "zz"}}, func(p Pack) error {
			var c PackCursor
			for c.Reset(p); c.Next(); {
			}
			return nil
		})
		s.matchRecords(ctx, []string{"GHSA-1", "GHSA-2", "CVE-1", ""})
	})
}

// TestDamagedSnapshotIgnored cuts the snapshot short and overwrites its
// index: matching reads SQLite, with the reason in the status.
func TestDamagedSnapshotIgnored(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	db := openAt(t, path, Options{})
	importRecords(t, db, linkedRecord("GHSA-1", "2024-01-01T00:00:00Z", []string{"CVE-1"}, "a"), linkedRecord("GHSA-2", "2024-01-01T00:00:00Z", nil, "a"))
	want := matchView(t, db)
	db.Close()
	good, _ := os.ReadFile(SnapshotPath(path))
	for name, damage := range map[string]func([]byte) []byte{
		"truncated":  func(b []byte) []byte { return b[:len(b)/2] },
		"empty":      func([]byte) []byte { return nil },
		"bad format": func(b []byte) []byte { b = slices.Clone(b); b[8] = 9; return b },
	} {
		t.Run(name, func(t *testing.T) {
			os.WriteFile(SnapshotPath(path), damage(good), 0o644)
			ro, err := Open(ctx, path, Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			if s, _, _ := ro.useSnapshot(ctx); s != nil {
				t.Fatal("a damaged snapshot was used")
			}
			if _, note := ro.snapshotState(ctx); note == "" || note == "missing" {
				t.Errorf("state %q", note)
			}
			sameView(t, name, matchView(t, ro), want)
		})
	}
}

// TestAbandonedSnapshotFilesRemoved: a half-written snapshot a killed
// writer left an hour ago is deleted by the next write; one another
// process may still be writing is not.
func TestAbandonedSnapshotFilesRemoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	db := openAt(t, path, Options{})
	abandoned, recent := SnapshotPath(path)+".tmp-111", SnapshotPath(path)+".tmp-222"
	os.WriteFile(abandoned, []byte("half"), 0o644)
	os.WriteFile(recent, []byte("half"), 0o644)
	hourAgo := time.Now().Add(-2 * time.Hour)
	os.Chtimes(abandoned, hourAgo, hourAgo)
	importRecords(t, db, linkedRecord("GHSA-1", "2024-01-01T00:00:00Z", nil, "a"))
	if _, err := os.Stat(abandoned); !os.IsNotExist(err) {
		t.Errorf("the abandoned file is still there: %v", err)
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("a recent temporary file was removed: %v", err)
	}
}
