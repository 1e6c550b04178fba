// Package match is the match stage: it finds the advisories that affect an
// inventory's packages, comparing versions with each ecosystem's own rules,
// and merges advisories that name the same vulnerability into one finding.
// It reads only the inventory and the advisory database, never the image, so
// a stored inventory can be matched again whenever advisories change.
package match

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/version"
)

// Result is what matching found.
type Result struct {
	Findings []customs.Finding `json:"findings"`
	// Notes say what could not be matched and why (an unknown ecosystem, a
	// version the scheme rejects, GIT ranges).
	Notes []string `json:"notes,omitempty"`
}

// target is one package to look up under one key.
type target struct {
	pkg     *customs.Package
	key     advisory.PackageKey
	version string
	scheme  version.Scheme
	via     string // "source package glibc 2.36-9+deb12u4"
	// ver is version parsed, once for every range and listed version it
	// is compared with; nil when the scheme rejects it (verErr says why).
	ver    *version.Parsed
	verErr error
}

// hit is one record affecting one target.
type hit struct {
	id      string
	fixed   string
	entries []advisory.Affected
}

// Match matches every package of an inventory.
func Match(ctx context.Context, db *advisory.DB, inv *customs.Inventory) (*Result, error) {
	res := &Result{}
	targets, notes := targetsOf(inv)
	res.Notes = notes
	// Targets that ask the same question get the same answer: the binary
	// packages of one source package (same key, source version and "via"),
	// a module in several Go binaries built for one platform. Questions are
	// answered once each, on every core.
	type question struct {
		key                      advisory.PackageKey
		version, via, goos, arch string
		goPkg                    bool
	}
	qIndex := make([]int, len(targets))
	var reps []int // the first target asking each question
	byQuestion := make(map[question]int, len(targets))
	for i, t := range targets {
		q := question{key: t.key, version: t.version, via: t.via, goPkg: t.pkg.Type == customs.TypeGo}
		if q.goPkg {
			q.goos, q.arch = t.pkg.Metadata["build.GOOS"], t.pkg.Metadata["build.GOARCH"]
		}
		n, ok := byQuestion[q]
		if !ok {
			n = len(reps)
			byQuestion[q] = n
			reps = append(reps, i)
		}
		qIndex[i] = n
	}
	answers := make([]answer, len(reps))
	if err := answerAll(ctx, db, targets, reps, answers); err != nil {
		return nil, err
	}
	hits := make([][]hit, len(targets))
	var ids []string // the records hit, sorted without repeats
	badVersions := map[string]bool{}
	gitRanges := 0
	for i := range targets {
		a := &answers[qIndex[i]]
		hits[i], gitRanges = a.hits, gitRanges+a.git
	}
	for _, a := range answers {
		for _, b := range a.bad {
			badVersions[b] = true
		}
		for _, h := range a.hits {
			ids = append(ids, h.id)
		}
	}
	for b := range badVersions {
		res.Notes = append(res.Notes, b)
	}
	if gitRanges > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d GIT ranges skipped: they name commits, not versions", gitRanges))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	recs, linked, err := db.MatchRecords(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("reading advisories: %w", err)
	}
	st, err := newStatuses(ctx, db, targets, hits)
	if err != nil {
		return nil, err
	}
	st.linked = linked
	// A question's findings are the same for every target asking it but
	// for the package itself: made once (on every core), copied for the
	// others.
	made := make([][]customs.Finding, len(reps))
	parallel(len(reps), func(n int) {
		if i := reps[n]; len(hits[i]) > 0 {
			made[n] = findings(targets[i], hits[i], recs, st)
		}
	})
	// The result is sorted (SortFindings' order) before it is built, so
	// that each finding, hundreds of bytes, is copied once.
	type place struct {
		key     findingKey
		i, n, j int // target i's copy of finding j of question n
	}
	total := 0
	for i := range targets {
		total += len(made[qIndex[i]])
	}
	order := make([]place, 0, total)
	for i, t := range targets {
		n := qIndex[i]
		for j := range made[n] {
			f := &made[n][j]
			order = append(order, place{findingKey{customs.SeverityRank(f.Severity), t.pkg.Name, t.pkg.Version, f.ID}, i, n, j})
		}
	}
	// Equal keys keep the order above (stable), without a stable sort's
	// cost; halves are sorted on two cores and merged.
	sortMerged(order, func(x, y place) int {
		if c := x.key.compare(y.key); c != 0 {
			return c
		}
		return cmp.Or(x.i-y.i, x.j-y.j)
	})
	res.Findings = make([]customs.Finding, len(order))
	inHalves(len(order), func(start, end int) {
		for k := start; k < end; k++ {
			o := order[k]
			if f := made[o.n][o.j]; reps[o.n] == o.i {
				res.Findings[k] = f
			} else {
				res.Findings[k] = forPackage(f, targets[o.i].pkg)
			}
		}
	})
	sort.Strings(res.Notes)
	return res, nil
}

// answer is what the records naming a key say to one question.
type answer struct {
	hits []hit
	bad  []string // ranges not evaluated, and why
	git  int      // GIT ranges skipped
}

// answerAll answers every question (the target reps[n] asks question n)
// from the packs of their keys: packs are evaluated on every core as they
// are read, each pack's records decoded once, one at a time, for all the
// questions about its key, and each installed version parsed once.
// Questions about one key are answered by one goroutine.
func answerAll(ctx context.Context, db *advisory.DB, targets []target, reps []int, answers []answer) error {
	byKey := make(map[advisory.PackageKey][]int, len(reps))
	var keys []advisory.PackageKey
	for n, i := range reps {
		k := targets[i].key
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], n)
	}
	// Each pack is evaluated as it is read (on several goroutines at
	// once), each worker decoding into its own cursor's storage.
	cursors := sync.Pool{New: func() any { return new(advisory.PackCursor) }}
	err := db.EachPack(ctx, keys, func(p advisory.Pack) error {
		c := cursors.Get().(*advisory.PackCursor)
		defer cursors.Put(c)
		qs := byKey[p.Key]
		for _, n := range qs {
			t := &targets[reps[n]]
			t.ver, t.verErr = version.Parse(t.scheme, t.version)
		}
		c.Reset(p)
		for c.Next() {
			cand := c.Candidate()
			for _, n := range qs {
				answers[n].add(&targets[reps[n]], cand)
			}
		}
		if err := c.Err(); err != nil {
			return fmt.Errorf("index pack %s/%s: %w", p.Key.Ecosystem, p.Key.Name, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("looking up advisories: %w", err)
	}
	return nil
}

// add evaluates one record for the question t asks.
func (a *answer) add(t *target, c advisory.Candidate) {
	h, ok, bad, git := evaluate(t, c)
	a.git += git
	if bad != "" {
		a.bad = append(a.bad, bad)
	}
	if ok {
		a.hits = append(a.hits, h)
	}
}

// forPackage copies a finding made for another package asking the same
// question (another binary of the same source package) to p, sharing no
// slice with it.
func forPackage(f customs.Finding, p *customs.Package) customs.Finding {
	f.Package, f.Installed, f.Layer, f.Locations = p.Ref(), p.Version, p.Layer, p.Locations
	f.Records = slices.Clone(f.Records)
	f.Aliases = slices.Clone(f.Aliases)
	f.References = slices.Clone(f.References)
	f.CVSS = slices.Clone(f.CVSS)
	return f
}

// sortMerged sorts s by compare, a total order: large slices as two
// halves sorted at once, then merged.
func sortMerged[T any](s []T, compare func(a, b T) int) {
	if len(s) < 4096 || runtime.GOMAXPROCS(0) < 2 {
		slices.SortFunc(s, compare)
		return
	}
	half := len(s) / 2
	var wg sync.WaitGroup
	wg.Go(func() { slices.SortFunc(s[:half], compare) })
	slices.SortFunc(s[half:], compare)
	wg.Wait()
	merged := make([]T, 0, len(s))
	a, b := s[:half], s[half:]
	for len(a) > 0 && len(b) > 0 {
		if compare(b[0], a[0]) < 0 {
			merged, b = append(merged, b[0]), b[1:]
		} else {
			merged, a = append(merged, a[0]), a[1:]
		}
	}
	merged = append(append(merged, a...), b...)
	copy(s, merged)
}

// inHalves calls fn for the two halves of [0, n) at once.
func inHalves(n int, fn func(start, end int)) {
	var wg sync.WaitGroup
	wg.Go(func() { fn(0, n/2) })
	fn(n/2, n)
	wg.Wait()
}

// parallel calls fn(0..n-1) on every core.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n/64+1)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// targetsOf decides, per package, which advisory key and version to match.
// Distribution packages are matched by their source package and source
// version: distributions file advisories against source packages.
func targetsOf(inv *customs.Inventory) ([]target, []string) {
	out := make([]target, 0, len(inv.Packages)+len(inv.Packages)/16)
	unknown := map[string]int{}
	for i := range inv.Packages {
		p := &inv.Packages[i]
		eco := p.Ecosystem
		if eco == "" {
			unknown[p.Type]++
			continue
		}
		scheme := version.ForEcosystem(eco)
		if scheme == nil {
			unknown[eco]++
			continue
		}
		switch p.Type {
		case customs.TypeDeb, customs.TypeApk, customs.TypeRPM:
			name, ver := firstNonEmpty(p.Source, p.Name), firstNonEmpty(p.SourceVersion, p.Version)
			out = append(out, target{pkg: p, key: advisory.Key(eco, name), version: ver, scheme: scheme,
				via: "source package " + name + " " + ver})
			if p.Type == customs.TypeRPM && p.Source != "" && p.Source != p.Name {
				// Some rpm distributions file advisories by binary package.
				out = append(out, target{pkg: p, key: advisory.Key(eco, p.Name), version: p.Version, scheme: scheme,
					via: "package " + p.Name + " " + p.Version})
			}
		case customs.TypeGo:
			if p.Version == "" || p.Version == "(devel)" || p.Metadata["replaced_by"] != "" {
				continue // a local build or a local replacement: no published version to match
			}
			out = append(out, target{pkg: p, key: advisory.Key(eco, p.Name), version: p.Version, scheme: scheme,
				via: p.Name + " " + p.Version})
		default:
			out = append(out, target{pkg: p, key: advisory.Key(eco, p.Name), version: p.Version, scheme: scheme,
				via: p.Name + " " + p.Version})
		}
	}
	var notes []string
	for k, n := range unknown {
		if k == "" {
			k = "(none)"
		}
		notes = append(notes, fmt.Sprintf("%d packages of %s not matched: no advisory ecosystem for them", n, k))
	}
	return out, notes
}

// evaluate checks one record's entries for a target. c is only valid
// while its pack is (advisory.DB.EachPack): what a hit keeps is copied.
func evaluate(t *target, c advisory.Candidate) (h hit, affected bool, badVersion string, gitRanges int) {
	defer func() {
		if affected {
			h.id, h.fixed = strings.Clone(c.ID), strings.Clone(h.fixed)
		}
	}()
	for _, a := range c.Affected {
		if t.pkg.Type == customs.TypeGo && !goPlatformApplies(a.EcosystemSpecific, t.pkg.Metadata["build.GOOS"], t.pkg.Metadata["build.GOARCH"]) {
			continue
		}
		entryHit, entryFixed := false, ""
		for _, r := range a.Ranges {
			if r.Type == "GIT" {
				gitRanges++
				continue
			}
			in, fixed, err := t.affected(r.Events)
			if err != nil {
				badVersion = fmt.Sprintf("%s: range not evaluated for %s: %v", c.ID, t.via, err)
				continue
			}
			if in {
				entryHit = true
				if fixed != "" {
					entryFixed = fixed
				}
			}
		}
		// Listed versions matter only when no range holds the version
		// (the ranges alone name the fix).
		for i := 0; i < len(a.Versions) && !entryHit; i++ {
			if t.ver != nil {
				entryHit = t.ver.Equal(a.Versions[i])
			} else {
				entryHit = a.Versions[i] == t.version // an invalid version equals only itself
			}
		}
		if entryHit {
			affected = true
			h.entries = append(h.entries, kept(a))
			if entryFixed != "" && (h.fixed == "" || less(t.scheme, h.fixed, entryFixed)) {
				h.fixed = entryFixed
			}
		}
	}
	return h, affected, badVersion, gitRanges
}

// kept copies what findings read of an entry that hit (its severities and
// specific blocks) out of the pack; its ranges and versions have been
// evaluated and are not needed again.
func kept(a advisory.Affected) advisory.Affected {
	k := advisory.Affected{EcosystemSpecific: bytes.Clone(a.EcosystemSpecific), DatabaseSpecific: bytes.Clone(a.DatabaseSpecific)}
	if a.Severity != nil {
		k.Severity = make([]advisory.Severity, len(a.Severity))
		for i, sv := range a.Severity {
			k.Severity[i] = advisory.Severity{Type: strings.Clone(sv.Type), Score: strings.Clone(sv.Score)}
		}
	}
	return k
}

// affected evaluates one range for the target's version. The two shapes
// nearly every record uses, {introduced: 0} and {introduced: 0} then one
// {fixed} or {last_affected}, take one comparison here; Parsed.Affected
// (version.Affected), which validates and sorts every event first, decides
// everything else and every error, so the answers (and messages) are the
// same.
func (t *target) affected(events []advisory.Event) (bool, string, error) {
	if t.ver == nil {
		return false, "", t.verErr // what version.Affected says first
	}
	if len(events) <= 2 && len(events) > 0 && events[0] == (advisory.Event{Introduced: "0"}) {
		if len(events) == 1 {
			return true, "", nil
		}
		switch e := events[1]; {
		case e.Fixed != "" && e.Introduced == "" && e.LastAffected == "" && e.Limit == "":
			if c, err := t.ver.Compare(e.Fixed); err == nil {
				if c < 0 {
					return true, e.Fixed, nil
				}
				return false, "", nil
			}
		case e.LastAffected != "" && e.Introduced == "" && e.Fixed == "" && e.Limit == "":
			if c, err := t.ver.Compare(e.LastAffected); err == nil {
				return c <= 0, "", nil
			}
		}
	}
	if len(events) == 2 && events[0].Introduced != "" && events[0].Introduced != "0" && events[0].Fixed == "" && events[0].LastAffected == "" && events[0].Limit == "" {
		if in, fixed, ok := t.between(events[0].Introduced, events[1]); ok {
			return in, fixed, nil
		}
	}
	var buf [8]version.Event
	evs := buf[:0]
	for _, e := range events {
		evs = append(evs, version.Event(e))
	}
	return t.ver.Affected(evs)
}

// between decides the other common shape, {introduced: x} then one
// {fixed: y} or {last_affected: y}, as Parsed.Affected would (it sorts
// the events by version, stably): usually with two comparisons, a third
// only when the version is past both. ok is false for anything else, or
// on any error, for Parsed.Affected to decide and explain.
func (t *target) between(intro string, e advisory.Event) (in bool, fixed string, ok bool) {
	y, isFixed := e.Fixed, true
	switch {
	case e.Introduced != "" || e.Limit != "" || (e.Fixed == "") == (e.LastAffected == ""):
		return false, "", false
	case e.LastAffected != "":
		y, isFixed = e.LastAffected, false
	}
	cx, err := t.ver.Compare(intro)
	if err != nil {
		return false, "", false
	}
	cy, err := t.ver.Compare(y)
	switch {
	case err != nil:
		return false, "", false
	case cx < 0: // below the introduction, whichever event sorts first
		return false, "", true
	case isFixed && cy < 0: // intro <= v < fixed
		return true, y, true
	case !isFixed && cy <= 0: // intro <= v <= last_affected
		return true, "", true
	}
	// Past both: affected only when the closing event sorts before the
	// introduction (equal versions keep the record's order, introduction
	// first), and then nothing after the introduction closes it.
	c, err := t.scheme.Compare(intro, y)
	if err != nil {
		return false, "", false
	}
	return c > 0, "", true
}

// goPlatformApplies reads the Go vulnerability database's
// ecosystem_specific.imports: when every affected package is limited to
// other operating systems or architectures, a binary built for this
// platform does not contain the vulnerable code (govulncheck decides alike).
func goPlatformApplies(es json.RawMessage, goos, goarch string) bool {
	if len(es) == 0 || (goos == "" && goarch == "") {
		return true
	}
	var spec struct {
		Imports []struct {
			GOOS   []string `json:"goos"`
			GOARCH []string `json:"goarch"`
		} `json:"imports"`
	}
	if json.Unmarshal(es, &spec) != nil || len(spec.Imports) == 0 {
		return true
	}
	for _, imp := range spec.Imports {
		if (len(imp.GOOS) == 0 || goos == "" || contains(imp.GOOS, goos)) && (len(imp.GOARCH) == 0 || goarch == "" || contains(imp.GOARCH, goarch)) {
			return true
		}
	}
	return false
}

func less(s version.Scheme, a, b string) bool {
	c, err := s.Compare(a, b)
	return err == nil && c < 0
}

// findings merges a target's hits into findings, one per vulnerability.
func findings(t target, hits []hit, recs map[string]*advisory.Record, st *statuses) []customs.Finding {
	if len(hits) == 1 { // most packages: nothing to merge
		if f, keep := finding(t, hits, recs, st); keep {
			return []customs.Finding{f}
		}
		return nil
	}
	// Union advisories that share any id (CVE, GHSA, GO-, DSA): every id
	// of every hit with the hit naming it, sorted, so that hits sharing
	// an id are neighbours. A few hits and ids each: slices, not maps.
	type owned struct {
		id  string
		hit int
	}
	var ids []owned
	for i, h := range hits {
		ids = append(ids, owned{h.id, i})
		if r := recs[h.id]; r != nil {
			for _, a := range r.IDs() {
				if a != "" {
					ids = append(ids, owned{a, i})
				}
			}
		}
	}
	slices.SortFunc(ids, func(a, b owned) int { return strings.Compare(a.id, b.id) })
	parent := make([]int, len(hits))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		if parent[x] != x {
			parent[x] = find(parent[x])
		}
		return parent[x]
	}
	for k := 1; k < len(ids); k++ {
		if ids[k].id == ids[k-1].id {
			if a, b := find(ids[k].hit), find(ids[k-1].hit); a != b {
				parent[max(a, b)] = min(a, b) // the root is a group's first hit
			}
		}
	}
	// Groups in the order of their first hits (a group's root), each in
	// hit order: one pass, as a source package such as linux can have
	// thousands of hits.
	groups := make([][]hit, len(hits))
	for i := range hits {
		r := find(i)
		groups[r] = append(groups[r], hits[i])
	}
	out := make([]customs.Finding, 0, len(hits))
	for _, group := range groups {
		if len(group) == 0 {
			continue
		}
		if f, keep := finding(t, group, recs, st); keep {
			out = append(out, f)
		}
	}
	return out
}

func finding(t target, hs []hit, recs map[string]*advisory.Record, st *statuses) (customs.Finding, bool) {
	p := t.pkg
	f := customs.Finding{
		Package: p.Ref(), Installed: p.Version, Layer: p.Layer, Locations: p.Locations, MatchedBy: t.via,
	}
	// ids, sorted without repeats: the records', their aliases and
	// upstream ids, and the ids the database links to them (the DSAs the
	// tracker links to any of those).
	n, nEntries := 0, 0
	for _, h := range hs {
		n += 1 + len(st.linked[h.id])
		nEntries += len(h.entries)
		if r := recs[h.id]; r != nil {
			n += 1 + len(r.Aliases) + len(r.Upstream)
		}
	}
	ids := make([]string, 0, n)
	rs := make([]*advisory.Record, 0, len(hs))
	entries := make([]advisory.Affected, 0, nEntries)
	f.Records = make([]string, 0, len(hs))
	for _, h := range hs {
		f.Records = append(f.Records, h.id)
		ids = append(ids, h.id)
		entries = append(entries, h.entries...)
		if h.fixed != "" && (f.Fixed == "" || less(t.scheme, f.Fixed, h.fixed)) {
			f.Fixed = h.fixed // the fix that closes every merged advisory
		}
		if r := recs[h.id]; r != nil {
			rs = append(rs, r)
			ids = append(append(append(ids, r.ID), r.Aliases...), r.Upstream...)
		}
		ids = append(ids, st.linked[h.id]...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	f.ID = primaryID(ids)
	if len(ids) > 1 { // nil when none, as before
		f.Aliases = make([]string, 0, len(ids)-1)
	}
	for _, id := range ids {
		if id != f.ID {
			f.Aliases = append(f.Aliases, id)
		}
	}
	sort.Strings(f.Records)
	f.Severity, f.CVSS = severityOf(rs, p.Ecosystem, entries, &st.scores)
	nRefs := 0
	for _, r := range rs {
		nRefs += len(r.References)
	}
	if nRefs > 0 { // nil when none, as before
		f.References = make([]string, 0, min(nRefs, 20))
	}
	for _, r := range rs {
		if f.Title == "" {
			f.Title = firstNonEmpty(r.Summary, firstLine(r.Details))
		}
		if len(r.Details) > len(f.Description) {
			f.Description = r.Details
		}
		for _, ref := range r.References {
			if len(f.References) < 20 && !contains(f.References, ref.URL) {
				f.References = append(f.References, ref.URL)
			}
		}
		if r.Published != nil && (f.Published == nil || r.Published.Before(*f.Published)) {
			f.Published = r.Published
		}
		if !r.Modified.IsZero() && (f.Modified == nil || r.Modified.After(*f.Modified)) {
			m := r.Modified
			f.Modified = &m
		}
	}
	if f.Fixed != "" && p.Type == customs.TypeGo && p.Name != "stdlib" && strings.HasPrefix(p.Version, "v") && !strings.HasPrefix(f.Fixed, "v") {
		f.Fixed = "v" + f.Fixed // OSV writes Go module versions without the v Go itself writes
	}
	switch {
	case f.Fixed != "":
		f.Status = customs.StatusFixed
	default:
		f.Status = customs.StatusAffected
		if s, ok := st.status(t, ids, entries); ok {
			if s.Status == "not-affected" {
				return f, false
			}
			f.Status, f.StatusNote = s.Status, s.Note
		}
	}
	return f, true
}

// primaryID picks the id users know a vulnerability by: its CVE, else its
// GHSA, else the first record id.
// ids are sorted.
func primaryID(ids []string) string {
	for _, prefix := range []string{"CVE-", "GHSA-"} {
		for _, id := range ids {
			if strings.HasPrefix(id, prefix) {
				return id
			}
		}
	}
	return ids[0]
}

// statuses holds what distribution trackers say beyond OSV.
type statuses struct {
	byEco   map[string]map[string]map[string]advisory.DistroStatus // eco -> package -> vuln -> status
	support map[string][]advisory.Support
	linked  map[string][]string // by record id (advisory.DB.MatchRecords)
	scores  vectorScores
}

func newStatuses(ctx context.Context, db *advisory.DB, targets []target, hits [][]hit) (*statuses, error) {
	st := &statuses{byEco: map[string]map[string]map[string]advisory.DistroStatus{}, support: map[string][]advisory.Support{}}
	names := map[string]map[string]bool{}
	for i, t := range targets {
		if len(hits[i]) == 0 || t.pkg.Type != customs.TypeDeb {
			continue
		}
		for _, eco := range []string{t.key.Ecosystem, advisory.BaseEcosystem(t.key.Ecosystem)} {
			if names[eco] == nil {
				names[eco] = map[string]bool{}
			}
			names[eco][t.key.Name] = true
		}
	}
	for eco, set := range names {
		var list []string
		for n := range set {
			list = append(list, n)
		}
		m, err := db.DistroStatuses(ctx, eco, list)
		if err != nil {
			return nil, err
		}
		st.byEco[eco] = m
		if eco != advisory.BaseEcosystem(eco) {
			sup, err := db.SupportFor(ctx, eco)
			if err != nil {
				return nil, err
			}
			st.support[eco] = sup
		}
	}
	return st, nil
}

// status gives a distribution's status for an unfixed finding: the
// tracker's per-release word, a status carried in the record itself, or
// the end of the package's security support.
func (st *statuses) status(t target, ids []string, entries []advisory.Affected) (advisory.DistroStatus, bool) {
	for _, eco := range []string{t.key.Ecosystem, advisory.BaseEcosystem(t.key.Ecosystem)} {
		byVuln := st.byEco[eco][t.key.Name]
		for _, id := range ids {
			if s, ok := byVuln[id]; ok {
				return s, true
			}
		}
	}
	for _, a := range entries {
		var ds struct {
			TrackerKind string `json:"tracker_kind"`
			TrackerNote string `json:"tracker_note"`
		}
		if json.Unmarshal(a.DatabaseSpecific, &ds) == nil {
			if s, ok := advisory.TrackerStatus(ds.TrackerKind); ok {
				return advisory.DistroStatus{Status: s, Note: ds.TrackerNote, Source: "record: " + ds.TrackerKind}, true
			}
		}
	}
	for _, s := range st.support[t.key.Ecosystem] {
		if s.Kind == "ended" && s.Matches(t.key.Name) {
			note := "security support ended"
			if s.Date != "" {
				note += " on " + s.Date
			}
			if s.Note != "" {
				note += ": " + s.Note
			}
			return advisory.DistroStatus{Status: customs.StatusEndOfLife, Note: note, Source: "debian-security-support"}, true
		}
	}
	return advisory.DistroStatus{}, false
}

// SortFindings orders findings by severity (highest first), then package, then id.
// It sorts indexes (equal findings keep their order, as in a stable sort)
// and moves each finding once: a finding is hundreds of bytes, and
// swapping them was a large part of matching.
func SortFindings(fs []customs.Finding) {
	type place struct {
		key findingKey
		i   int
	}
	order := make([]place, len(fs))
	for i := range fs {
		f := &fs[i]
		order[i] = place{findingKey{customs.SeverityRank(f.Severity), f.Package.Name, f.Installed, f.ID}, i}
	}
	slices.SortStableFunc(order, func(x, y place) int { return x.key.compare(y.key) })
	sorted := make([]customs.Finding, len(fs))
	for k, o := range order {
		sorted[k] = fs[o.i]
	}
	copy(fs, sorted)
}

// findingKey is what findings are ordered by.
type findingKey struct {
	rank                int // customs.SeverityRank
	name, installed, id string
}

func (a findingKey) compare(b findingKey) int {
	if a.rank != b.rank {
		return b.rank - a.rank // highest first
	}
	if c := strings.Compare(a.name, b.name); c != 0 {
		return c
	}
	if c := strings.Compare(a.installed, b.installed); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
