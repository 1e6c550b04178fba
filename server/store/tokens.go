package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"strings"
)

// Roles, weakest first.
const (
	RoleViewer        = "viewer"
	RoleDeveloper     = "developer"
	RoleSecurityAdmin = "security-admin"
)

// RoleRank orders roles; 0 for an unknown role.
func RoleRank(role string) int {
	switch role {
	case RoleViewer:
		return 1
	case RoleDeveloper:
		return 2
	case RoleSecurityAdmin:
		return 3
	}
	return 0
}

// AllTeams in a token's teams grants every team.
const AllTeams = "*"

// Token is an API token; the secret itself is never stored, only its hash.
type Token struct {
	ID        int64    `json:"id"`
	Name      string   `json:"name"`
	Role      string   `json:"role"`
	Teams     []string `json:"teams"`
	CreatedAt int64    `json:"created_at"`
	Revoked   bool     `json:"revoked"`
}

// CanSee says whether the token may act for team.
func (t *Token) CanSee(team string) bool {
	for _, x := range t.Teams {
		if x == AllTeams || x == team {
			return true
		}
	}
	return false
}

// HashToken is how tokens are kept at rest. Tokens are 256-bit random, so a
// plain SHA-256 (no salt, no stretching) cannot be brute-forced, and lookup
// stays one indexed equality.
func HashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// NewTokenSecret makes a fresh token: "cst_" and 64 hex characters.
func NewTokenSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "cst_" + hex.EncodeToString(b)
}

// CreateToken stores a token with the given secret's hash.
func (s *Store) CreateToken(ctx context.Context, name, role string, teams []string, secret string) (*Token, error) {
	id, err := s.insertID(ctx, `INSERT INTO tokens(name, hash, role, teams, created_at, revoked) VALUES (?, ?, ?, ?, ?, 0)`,
		name, HashToken(secret), role, strings.Join(teams, ","), nowMS())
	if err != nil {
		return nil, err
	}
	return &Token{ID: id, Name: name, Role: role, Teams: teams}, nil
}

// TokenBySecret finds an unrevoked token by its secret.
func (s *Store) TokenBySecret(ctx context.Context, secret string) (*Token, error) {
	t := &Token{}
	var teams string
	err := s.queryRow(ctx, `SELECT id, name, role, teams, created_at FROM tokens WHERE hash = ? AND revoked = 0`, HashToken(secret)).
		Scan(&t.ID, &t.Name, &t.Role, &teams, &t.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	t.Teams = splitList(teams)
	return t, nil
}

// Tokens lists tokens (without secrets).
func (s *Store) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.query(ctx, `SELECT id, name, role, teams, created_at, revoked FROM tokens ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		var t Token
		var teams string
		var revoked int
		if err := rows.Scan(&t.ID, &t.Name, &t.Role, &teams, &t.CreatedAt, &revoked); err != nil {
			return nil, err
		}
		t.Teams, t.Revoked = splitList(teams), revoked != 0
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a token by id.
func (s *Store) RevokeToken(ctx context.Context, id int64) error {
	res, err := s.exec(ctx, `UPDATE tokens SET revoked = 1 WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// CountTokens counts tokens, revoked or not (0 means a first start).
func (s *Store) CountTokens(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n)
	return n, err
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// Audit records a change: who, what, on what.
func (s *Store) Audit(ctx context.Context, actor, action, target, detail string) error {
	_, err := s.exec(ctx, `INSERT INTO audit(at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)`, nowMS(), actor, action, target, detail)
	return err
}

// AuditEntry is one audit record.
type AuditEntry struct {
	ID     int64  `json:"id"`
	At     int64  `json:"at"`
	Actor  string `json:"actor"`
	Action string `json:"action"`
	Target string `json:"target"`
	Detail string `json:"detail"`
}

// AuditLog returns the newest entries first.
func (s *Store) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	rows, err := s.query(ctx, `SELECT id, at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
