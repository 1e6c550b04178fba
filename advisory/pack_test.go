package advisory

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// osvRecord is a record naming packages of npm, each with its own fixed
// version, plus a Go-style ecosystem_specific block.
func osvRecord(id, modified string, withdrawn bool, pkgs ...string) string {
	var aff []string
	for i, p := range pkgs {
		aff = append(aff, fmt.Sprintf(`{"package":{"ecosystem":"npm","name":%q},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.%d.0"}]}],"versions":["0.9.%d"],"ecosystem_specific":{"imports":[{"path":"x","symbols":["F%d"]}]}}`, p, i, i, i))
	}
	w := ""
	if withdrawn {
		w = `,"withdrawn":"2020-01-01T00:00:00Z"`
	}
	return fmt.Sprintf(`{"id":%q,"modified":%q%s,"aliases":["CVE-%s"],"affected":[%s]}`, id, modified, w, id, strings.Join(aff, ","))
}

// wantCandidates is what the index should hold for the records live now.
func wantCandidates(t *testing.T, records map[string]string) map[PackageKey][]Candidate {
	t.Helper()
	out := map[PackageKey][]Candidate{}
	ids := make([]string, 0, len(records))
	for id := range records {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r, err := ParseRecord([]byte(records[id]))
		if err != nil {
			t.Fatal(err)
		}
		if r.Withdrawn != nil {
			continue
		}
		for _, a := range r.Affected {
			k := Key(a.Package.Ecosystem, a.Package.Name)
			a.Package = Package{}
			cs := out[k]
			if len(cs) > 0 && cs[len(cs)-1].ID == id {
				cs[len(cs)-1].Affected = append(cs[len(cs)-1].Affected, a)
				continue
			}
			out[k] = append(cs, Candidate{ID: id, Affected: []Affected{a}})
		}
	}
	return out
}

func checkIndex(t *testing.T, db *DB, records map[string]string, names ...string) {
	t.Helper()
	var keys []PackageKey
	for _, n := range names {
		keys = append(keys, Key("npm", n))
	}
	got, err := db.Candidates(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	want := wantCandidates(t, records)
	for _, k := range keys {
		g, w := got[k], want[k]
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Fatalf("%v:\n got %s\nwant %s", k, gj, wj)
		}
	}
}

func importRecords(t *testing.T, db *DB, recs ...string) {
	t.Helper()
	if _, err := db.ImportReader(context.Background(), strings.NewReader("["+strings.Join(recs, ",")+"]"), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestPacksFollowChanges checks that each package's pack holds exactly the
// live records naming it through additions, changes that move a record to
// other packages, withdrawals, a record repeated in one import, and merges
// in the middle of an import.
func TestPacksFollowChanges(t *testing.T) {
	for _, limit := range []int{maxPending, 1} {
		t.Run(fmt.Sprintf("pending=%d", limit), func(t *testing.T) {
			defer func(old int) { pendingLimit = old }(pendingLimit)
			pendingLimit = limit
			ctx := context.Background()
			db, err := Open(ctx, filepath.Join(t.TempDir(), "a.db"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			names := []string{"a", "b", "c", "d"}
			live := map[string]string{}
			step := func(recs ...string) {
				t.Helper()
				importRecords(t, db, recs...)
				for _, r := range recs {
					var probe struct{ ID string }
					json.Unmarshal([]byte(r), &probe)
					live[probe.ID] = r
				}
				checkIndex(t, db, live, names...)
			}
			step(osvRecord("R1", "2024-01-01T00:00:00Z", false, "a", "b"), osvRecord("R2", "2024-01-01T00:00:00Z", false, "a"))
			step(osvRecord("R1", "2024-02-01T00:00:00Z", false, "c"))                                                           // moves from a, b to c
			step(osvRecord("R2", "2024-02-01T00:00:00Z", true, "a"))                                                            // withdrawn
			step(osvRecord("R3", "2024-01-01T00:00:00Z", false, "a", "d"), osvRecord("R3", "2024-03-01T00:00:00Z", false, "d")) // repeated: the last wins
			step(osvRecord("R0", "2024-01-01T00:00:00Z", false, "C", "a"))                                                      // sorts first; "C" is "c"
		})
	}
}

// TestMigrateSchema3 turns a database back into schema 3 (JSON rows, no
// packs) and checks that it is read as it was read-only, and migrated to
// the same index when opened for writing.
func TestMigrateSchema3(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]string{}
	for i, pk := range [][]string{{"a", "b"}, {"a"}, {"c", "a", "d"}} {
		id := fmt.Sprintf("R%d", i)
		live[id] = osvRecord(id, "2024-01-01T00:00:00Z", false, pk...)
		importRecords(t, db, live[id])
	}
	names := []string{"a", "b", "c", "d", "e"}
	checkIndex(t, db, live, names...)
	// Schema 3 kept each (package, record)'s entries as JSON in affected.
	for id, rec := range live {
		r, _ := ParseRecord([]byte(rec))
		byKey := map[PackageKey][]Affected{}
		for _, a := range r.Affected {
			k := Key(a.Package.Ecosystem, a.Package.Name)
			a.Package = Package{}
			byKey[k] = append(byKey[k], a)
		}
		for k, aff := range byKey {
			data, _ := json.Marshal(aff)
			if _, err := db.sql.ExecContext(ctx, `UPDATE affected SET data = ? WHERE ecosystem = ? AND name = ? AND id = ?`, data, k.Ecosystem, k.Name, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := db.sql.ExecContext(ctx, `DROP TABLE packs; UPDATE meta SET value = '3' WHERE key = 'schema'`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	ro, err := Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if !ro.rowIndex {
		t.Fatal("a schema-3 file opened read-only should be read by rows")
	}
	checkIndex(t, ro, live, names...)
	ro.Close()

	rw, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	var schema string
	rw.sql.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema'`).Scan(&schema)
	if schema != SchemaVersion || rw.rowIndex {
		t.Fatalf("after opening for writing: schema %s, rowIndex %v", schema, rw.rowIndex)
	}
	checkIndex(t, rw, live, names...)
	live["R1"] = osvRecord("R1", "2024-05-01T00:00:00Z", false, "e")
	importRecords(t, rw, live["R1"])
	checkIndex(t, rw, live, names...)
}

// TestDecodePackDamaged feeds cut and altered packs to the decoder: errors,
// never a panic or a huge allocation.
func TestDecodePackDamaged(t *testing.T) {
	r, err := ParseRecord([]byte(osvRecord("R1", "2024-01-01T00:00:00Z", false, "a", "b")))
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.Affected {
		r.Affected[i].Package = Package{}
	}
	pack := encodePack([]packRecord{{id: "R1", entries: string(encodeEntries(nil, r.Affected))}})
	got, err := decodePack(pack)
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0].Affected, r.Affected) {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	for i := range pack {
		if _, err := decodePack(pack[:i]); err == nil {
			t.Fatalf("cut at %d: no error", i)
		}
		b := append([]byte(nil), pack...)
		b[i] = 0xff
		decodePack(b) // must not panic
	}
}

func FuzzDecodePack(f *testing.F) {
	r, _ := ParseRecord([]byte(osvRecord("R1", "2024-01-01T00:00:00Z", false, "a", "b")))
	f.Add(encodePack([]packRecord{{id: "R1", entries: string(encodeEntries(nil, r.Affected))}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := decodePack(b)
		if err != nil {
			return
		}
		// What decodes must encode into a pack that decodes.
		recs := make([]packRecord, len(cs))
		for i, c := range cs {
			recs[i] = packRecord{id: c.ID, entries: string(encodeEntries(nil, c.Affected))}
		}
		if again, err := decodePack(encodePack(recs)); err != nil || len(again) != len(cs) {
			t.Fatalf("re-encoded pack: %v, %d of %d records", err, len(again), len(cs))
		}
	})
}

// TestPackCursorReuse reads packs of different shapes with one cursor, as
// a match worker does: each record must decode as decodePack decodes it,
// with nothing left over from the records and packs read before.
func TestPackCursorReuse(t *testing.T) {
	full, err := ParseRecord([]byte(`{"id":"F","modified":"2024-01-01T00:00:00Z","affected":[` +
		`{"package":{"ecosystem":"npm","name":"a"},"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N"}],` +
		`"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]},{"type":"GIT","repo":"r","events":[{"introduced":"abc"}]}],` +
		`"versions":["0.1.0","0.2.0"],"ecosystem_specific":{"x":1},"database_specific":{"y":2}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	bare, err := ParseRecord([]byte(`{"id":"B","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"a"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	entries := func(r *Record) string {
		a := append([]Affected(nil), r.Affected...)
		for i := range a {
			a[i].Package = Package{}
		}
		return string(encodeEntries(nil, a))
	}
	packs := [][]packRecord{
		{{id: "A", entries: entries(full)}, {id: "B", entries: entries(bare)}, {id: "C", entries: entries(full)}},
		{{id: "D", entries: entries(bare)}},
		{{id: "E", entries: entries(full)}},
	}
	var c PackCursor
	for _, recs := range packs {
		b := encodePack(recs)
		want, err := decodePack(b)
		if err != nil {
			t.Fatal(err)
		}
		c.Reset(Pack{s: string(b)})
		n := 0
		for ; c.Next(); n++ {
			if got := c.Candidate(); !reflect.DeepEqual(got, want[n]) {
				t.Fatalf("record %d:\n got %+v\nwant %+v", n, got, want[n])
			}
		}
		if c.Err() != nil || n != len(want) {
			t.Fatalf("%d of %d records, error %v", n, len(want), c.Err())
		}
	}
}
