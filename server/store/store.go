// Package store keeps the server's state: images with their inventories,
// findings and verdict history, the (ecosystem, package) → images index that
// re-judging after an advisory change queries, the work queue with leases,
// the content-addressed layer cache, tokens, webhooks and their deliveries,
// and the audit log.
//
// One implementation, two SQL dialects: embedded SQLite (modernc, one file,
// WAL) by default and PostgreSQL for several replicas. Queries are written
// once with ? placeholders and rebound for PostgreSQL; the few statements
// that differ (upserts, row locking) say so. Both run the same test suite.
package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	"github.com/klauspost/compress/zstd"
	_ "modernc.org/sqlite" // SQLite driver "sqlite"
)

// Dialect is the SQL flavour of the database behind a Store.
type Dialect int

// Dialects.
const (
	SQLite Dialect = iota
	Postgres
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Store is the server's database.
type Store struct {
	db      *sql.DB
	dialect Dialect
	enc     *zstd.Encoder
	dec     *zstd.Decoder
	// pkgIDs caches committed package ids by content hash (they never change).
	pkgIDs sync.Map
}

// Open opens (and migrates) the database a URL names: postgres://… or
// postgresql://… for PostgreSQL, sqlite:PATH or a plain path for SQLite.
func Open(ctx context.Context, url string) (*Store, error) {
	return openAt(ctx, url, len(migrations))
}

// openAt opens a database migrated up to a schema version (tests of
// migrations open an old one).
func openAt(ctx context.Context, url string, version int) (*Store, error) {
	s := &Store{}
	var err error
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		s.dialect = Postgres
		s.db, err = sql.Open("pgx", url)
		if err == nil {
			s.db.SetMaxOpenConns(16)
		}
	default:
		path := strings.TrimPrefix(url, "sqlite:")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		s.dialect = SQLite
		s.db, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_pragma=cache_size(-131072)&_pragma=mmap_size(1073741824)&_pragma=temp_store(MEMORY)&_txlock=immediate")
		if err == nil {
			// One writer at a time is what SQLite allows; a small pool
			// keeps readers concurrent under WAL.
			s.db.SetMaxOpenConns(4)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", redactURL(url), err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("connecting to %s: %w", redactURL(url), err)
	}
	s.enc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	s.dec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(256<<20))
	if err := s.migrate(ctx, version); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("migrating %s: %w", redactURL(url), err)
	}
	return s, nil
}

// redactURL hides a password in a database URL, for errors and logs.
func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if at := strings.LastIndex(u, "@"); at > i {
			if c := strings.Index(u[i+3:at], ":"); c >= 0 {
				return u[:i+3+c] + ":***" + u[at:]
			}
		}
	}
	return u
}

// Checkpoint folds SQLite's write-ahead log into the database file (a
// no-op on PostgreSQL).
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.dialect == Postgres {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Dialect says which database is behind the store.
func (s *Store) Dialect() Dialect { return s.dialect }

// Ping checks the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// q rebinds ? placeholders to $N for PostgreSQL. Queries never hold a
// literal '?'.
func (s *Store) q(query string) string {
	if s.dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.q(query), args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.q(query), args...)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.q(query), args...)
}

// insertID inserts a row and returns its id.
func (s *Store) insertID(ctx context.Context, query string, args ...any) (int64, error) {
	var id int64
	err := s.queryRow(ctx, query+" RETURNING id", args...).Scan(&id)
	return id, err
}

// tx runs fn in a transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// pack compresses a JSON value for storage.
func (s *Store) pack(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return s.enc.EncodeAll(b, nil), nil
}

// unpack reads what pack stored.
func (s *Store) unpack(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	raw, err := s.dec.DecodeAll(b, nil)
	if err != nil {
		return fmt.Errorf("decompressing a stored document: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	return d.Decode(v)
}

func nowMS() int64 { return time.Now().UnixMilli() }

// Time converts stored Unix milliseconds.
func Time(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
