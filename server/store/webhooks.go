package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Webhook is a subscription: events about images of a team (or all),
// at or above a severity, posted to URL and signed with Secret.
type Webhook struct {
	ID          int64    `json:"id"`
	URL         string   `json:"url"`
	Secret      string   `json:"-"`
	Team        string   `json:"team"`
	MinSeverity string   `json:"min_severity"`
	Events      []string `json:"events"`
	CreatedAt   int64    `json:"created_at"`
}

// Wants says whether the webhook subscribes to an event.
func (w *Webhook) Wants(event string) bool {
	if len(w.Events) == 0 {
		return true
	}
	for _, e := range w.Events {
		if e == event {
			return true
		}
	}
	return false
}

// CreateWebhook stores a subscription.
func (s *Store) CreateWebhook(ctx context.Context, w *Webhook) error {
	w.CreatedAt = nowMS()
	id, err := s.insertID(ctx, `INSERT INTO webhooks(url, secret, team, min_severity, events, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		w.URL, w.Secret, w.Team, w.MinSeverity, strings.Join(w.Events, ","), w.CreatedAt)
	w.ID = id
	return err
}

// Webhooks lists subscriptions.
func (s *Store) Webhooks(ctx context.Context) ([]Webhook, error) {
	rows, err := s.query(ctx, `SELECT id, url, secret, team, min_severity, events, created_at FROM webhooks ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Webhook{}
	for rows.Next() {
		var w Webhook
		var ev string
		if err := rows.Scan(&w.ID, &w.URL, &w.Secret, &w.Team, &w.MinSeverity, &ev, &w.CreatedAt); err != nil {
			return nil, err
		}
		w.Events = splitList(ev)
		out = append(out, w)
	}
	return out, rows.Err()
}

// DeleteWebhook removes a subscription and its deliveries.
func (s *Store) DeleteWebhook(ctx context.Context, id int64) error {
	res, err := s.exec(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery is one event to post to one webhook, kept until delivered (or
// given up on): at-least-once, surviving restarts.
type Delivery struct {
	ID          int64  `json:"id"`
	WebhookID   int64  `json:"webhook_id"`
	Event       string `json:"event"`
	Payload     string `json:"payload"`
	State       string `json:"state"`
	Attempts    int    `json:"attempts"`
	NextAt      int64  `json:"next_at"`
	LastStatus  int    `json:"last_status"`
	LastError   string `json:"last_error,omitempty"`
	CreatedAt   int64  `json:"created_at"`
	DeliveredAt int64  `json:"delivered_at,omitempty"`
}

// Enqueue a delivery.
func (s *Store) AddDelivery(ctx context.Context, webhookID int64, event, payload string) error {
	now := nowMS()
	_, err := s.exec(ctx, `INSERT INTO deliveries(webhook_id, event, payload, state, attempts, next_at, last_status, last_error, created_at, delivered_at)
		VALUES (?, ?, ?, 'pending', 0, ?, 0, '', ?, 0)`, webhookID, event, payload, now, now)
	return err
}

// NewDelivery is a delivery to queue.
type NewDelivery struct {
	WebhookID int64
	Event     string
	Payload   string
}

// AddDeliveries queues many deliveries in one transaction.
func (s *Store) AddDeliveries(ctx context.Context, ds []NewDelivery) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.addDeliveries(ctx, tx, ds) })
}

func (s *Store) addDeliveries(ctx context.Context, tx *sql.Tx, ds []NewDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	now := nowMS()
	{
		st, err := tx.PrepareContext(ctx, s.q(`INSERT INTO deliveries(webhook_id, event, payload, state, attempts, next_at, last_status, last_error, created_at, delivered_at)
			VALUES (?, ?, ?, 'pending', 0, ?, 0, '', ?, 0)`))
		if err != nil {
			return err
		}
		defer st.Close()
		for _, d := range ds {
			if _, err := st.ExecContext(ctx, d.WebhookID, d.Event, d.Payload, now, now); err != nil {
				return err
			}
		}
		return nil
	}
}

// ClaimDelivery takes the oldest due pending delivery and pushes its next
// attempt time forward by lease, so no other worker takes it meanwhile; a
// worker that dies leaves it to be retried once the lease passes.
func (s *Store) ClaimDelivery(ctx context.Context, lease time.Duration) (*Delivery, error) {
	now := nowMS()
	lock := ""
	if s.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	d := &Delivery{}
	err := s.queryRow(ctx, `UPDATE deliveries SET next_at = ?, attempts = attempts + 1
		WHERE id = (SELECT id FROM deliveries WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT 1`+lock+`)
		RETURNING id, webhook_id, event, payload, state, attempts, next_at, created_at`,
		now+lease.Milliseconds(), now).Scan(&d.ID, &d.WebhookID, &d.Event, &d.Payload, &d.State, &d.Attempts, &d.NextAt, &d.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return d, err
}

// DeliveryResult records an attempt: delivered, retried at next, or failed.
func (s *Store) DeliveryResult(ctx context.Context, id int64, state string, status int, errMsg string, next time.Time) error {
	delivered := int64(0)
	if state == DeliveryDelivered {
		delivered = nowMS()
	}
	_, err := s.exec(ctx, `UPDATE deliveries SET state = ?, last_status = ?, last_error = ?, next_at = ?, delivered_at = ? WHERE id = ?`,
		state, status, errMsg, next.UnixMilli(), delivered, id)
	return err
}

// Deliveries lists a webhook's deliveries, newest first: at most limit of
// them, with ids below before when before > 0 (the last id of the previous
// page). Paging by id rather than by offset: deliveries keep arriving at
// the top while a client pages down, and an offset would show rows twice.
func (s *Store) Deliveries(ctx context.Context, webhookID, before int64, limit int) ([]Delivery, error) {
	where, args := "webhook_id = ?", []any{webhookID}
	if before > 0 {
		where += " AND id < ?"
		args = append(args, before)
	}
	rows, err := s.query(ctx, `SELECT id, webhook_id, event, payload, state, attempts, next_at, last_status, last_error, created_at, delivered_at
		FROM deliveries WHERE `+where+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("listing the deliveries of webhook %d: %w", webhookID, err)
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		var d Delivery
		if err := rows.Scan(&d.ID, &d.WebhookID, &d.Event, &d.Payload, &d.State, &d.Attempts, &d.NextAt, &d.LastStatus, &d.LastError, &d.CreatedAt, &d.DeliveredAt); err != nil {
			return nil, fmt.Errorf("listing the deliveries of webhook %d: %w", webhookID, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
