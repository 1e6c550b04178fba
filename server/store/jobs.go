package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/customs-sec/customs/inspect"
)

// Job states.
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// MaxAttempts is how many times a job is leased before it fails for good
// (a job that kills its worker every time must not loop forever).
const MaxAttempts = 5

// Job is one unit of queued work.
type Job struct {
	ID        int64  `json:"id"`
	Kind      string `json:"kind"`
	Payload   string `json:"payload"`
	State     string `json:"state"`
	Result    string `json:"result,omitempty"`
	Attempts  int    `json:"attempts"`
	CreatedAt int64  `json:"created_at"`
	UpdatedAt int64  `json:"updated_at"`
}

// Enqueue adds a job.
func (s *Store) Enqueue(ctx context.Context, kind, payload string) (int64, error) {
	now := nowMS()
	return s.insertID(ctx, `INSERT INTO jobs(kind, payload, state, result, lease_owner, lease_until, attempts, created_at, updated_at) VALUES (?, ?, 'queued', '', '', 0, 0, ?, ?)`,
		kind, payload, now, now)
}

// Lease claims the oldest job that is queued, or running under an expired
// lease (its worker died), for owner until now+d. PostgreSQL replicas skip
// rows another replica is claiming (FOR UPDATE SKIP LOCKED); SQLite
// serializes writers, so the UPDATE … WHERE id = (SELECT …) is atomic.
func (s *Store) Lease(ctx context.Context, owner string, d time.Duration) (*Job, error) {
	now := nowMS()
	lock := ""
	if s.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	j := &Job{}
	err := s.queryRow(ctx, `UPDATE jobs SET state = 'running', lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
		WHERE id = (SELECT id FROM jobs WHERE state = 'queued' OR (state = 'running' AND lease_until < ?) ORDER BY id LIMIT 1`+lock+`)
		RETURNING id, kind, payload, state, attempts, created_at, updated_at`,
		owner, now+d.Milliseconds(), now, now).Scan(&j.ID, &j.Kind, &j.Payload, &j.State, &j.Attempts, &j.CreatedAt, &j.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if j.Attempts > MaxAttempts {
		s.Finish(ctx, j.ID, owner, JobFailed, "gave up after repeated attempts (the worker died each time)")
		return s.Lease(ctx, owner, d)
	}
	return j, nil
}

// Renew extends a lease the owner still holds; false when it lost it.
func (s *Store) Renew(ctx context.Context, id int64, owner string, d time.Duration) (bool, error) {
	res, err := s.exec(ctx, `UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ? AND state = 'running'`, nowMS()+d.Milliseconds(), id, owner)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Finish records a job's end, if owner still holds it.
func (s *Store) Finish(ctx context.Context, id int64, owner, state, result string) error {
	_, err := s.exec(ctx, `UPDATE jobs SET state = ?, result = ?, lease_owner = '', updated_at = ? WHERE id = ? AND lease_owner = ?`, state, result, nowMS(), id, owner)
	return err
}

// Job returns a job by id.
func (s *Store) Job(ctx context.Context, id int64) (*Job, error) {
	j := &Job{}
	err := s.queryRow(ctx, `SELECT id, kind, payload, state, result, attempts, created_at, updated_at FROM jobs WHERE id = ?`, id).
		Scan(&j.ID, &j.Kind, &j.Payload, &j.State, &j.Result, &j.Attempts, &j.CreatedAt, &j.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return j, err
}

// QueueDepth counts jobs by state.
func (s *Store) QueueDepth(ctx context.Context) (map[string]int, error) {
	rows, err := s.query(ctx, `SELECT state, COUNT(*) FROM jobs GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// LayerCache is the content-addressed layer index: a layer (by diff ID and
// cataloger set) inventoried once is never read again, by any replica.
type LayerCache struct{ S *Store }

// Get implements inspect.LayerCache.
func (c LayerCache) Get(ctx context.Context, key string) (*inspect.LayerResult, bool) {
	var b []byte
	if err := c.S.queryRow(ctx, `SELECT result FROM layers WHERE key = ?`, key).Scan(&b); err != nil {
		return nil, false
	}
	lr := &inspect.LayerResult{}
	if err := c.S.unpack(b, lr); err != nil {
		return nil, false
	}
	return lr, true
}

// Put implements inspect.LayerCache.
func (c LayerCache) Put(ctx context.Context, key string, lr *inspect.LayerResult) {
	b, err := c.S.pack(lr)
	if err != nil {
		return
	}
	c.S.exec(ctx, `INSERT INTO layers(key, result, created_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING`, key, b, nowMS())
}
