package advisory_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/internal/testimage"
)

func open(t *testing.T) *advisory.DB {
	t.Helper()
	db, err := advisory.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"), advisory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func corpusAdvisories(t *testing.T) string {
	return filepath.Join(testimage.Corpus(t), "advisories")
}

// TestImportCorpus imports the real sample and checks the index against a
// plain reading of the files: every record with an id, per ecosystem.
func TestImportCorpus(t *testing.T) {
	dir := corpusAdvisories(t)
	want := map[string]map[string]bool{}
	ids := map[string]bool{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || !strings.HasSuffix(p, ".json") || strings.Contains(p, "vuln-list-debian") {
			return nil
		}
		b, _ := os.ReadFile(p)
		var r struct {
			ID       string
			Affected []struct{ Package struct{ Ecosystem string } }
		}
		if json.Unmarshal(b, &r) != nil || r.ID == "" {
			return nil
		}
		ids[r.ID] = true
		for _, a := range r.Affected {
			eco := a.Package.Ecosystem
			if want[eco] == nil {
				want[eco] = map[string]bool{}
			}
			want[eco][r.ID] = true
		}
		return nil
	})
	db := open(t)
	d, err := db.Import(context.Background(), []string{dir}, advisory.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Added) != len(ids) {
		t.Errorf("added %d records, the corpus has %d", len(d.Added), len(ids))
	}
	st, err := db.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for eco, set := range want {
		if st.Ecosystems[eco] != len(set) {
			t.Errorf("%s: %d records indexed, %d in the files", eco, st.Ecosystems[eco], len(set))
		}
	}
	// The tracker's per-release words for bookworm were read.
	if d.Statuses == 0 || st.Statuses == 0 {
		t.Errorf("no distribution statuses imported (%d)", d.Statuses)
	}
	// Again: nothing changes.
	d2, err := db.Import(context.Background(), []string{dir}, advisory.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d2.Added)+len(d2.Modified)+len(d2.Withdrawn) != 0 || d2.Unchanged != len(ids) {
		t.Errorf("second import: %d added %d modified %d withdrawn %d unchanged", len(d2.Added), len(d2.Modified), len(d2.Withdrawn), d2.Unchanged)
	}
}

func record(id, eco, name string, events string, extra string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"modified":"2024-01-01T00:00:00Z",%s"affected":[{"package":{"ecosystem":%q,"name":%q},"ranges":[{"type":"ECOSYSTEM","events":%s}]}]}`,
		id, extra, eco, name, events))
}

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeltaSemantics(t *testing.T) {
	db := open(t)
	dir := t.TempDir()
	a := write(t, dir, "a.json", record("TEST-1", "npm", "Left-Pad", `[{"introduced":"0"},{"fixed":"1.3.0"}]`, ""))
	b := write(t, dir, "b.json", record("TEST-2", "PyPI", "Django_Rest.framework", `[{"introduced":"0"},{"fixed":"3.0"}]`, ""))
	ctx := context.Background()
	d, err := db.Import(ctx, []string{a, b}, advisory.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.Added, ",") != "TEST-1,TEST-2" {
		t.Errorf("added %v", d.Added)
	}
	keys := fmt.Sprint(d.Packages)
	if !strings.Contains(keys, "{npm left-pad}") || !strings.Contains(keys, "{PyPI django-rest-framework}") {
		t.Errorf("packages %s: names not normalized as the index keys them", keys)
	}
	// Modify one, withdraw the other, add a third.
	write(t, dir, "a.json", record("TEST-1", "npm", "left-pad", `[{"introduced":"0"},{"fixed":"1.3.1"}]`, ""))
	write(t, dir, "b.json", record("TEST-2", "PyPI", "django-rest-framework", `[{"introduced":"0"},{"fixed":"3.0"}]`, `"withdrawn":"2024-02-01T00:00:00Z",`))
	c := write(t, dir, "c.json", record("TEST-3", "Go", "example.com/m", `[{"introduced":"0"},{"fixed":"1.0.0"}]`, ""))
	d, err = db.Import(ctx, []string{a, b, c}, advisory.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(d.Added, d.Modified, d.Withdrawn) != "[TEST-3] [TEST-1] [TEST-2]" {
		t.Errorf("added %v modified %v withdrawn %v", d.Added, d.Modified, d.Withdrawn)
	}
	cands, err := db.Candidates(ctx, []advisory.PackageKey{advisory.Key("PyPI", "Django-REST-Framework"), advisory.Key("npm", "LEFT-PAD")})
	if err != nil {
		t.Fatal(err)
	}
	if len(cands[advisory.Key("PyPI", "django-rest-framework")]) != 0 {
		t.Error("a withdrawn record still matches")
	}
	got := cands[advisory.Key("npm", "left-pad")]
	if len(got) != 1 || got[0].Affected[0].Ranges[0].Events[1].Fixed != "1.3.1" {
		t.Errorf("modified record not updated: %+v", got)
	}
}

func TestHostileRecords(t *testing.T) {
	db := open(t)
	dir := t.TempDir()
	huge := `{"id":"BIG-1","modified":"2024-01-01T00:00:00Z","details":"` + strings.Repeat("x", advisory.MaxRecordBytes) + `"}`
	var many strings.Builder
	many.WriteString(`{"id":"MANY-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"ECOSYSTEM","events":[`)
	for i := 0; i < 1_000_000; i++ {
		if i > 0 {
			many.WriteByte(',')
		}
		many.WriteString(`{"introduced":"0"}`)
	}
	many.WriteString(`]}]}]}`)
	var many2 strings.Builder
	many2.WriteString(`{"id":"MANY-2","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"ECOSYSTEM","events":[`)
	for i := 0; i < 150_000; i++ {
		if i > 0 {
			many2.WriteByte(',')
		}
		many2.WriteString(`{"fixed":"1"}`)
	}
	many2.WriteString(`]}]}]}`)
	files := map[string]string{
		"many2.json":   many2.String(),
		"types.json":   `{"id":"TYPES-1","affected":"not a list"}`,
		"noid.json":    `{"modified":"2024-01-01T00:00:00Z"}`,
		"badid.json":   `{"id":"a b/../c","modified":"2024-01-01T00:00:00Z"}`,
		"garbage.json": "\x00\x01 not json",
		"huge.json":    huge,
		"many.json":    many.String(),
		"range.json":   `{"id":"RANGE-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"WEIRD","events":[]}]}]}`,
		"unknown.json": string(record("UNK-1", "Plan9Packages", "acme", `[{"introduced":"0"}]`, "")),
		"badver.json":  string(record("BADVER-1", "npm", "left-pad", `[{"introduced":"not a version"},{"fixed":"%%%"}]`, "")),
	}
	var paths []string
	for n, b := range files {
		paths = append(paths, write(t, dir, n, []byte(b)))
	}
	d, err := db.Import(context.Background(), paths, advisory.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(d.Added)
	if strings.Join(d.Added, ",") != "BADVER-1,UNK-1" {
		t.Errorf("added %v; want only the well-formed records", d.Added)
	}
	skipped := strings.Join(d.Skipped, "\n")
	for _, want := range []string{"types.json", "noid.json", "badid.json", "garbage.json", "huge.json", "many.json", "MANY-2", "range.json"} {
		if !strings.Contains(skipped, want) {
			t.Errorf("no skip message naming %s in:\n%s", want, skipped)
		}
	}
}

func TestCorruptArchiveChangesNothing(t *testing.T) {
	db := open(t)
	dir := t.TempDir()
	good := write(t, dir, "good.json", record("KEEP-1", "npm", "a", `[{"introduced":"0"}]`, ""))
	if _, err := db.Import(context.Background(), []string{good}, advisory.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < 50; i++ {
		w, _ := zw.Create(fmt.Sprintf("NEW-%d.json", i))
		w.Write(record(fmt.Sprintf("NEW-%d", i), "npm", "b", `[{"introduced":"0"}]`, ""))
	}
	zw.Close()
	b := buf.Bytes()
	corrupt := append([]byte(nil), b...)
	for i := len(corrupt) / 2; i < len(corrupt)/2+200; i++ {
		corrupt[i] ^= 0xff
	}
	for name, blob := range map[string][]byte{"truncated.zip": b[:len(b)/2], "corrupt.zip": corrupt} {
		p := write(t, dir, name, blob)
		if _, err := db.Import(context.Background(), []string{p}, advisory.ImportOptions{}); err == nil {
			t.Errorf("%s imported without error", name)
		}
		st, _ := db.Status(context.Background())
		if st.Records != 1 {
			t.Errorf("after a failed import of %s the database holds %d records, want the 1 it had", name, st.Records)
		}
	}
}

func TestTruncatedDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	db, err := advisory.Open(context.Background(), path, advisory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Import(context.Background(), []string{corpusAdvisories(t)}, advisory.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, _ := os.ReadFile(path)
	for name, blob := range map[string][]byte{"truncated": b[:len(b)/3], "header only": b[:100], "not a database": []byte("hello"), "empty": nil} {
		p := write(t, dir, strings.ReplaceAll(name, " ", "-")+".db", blob)
		db, err := advisory.Open(context.Background(), p, advisory.Options{ReadOnly: true})
		if err == nil {
			_, err = db.Status(context.Background())
			if err == nil {
				_, err = db.Candidates(context.Background(), []advisory.PackageKey{advisory.Key("Go", "stdlib")})
			}
			db.Close()
		}
		if err == nil {
			t.Errorf("%s database opened and queried without error", name)
		}
	}
}

// osvServer serves per-ecosystem all.zip archives with ETags, counting
// requests answered 304.
type osvServer struct {
	mu          sync.Mutex
	archives    map[string][]byte
	notModified int
	truncate    bool
}

func (s *osvServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	eco := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/all.zip")
	b, ok := s.archives[eco]
	if !ok {
		http.NotFound(w, r)
		return
	}
	etag := fmt.Sprintf(`"%x"`, len(b)*31+int(b[len(b)/2]))
	if r.Header.Get("If-None-Match") == etag {
		s.notModified++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	if s.truncate {
		w.Write(b[:len(b)/2])
		return
	}
	w.Write(b)
}

func zipOf(records ...[]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, r := range records {
		var probe struct{ ID string }
		json.Unmarshal(r, &probe)
		w, _ := zw.Create(probe.ID + ".json")
		w.Write(r)
	}
	zw.Close()
	return buf.Bytes()
}

func TestUpdateFetchesOnlyWhatChanged(t *testing.T) {
	srv := &osvServer{archives: map[string][]byte{
		"Go":  zipOf(record("GO-1", "Go", "example.com/a", `[{"introduced":"0"},{"fixed":"1.0.0"}]`, ""), record("GO-2", "Go", "example.com/b", `[{"introduced":"0"}]`, "")),
		"npm": zipOf(record("GHSA-1", "npm", "x", `[{"introduced":"0"}]`, "")),
	}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	db := open(t)
	ctx := context.Background()
	opts := advisory.UpdateOptions{BaseURL: hs.URL, Ecosystems: []string{"Go", "npm"}}
	d, err := db.Update(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Added) != 3 {
		t.Errorf("first update added %v", d.Added)
	}
	d, err = db.Update(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Empty() || srv.notModified != 2 {
		t.Errorf("second update: %+v, %d not-modified answers", d, srv.notModified)
	}
	// Upstream: GO-1 gets a new fix, GO-2 disappears, GO-3 appears.
	srv.mu.Lock()
	srv.archives["Go"] = zipOf(record("GO-1", "Go", "example.com/a", `[{"introduced":"0"},{"fixed":"1.0.1"}]`, ""), record("GO-3", "Go", "example.com/c", `[{"introduced":"0"}]`, ""))
	srv.mu.Unlock()
	d, err = db.Update(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(d.Added, d.Modified, d.Withdrawn) != "[GO-3] [GO-1] [GO-2]" {
		t.Errorf("delta %v %v %v", d.Added, d.Modified, d.Withdrawn)
	}
	if !strings.Contains(fmt.Sprint(d.Packages), "example.com/b") {
		t.Errorf("the removed record's package is not in the delta: %v", d.Packages)
	}
	// A broken download changes nothing.
	srv.mu.Lock()
	srv.archives["Go"] = zipOf(record("GO-4", "Go", "example.com/d", `[{"introduced":"0"}]`, ""))
	srv.truncate = true
	srv.mu.Unlock()
	before, _ := db.Status(ctx)
	if _, err := db.Update(ctx, opts); err == nil {
		t.Error("a truncated download gave no error")
	}
	after, _ := db.Status(ctx)
	if before.Records != after.Records {
		t.Errorf("records %d -> %d after a failed update", before.Records, after.Records)
	}
}

func TestStaleness(t *testing.T) {
	now := time.Now()
	db, err := advisory.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"), advisory.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, _ := db.Status(context.Background())
	if !st.Stale {
		t.Error("an empty database is not stale")
	}
	p := write(t, t.TempDir(), "a.json", record("T-1", "npm", "a", `[{"introduced":"0"}]`, ""))
	db.Import(context.Background(), []string{p}, advisory.ImportOptions{})
	if st, _ := db.Status(context.Background()); st.Stale {
		t.Errorf("fresh database stale: %s", st.StaleReason)
	}
	now = now.Add(advisory.StaleAfter + time.Hour)
	if st, _ := db.Status(context.Background()); !st.Stale {
		t.Error("an old database is not stale")
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add(string(record("GO-1", "Go", "example.com/a", `[{"introduced":"0"},{"fixed":"1.0.0"}]`, "")))
	f.Add(`{"id":"X","affected":[{"package":{"ecosystem":"npm","name":"a"},"versions":["1"],"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}`)
	f.Add(`{"id":"","withdrawn":"x"}`)
	f.Fuzz(func(t *testing.T, in string) {
		r, err := advisory.ParseRecord([]byte(in))
		if err == nil && r.ID == "" {
			t.Fatal("record without id accepted")
		}
	})
}
