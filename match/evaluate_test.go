package match

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/advisory/advisorytest"
	"github.com/customs-sec/customs/version"
)

// TestEvaluateAgainstReference checks the match path (packs decoded one
// record at a time into reused storage, installed versions parsed once,
// shortcuts for the common range shapes and for listed versions) against
// the OSV algorithm applied plainly, as the schema states it, to fully
// decoded candidates. The records are a synthetic export made from the
// real sample's shapes; some installed versions are invalid, to check the
// notes too. Every package must get the same hits, fixes, entries, notes
// and GIT range counts.
func TestEvaluateAgainstReference(t *testing.T) {
	if testing.Short() {
		t.Skip("imports a synthetic export")
	}
	ctx := context.Background()
	g, err := advisorytest.New(advisorytest.Config{Records: 3000, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	dir := advisorytest.CacheDir()
	if dir == "" {
		dir = t.TempDir()
	}
	path, err := g.Database(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := advisory.Open(ctx, path, advisory.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inv := g.Inventory(3000)
	for i := range inv.Packages {
		if i%97 == 0 {
			inv.Packages[i].Version, inv.Packages[i].SourceVersion = "not a version!", ""
		}
	}
	targets, _ := targetsOf(inv)
	reps := make([]int, len(targets)) // every target its own question
	var keys []advisory.PackageKey
	for i, tg := range targets {
		reps[i] = i
		keys = append(keys, tg.key)
	}
	got := make([]answer, len(targets))
	if err := answerAll(ctx, db, targets, reps, got); err != nil {
		t.Fatal(err)
	}
	cands, err := db.Candidates(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	var hits, bad, git int
	for i := range targets {
		tg := &targets[i]
		var want answer
		for _, c := range cands[tg.key] {
			referenceAdd(&want, tg, c)
		}
		g := got[i]
		slices.Sort(g.bad)
		slices.Sort(want.bad)
		if g.git != want.git || !slices.Equal(g.bad, want.bad) || len(g.hits) != len(want.hits) {
			t.Fatalf("%s: got %d hits, %d GIT, notes %q; want %d hits, %d GIT, notes %q",
				tg.via, len(g.hits), g.git, g.bad, len(want.hits), want.git, want.bad)
		}
		for j, h := range g.hits {
			w := want.hits[j]
			for k := range w.entries {
				w.entries[k] = kept(w.entries[k]) // what the match path keeps of an entry
			}
			if h.id != w.id || h.fixed != w.fixed || !reflect.DeepEqual(h.entries, w.entries) {
				t.Fatalf("%s: hit %d is %s fixed %q, %d entries; want %s fixed %q, %d entries",
					tg.via, j, h.id, h.fixed, len(h.entries), w.id, w.fixed, len(w.entries))
			}
		}
		hits, bad, git = hits+len(g.hits), bad+len(g.bad), git+g.git
	}
	if hits == 0 || bad == 0 || git == 0 {
		t.Fatalf("the data checks too little: %d hits, %d notes, %d GIT ranges", hits, bad, git)
	}
	t.Logf("%d packages: %d hits, %d notes, %d GIT ranges agree", len(targets), hits, bad, git)
}

// referenceAdd is evaluate as the OSV schema states it, comparing version
// strings each time.
func referenceAdd(a *answer, t *target, c advisory.Candidate) {
	h := hit{id: c.ID}
	affected, bad := false, "" // a record gets one note, its last
	for _, e := range c.Affected {
		if t.pkg.Type == customs.TypeGo && !goPlatformApplies(e.EcosystemSpecific, t.pkg.Metadata["build.GOOS"], t.pkg.Metadata["build.GOARCH"]) {
			continue
		}
		entryHit, entryFixed := false, ""
		for _, r := range e.Ranges {
			if r.Type == "GIT" {
				a.git++
				continue
			}
			in, fixed, err := referenceAffected(t.scheme, r.Events, t.version)
			if err != nil {
				bad = fmt.Sprintf("%s: range not evaluated for %s: %v", c.ID, t.via, err)
				continue
			}
			if in {
				entryHit = true
				if fixed != "" {
					entryFixed = fixed
				}
			}
		}
		for _, v := range e.Versions {
			if c, err := t.scheme.Compare(v, t.version); v == t.version || (err == nil && c == 0) {
				entryHit = true
			}
		}
		if entryHit {
			affected = true
			h.entries = append(h.entries, e)
			if entryFixed != "" && (h.fixed == "" || less(t.scheme, h.fixed, entryFixed)) {
				h.fixed = entryFixed
			}
		}
	}
	if bad != "" {
		a.bad = append(a.bad, bad)
	}
	if affected {
		a.hits = append(a.hits, h)
	}
}

// referenceAffected is the OSV evaluation: validate every event, sort them
// by version (stably, "0" first), walk them, and name the fix that closes
// the interval holding v.
func referenceAffected(s version.Scheme, events []advisory.Event, v string) (bool, string, error) {
	if err := s.Valid(v); err != nil {
		return false, "", err
	}
	type ev struct {
		kind, ver string
		zero      bool
	}
	var evs []ev
	var limits []string
	for _, e := range events {
		n, kind, ver := 0, "", ""
		for _, f := range []struct{ k, v string }{{"introduced", e.Introduced}, {"fixed", e.Fixed}, {"last_affected", e.LastAffected}, {"limit", e.Limit}} {
			if f.v != "" {
				n, kind, ver = n+1, f.k, f.v
			}
		}
		if n != 1 {
			return false, "", fmt.Errorf("version: OSV event must set exactly one field, has %d", n)
		}
		switch {
		case kind == "limit" && strings.Contains(ver, "*"):
			limits = append(limits, "*")
			continue
		case kind == "introduced" && ver == "0":
		default:
			if err := s.Valid(ver); err != nil {
				return false, "", fmt.Errorf("version: %s event: %w", kind, err)
			}
		}
		if kind == "limit" {
			limits = append(limits, ver)
			continue
		}
		evs = append(evs, ev{kind, ver, kind == "introduced" && ver == "0"})
	}
	if len(limits) > 0 && !slices.ContainsFunc(limits, func(l string) bool {
		c, _ := s.Compare(v, l)
		return l == "*" || c < 0
	}) {
		return false, "", nil
	}
	slices.SortStableFunc(evs, func(x, y ev) int {
		switch {
		case x.zero && y.zero:
			return 0
		case x.zero:
			return -1
		case y.zero:
			return 1
		}
		c, _ := s.Compare(x.ver, y.ver)
		return c
	})
	vulnerable, lastIntro := false, -1
	for i, e := range evs {
		c, _ := s.Compare(v, e.ver)
		switch {
		case e.kind == "introduced" && (e.zero || c >= 0):
			vulnerable, lastIntro = true, i
		case e.kind == "fixed" && c >= 0, e.kind == "last_affected" && c > 0:
			vulnerable = false
		}
	}
	if !vulnerable {
		return false, "", nil
	}
	for _, e := range evs[lastIntro+1:] {
		switch e.kind {
		case "fixed":
			return true, e.ver, nil
		case "last_affected":
			return true, "", nil
		}
	}
	return true, "", nil
}

// TestTwoEventRanges checks the two-event shortcut (target.between) against
// the reference on every order of introduced, fixed or last_affected and
// installed version, equal versions and ranges written backwards included,
// in schemes whose equal versions are spelled differently.
func TestTwoEventRanges(t *testing.T) {
	for _, tc := range []struct {
		scheme   string
		versions []string
	}{
		{"Debian", []string{"1.0-1", "1.0-1~deb12u1", "1.0-2", "1:0.5-1", "2.0-1", "not a version!"}},
		{"npm", []string{"1.0.0", "1.0.1", "1.0.0-rc.1", "2.0.0", "v1.0.0"}},
		{"PyPI", []string{"1.0", "1.0.0", "1.0.post1", "1.1rc1", "2"}},
	} {
		s := version.ForEcosystem(tc.scheme)
		for _, v := range tc.versions {
			tg := target{scheme: s, version: v}
			tg.ver, tg.verErr = version.Parse(s, v)
			for _, x := range tc.versions {
				for _, y := range tc.versions {
					for _, closing := range []advisory.Event{{Fixed: y}, {LastAffected: y}, {Limit: y}} {
						events := []advisory.Event{{Introduced: x}, closing}
						in, fixed, err := tg.affected(events)
						wIn, wFixed, wErr := referenceAffected(s, events, v)
						if in != wIn || fixed != wFixed || (err == nil) != (wErr == nil) {
							t.Errorf("%s %s in %+v: %v %q %v, reference %v %q %v", tc.scheme, v, events, in, fixed, err, wIn, wFixed, wErr)
						}
					}
				}
			}
		}
	}
}

// TestSpecificBlocksReadAsJSON checks the shortcuts that read Debian's
// urgency and GHSA's worded severity without the JSON decoder against
// encoding/json, on the shapes records use and on ones they might.
func TestSpecificBlocksReadAsJSON(t *testing.T) {
	for _, b := range []string{
		`{"urgency":"low"}`, `{"urgency":"unimportant"}`, `{"urgency": "high"}`, `{"Urgency":"medium"}`,
		`{"urgency":"lo\"w"}`, `{"urgency":"low","x":1}`, `{"x":{"urgency":"high"}}`, `{"urgency":5}`, `{}`, `null`, ``,
		`{"urgency":"caf` + "\xc3\xa9" + `"}`, `{"urgency":"bad` + "\xff" + `"}`,
	} {
		var want struct {
			Urgency string `json:"urgency"`
		}
		json.Unmarshal([]byte(b), &want)
		if got := urgencyOf(json.RawMessage(b)); got != want.Urgency {
			t.Errorf("urgency of %s: %q, encoding/json %q", b, got, want.Urgency)
		}
	}
	for _, b := range []string{
		`{"severity":"HIGH"}`, `{"SEVERITY":"low"}`, `{"ſeverity":"high"}`, `{"cwe_ids":[],"github_reviewed":true}`, `{"x":"everity"}`, `{}`,
	} {
		var ds struct {
			Severity string `json:"severity"`
		}
		json.Unmarshal([]byte(b), &ds)
		if ds.Severity != "" && !mayHaveKey([]byte(b), "everity") {
			t.Errorf("%s has a severity encoding/json reads, but mayHaveKey says it cannot", b)
		}
	}
}
