package advisory

import (
	"archive/zip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultBaseURL is OSV's public export: one all.zip per ecosystem.
const DefaultBaseURL = "https://osv-vulnerabilities.storage.googleapis.com"

// DefaultEcosystems are the OSV ecosystems customs' catalogers produce.
var DefaultEcosystems = []string{
	"Debian", "Ubuntu", "Alpine", "Rocky Linux", "AlmaLinux", "Red Hat", "SUSE", "openSUSE", "Wolfi", "Chainguard",
	"Go", "npm", "PyPI", "Maven", "RubyGems", "crates.io", "Packagist", "NuGet",
}

// UpdateOptions configure Update.
type UpdateOptions struct {
	BaseURL    string
	Ecosystems []string
	Client     *http.Client
	// MaxArchiveBytes bounds one download.
	MaxArchiveBytes int64
	// Progress is told how far each download has come.
	Progress func(ecosystem string, read, total int64)
}

// Update downloads the per-ecosystem archives that changed since the last
// update (ETag / If-Modified-Since) and applies each in its own transaction:
// new and changed records are stored, records that left the archive are
// removed. The returned delta says what changed. A failed download or a
// corrupt archive changes nothing for that ecosystem.
func (db *DB) Update(ctx context.Context, opts UpdateOptions) (*Delta, error) {
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	if len(opts.Ecosystems) == 0 {
		opts.Ecosystems = DefaultEcosystems
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Minute}
	}
	if opts.MaxArchiveBytes == 0 {
		opts.MaxArchiveBytes = 8 << 30
	}
	total := &Delta{}
	var errs []error
	for _, eco := range opts.Ecosystems {
		d, err := db.updateEcosystem(ctx, eco, opts)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("%s: %w", eco, err))
			continue
		}
		total.merge(d)
	}
	return total, errors.Join(errs...)
}

func (d *Delta) merge(o *Delta) {
	d.Added = append(d.Added, o.Added...)
	d.Modified = append(d.Modified, o.Modified...)
	d.Withdrawn = append(d.Withdrawn, o.Withdrawn...)
	d.Packages = append(d.Packages, o.Packages...)
	d.Unchanged += o.Unchanged
	d.Skipped = append(d.Skipped, o.Skipped...)
	d.Statuses += o.Statuses
}

func (db *DB) updateEcosystem(ctx context.Context, eco string, opts UpdateOptions) (*Delta, error) {
	source := "osv:" + eco
	var prev Source
	err := db.sql.QueryRowContext(ctx, `SELECT etag, last_modified FROM sources WHERE name = ?`, source).Scan(&prev.ETag, &prev.LastModified)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	u := strings.TrimSuffix(opts.BaseURL, "/") + "/" + url.PathEscape(eco) + "/all.zip"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	if prev.LastModified != "" {
		req.Header.Set("If-Modified-Since", prev.LastModified)
	}
	req.Header.Set("User-Agent", "customs")
	resp, err := opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return &Delta{}, nil
	case http.StatusOK:
	default:
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	// Download whole before touching the database.
	tmp, err := os.CreateTemp(filepath.Dir(db.path), ".osv-"+strings.ReplaceAll(eco, " ", "_")+"-*.zip")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	var r io.Reader = io.LimitReader(resp.Body, opts.MaxArchiveBytes+1)
	if opts.Progress != nil {
		r = &progressReader{r: r, fn: func(n int64) { opts.Progress(eco, n, resp.ContentLength) }}
	}
	n, err := io.Copy(tmp, r)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", u, err)
	}
	if n > opts.MaxArchiveBytes {
		return nil, fmt.Errorf("%s is over %d bytes", u, opts.MaxArchiveBytes)
	}
	if resp.ContentLength > 0 && n != resp.ContentLength {
		return nil, fmt.Errorf("%s: got %d of %d bytes", u, n, resp.ContentLength)
	}
	if _, err := zip.OpenReader(tmp.Name()); err != nil {
		return nil, fmt.Errorf("%s: not a readable zip archive: %w", u, err)
	}
	t, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	im := &importer{t: t, opts: ImportOptions{Source: source}}
	if err := im.zip(ctx, tmp.Name()); err != nil {
		t.rollback()
		return nil, err
	}
	// Records this source held that the new archive no longer has are gone.
	rows, err := t.tx.QueryContext(ctx, `SELECT id FROM records WHERE source = ?`, source)
	if err != nil {
		t.rollback()
		return nil, err
	}
	var gone []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			t.rollback()
			return nil, err
		}
		if !t.seen[id] {
			gone = append(gone, id)
		}
	}
	rows.Close()
	for _, id := range gone {
		if err := t.removeRecord(ctx, id); err != nil {
			t.rollback()
			return nil, err
		}
	}
	if err := t.touchSource(ctx, Source{Name: source, URL: u, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}); err != nil {
		t.rollback()
		return nil, err
	}
	return t.commit()
}

type progressReader struct {
	r    io.Reader
	n    int64
	last int64
	fn   func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n-p.last > 1<<20 || err != nil {
		p.last = p.n
		p.fn(p.n)
	}
	return n, err
}
