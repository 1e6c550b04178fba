package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// migrations are applied in order, each once, recorded in
// schema_migrations. Never edit one that has shipped: add the next.
// {ID} is the auto-increment primary key and {BLOB} the byte type of the
// dialect.
var migrations = []string{
	// 1: the first schema.
	`
CREATE TABLE tokens (
	id {ID}, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL, teams TEXT NOT NULL,
	created_at BIGINT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE images (
	id {ID}, digest TEXT NOT NULL UNIQUE, ref TEXT NOT NULL, repository TEXT NOT NULL, tags TEXT NOT NULL,
	team TEXT NOT NULL, environment TEXT NOT NULL, owner TEXT NOT NULL, base_layer TEXT NOT NULL,
	inventory {BLOB}, scan {BLOB}, verdict {BLOB},
	decision TEXT NOT NULL, critical INTEGER NOT NULL, high INTEGER NOT NULL, medium INTEGER NOT NULL, low INTEGER NOT NULL,
	fixable INTEGER NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL
);
CREATE INDEX images_team ON images(team);
CREATE INDEX images_base ON images(base_layer);
CREATE TABLE image_packages (
	image_id BIGINT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
	ecosystem TEXT NOT NULL, name TEXT NOT NULL
);
CREATE INDEX image_packages_key ON image_packages(ecosystem, name);
CREATE INDEX image_packages_image ON image_packages(image_id);
CREATE TABLE image_vulns (
	image_id BIGINT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
	vuln TEXT NOT NULL, package TEXT NOT NULL, severity TEXT NOT NULL, fixed TEXT NOT NULL
);
CREATE INDEX image_vulns_vuln ON image_vulns(vuln);
CREATE INDEX image_vulns_image ON image_vulns(image_id);
CREATE TABLE verdict_history (
	id {ID}, image_id BIGINT NOT NULL REFERENCES images(id) ON DELETE CASCADE, at BIGINT NOT NULL,
	decision TEXT NOT NULL, cause TEXT NOT NULL, added TEXT NOT NULL, removed TEXT NOT NULL
);
CREATE INDEX verdict_history_image ON verdict_history(image_id);
CREATE TABLE jobs (
	id {ID}, kind TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL, result TEXT NOT NULL,
	lease_owner TEXT NOT NULL, lease_until BIGINT NOT NULL, attempts INTEGER NOT NULL,
	created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_state ON jobs(state, id);
CREATE TABLE layers (key TEXT PRIMARY KEY, result {BLOB} NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE webhooks (
	id {ID}, url TEXT NOT NULL, secret TEXT NOT NULL, team TEXT NOT NULL, min_severity TEXT NOT NULL,
	events TEXT NOT NULL, created_at BIGINT NOT NULL
);
CREATE TABLE deliveries (
	id {ID}, webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE, event TEXT NOT NULL,
	payload TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, next_at BIGINT NOT NULL,
	last_status INTEGER NOT NULL, last_error TEXT NOT NULL, created_at BIGINT NOT NULL, delivered_at BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries(state, next_at);
CREATE TABLE audit (
	id {ID}, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL
);
`,
	// 2: incremental re-judgement. Packages are stored once by content, under
	// the keys advisories name them by; package_images says which images
	// hold each package, with the signature of that package's findings in
	// the image, clustered by package so that a change to a popular package
	// touches contiguous pages. Findings are stored per package and
	// signature (package_vulns), with their policy effect, not per image;
	// images know the decision their other evidence gives and how many of
	// their findings deny. An
	// advisory change then updates every image holding a changed package in
	// a few set-based statements. Images of version 1 (indexed in
	// image_packages, which no longer gets rows) are re-judged one by one
	// until rewritten. Private advisories posted to one replica are kept
	// here for every replica to import. The documents move out of the images rows, which a change
	// rewrites by the thousand.
	`
CREATE TABLE packages (id {ID}, hash TEXT NOT NULL UNIQUE, body {BLOB} NOT NULL);
CREATE TABLE package_keys (package_id BIGINT NOT NULL, ecosystem TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (ecosystem, name, package_id)){WITHOUT_ROWID};
CREATE TABLE package_images (
	package_id BIGINT NOT NULL, image_id BIGINT NOT NULL REFERENCES images(id) ON DELETE CASCADE, sig TEXT NOT NULL,
	PRIMARY KEY (package_id, image_id)
){WITHOUT_ROWID};
CREATE INDEX package_images_image ON package_images(image_id);
CREATE TABLE package_vulns (
	package_id BIGINT NOT NULL, sig TEXT NOT NULL, vuln TEXT NOT NULL, alias_of TEXT NOT NULL, package TEXT NOT NULL,
	severity TEXT NOT NULL, fixed TEXT NOT NULL, effect TEXT NOT NULL,
	PRIMARY KEY (package_id, sig, vuln, alias_of)
){WITHOUT_ROWID};
CREATE INDEX package_vulns_vuln ON package_vulns(vuln);
ALTER TABLE images ADD COLUMN deny_findings INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN base_decision TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN base_top INTEGER NOT NULL DEFAULT -1;
ALTER TABLE images ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;
CREATE TABLE image_docs (
	image_id BIGINT PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE, inventory {BLOB}, scan {BLOB}, verdict {BLOB}
);
INSERT INTO image_docs(image_id, inventory, scan, verdict) SELECT id, inventory, scan, verdict FROM images;
ALTER TABLE images DROP COLUMN inventory;
ALTER TABLE images DROP COLUMN scan;
ALTER TABLE images DROP COLUMN verdict;
CREATE TABLE private_advisories (seq {ID}, body {BLOB} NOT NULL, actor TEXT NOT NULL, at BIGINT NOT NULL);
`,
	// 3: a webhook's delivery log is paged newest first by id; the index
	// also spares deleting a webhook a scan of every delivery.
	`
CREATE INDEX deliveries_webhook ON deliveries(webhook_id, id);
`,
}

func (s *Store) migrate(ctx context.Context, upTo int) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return err
	}
	if s.dialect == Postgres {
		// Replicas starting together: one migrates, the others wait.
		if _, err := s.db.ExecContext(ctx, `SELECT pg_advisory_lock(7355608)`); err != nil {
			return err
		}
		defer s.db.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7355608)`)
	}
	var have int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	if have > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this customs knows (%d): upgrade customs", have, len(migrations))
	}
	for v := have + 1; v <= upTo; v++ {
		ddl := migrations[v-1]
		id, blob := "INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB"
		if s.dialect == Postgres {
			id, blob = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "BYTEA"
		}
		noRowID := " WITHOUT ROWID"
		if s.dialect == Postgres {
			noRowID = ""
		}
		ddl = strings.NewReplacer("{ID}", id, "{BLOB}", blob, "{WITHOUT_ROWID}", noRowID).Replace(ddl)
		err := s.tx(ctx, func(tx *sql.Tx) error {
			for _, stmt := range strings.Split(ddl, ";") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("migration %d: %w", v, err)
				}
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)`), v, nowMS())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
