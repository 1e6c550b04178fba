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
// findings).
func (s *Store) writeIndex(ctx context.Context, tx *sql.Tx, id int64, idx []indexedPackage, local map[string]int64) error {
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
		denying += denyCount(ip.rows)
	}
	_, err = tx.ExecContext(ctx, s.q(`UPDATE images SET deny_findings = ? WHERE id = ?`), denying, id)
	return err
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
func (s *Store) putPackageVulns(ctx context.Context, tx *sql.Tx, pid int64, sig string, rows []VulnRow) error {
	if len(rows) == 0 {
		return nil
	}
	for _, r := range rows {
		for i, v := range append([]string{r.Vuln}, r.Aliases...) {
			of := ""
			if i > 0 {
				of = r.Vuln
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO package_vulns(package_id, sig, vuln, alias_of, package, severity, fixed, effect)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`), pid, sig, v, of, r.Package, r.Severity, r.Fixed, r.Effect); err != nil {
				return err
			}
		}
	}
	return nil
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

// Package returns a stored package body.
func (s *Store) Package(ctx context.Context, id int64) (*PackageBody, error) {
	var b []byte
	if err := s.queryRow(ctx, `SELECT body FROM packages WHERE id = ?`, id).Scan(&b); err != nil {
		return nil, fmt.Errorf("reading package %d: %w", id, err)
	}
	var body PackageBody
	if err := s.unpack(b, &body); err != nil {
		return nil, fmt.Errorf("reading package %d: %w", id, err)
	}
	return &body, nil
}

// PackageVulns returns the findings a package has under a signature.
func (s *Store) PackageVulns(ctx context.Context, packageID int64, sig string) ([]VulnRow, error) {
	rows, err := s.query(ctx, `SELECT vuln, package, severity, fixed, effect, alias_of FROM package_vulns WHERE package_id = ? AND sig = ? ORDER BY vuln`, packageID, sig)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VulnRow
	aliases := map[string][]string{}
	for rows.Next() {
		var r VulnRow
		var of string
		if err := rows.Scan(&r.Vuln, &r.Package, &r.Severity, &r.Fixed, &r.Effect, &of); err != nil {
			return nil, err
		}
		if of != "" {
			aliases[of+" "+r.Package] = append(aliases[of+" "+r.Package], r.Vuln)
			continue
		}
		out = append(out, r)
	}
	for i := range out {
		out[i].Aliases = aliases[out[i].Key()] // sorted by the query, as findings keep them
	}
	return out, rows.Err()
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
	Cause                                      string
	Added, Removed                             []string
	// Announce, when set, is given the changed images (their rows before
	// the change and decisions after) and returns the webhook deliveries
	// to queue in the same transaction: a crash loses neither or both.
	Announce func([]ChangedImage) []NewDelivery
}

// ChangedImage is an image a package change touched: its row before the
// change and its decision after.
type ChangedImage struct {
	Before   ImageRow
	Decision string
}

// ApplyPackageChange updates every image holding a package with the old
// signature in one transaction: counts, decision (its other evidence's
// decision, or deny when any finding denies), a history entry, the
// deliveries announcing it, and the new signature last. Images are marked
// stale: their stored findings and verdict documents are rebuilt when next
// read. Applying the same change twice finds no image the second time.
func (s *Store) ApplyPackageChange(ctx context.Context, c PackageChange) (int, error) {
	n := 0
	now := nowMS()
	const group = `SELECT image_id FROM package_images WHERE package_id = ? AND sig = ?`
	err := s.tx(ctx, func(tx *sql.Tx) error {
		n = 0
		if s.dialect == Postgres {
			// Serialise changes to one package across replicas: the
			// statements below select the group by its signature.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7355609, $1)`, int32(c.PackageID)); err != nil {
				return err
			}
		}
		if err := s.putPackageVulns(ctx, tx, c.PackageID, c.NewSig, c.Rows); err != nil {
			return err
		}
		var changed []ChangedImage
		if c.Announce != nil {
			rows, err := tx.QueryContext(ctx, s.q(`SELECT `+imageCols+` FROM images WHERE id IN (`+group+`)`), c.PackageID, c.OldSig)
			if err != nil {
				return err
			}
			for rows.Next() {
				r, err := scanImageRow(rows)
				if err != nil {
					rows.Close()
					return err
				}
				changed = append(changed, ChangedImage{Before: *r})
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		// Columns on the right of SET hold their values before the update.
		res, err := tx.ExecContext(ctx, s.q(`UPDATE images SET critical = critical + ?, high = high + ?, medium = medium + ?, low = low + ?,
			fixable = fixable + ?, deny_findings = deny_findings + ?, stale = 1, updated_at = ?,
			decision = CASE WHEN base_decision = 'deny' OR deny_findings + ? > 0 THEN 'deny' ELSE 'allow' END
			WHERE id IN (`+group+`)`),
			c.Critical, c.High, c.Medium, c.Low, c.Fixable, c.Deny, now, c.Deny, c.PackageID, c.OldSig)
		if err != nil {
			return err
		}
		m, _ := res.RowsAffected()
		n = int(m)
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO verdict_history(image_id, at, decision, cause, added, removed)
			SELECT id, CAST(? AS BIGINT), decision, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT) FROM images WHERE id IN (`+group+`)`),
			now, c.Cause, strings.Join(c.Added, ","), strings.Join(c.Removed, ","), c.PackageID, c.OldSig); err != nil {
			return err
		}
		if c.Announce != nil && len(changed) > 0 {
			after := map[int64]string{}
			rows, err := tx.QueryContext(ctx, s.q(`SELECT id, decision FROM images WHERE id IN (`+group+`)`), c.PackageID, c.OldSig)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id int64
				var d string
				if err := rows.Scan(&id, &d); err != nil {
					rows.Close()
					return err
				}
				after[id] = d
			}
			rows.Close()
			for i := range changed {
				changed[i].Decision = after[changed[i].Before.ID]
			}
			if err := s.addDeliveries(ctx, tx, c.Announce(changed)); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE package_images SET sig = ? WHERE package_id = ? AND sig = ?`), c.NewSig, c.PackageID, c.OldSig)
		return err
	})
	return n, err
}
