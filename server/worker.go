package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/match"
	"github.com/customs-sec/customs/misconfig"
	"github.com/customs-sec/customs/pipeline"
	"github.com/customs-sec/customs/policy"
	"github.com/customs-sec/customs/server/store"
)

// Job kinds.
const (
	jobScan   = "scan"
	jobReeval = "reeval"
)

// scanRequest is a scan job's payload (and POST /images's body).
type scanRequest struct {
	Ref         string `json:"ref"`
	Team        string `json:"team"`
	Owner       string `json:"owner,omitempty"`
	Environment string `json:"environment,omitempty"`
	Repository  string `json:"repository,omitempty"`
}

// reevalRequest is a re-evaluation job's payload.
type reevalRequest struct {
	Packages [][2]string `json:"packages"`
	Cause    string      `json:"cause"`
	// After resumes a job a dead worker left: images with a lower id were
	// done (their new judgement is stored).
	After int64 `json:"after,omitempty"`
}

func (s *Server) workLoop(ctx context.Context, owner string) {
	for ctx.Err() == nil {
		j, err := s.st.Lease(ctx, owner, s.cfg.JobLease)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("leasing a job failed", "err", err)
			}
			s.sleep(ctx, time.Second)
			continue
		}
		if j == nil {
			s.sleep(ctx, s.cfg.PollInterval)
			continue
		}
		s.runJob(ctx, owner, j)
	}
}

func (s *Server) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-s.wake:
	}
}

// kick wakes a worker for new work.
func (s *Server) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Server) runJob(ctx context.Context, owner string, j *store.Job) {
	// Keep the lease while the job runs.
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		t := time.NewTicker(s.cfg.JobLease / 3)
		defer t.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-t.C:
				if ok, err := s.st.Renew(jctx, j.ID, owner, s.cfg.JobLease); err == nil && !ok {
					s.log.Warn("lost the lease of a job", "job", j.ID)
					cancel()
					return
				}
			}
		}
	}()
	start := time.Now()
	var result string
	var err error
	switch j.Kind {
	case jobScan:
		result, err = s.scanJob(jctx, j)
	case jobReeval:
		result, err = s.reevalJob(jctx, owner, j)
	default:
		err = fmt.Errorf("unknown job kind %q", j.Kind)
	}
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and another worker resumes it
	}
	state := store.JobDone
	if err != nil {
		state, result = store.JobFailed, err.Error()
		s.log.Warn("job failed", "job", j.ID, "kind", j.Kind, "err", err)
	}
	s.metrics.jobs.WithLabelValues(j.Kind, state).Inc()
	s.metrics.jobSeconds.WithLabelValues(j.Kind).Observe(time.Since(start).Seconds())
	if err := s.st.Finish(context.WithoutCancel(ctx), j.ID, owner, state, result); err != nil {
		s.log.Warn("recording a job's end failed", "job", j.ID, "err", err)
	}
}

func (s *Server) scanJob(ctx context.Context, j *store.Job) (string, error) {
	var req scanRequest
	if err := json.Unmarshal([]byte(j.Payload), &req); err != nil {
		return "", err
	}
	if _, err := s.syncPrivate(ctx); err != nil {
		return "", err
	}
	opts := pipeline.Options{Image: s.cfg.Image, Catalogers: pipeline.CheckCatalogers(nil),
		Cache: s.layers, CacheKey: "check-1", OnLayerRead: s.onLayerRead}
	inv, err := pipeline.Inventory(ctx, req.Ref, opts)
	if err != nil {
		return "", err
	}
	digest, err := s.storeInventory(ctx, inv, req, "scan")
	return digest, err
}

func (s *Server) onLayerRead(index int, diffID string) {
	s.metrics.layerReads.Inc()
	if s.cfg.OnLayerRead != nil {
		s.cfg.OnLayerRead(index, diffID)
	}
}

// judge matches and evaluates an inventory under the current advisories.
func (s *Server) judge(ctx context.Context, inv *customs.Inventory) (store.Judgement, error) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	res, err := pipeline.CheckInventory(ctx, inv, pipeline.CheckOptions{DB: s.cfg.DB, Engine: s.cfg.Policy})
	if err != nil {
		return store.Judgement{}, err
	}
	return store.Judgement{Scan: res.Scan, Verdict: res.Verdict}, nil
}

// storeInventory judges an inventory and stores it with its metadata; when
// the image was stored before, what changed is announced.
func (s *Server) storeInventory(ctx context.Context, inv *customs.Inventory, req scanRequest, cause string) (string, error) {
	j, err := s.judge(ctx, inv)
	if err != nil {
		return "", err
	}
	meta := s.metaFor(inv, req)
	prev, perr := s.st.Image(ctx, meta.Digest, false)
	var had []string
	if perr == nil {
		if had, err = s.st.VulnKeysOf(ctx, prev.ID); err != nil {
			return "", err
		}
	}
	id, err := s.st.SaveImage(ctx, meta, inv, j, cause)
	if err != nil {
		return "", err
	}
	s.metrics.imagesStored.Inc()
	if perr == nil {
		row := prev.ImageRow
		row.ID = id
		s.announce(ctx, s.changeOf(row, meta.BaseTop, had, prev.Decision, j, cause))
	}
	return meta.Digest, nil
}

// changeOf describes a whole re-judgement for announce.
func (s *Server) changeOf(row store.ImageRow, baseTop int, had []string, from string, j store.Judgement, cause string) change {
	old := map[string]bool{}
	for _, k := range had {
		old[k] = true
	}
	c := change{row: row, baseTop: baseTop, from: from, to: j.Verdict.Decision, deny: j.Verdict.Deny, cause: cause}
	for _, f := range j.Scan.Findings {
		if !old[f.ID+" "+f.Package.Name] {
			c.added = append(c.added, f)
		}
	}
	return c
}

func (s *Server) metaFor(inv *customs.Inventory, req scanRequest) store.ImageMeta {
	img := inv.Image
	m := store.ImageMeta{Digest: img.ID(), Ref: req.Ref, Team: req.Team, Owner: req.Owner, Environment: req.Environment, Repository: req.Repository}
	if m.Ref == "" {
		m.Ref = img.Ref
	}
	if img.Config != nil {
		if m.Team == "" {
			m.Team = img.Config.Labels["team"]
		}
		if m.Owner == "" {
			m.Owner = img.Config.Labels["owner"]
		}
	}
	if m.Repository == "" {
		if r, err := name.ParseReference(m.Ref, name.WeakValidation); err == nil && !strings.Contains(m.Ref, ":/") && !strings.HasPrefix(m.Ref, "oci") && !strings.HasPrefix(m.Ref, "docker-archive") && !strings.HasPrefix(m.Ref, "dir:") && !strings.HasPrefix(m.Ref, "sbom:") {
			m.Repository = r.Context().Name()
			if t, ok := r.(name.Tag); ok {
				m.Tags = []string{t.TagStr()}
			}
		} else {
			m.Repository = m.Ref
		}
	}
	m.Tags = append(m.Tags, img.RepoTags...)
	m.BaseTop = -1
	if n := misconfig.BaseLayers(inv); n > 0 && n <= len(img.Layers) {
		m.BaseLayer, m.BaseTop = img.Layers[n-1].DiffID, n-1
	}
	return m
}

// syncPrivate imports the private advisories other replicas (or this one)
// recorded in the shared store since the last import, and returns what
// changed here.
func (s *Server) syncPrivate(ctx context.Context) (*advisory.Delta, error) {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	total := &advisory.Delta{}
	for {
		ps, err := s.st.PrivateAdvisoriesAfter(ctx, s.privateSeq)
		if err != nil {
			return nil, err
		}
		if len(ps) == 0 {
			return total, nil
		}
		for _, p := range ps {
			d, err := s.cfg.DB.ImportReader(ctx, bytes.NewReader(p.Body), advisory.ImportOptions{Source: "api:" + p.Actor})
			if err != nil {
				// Checked when posted; a record this version cannot read is
				// skipped rather than blocking every later one.
				s.log.Warn("a private advisory does not import", "seq", p.Seq, "err", err)
			} else {
				total.Added = append(total.Added, d.Added...)
				total.Modified = append(total.Modified, d.Modified...)
				total.Withdrawn = append(total.Withdrawn, d.Withdrawn...)
				total.Packages = append(total.Packages, d.Packages...)
				total.Unchanged += d.Unchanged
			}
			s.privateSeq = p.Seq
		}
	}
}

// enqueueReeval queues the re-judging of every stored image an advisory
// delta touches.
func (s *Server) enqueueReeval(ctx context.Context, delta *advisory.Delta, cause string) (int64, error) {
	if delta == nil || len(delta.Packages) == 0 {
		return 0, nil
	}
	req := reevalRequest{Cause: cause}
	for _, k := range delta.Packages {
		req.Packages = append(req.Packages, [2]string{k.Ecosystem, k.Name})
	}
	b, _ := json.Marshal(req)
	id, err := s.st.Enqueue(ctx, jobReeval, string(b))
	if err == nil {
		s.kick()
	}
	return id, err
}

func (s *Server) reevalJob(ctx context.Context, owner string, j *store.Job) (string, error) {
	var req reevalRequest
	if err := json.Unmarshal([]byte(j.Payload), &req); err != nil {
		return "", fmt.Errorf("reading re-evaluation job %d: %w", j.ID, err)
	}
	st, err := s.reeval(ctx, req)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d images re-judged, %d changed", st.images, st.changed), nil
}

// reeval re-judges the stored images an advisory change touches: package
// by package when the policy allows it, else each image whole.
func (s *Server) reeval(ctx context.Context, req reevalRequest) (reevalStats, error) {
	// The advisories may have been posted to another replica.
	d, err := s.syncPrivate(ctx)
	if err != nil {
		return reevalStats{}, err
	}
	for _, k := range d.Packages {
		req.Packages = append(req.Packages, [2]string{k.Ecosystem, k.Name})
	}
	start := time.Now()
	var st reevalStats
	whole := !s.cfg.Policy.FindingLocal()
	if !whole {
		err = s.reevalByPackage(ctx, req, &st)
		if errors.Is(err, errJudgeWhole) {
			// What was applied by package stays; judging whole finds it
			// unchanged and records nothing twice.
			s.log.Warn("re-judging images whole", "cause", req.Cause, "err", err)
			st, whole = reevalStats{}, true
		}
	}
	if whole {
		var ids []int64
		if ids, err = s.st.ImagesWithPackages(ctx, req.Packages); err == nil {
			err = s.reevalImages(ctx, ids, req.Cause, &st)
		}
	}
	if err != nil {
		return st, err
	}
	s.metrics.reevaluated.Add(float64(st.images))
	s.log.Info("re-judged images after an advisory change", "cause", req.Cause, "packages", len(req.Packages), "images", st.images,
		"changed", st.changed, "package_groups", st.groups, "image_packages", st.pairs, "took", time.Since(start))
	return st, nil
}

// reevalStats count what a re-evaluation did: images and changed count
// each image once however many of its packages changed; pairs counts the
// (image, package) pairs judged by package, the work done.
type reevalStats struct{ images, changed, groups, pairs int }

// errJudgeWhole says a package's findings could not be judged on their own
// (the policy failed on findings without an image): judge images whole.
var errJudgeWhole = errors.New("findings cannot be judged apart from their image")

// reevalImages re-judges images one by one from their stored inventories.
func (s *Server) reevalImages(ctx context.Context, ids []int64, cause string, st *reevalStats) error {
	for _, id := range ids {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c, err := s.reevalImage(ctx, id, cause)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("re-judging image %d: %w", id, err)
		}
		st.images++
		if c {
			st.changed++
		}
	}
	return nil
}

// Bounds of one change set (one transaction): SQLite has one writer, so a
// set holds up every other write while it is applied; a delta larger than
// this is applied in several sets (an image then gets a history entry per
// set that touches it). Variables for tests.
var (
	reevalSetPairs = 250_000 // (image, package) pairs
	reevalChunk    = 256     // package groups read and matched at a time
)

// reevalByPackage applies an advisory change package by package: each
// distinct package the change touches is matched and judged once, and every
// image holding it with the same findings is updated by the same
// statements; the changes of a delta are applied together, so that an
// image holding many changed packages is updated, and its history written,
// once. This is sound because the policy is finding-local (what it makes
// of a finding does not depend on the rest of the image); the image's other
// evidence is kept as its base decision. Images stored before the package
// index existed are re-judged whole.
func (s *Server) reevalByPackage(ctx context.Context, req reevalRequest, st *reevalStats) error {
	groups, legacy, err := s.st.AffectedGroups(ctx, req.Packages)
	if err != nil {
		return err
	}
	hooks, err := s.st.Webhooks(ctx)
	if err != nil {
		return err
	}
	// Images count once however many of their packages the delta names.
	// The groups of one package hold distinct images: no query for a delta
	// naming one package.
	var pkgIDs []int64
	for i, g := range groups {
		st.groups++
		st.pairs += g.Images
		if i == 0 || g.PackageID != groups[i-1].PackageID {
			pkgIDs = append(pkgIDs, g.PackageID)
		}
	}
	if len(pkgIDs) == 1 {
		st.images = st.pairs
	} else if st.images, err = s.st.ImagesHolding(ctx, pkgIDs); err != nil {
		return err
	}

	type judged struct {
		findings []customs.Finding
		rows     []store.VulnRow
		deny     []policy.Reason
		sig      string
	}
	memo := map[int64]*judged{}
	now := time.Now()
	changedIDs := map[int64]bool{}
	// The set being gathered, with what each change announces.
	set := store.ChangeSet{Cause: req.Cause}
	var added [][]customs.Finding
	var deny [][]policy.Reason
	pairs := 0
	if len(hooks) > 0 {
		set.Announce = func(changed []store.ChangedImage) []store.NewDelivery {
			cs := make([]change, 0, len(changed))
			for _, ci := range changed {
				c := change{row: ci.Before, baseTop: ci.Before.BaseTop, from: ci.Before.Decision, to: ci.Decision, cause: req.Cause}
				for _, k := range ci.Changes {
					c.added = append(c.added, added[k]...)
					c.deny = append(c.deny, deny[k]...)
				}
				cs = append(cs, c)
			}
			return deliveriesOf(hooks, cs)
		}
	}
	// apply applies the set gathered. An image counts once over every set:
	// when the delta takes more than one, the sets say which images they
	// changed; one set's count is the answer.
	sets := 0
	apply := func(last bool) error {
		if len(set.Changes) == 0 {
			return nil
		}
		set.IDs = !last || sets > 0
		n, ids, err := s.st.ApplyPackageChanges(ctx, set)
		if err != nil {
			return fmt.Errorf("applying %d package changes (%d image packages): %w", len(set.Changes), pairs, err)
		}
		sets++
		if set.IDs {
			for _, id := range ids {
				changedIDs[id] = true
			}
			st.changed = len(changedIDs)
		} else {
			st.changed = n
		}
		if n > 0 && set.Announce != nil {
			s.wakeDelivery()
		}
		set.Changes, added, deny, pairs = set.Changes[:0], added[:0], deny[:0], 0
		return nil
	}
	// Images whose stored findings for a package are missing: their counts
	// cannot be moved by a difference, so they are re-judged whole.
	var whole []int64
	for start := 0; start < len(groups); start += reevalChunk {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		part := groups[start:min(start+reevalChunk, len(groups))]
		var ids []int64
		for i, g := range part {
			if memo[g.PackageID] == nil && (i == 0 || g.PackageID != part[i-1].PackageID) {
				ids = append(ids, g.PackageID)
			}
		}
		bodies, err := s.st.Packages(ctx, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			body := bodies[id]
			if body == nil {
				return fmt.Errorf("package %d: %w", id, store.ErrNotFound)
			}
			findings, err := s.matchPackage(ctx, body)
			if err != nil {
				return fmt.Errorf("matching package %s: %w", body.Package.Name, err)
			}
			effects, reasons, err := s.cfg.Policy.FindingEffects(ctx, findings, now)
			if err != nil {
				return fmt.Errorf("%w: %v", errJudgeWhole, err)
			}
			em := map[string]string{}
			for i, f := range findings {
				em[policy.FindingKey(f)] = effects[i]
			}
			jd := &judged{findings: findings, rows: store.RowsOf(findings, em), deny: reasons}
			jd.sig = store.Signature(jd.rows)
			memo[id] = jd
		}
		var moved []store.GroupKey
		for _, g := range part {
			if memo[g.PackageID].sig != g.Sig {
				moved = append(moved, store.GroupKey{PackageID: g.PackageID, Sig: g.Sig})
			}
		}
		olds, err := s.st.GroupVulns(ctx, moved)
		if err != nil {
			return err
		}
		for _, g := range part {
			jd := memo[g.PackageID]
			if jd.sig == g.Sig {
				continue
			}
			old, ok := olds[store.GroupKey{PackageID: g.PackageID, Sig: g.Sig}]
			if !ok && g.Sig != store.Signature(nil) {
				ids, err := s.st.GroupImages(ctx, store.GroupKey{PackageID: g.PackageID, Sig: g.Sig})
				if err != nil {
					return err
				}
				s.log.Warn("the stored findings of a package are missing: re-judging its images whole", "package", g.PackageID, "images", len(ids))
				whole = append(whole, ids...)
				continue
			}
			c := store.PackageChange{PackageID: g.PackageID, OldSig: g.Sig, NewSig: jd.sig, Rows: jd.rows}
			oldKeys, newKeys := make([]string, 0, len(old)), make([]string, 0, len(jd.rows))
			for _, r := range old {
				oldKeys = append(oldKeys, r.Key())
				countDelta(&c, r, -1)
			}
			for _, r := range jd.rows {
				newKeys = append(newKeys, r.Key())
				countDelta(&c, r, 1)
			}
			c.Added, c.Removed = diff(oldKeys, newKeys)
			var addedFindings []customs.Finding
			if set.Announce != nil {
				isNew := map[string]bool{}
				for _, k := range c.Added {
					isNew[k] = true
				}
				for _, f := range jd.findings {
					if isNew[f.ID+" "+f.Package.Name] {
						addedFindings = append(addedFindings, f)
					}
				}
			}
			if len(set.Changes) > 0 && (len(set.Changes) == store.MaxChangeSet || pairs+g.Images > reevalSetPairs) {
				if err := apply(false); err != nil {
					return err
				}
			}
			set.Changes = append(set.Changes, c)
			added, deny = append(added, addedFindings), append(deny, jd.deny)
			pairs += g.Images
		}
	}
	if err := apply(true); err != nil {
		return err
	}
	slices.Sort(whole)
	for _, id := range slices.Compact(whole) {
		c, err := s.reevalImage(ctx, id, req.Cause)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("re-judging image %d: %w", id, err)
		}
		// Rare (lost findings): an image changed by a set too may count twice.
		if c && !changedIDs[id] {
			st.changed++
		}
	}
	return s.reevalImages(ctx, legacy, req.Cause, st)
}

func countDelta(c *store.PackageChange, r store.VulnRow, d int) {
	switch r.Severity {
	case customs.SeverityCritical:
		c.Critical += d
	case customs.SeverityHigh:
		c.High += d
	case customs.SeverityMedium:
		c.Medium += d
	case customs.SeverityLow:
		c.Low += d
	}
	if r.Fixed != "" {
		c.Fixable += d
	}
	if r.Effect == policy.EffectDeny {
		c.Deny += d
	}
}

// matchPackage matches one stored package as a scan of an image holding it
// would (the server scans without VEX or filters).
func (s *Server) matchPackage(ctx context.Context, body *store.PackageBody) ([]customs.Finding, error) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	res, err := match.Match(ctx, s.cfg.DB, &customs.Inventory{Distro: body.Distro, Packages: []customs.Package{body.Package}})
	if err != nil {
		return nil, err
	}
	return res.Findings, nil
}

// reevalImage re-judges one stored image from its stored inventory (no
// layer is read) and, when its findings or verdict changed, records and
// announces it; a stale image whose judgement did not change has its
// stored documents rebuilt without a history entry. Re-running it is
// harmless: an unchanged result records nothing, so a job resumed after a
// crash does not duplicate history or events.
func (s *Server) reevalImage(ctx context.Context, id int64, cause string) (bool, error) {
	d, err := s.st.ImageByID(ctx, id, true)
	if err != nil {
		return false, err
	}
	j, err := s.judge(ctx, d.Inventory)
	if err != nil {
		return false, err
	}
	had, err := s.st.VulnKeysOf(ctx, id)
	if err != nil {
		return false, err
	}
	added, removed := diff(had, store.VulnKeys(j.Scan))
	if len(added) == 0 && len(removed) == 0 && d.Decision == j.Verdict.Decision {
		if d.Stale {
			return false, s.st.UpdateJudgement(ctx, id, d.Inventory, j, cause, nil, nil, false)
		}
		return false, nil
	}
	// The events are queued before the judgement is stored: a crash
	// between them at worst re-announces on resume (the change is
	// detected again), never loses the announcement.
	s.announce(ctx, s.changeOf(d.ImageRow, baseTopOf(d), had, d.Decision, j, cause))
	if err := s.st.UpdateJudgement(ctx, id, d.Inventory, j, cause, added, removed, true); err != nil {
		return false, err
	}
	return true, nil
}

func baseTopOf(d *store.ImageDetail) int {
	for i, l := range d.Inventory.Image.Layers {
		if d.BaseLayer != "" && l.DiffID == d.BaseLayer {
			return i
		}
	}
	return -1
}

func diff(old, new []string) (added, removed []string) {
	o, n := map[string]bool{}, map[string]bool{}
	for _, x := range old {
		o[x] = true
	}
	for _, x := range new {
		n[x] = true
		if !o[x] {
			added = append(added, x)
		}
	}
	for _, x := range old {
		if !n[x] {
			removed = append(removed, x)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed
}
