package store

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strings"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/policy"
)

// ImageMeta is what the server knows about an image besides its contents.
type ImageMeta struct {
	Digest      string   `json:"digest"`
	Ref         string   `json:"ref"`
	Repository  string   `json:"repository"`
	Tags        []string `json:"tags"`
	Team        string   `json:"team"`
	Owner       string   `json:"owner"`
	Environment string   `json:"environment"`
	// BaseLayer is the diff ID of the base image's top layer: images that
	// share it share a base image (fix the base once, rebuild many).
	BaseLayer string `json:"base_layer"`
	// BaseTop is the index of that layer (-1: no base image known).
	BaseTop int `json:"-"`
}

// ImageRow is an image as listed: metadata, decision and counts.
type ImageRow struct {
	ID int64 `json:"id"`
	ImageMeta
	Decision  string `json:"decision"`
	Critical  int    `json:"critical"`
	High      int    `json:"high"`
	Medium    int    `json:"medium"`
	Low       int    `json:"low"`
	Fixable   int    `json:"fixable"`
	CreatedAt int64  `json:"created_at"`
	UpdatedAt int64  `json:"updated_at"`
}

// Judgement is an image's findings and verdict at one time.
type Judgement struct {
	Scan    *customs.ScanResult
	Verdict *policy.Verdict
}

// HistoryEntry is one change of an image's verdict or findings.
type HistoryEntry struct {
	At       int64    `json:"at"`
	Decision string   `json:"decision"`
	Cause    string   `json:"cause"`
	Added    []string `json:"added"`
	Removed  []string `json:"removed"`
}

func counts(scan *customs.ScanResult) (c, h, m, l, fixable int) {
	for _, f := range scan.Findings {
		switch f.Severity {
		case customs.SeverityCritical:
			c++
		case customs.SeverityHigh:
			h++
		case customs.SeverityMedium:
			m++
		case customs.SeverityLow:
			l++
		}
		if f.Fixed != "" {
			fixable++
		}
	}
	return
}

// VulnKeys are the "ID package" pairs of a scan's findings, sorted.
func VulnKeys(scan *customs.ScanResult) []string {
	out := make([]string, 0, len(scan.Findings))
	for _, f := range scan.Findings {
		out = append(out, f.ID+" "+f.Package.Name)
	}
	sort.Strings(out)
	return out
}

// SaveImage stores (or replaces) an image with its inventory and first
// judgement, its package index and a history entry.
func (s *Store) SaveImage(ctx context.Context, meta ImageMeta, inv *customs.Inventory, j Judgement, cause string) (int64, error) {
	ids, err := s.SaveImages(ctx, []NewImage{{Meta: meta, Inventory: inv, Judgement: j}}, cause)
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// NewImage is an image to store.
type NewImage struct {
	Meta      ImageMeta
	Inventory *customs.Inventory
	Judgement Judgement
}

// SaveImages stores many images in one transaction (a bulk import): each
// transaction rewrites the package index's pages once, not once per image.
func (s *Store) SaveImages(ctx context.Context, imgs []NewImage, cause string) ([]int64, error) {
	type prepared struct {
		invB, scanB, verB []byte
		idx               []indexedPackage
	}
	ps := make([]prepared, len(imgs))
	for i, im := range imgs {
		var err error
		p := &ps[i]
		if p.invB, err = s.pack(im.Inventory); err != nil {
			return nil, err
		}
		if p.scanB, err = s.pack(im.Judgement.Scan); err != nil {
			return nil, err
		}
		if p.verB, err = s.pack(im.Judgement.Verdict); err != nil {
			return nil, err
		}
		if p.idx, err = newIndex(im.Inventory, im.Judgement); err != nil {
			return nil, err
		}
	}
	now := nowMS()
	ids := make([]int64, len(imgs))
	local := map[string]int64{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i, im := range imgs {
			meta, j, p := im.Meta, im.Judgement, ps[i]
			c, h, m, l, fx := counts(j.Scan)
			var id int64
			err := tx.QueryRowContext(ctx, s.q(`INSERT INTO images(digest, ref, repository, tags, team, environment, owner, base_layer,
				decision, critical, high, medium, low, fixable, created_at, updated_at, base_decision, base_top, stale)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
				ON CONFLICT (digest) DO UPDATE SET ref = excluded.ref, repository = excluded.repository, tags = excluded.tags, team = excluded.team,
				environment = excluded.environment, owner = excluded.owner, base_layer = excluded.base_layer,
				decision = excluded.decision, critical = excluded.critical, high = excluded.high,
				medium = excluded.medium, low = excluded.low, fixable = excluded.fixable, updated_at = excluded.updated_at,
				base_decision = excluded.base_decision, base_top = excluded.base_top, stale = 0
				RETURNING id`),
				meta.Digest, meta.Ref, meta.Repository, strings.Join(meta.Tags, ","), meta.Team, meta.Environment, meta.Owner, meta.BaseLayer,
				j.Verdict.Decision, c, h, m, l, fx, now, now, policy.BaseDecision(j.Verdict), meta.BaseTop).Scan(&id)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO image_docs(image_id, inventory, scan, verdict) VALUES (?, ?, ?, ?)
				ON CONFLICT (image_id) DO UPDATE SET inventory = excluded.inventory, scan = excluded.scan, verdict = excluded.verdict`),
				id, p.invB, p.scanB, p.verB); err != nil {
				return err
			}
			if err := s.writeIndex(ctx, tx, id, p.idx, local); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO verdict_history(image_id, at, decision, cause, added, removed) VALUES (?, ?, ?, ?, ?, '')`),
				id, now, j.Verdict.Decision, cause, strings.Join(VulnKeys(j.Scan), ",")); err != nil {
				return err
			}
			ids[i] = id
		}
		return nil
	})
	if err == nil {
		s.cachePackageIDs(local)
	}
	return ids, err
}

// PackageKeys are the (ecosystem, name) pairs under which advisories for a
// package are filed: the package itself and, for OS packages, its source
// package (distributions publish advisories by source package).
func PackageKeys(inv *customs.Inventory, p customs.Package) [][2]string {
	eco := p.Ecosystem
	if eco == "" {
		eco = customs.LanguageEcosystem(p.Type)
	}
	if eco == "" && inv.Distro != nil {
		eco = customs.OSEcosystem(inv.Distro)
	}
	keys := [][2]string{{eco, p.Name}}
	if p.Source != "" && p.Source != p.Name {
		keys = append(keys, [2]string{eco, p.Source})
	}
	return keys
}

// UpdateJudgement replaces an image's findings and verdict after
// re-judging it whole; with record, a history entry names the cause and
// what changed.
func (s *Store) UpdateJudgement(ctx context.Context, id int64, inv *customs.Inventory, j Judgement, cause string, added, removed []string, record bool) (err error) {
	scanB, err := s.pack(j.Scan)
	if err != nil {
		return err
	}
	verB, err := s.pack(j.Verdict)
	if err != nil {
		return err
	}
	idx, err := newIndex(inv, j)
	if err != nil {
		return err
	}
	c, h, m, l, fx := counts(j.Scan)
	now := nowMS()
	local := map[string]int64{}
	defer func() {
		if err == nil {
			s.cachePackageIDs(local)
		}
	}()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE images SET decision = ?, critical = ?, high = ?, medium = ?, low = ?, fixable = ?,
			updated_at = ?, base_decision = ?, stale = 0 WHERE id = ?`),
			j.Verdict.Decision, c, h, m, l, fx, now, policy.BaseDecision(j.Verdict), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE image_docs SET scan = ?, verdict = ? WHERE image_id = ?`), scanB, verB, id); err != nil {
			return err
		}
		if err := s.writeIndex(ctx, tx, id, idx, local); err != nil {
			return err
		}
		if !record {
			return nil
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO verdict_history(image_id, at, decision, cause, added, removed) VALUES (?, ?, ?, ?, ?, ?)`),
			id, now, j.Verdict.Decision, cause, strings.Join(added, ","), strings.Join(removed, ","))
		return err
	})
}

const imageCols = `id, digest, ref, repository, tags, team, environment, owner, base_layer, base_top, decision, critical, high, medium, low, fixable, created_at, updated_at`

// imageColsI is imageCols of the images table under the alias i.
var imageColsI = "i." + strings.ReplaceAll(imageCols, ", ", ", i.")

func scanImageRow(sc interface{ Scan(...any) error }) (*ImageRow, error) {
	r := &ImageRow{}
	var tags string
	err := sc.Scan(&r.ID, &r.Digest, &r.Ref, &r.Repository, &tags, &r.Team, &r.Environment, &r.Owner, &r.BaseLayer, &r.BaseTop, &r.Decision,
		&r.Critical, &r.High, &r.Medium, &r.Low, &r.Fixable, &r.CreatedAt, &r.UpdatedAt)
	r.Tags = splitList(tags)
	return r, err
}

// ImageFilter selects images.
type ImageFilter struct {
	Teams      []string // the caller's teams; nil or "*" = all
	Team       string
	Repository string
	Decision   string
	Severity   string // at least one finding at this severity or above
	HasFix     bool
	Limit      int
	Offset     int
}

// Images lists images matching a filter, newest first.
func (s *Store) Images(ctx context.Context, f ImageFilter) ([]ImageRow, error) {
	where, args := []string{"1 = 1"}, []any{}
	if teams := teamScope(f.Teams); teams != nil {
		where = append(where, "team IN ("+placeholders(len(teams))+")")
		for _, t := range teams {
			args = append(args, t)
		}
	}
	for col, v := range map[string]string{"team": f.Team, "repository": f.Repository, "decision": f.Decision} {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	switch f.Severity {
	case customs.SeverityCritical:
		where = append(where, "critical > 0")
	case customs.SeverityHigh:
		where = append(where, "critical + high > 0")
	case customs.SeverityMedium:
		where = append(where, "critical + high + medium > 0")
	case customs.SeverityLow:
		where = append(where, "critical + high + medium + low > 0")
	}
	if f.HasFix {
		where = append(where, "fixable > 0")
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	args = append(args, f.Limit, f.Offset)
	rows, err := s.query(ctx, `SELECT `+imageCols+` FROM images WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ImageRow{}
	for rows.Next() {
		r, err := scanImageRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

func teamScope(teams []string) []string {
	for _, t := range teams {
		if t == AllTeams {
			return nil
		}
	}
	if teams == nil {
		return nil
	}
	if len(teams) == 0 {
		return []string{"\x00none"}
	}
	return teams
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ImageDetail is an image with everything stored about it.
type ImageDetail struct {
	ImageRow
	Inventory *customs.Inventory  `json:"inventory"`
	Scan      *customs.ScanResult `json:"scan"`
	Verdict   *policy.Verdict     `json:"verdict"`
	History   []HistoryEntry      `json:"history"`
	// Stale says Scan and Verdict predate an advisory change already
	// applied to the counts, decision and findings index: re-judge the
	// inventory to rebuild them.
	Stale bool `json:"-"`
}

// Image returns an image by digest (or id when byID).
func (s *Store) Image(ctx context.Context, digest string, withInventory bool) (*ImageDetail, error) {
	row := s.queryRow(ctx, `SELECT `+imageColsI+`, d.inventory, d.scan, d.verdict, i.stale FROM images i JOIN image_docs d ON d.image_id = i.id WHERE i.digest = ?`, digest)
	return s.imageDetail(ctx, row, withInventory)
}

// ImageByID returns an image by its row id.
func (s *Store) ImageByID(ctx context.Context, id int64, withInventory bool) (*ImageDetail, error) {
	row := s.queryRow(ctx, `SELECT `+imageColsI+`, d.inventory, d.scan, d.verdict, i.stale FROM images i JOIN image_docs d ON d.image_id = i.id WHERE i.id = ?`, id)
	return s.imageDetail(ctx, row, withInventory)
}

func (s *Store) imageDetail(ctx context.Context, row *sql.Row, withInventory bool) (*ImageDetail, error) {
	d := &ImageDetail{}
	var inv, scan, ver []byte
	var tags string
	r := &d.ImageRow
	err := row.Scan(&r.ID, &r.Digest, &r.Ref, &r.Repository, &tags, &r.Team, &r.Environment, &r.Owner, &r.BaseLayer, &r.BaseTop, &r.Decision,
		&r.Critical, &r.High, &r.Medium, &r.Low, &r.Fixable, &r.CreatedAt, &r.UpdatedAt, &inv, &scan, &ver, &d.Stale)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r.Tags = splitList(tags)
	if withInventory {
		d.Inventory = &customs.Inventory{}
		if err := s.unpack(inv, d.Inventory); err != nil {
			return nil, err
		}
	}
	d.Scan, d.Verdict = &customs.ScanResult{}, &policy.Verdict{}
	if err := s.unpack(scan, d.Scan); err != nil {
		return nil, err
	}
	if err := s.unpack(ver, d.Verdict); err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, `SELECT at, decision, cause, added, removed FROM verdict_history WHERE image_id = ? ORDER BY id`, r.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	d.History = []HistoryEntry{}
	for rows.Next() {
		var h HistoryEntry
		var a, rm string
		if err := rows.Scan(&h.At, &h.Decision, &h.Cause, &a, &rm); err != nil {
			return nil, err
		}
		h.Added, h.Removed = splitList(a), splitList(rm)
		d.History = append(d.History, h)
	}
	return d, rows.Err()
}

// ImagesWithPackages returns the ids of images holding any of the given
// (ecosystem, name) packages: the images an advisory change touches.
func (s *Store) ImagesWithPackages(ctx context.Context, keys [][2]string) ([]int64, error) {
	ids := map[int64]bool{}
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
		rows, err := s.query(ctx, `SELECT DISTINCT image_id FROM image_packages WHERE `+where+`
			UNION SELECT image_id FROM package_images WHERE package_id IN (SELECT package_id FROM package_keys WHERE `+where+`)`, append(args, args...)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			ids[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]int64, 0, len(ids))
	for id := range ids {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// VulnImage is an image a vulnerability affects.
type VulnImage struct {
	Digest   string `json:"digest"`
	Ref      string `json:"ref"`
	Team     string `json:"team"`
	Package  string `json:"package"`
	Severity string `json:"severity"`
	Fixed    string `json:"fixed,omitempty"`
}

// VulnerabilityImages lists the images a vulnerability (by id or alias)
// affects, within the caller's teams.
func (s *Store) VulnerabilityImages(ctx context.Context, vuln string, teams []string) ([]VulnImage, error) {
	where, args := "v.vuln = ?", []any{vuln}
	if ts := teamScope(teams); ts != nil {
		where += " AND i.team IN (" + placeholders(len(ts)) + ")"
		for _, t := range ts {
			args = append(args, t)
		}
	}
	rows, err := s.query(ctx, `SELECT i.digest, i.ref, i.team, v.package, v.severity, v.fixed FROM package_vulns v
		JOIN package_images p ON p.package_id = v.package_id AND p.sig = v.sig JOIN images i ON i.id = p.image_id WHERE `+where+`
		UNION SELECT i.digest, i.ref, i.team, v.package, v.severity, v.fixed FROM image_vulns v JOIN images i ON i.id = v.image_id WHERE `+where+`
		ORDER BY 1`, append(args, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []VulnImage{}
	for rows.Next() {
		var v VulnImage
		if err := rows.Scan(&v.Digest, &v.Ref, &v.Team, &v.Package, &v.Severity, &v.Fixed); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Group is a count of images sharing a team, repository or base image.
type Group struct {
	Key      string   `json:"key"`
	Images   int      `json:"images"`
	Denied   int      `json:"denied"`
	Critical int      `json:"critical"`
	High     int      `json:"high"`
	Fixable  int      `json:"fixable"`
	Digests  []string `json:"digests,omitempty"`
}

// Summary counts images by team, repository and base image.
type Summary struct {
	Images       int     `json:"images"`
	Denied       int     `json:"denied"`
	BySeverity   Group   `json:"by_severity"`
	ByTeam       []Group `json:"by_team"`
	ByRepository []Group `json:"by_repository"`
	// ByBaseImage groups images sharing a base image's top layer: fix the
	// base once, rebuild them all.
	ByBaseImage []Group `json:"by_base_image"`
}

// Summarize computes the summary over the caller's teams.
func (s *Store) Summarize(ctx context.Context, teams []string) (*Summary, error) {
	where, args := "1 = 1", []any{}
	if ts := teamScope(teams); ts != nil {
		where = "team IN (" + placeholders(len(ts)) + ")"
		for _, t := range ts {
			args = append(args, t)
		}
	}
	sum := &Summary{}
	group := func(col string, withDigests bool) ([]Group, error) {
		rows, err := s.query(ctx, `SELECT `+col+`, COUNT(*), SUM(CASE WHEN decision = 'deny' THEN 1 ELSE 0 END), SUM(critical), SUM(high), SUM(fixable)
			FROM images WHERE `+where+` GROUP BY `+col+` ORDER BY COUNT(*) DESC, `+col+` LIMIT 1000`, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []Group{}
		for rows.Next() {
			var g Group
			if err := rows.Scan(&g.Key, &g.Images, &g.Denied, &g.Critical, &g.High, &g.Fixable); err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if withDigests {
			for i := range out {
				if i >= 100 {
					break
				}
				drows, err := s.query(ctx, `SELECT digest FROM images WHERE `+where+` AND `+col+` = ? ORDER BY digest LIMIT 100`, append(append([]any{}, args...), out[i].Key)...)
				if err != nil {
					return nil, err
				}
				for drows.Next() {
					var d string
					drows.Scan(&d)
					out[i].Digests = append(out[i].Digests, d)
				}
				drows.Close()
			}
		}
		return out, nil
	}
	var err error
	if sum.ByTeam, err = group("team", false); err != nil {
		return nil, err
	}
	if sum.ByRepository, err = group("repository", false); err != nil {
		return nil, err
	}
	if sum.ByBaseImage, err = group("base_layer", true); err != nil {
		return nil, err
	}
	for _, g := range sum.ByTeam {
		sum.Images += g.Images
		sum.Denied += g.Denied
		sum.BySeverity.Critical += g.Critical
		sum.BySeverity.High += g.High
		sum.BySeverity.Fixable += g.Fixable
	}
	sum.BySeverity.Key, sum.BySeverity.Images, sum.BySeverity.Denied = "all", sum.Images, sum.Denied
	return sum, nil
}
