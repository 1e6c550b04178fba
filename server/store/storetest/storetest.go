// Package storetest runs one test against every database the server
// supports: a fresh SQLite file, and a fresh PostgreSQL database on
// $CUSTOMS_POSTGRES (default postgres://postgres@127.0.0.1:5432/test).
// PostgreSQL is skipped with a message when it does not answer, unless
// CUSTOMS_REQUIRE_POSTGRES=1 (CI), which fails instead.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// AdminURL is the PostgreSQL database used to create per-test databases.
func AdminURL() string {
	if u := os.Getenv("CUSTOMS_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// Each runs fn once per database, as subtests "sqlite" and "postgres".
func Each(t *testing.T, fn func(t *testing.T, url string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite returns the URL of a fresh SQLite database.
func SQLite(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "customs.db")
}

// Postgres creates a fresh database and returns its URL; dropped at cleanup.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := AdminURL()
	db, err := sql.Open("pgx", admin)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = db.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("CUSTOMS_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL at %s does not answer (CUSTOMS_REQUIRE_POSTGRES=1): %v", admin, err)
		}
		t.Skipf("PostgreSQL at %s does not answer; set CUSTOMS_POSTGRES to run the PostgreSQL half: %v", admin, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "customs_test_" + hex.EncodeToString(b)
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		db.Close()
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
