package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/policy"
)

// The package index lets an advisory change be applied to every image that
// holds a changed package at once. Each distinct package (with the distro
// it sits in, its layer and locations) is stored once; each image points at
// its packages with the signature of the findings that package has in it.
// Images holding the same package with the same signature change the same
// way when that package's advisories change, so one set of statements
// updates them all.

// VulnRow is one finding as the index keeps it.
type VulnRow struct {
	Vuln     string
	Aliases  []string
	Package  string
	Severity string
	Fixed    string
	// Effect is what the policy makes of it (policy.Effect*).
	Effect string
}

// Key is the finding's "ID package" key (as VulnKeys).
func (v VulnRow) Key() string { return v.Vuln + " " + v.Package }

// Signature names a package's findings in an image: equal signatures, equal
// findings and effects.
func Signature(rows []VulnRow) string {
	lines := make([]string, 0, len(rows))
	for _, r := range rows {
		lines = append(lines, strings.Join([]string{r.Vuln, strings.Join(r.Aliases, ","), r.Package, r.Severity, r.Fixed, r.Effect}, "\x1f"))
	}
	sort.Strings(lines)
	h := sha256.Sum256([]byte(strings.Join(lines, "\x1e")))
	return hex.EncodeToString(h[:12])
}

// PackageBody is what matching a package needs: the package and its distro.
type PackageBody struct {
	Distro  *customs.Distro `json:"distro,omitempty"`
	Package customs.Package `json:"package"`
}

// Body is the stored form of a package for matching: the package without
// what matching never reads (installed files, licenses, maintainer).
func Body(inv *customs.Inventory, p customs.Package) PackageBody {
	p.Files, p.Licenses, p.Maintainer = nil, nil, ""
	return PackageBody{Distro: inv.Distro, Package: p}
}

// packageMatchKey ties a finding to the package it was found in.
func packageMatchKey(r customs.PackageRef, l customs.LayerRef, locations []string) string {
	return strings.Join([]string{r.Type, r.Name, r.Version, r.PURL, r.Source, r.SourceVersion, fmt.Sprint(l.Index), l.DiffID, strings.Join(locations, "\x1f")}, "\x00")
}

// RowsOf turns findings into index rows with their policy effects.
func RowsOf(findings []customs.Finding, effects map[string]string) []VulnRow {
	out := make([]VulnRow, 0, len(findings))
	for _, f := range findings {
		out = append(out, VulnRow{Vuln: f.ID, Aliases: f.Aliases, Package: f.Package.Name, Severity: f.Severity, Fixed: f.Fixed,
			Effect: effects[policy.FindingKey(f)]})
	}
	return out
}

type indexedPackage struct {
	keys [][2]string
	hash string
	body []byte
	rows []VulnRow
	sig  string
}

// newIndex prepares an image's index rows from its inventory and judgement.
func newIndex(inv *customs.Inventory, j Judgement) ([]indexedPackage, error) {
	effects := policy.FindingEffects(j.Verdict)
	byPkg := map[string][]customs.Finding{}
	for _, f := range j.Scan.Findings {
		k := packageMatchKey(f.Package, f.Layer, f.Locations)
		byPkg[k] = append(byPkg[k], f)
	}
	out := make([]indexedPackage, 0, len(inv.Packages))
	seen := map[string]bool{}
	for _, p := range inv.Packages {
		body, err := json.Marshal(Body(inv, p))
		if err != nil {
			return nil, fmt.Errorf("indexing package %s: %w", p.Name, err)
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])
		if seen[hash] {
			continue // the same package found twice in the same place
		}
		seen[hash] = true
		rows := RowsOf(byPkg[packageMatchKey(p.Ref(), p.Layer, p.Locations)], effects)
		out = append(out, indexedPackage{keys: PackageKeys(inv, p), hash: hash, body: body, rows: rows, sig: Signature(rows)})
	}
	return out, nil
}

// packageID stores a package body once and returns its id.
// Ids found are added to local, for the caller to cache once the
// transaction has committed.
func (s *Store) packageID(ctx context.Context, tx *sql.Tx, ip indexedPackage, local map[string]int64) (int64, error) {
	if id, ok := s.pkgIDs.Load(ip.hash); ok {
		return id.(int64), nil
	}
	if id, ok := local[ip.hash]; ok {
		return id, nil
	}
	var id int64
	err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM packages WHERE hash = ?`), ip.hash).Scan(&id)
	if err == sql.ErrNoRows {
		body, perr := s.pack(json.RawMessage(ip.body))
		if perr != nil {
			return 0, perr
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO packages(hash, body) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING`), ip.hash, body); err != nil {
			return 0, err
		}
		if err = tx.QueryRowContext(ctx, s.q(`SELECT id FROM packages WHERE hash = ?`), ip.hash).Scan(&id); err != nil {
			return 0, err
		}
		for _, k := range ip.keys {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO package_keys(package_id, ecosystem, name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`), id, k[0], k[1]); err != nil {
				return 0, err
			}
		}
		local[ip.hash] = id
		return id, nil
	}
	if err == nil {
		local[ip.hash] = id
	}
	return id, err
}

// cachePackageIDs remembers the package ids of a committed transaction
// (ids never change once committed).
func (s *Store) cachePackageIDs(local map[string]int64) {
	for h, id := range local {
		s.pkgIDs.Store(h, id)
	}
}

// writeIndex replaces an image's package rows and stores its packages'
// findings (shared by every image holding the same package with the same
// findings). Findings of a package under a signature no image holds any
// more (this image was the last to hold it) are deleted.
func (s *Store) writeIndex(ctx context.Context, tx *sql.Tx, id int64, idx []indexedPackage, local map[string]int64) error {
	had, err := s.imageGroups(ctx, tx, id)
	if err != nil {
		return err
	}
	for _, table := range []string{"image_packages", "package_images", "image_vulns"} {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE image_id = ?`), id); err != nil {
			return err
		}
	}
	insPkg, err := tx.PrepareContext(ctx, s.q(`INSERT INTO package_images(package_id, image_id, sig) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`))
	if err != nil {
		return err
	}
	defer insPkg.Close()
	denying := 0
	for _, ip := range idx {
		pid, err := s.packageID(ctx, tx, ip, local)
		if err != nil {
			return fmt.Errorf("storing a package: %w", err)
		}
		if _, err := insPkg.ExecContext(ctx, pid, id, ip.sig); err != nil {
			return err
		}
		if err := s.putPackageVulns(ctx, tx, pid, ip.sig, ip.rows); err != nil {
			return err
		}
		delete(had, GroupKey{pid, ip.sig})
		denying += denyCount(ip.rows)
	}
	if _, err = tx.ExecContext(ctx, s.q(`UPDATE images SET deny_findings = ? WHERE id = ?`), denying, id); err != nil {
		return err
	}
	left := make([]GroupKey, 0, len(had))
	for g := range had {
		left = append(left, g)
	}
	return s.dropUnheld(ctx, tx, left)
}

// emptySig is the signature of a package without findings (it has no
// package_vulns rows).
var emptySig = Signature(nil)

// GroupKey names a package group: a package and a findings signature.
type GroupKey struct {
	PackageID int64
	Sig       string
}

// imageGroups returns the groups an image is in that have findings.
func (s *Store) imageGroups(ctx context.Context, tx *sql.Tx, id int64) (map[GroupKey]bool, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT package_id, sig FROM package_images WHERE image_id = ? AND sig <> ?`), id, emptySig)
	if err != nil {
		return nil, fmt.Errorf("reading the package groups of image %d: %w", id, err)
	}
	defer rows.Close()
	out := map[GroupKey]bool{}
	for rows.Next() {
		var g GroupKey
		if err := rows.Scan(&g.PackageID, &g.Sig); err != nil {
			return nil, err
		}
		out[g] = true
	}
	return out, rows.Err()
}

// dropUnheld deletes the findings stored for groups no image is in any
// more: nothing reads them, and every advisory change leaves one such
// group behind for each package it changes. A group that gets images again
// later has its findings written again with them. The test for images is
// made once per group, not per finding (it may scan every image of a
// popular package).
func (s *Store) dropUnheld(ctx context.Context, tx *sql.Tx, groups []GroupKey) error {
	if len(groups) == 0 {
		return nil
	}
	drop, err := tx.PrepareContext(ctx, s.q(`DELETE FROM package_vulns WHERE package_id = ? AND sig = ?
		AND NOT EXISTS (SELECT 1 FROM package_images WHERE package_id = ? AND sig = ?)`))
	if err != nil {
		return fmt.Errorf("deleting the findings of package groups no image is in: %w", err)
	}
	defer drop.Close()
	for _, g := range groups {
		if _, err := drop.ExecContext(ctx, g.PackageID, g.Sig, g.PackageID, g.Sig); err != nil {
			return fmt.Errorf("deleting the findings of package %d no image holds with them: %w", g.PackageID, err)
		}
	}
	return nil
}

func denyCount(rows []VulnRow) int {
	n := 0
	for _, r := range rows {
		if r.Effect == policy.EffectDeny {
			n++
		}
	}
	return n
}

// putPackageVulns stores the findings of a package under a signature, once.
// Each statement inserts many rows: a package can have hundreds of findings
// and aliases, and each statement is a round trip to PostgreSQL.
func (s *Store) putPackageVulns(ctx context.Context, tx *sql.Tx, pid int64, sig string, rows []VulnRow) error {
	const batch = 200 // rows per statement, 8 parameters each
	vals := make([]string, 0, batch)
	args := make([]any, 0, 8*batch)
	flush := func() error {
		if len(vals) == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO package_vulns(package_id, sig, vuln, alias_of, package, severity, fixed, effect)
			VALUES `+strings.Join(vals, ", ")+` ON CONFLICT DO NOTHING`), args...)
		vals, args = vals[:0], args[:0]
		if err != nil {
			return fmt.Errorf("storing the findings of package %d: %w", pid, err)
		}
		return nil
	}
	for _, r := range rows {
		for i, v := range append([]string{r.Vuln}, r.Aliases...) {
			of := ""
			if i > 0 {
				of = r.Vuln
			}
			vals = append(vals, "(?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, pid, sig, v, of, r.Package, r.Severity, r.Fixed, r.Effect)
			if len(vals) == batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// PackageGroup is a set of images holding one package with one findings
// signature.
type PackageGroup struct {
	PackageID int64
	Sig       string
	Images    int
	// Sample is one of the images, to read the group's findings from.
	Sample int64
}

// AffectedGroups returns the package groups filed under any of the given
// (ecosystem, name) keys, and the images indexed before packages were
// (which must be re-judged one by one).
func (s *Store) AffectedGroups(ctx context.Context, keys [][2]string) ([]PackageGroup, []int64, error) {
	var out []PackageGroup
	legacy := map[int64]bool{}
	const batch = 200
	for start := 0; start < len(keys); start += batch {
		part := keys[start:min(start+batch, len(keys))]
		conds := make([]string, 0, len(part))
		args := make([]any, 0, 2*len(part))
		for _, k := range part {
			conds = append(conds, "(ecosystem = ? AND name = ?)")
			args = append(args, k[0], k[1])
		}
		where := strings.Join(conds, " OR ")
		rows, err := s.query(ctx, `SELECT package_id, sig, COUNT(*), MIN(image_id) FROM package_images
			WHERE package_id IN (SELECT package_id FROM package_keys WHERE `+where+`) GROUP BY package_id, sig`, args...)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var g PackageGroup
			if err := rows.Scan(&g.PackageID, &g.Sig, &g.Images, &g.Sample); err != nil {
				rows.Close()
				return nil, nil, err
			}
			out = append(out, g)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
		rows, err = s.query(ctx, `SELECT DISTINCT image_id FROM image_packages WHERE `+where, args...)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, nil, err
			}
			legacy[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PackageID != out[j].PackageID {
			return out[i].PackageID < out[j].PackageID
		}
		return out[i].Sig < out[j].Sig
	})
	out = slices.CompactFunc(out, func(a, b PackageGroup) bool { return a.PackageID == b.PackageID && a.Sig == b.Sig })
	ids := make([]int64, 0, len(legacy))
	for id := range legacy {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return out, ids, nil
}

// Packages returns stored package bodies by id (a few statements for many
// packages: an advisory delta can name thousands).
func (s *Store) Packages(ctx context.Context, ids []int64) (map[int64]*PackageBody, error) {
	out := make(map[int64]*PackageBody, len(ids))
	const batch = 500
	for start := 0; start < len(ids); start += batch {
		part := ids[start:min(start+batch, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		rows, err := s.query(ctx, `SELECT id, body FROM packages WHERE id IN (`+placeholders(len(part))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("reading %d packages: %w", len(part), err)
		}
		for rows.Next() {
			var id int64
			var b []byte
			if err := rows.Scan(&id, &b); err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading packages: %w", err)
			}
			var body PackageBody
			if err := s.unpack(b, &body); err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading package %d: %w", id, err)
			}
			out[id] = &body
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("reading packages: %w", err)
		}
	}
	return out, nil
}

// PackageVulns returns the findings a package has under a signature.
func (s *Store) PackageVulns(ctx context.Context, packageID int64, sig string) ([]VulnRow, error) {
	g := GroupKey{packageID, sig}
	m, err := s.GroupVulns(ctx, []GroupKey{g})
	return m[g], err
}

// GroupVulns returns the findings of package groups, by group; a group
// without findings is absent.
func (s *Store) GroupVulns(ctx context.Context, groups []GroupKey) (map[GroupKey][]VulnRow, error) {
	out := map[GroupKey][]VulnRow{}
	const batch = 200
	for start := 0; start < len(groups); start += batch {
		part := groups[start:min(start+batch, len(groups))]
		conds := make([]string, 0, len(part))
		args := make([]any, 0, 2*len(part))
		for _, g := range part {
			conds = append(conds, "(package_id = ? AND sig = ?)")
			args = append(args, g.PackageID, g.Sig)
		}
		rows, err := s.query(ctx, `SELECT package_id, sig, vuln, package, severity, fixed, effect, alias_of FROM package_vulns
			WHERE `+strings.Join(conds, " OR ")+` ORDER BY package_id, sig, vuln`, args...)
		if err != nil {
			return nil, fmt.Errorf("reading the findings of %d package groups: %w", len(part), err)
		}
		aliases := map[GroupKey]map[string][]string{}
		for rows.Next() {
			var g GroupKey
			var r VulnRow
			var of string
			if err := rows.Scan(&g.PackageID, &g.Sig, &r.Vuln, &r.Package, &r.Severity, &r.Fixed, &r.Effect, &of); err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading package findings: %w", err)
			}
			if of != "" {
				if aliases[g] == nil {
					aliases[g] = map[string][]string{}
				}
				aliases[g][of+" "+r.Package] = append(aliases[g][of+" "+r.Package], r.Vuln)
				continue
			}
			out[g] = append(out[g], r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("reading package findings: %w", err)
		}
		for g, as := range aliases {
			vs := out[g]
			for i := range vs {
				vs[i].Aliases = as[vs[i].Key()] // sorted by the query, as findings keep them
			}
		}
	}
	return out, nil
}

// ImagesHolding counts the distinct images holding any of the given
// packages. Counted in batches of 5,000 packages, summed: exact for deltas
// up to that size, an upper bound beyond.
func (s *Store) ImagesHolding(ctx context.Context, packageIDs []int64) (int, error) {
	total := 0
	const batch = 5000
	for start := 0; start < len(packageIDs); start += batch {
		part := packageIDs[start:min(start+batch, len(packageIDs))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		var n int
		if err := s.queryRow(ctx, `SELECT COUNT(DISTINCT image_id) FROM package_images WHERE package_id IN (`+placeholders(len(part))+`)`, args...).Scan(&n); err != nil {
			return 0, fmt.Errorf("counting the images holding %d packages: %w", len(part), err)
		}
		total += n
	}
	return total, nil
}

// GroupImages returns the ids of the images in a package group.
func (s *Store) GroupImages(ctx context.Context, g GroupKey) ([]int64, error) {
	rows, err := s.query(ctx, `SELECT image_id FROM package_images WHERE package_id = ? AND sig = ? ORDER BY image_id`, g.PackageID, g.Sig)
	if err != nil {
		return nil, fmt.Errorf("reading the images of package %d: %w", g.PackageID, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// UnheldPackageVulns counts stored findings of package groups no image is
// in (left behind; zero when every change collected what it left): a
// consistency check for tests and operators.
func (s *Store) UnheldPackageVulns(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM package_vulns v
		LEFT JOIN (SELECT DISTINCT package_id, sig FROM package_images) h ON h.package_id = v.package_id AND h.sig = v.sig
		WHERE h.package_id IS NULL`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting findings of package groups no image is in: %w", err)
	}
	return n, nil
}

// VulnKeysOf returns an image's stored "ID package" finding keys, sorted.
func (s *Store) VulnKeysOf(ctx context.Context, imageID int64) ([]string, error) {
	rows, err := s.query(ctx, `SELECT v.vuln, v.package FROM package_images p JOIN package_vulns v ON v.package_id = p.package_id AND v.sig = p.sig
		WHERE p.image_id = ? AND v.alias_of = ''
		UNION ALL SELECT vuln, package FROM image_vulns WHERE image_id = ?`, imageID, imageID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v, p string
		if err := rows.Scan(&v, &p); err != nil {
			return nil, err
		}
		out = append(out, v+" "+p)
	}
	sort.Strings(out)
	return out, rows.Err()
}

// PackageChange is how one package's findings changed, for every image
// holding it with the old signature.
type PackageChange struct {
	PackageID      int64
	OldSig, NewSig string
	Rows           []VulnRow // the package's findings now
	// Count deltas.
	Critical, High, Medium, Low, Fixable, Deny int
	Added, Removed                             []string
}

// ChangeSet is package changes applied together: an advisory delta, or a
// share of a large one.
type ChangeSet struct {
	Changes []PackageChange
	Cause   string
	// Announce, when set, is given the changed images (their rows before
	// the set and decisions after) and returns the webhook deliveries to
	// queue in the same transaction: a crash loses neither or both.
	Announce func([]ChangedImage) []NewDelivery
	// IDs asks for the ids of the images changed (to count images once
	// over several sets); without it only their number is returned, which
	// spares reading back a row per image.
	IDs bool
}

// MaxChangeSet is the most changes one ChangeSet may hold: each is bound as
// parameters of every statement that applies the set.
const MaxChangeSet = 500

// ChangedImage is an image a change set touched: its row before the set,
// its decision after, and which of the set's changes touched it.
type ChangedImage struct {
	Before   ImageRow
	Decision string
	// Changes index ChangeSet.Changes, ascending.
	Changes []int
}

// ApplyPackageChanges updates every image holding a changed package with
// the change's old signature, in one transaction and a few set-based
// statements whatever the number of changes: each image's counts move by
// the sum of its changes and its decision follows (its other evidence's
// decision, or deny when any finding denies); each image gets one history
// entry naming what the set added and removed, however many of its
// packages changed; the deliveries announcing it are queued; the packages'
// new signatures are set last, and the findings stored under signatures no
// image holds any more are deleted. Images are marked stale: their stored
// findings and verdict documents are rebuilt when next read. Applying the
// same set twice finds no image the second time. It returns the number of
// images changed, and their ids when the set asks for them.
func (s *Store) ApplyPackageChanges(ctx context.Context, set ChangeSet) (int, []int64, error) {
	if len(set.Changes) > MaxChangeSet {
		return 0, nil, fmt.Errorf("applying %d package changes at once: at most %d", len(set.Changes), MaxChangeSet)
	}
	// c is the set as a table; m the images each change touches. Every
	// statement below starts from them, so its cost follows the images
	// touched, not the number of changes. The casts type the parameters
	// for PostgreSQL.
	var cs []PackageChange
	var vals []string
	args := make([]any, 0, 11*len(set.Changes))
	for i, c := range set.Changes {
		if c.OldSig == c.NewSig {
			continue
		}
		cs = append(cs, c)
		vals = append(vals, "(CAST(? AS INTEGER), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS INTEGER), CAST(? AS INTEGER), "+
			"CAST(? AS INTEGER), CAST(? AS INTEGER), CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS TEXT))")
		args = append(args, i, c.PackageID, c.OldSig, c.Critical, c.High, c.Medium, c.Low, c.Fixable, c.Deny,
			strings.Join(c.Added, ","), strings.Join(c.Removed, ","))
	}
	if len(cs) == 0 {
		return 0, nil, nil
	}
	args = args[:len(args):len(args)] // statements append their own to a copy
	with := `WITH c(idx, package_id, sig, dc, dh, dm, dl, dfx, dd, added, removed) AS (VALUES ` + strings.Join(vals, ", ") + `),
		m AS (SELECT p.image_id, c.idx, c.dc, c.dh, c.dm, c.dl, c.dfx, c.dd, c.added, c.removed
			FROM c JOIN package_images p ON p.package_id = c.package_id AND p.sig = c.sig) `
	var changedIDs []int64
	n := 0
	now := nowMS()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		changedIDs, n = changedIDs[:0], 0
		if s.dialect == Postgres {
			// Serialise changes to one package across replicas: the
			// statements below select images by a package's signature.
			// Every lock is taken first, in one order, so that two sets
			// sharing packages cannot deadlock on them.
			keys := make([]int32, 0, len(cs))
			for _, c := range cs {
				keys = append(keys, int32(c.PackageID))
			}
			slices.Sort(keys)
			for _, k := range slices.Compact(keys) {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7355609, $1)`, k); err != nil {
					return fmt.Errorf("locking package %d: %w", k, err)
				}
			}
		}
		for _, c := range cs {
			if err := s.putPackageVulns(ctx, tx, c.PackageID, c.NewSig, c.Rows); err != nil {
				return err
			}
		}
		var changed []ChangedImage
		if set.Announce != nil {
			var err error
			if changed, err = s.touchedImages(ctx, tx, with, args); err != nil {
				return err
			}
		}
		// Columns on the right of SET hold their values before the update.
		update, uargs := with+`, d AS (SELECT image_id, SUM(dc) AS dc, SUM(dh) AS dh, SUM(dm) AS dm, SUM(dl) AS dl, SUM(dfx) AS dfx, SUM(dd) AS dd
				FROM m GROUP BY image_id)
			UPDATE images SET `+moveCounts("d.dc", "d.dh", "d.dm", "d.dl", "d.dfx", "d.dd")+`
			FROM d WHERE images.id = d.image_id`, append(args, now)
		history, hargs := with+`, d AS (SELECT image_id, string_agg(NULLIF(added, ''), ',' ORDER BY idx) AS added,
				string_agg(NULLIF(removed, ''), ',' ORDER BY idx) AS removed FROM m GROUP BY image_id)
			INSERT INTO verdict_history(image_id, at, decision, cause, added, removed)
			SELECT i.id, CAST(? AS BIGINT), i.decision, CAST(? AS TEXT), COALESCE(d.added, ''), COALESCE(d.removed, '')
			FROM d JOIN images i ON i.id = d.image_id`, append(args, now, set.Cause)
		if len(cs) == 1 {
			// One change moves every image by the same deltas: the images
			// are selected by the package's signature, which SQLite does
			// faster than it updates from a join.
			c := cs[0]
			const group = `SELECT image_id FROM package_images WHERE package_id = ? AND sig = ?`
			update = `UPDATE images SET ` + moveCounts("?", "?", "?", "?", "?", "?") + ` WHERE id IN (` + group + `)`
			uargs = []any{c.Critical, c.High, c.Medium, c.Low, c.Fixable, c.Deny, now, c.Deny, c.PackageID, c.OldSig}
			history = `INSERT INTO verdict_history(image_id, at, decision, cause, added, removed)
				SELECT id, CAST(? AS BIGINT), decision, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT) FROM images WHERE id IN (` + group + `)`
			hargs = []any{now, set.Cause, strings.Join(c.Added, ","), strings.Join(c.Removed, ","), c.PackageID, c.OldSig}
		}
		after := map[int64]string{}
		if set.IDs || set.Announce != nil {
			rows, err := tx.QueryContext(ctx, s.q(update+` RETURNING images.id, images.decision`), uargs...)
			if err != nil {
				return fmt.Errorf("updating the images of %d package changes: %w", len(cs), err)
			}
			for rows.Next() {
				var id int64
				var d string
				if err := rows.Scan(&id, &d); err != nil {
					rows.Close()
					return err
				}
				after[id] = d
				changedIDs = append(changedIDs, id)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("updating the images of %d package changes: %w", len(cs), err)
			}
			n = len(changedIDs)
		} else {
			res, err := tx.ExecContext(ctx, s.q(update), uargs...)
			if err != nil {
				return fmt.Errorf("updating the images of %d package changes: %w", len(cs), err)
			}
			m, _ := res.RowsAffected()
			n = int(m)
		}
		// One history entry per image, naming what every change of the set
		// that touched it added and removed.
		if _, err := tx.ExecContext(ctx, s.q(history), hargs...); err != nil {
			return fmt.Errorf("recording the history of %d package changes: %w", len(cs), err)
		}
		if len(changed) > 0 {
			for i := range changed {
				changed[i].Decision = after[changed[i].Before.ID]
			}
			if err := s.addDeliveries(ctx, tx, set.Announce(changed)); err != nil {
				return err
			}
		}
		move, err := tx.PrepareContext(ctx, s.q(`UPDATE package_images SET sig = ? WHERE package_id = ? AND sig = ?`))
		if err != nil {
			return err
		}
		defer move.Close()
		left := make([]GroupKey, 0, len(cs))
		for _, c := range cs {
			if _, err := move.ExecContext(ctx, c.NewSig, c.PackageID, c.OldSig); err != nil {
				return fmt.Errorf("moving the images of package %d to its new findings: %w", c.PackageID, err)
			}
			if c.OldSig != emptySig {
				left = append(left, GroupKey{c.PackageID, c.OldSig})
			}
		}
		return s.dropUnheld(ctx, tx, left)
	})
	if err != nil {
		return 0, nil, err
	}
	if !set.IDs {
		changedIDs = nil
	}
	return n, changedIDs, nil
}

// moveCounts is the SET clause moving an image's counts by deltas (SQL
// expressions; dd, the denying findings', appears twice) and its decision
// with them: its other evidence's decision, or deny when any finding denies.
// It binds updated_at after the deltas.
func moveCounts(dc, dh, dm, dl, dfx, dd string) string {
	return `critical = critical + ` + dc + `, high = high + ` + dh + `, medium = medium + ` + dm + `, low = low + ` + dl + `,
		fixable = fixable + ` + dfx + `, deny_findings = deny_findings + ` + dd + `, stale = 1, updated_at = ?,
		decision = CASE WHEN base_decision = 'deny' OR deny_findings + ` + dd + ` > 0 THEN 'deny' ELSE 'allow' END`
}

// touchedImages returns the images a change set (as with and args of
// ApplyPackageChanges) touches, as they are before it, with the changes
// that touch each.
func (s *Store) touchedImages(ctx context.Context, tx *sql.Tx, with string, args []any) ([]ChangedImage, error) {
	rows, err := tx.QueryContext(ctx, s.q(with+`SELECT image_id, idx FROM m ORDER BY image_id, idx`), args...)
	if err != nil {
		return nil, fmt.Errorf("reading the images a change touches: %w", err)
	}
	by := map[int64][]int{}
	for rows.Next() {
		var id int64
		var idx int
		if err := rows.Scan(&id, &idx); err != nil {
			rows.Close()
			return nil, err
		}
		by[id] = append(by[id], idx)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the images a change touches: %w", err)
	}
	rows, err = tx.QueryContext(ctx, s.q(with+`SELECT `+imageCols+` FROM images WHERE id IN (SELECT image_id FROM m) ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("reading the images a change touches: %w", err)
	}
	defer rows.Close()
	var out []ChangedImage
	for rows.Next() {
		r, err := scanImageRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ChangedImage{Before: *r, Changes: by[r.ID]})
	}
	return out, rows.Err()
}
