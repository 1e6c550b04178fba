package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/misconfig"
	"github.com/customs-sec/customs/pipeline"
	"github.com/customs-sec/customs/server/store"
)

// Job kinds.
const (
	jobScan   = "scan"
	jobReeval = "reeval"
)

// leaseFor is how long a worker holds a job between renewals; a replica
// killed mid-job loses it this long after its last renewal.
const leaseFor = 30 * time.Second

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
		j, err := s.st.Lease(ctx, owner, leaseFor)
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
		t := time.NewTicker(leaseFor / 3)
		defer t.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-t.C:
				if ok, err := s.st.Renew(jctx, j.ID, owner, leaseFor); err == nil && !ok {
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
	opts := pipeline.Options{Image: s.cfg.Image, Catalogers: pipeline.CheckCatalogers(nil),
		Cache: store.LayerCache{S: s.st}, CacheKey: "check-1", OnLayerRead: s.onLayerRead}
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
	id, err := s.st.SaveImage(ctx, meta, inv, j, cause)
	if err != nil {
		return "", err
	}
	s.metrics.imagesStored.Inc()
	if perr == nil {
		row := prev.ImageRow
		row.ID = id
		s.announce(ctx, row, inv.Image.Layers, prev.Scan, prev.Verdict.Decision, j, cause)
	}
	return meta.Digest, nil
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
	if n := misconfig.BaseLayers(inv); n > 0 && n <= len(img.Layers) {
		m.BaseLayer = img.Layers[n-1].DiffID
	}
	return m
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
		return "", err
	}
	ids, err := s.st.ImagesWithPackages(ctx, req.Packages)
	if err != nil {
		return "", err
	}
	changed := 0
	start := time.Now()
	for _, id := range ids {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		c, err := s.reevalImage(ctx, id, req.Cause)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return "", fmt.Errorf("re-judging image %d: %w", id, err)
		}
		if c {
			changed++
		}
	}
	s.metrics.reevaluated.Add(float64(len(ids)))
	s.log.Info("re-judged images after an advisory change", "cause", req.Cause, "packages", len(req.Packages), "images", len(ids), "changed", changed, "took", time.Since(start))
	return fmt.Sprintf("%d images re-judged, %d changed", len(ids), changed), nil
}

// reevalImage re-judges one stored image from its stored inventory (no
// layer is read) and, when its findings or verdict changed, records and
// announces it. Re-running it is harmless: an unchanged result records
// nothing, so a job resumed after a crash does not duplicate history or
// events.
func (s *Server) reevalImage(ctx context.Context, id int64, cause string) (bool, error) {
	d, err := s.st.ImageByID(ctx, id, true)
	if err != nil {
		return false, err
	}
	j, err := s.judge(ctx, d.Inventory)
	if err != nil {
		return false, err
	}
	added, removed := diff(store.VulnKeys(d.Scan), store.VulnKeys(j.Scan))
	if len(added) == 0 && len(removed) == 0 && d.Decision == j.Verdict.Decision {
		return false, nil
	}
	if err := s.announceAndStore(ctx, d, j, cause, added, removed); err != nil {
		return false, err
	}
	return true, nil
}

// announceAndStore records the new judgement and queues its events in one
// step each; a crash between them at worst re-announces on resume (the
// stored judgement is written last, so the change is detected again).
func (s *Server) announceAndStore(ctx context.Context, d *store.ImageDetail, j store.Judgement, cause string, added, removed []string) error {
	s.announce(ctx, d.ImageRow, d.Inventory.Image.Layers, d.Scan, d.Decision, j, cause)
	return s.st.UpdateJudgement(ctx, d.ID, j, cause, added, removed)
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
