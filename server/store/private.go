package store

import (
	"context"
	"database/sql"
)

// PrivateAdvisory is an advisory document an admin posted (one OSV record
// or an array of them), kept in the shared store so that every replica
// imports it into its own advisory database.
type PrivateAdvisory struct {
	Seq   int64
	Body  []byte
	Actor string
}

// AddPrivateAdvisory records a posted advisory document and queues the job
// that applies it, in one transaction: a crash keeps both or neither.
func (s *Store) AddPrivateAdvisory(ctx context.Context, body []byte, actor, jobKind string, payload func(seq int64) string) (seq, job int64, err error) {
	now := nowMS()
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO private_advisories(body, actor, at) VALUES (?, ?, ?) RETURNING seq`), body, actor, now).Scan(&seq); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, s.q(`INSERT INTO jobs(kind, payload, state, result, lease_owner, lease_until, attempts, created_at, updated_at)
			VALUES (?, ?, 'queued', '', '', 0, 0, ?, ?) RETURNING id`), jobKind, payload(seq), now, now).Scan(&job)
	})
	return seq, job, err
}

// PrivateAdvisoriesAfter returns the private advisories recorded after seq,
// oldest first.
func (s *Store) PrivateAdvisoriesAfter(ctx context.Context, seq int64) ([]PrivateAdvisory, error) {
	rows, err := s.query(ctx, `SELECT seq, body, actor FROM private_advisories WHERE seq > ? ORDER BY seq LIMIT 1000`, seq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PrivateAdvisory
	for rows.Next() {
		var p PrivateAdvisory
		if err := rows.Scan(&p.Seq, &p.Body, &p.Actor); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
