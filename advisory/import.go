package advisory

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/customs-sec/customs"
)

// ImportOptions configure Import.
type ImportOptions struct {
	// Source names where the records came from (shown by `db status`).
	Source string
	// Progress is told how many records have been read.
	Progress func(records int)
}

const (
	maxZipEntries = 4 << 20
	maxZipBytes   = 64 << 30
)

// Import reads OSV records from files, directories and OSV all.zip
// archives, Debian security-tracker files (vuln-list-debian JSON) and Debian
// security-support lists, in one transaction: either everything is imported
// or nothing is. A single malformed record is skipped and named in the
// delta; an unreadable file or archive fails the import.
func (db *DB) Import(ctx context.Context, paths []string, opts ImportOptions) (*Delta, error) {
	if opts.Source == "" {
		opts.Source = "import"
	}
	t, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	im := &importer{t: t, opts: opts}
	for _, p := range paths {
		if err := im.path(ctx, p); err != nil {
			t.rollback()
			return nil, err
		}
	}
	if err := t.touchSource(ctx, Source{Name: opts.Source}); err != nil {
		t.rollback()
		return nil, err
	}
	return t.commit()
}

type importer struct {
	t     *txn
	opts  ImportOptions
	count int
}

func (im *importer) progress() {
	im.count++
	if im.opts.Progress != nil && im.count%1000 == 0 {
		im.opts.Progress(im.count)
	}
}

func (im *importer) path(ctx context.Context, p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !d.Type().IsRegular() {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			name := d.Name()
			if strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".zip") || strings.HasPrefix(name, "security-support-") {
				return im.file(ctx, fp)
			}
			return nil
		})
	}
	return im.file(ctx, p)
}

func (im *importer) file(ctx context.Context, p string) error {
	base := filepath.Base(p)
	switch {
	case strings.HasSuffix(base, ".zip"):
		return im.zip(ctx, p)
	case strings.HasPrefix(base, "security-support-"):
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return im.support(ctx, base, f)
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxRecordBytes+1))
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return im.json(ctx, p, b)
}

func (im *importer) zip(ctx context.Context, p string) error {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return fmt.Errorf("%s: not a readable zip archive: %w", p, err)
	}
	defer zr.Close()
	if len(zr.File) > maxZipEntries {
		return fmt.Errorf("%s: %d entries, over the limit of %d", p, len(zr.File), maxZipEntries)
	}
	var total uint64
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.FileInfo().IsDir() || !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		where := p + ":" + f.Name
		if f.UncompressedSize64 > MaxRecordBytes {
			im.t.delta.Skipped = append(im.t.delta.Skipped, fmt.Sprintf("%s: %d bytes, over the %d-byte record limit", where, f.UncompressedSize64, MaxRecordBytes))
			continue
		}
		if total += f.UncompressedSize64; total > maxZipBytes {
			return fmt.Errorf("%s: expands past %d bytes", p, int64(maxZipBytes))
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, MaxRecordBytes+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: corrupt archive entry: %w", where, err)
		}
		if err := im.json(ctx, where, b); err != nil {
			return err
		}
	}
	return nil
}

// json imports one JSON document: an OSV record or a tracker file.
func (im *importer) json(ctx context.Context, where string, b []byte) error {
	if len(b) > MaxRecordBytes {
		im.t.delta.Skipped = append(im.t.delta.Skipped, fmt.Sprintf("%s: over the %d-byte record limit", where, MaxRecordBytes))
		return nil
	}
	var probe struct {
		ID          string          `json:"id"`
		Header      json.RawMessage `json:"Header"`
		Annotations json.RawMessage `json:"Annotations"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		im.t.delta.Skipped = append(im.t.delta.Skipped, fmt.Sprintf("%s: not JSON: %v", where, err))
		return nil
	}
	if probe.ID == "" && probe.Header != nil && probe.Annotations != nil {
		return im.tracker(ctx, where, b)
	}
	r, err := ParseRecord(b)
	if err != nil {
		im.t.delta.Skipped = append(im.t.delta.Skipped, fmt.Sprintf("%s: %v", where, err))
		return nil
	}
	im.progress()
	return im.t.putRecord(ctx, b, r, im.opts.Source)
}

// trackerFile is a Debian security-tracker entry as aquasecurity's
// vuln-list-debian stores it (data/CVE/list and data/DSA/list, parsed).
type trackerFile struct {
	Header struct {
		ID string `json:"ID"`
	} `json:"Header"`
	Annotations []struct {
		Type        string   `json:"Type"`
		Release     string   `json:"Release"`
		Package     string   `json:"Package"`
		Kind        string   `json:"Kind"`
		Version     string   `json:"Version"`
		Description string   `json:"Description"`
		Bugs        []string `json:"Bugs"`
	} `json:"Annotations"`
}

// trackerStatus maps the tracker's per-release kinds to finding statuses,
// as Grype presents them: no-dsa (a minor issue that gets no advisory) and
// ignored are not going to be fixed in that release; postponed waits for a
// later update.
var trackerStatus = map[string]string{
	"no-dsa":       "will-not-fix",
	"ignored":      "will-not-fix",
	"postponed":    "fix-deferred",
	"end-of-life":  "end-of-life",
	"not-affected": "not-affected",
}

func (im *importer) tracker(ctx context.Context, where string, b []byte) error {
	var tf trackerFile
	if err := json.Unmarshal(b, &tf); err != nil {
		im.t.delta.Skipped = append(im.t.delta.Skipped, fmt.Sprintf("%s: tracker file: %v", where, err))
		return nil
	}
	id := tf.Header.ID
	if id == "" || len(id) > maxIDLen {
		im.t.delta.Skipped = append(im.t.delta.Skipped, fmt.Sprintf("%s: tracker file without an ID", where))
		return nil
	}
	for _, a := range tf.Annotations {
		switch {
		case a.Type == "xref" && (strings.HasPrefix(id, "DSA-") || strings.HasPrefix(id, "DLA-")):
			// A DSA names the CVEs it fixes: the same vulnerabilities.
			for _, cve := range a.Bugs {
				if _, err := im.t.putAls.ExecContext(ctx, id, cve); err != nil {
					return err
				}
			}
		case a.Type == "package" && a.Package != "":
			status, ok := trackerStatus[a.Kind]
			if !ok {
				continue
			}
			eco := "Debian"
			if a.Release != "" {
				rel := customs.DebianRelease(&customs.Distro{ID: "debian", Codename: a.Release})
				if rel == "" {
					continue
				}
				eco = "Debian:" + rel
			} else if a.Kind != "not-affected" {
				continue // an unstable-only status says nothing about releases
			}
			name := strings.ToLower(a.Package)
			if _, err := im.t.tx.ExecContext(ctx, `INSERT OR REPLACE INTO distro_status(ecosystem, name, vuln, status, note, source) VALUES (?,?,?,?,?,?)`,
				eco, name, id, status, a.Description, "debian-tracker: "+a.Kind); err != nil {
				return err
			}
			im.t.delta.Statuses++
			im.t.touched[PackageKey{Ecosystem: eco, Name: name}] = true
		}
	}
	return nil
}

// support reads debian-security-support's security-support-ended.debNN and
// security-support-limited files (whitespace-separated columns).
func (im *importer) support(ctx context.Context, base string, r io.Reader) error {
	kind, eco := "", "Debian"
	switch {
	case strings.HasPrefix(base, "security-support-ended"):
		kind = "ended"
	case strings.HasPrefix(base, "security-support-limited"):
		kind = "limited"
	default:
		return nil
	}
	if ext := path.Ext(base); strings.HasPrefix(ext, ".deb") {
		eco = "Debian:" + strings.TrimPrefix(ext, ".deb")
	}
	if _, err := im.t.tx.ExecContext(ctx, `DELETE FROM support WHERE ecosystem = ? AND kind = ?`, eco, kind); err != nil {
		return err
	}
	sc := bufio.NewScanner(io.LimitReader(r, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		s := Support{Pattern: f[0], Kind: kind}
		if kind == "ended" {
			if len(f) < 3 {
				continue
			}
			s.LastVersion, s.Date, s.Note = f[1], f[2], strings.Join(f[3:], " ")
		} else {
			s.Note = strings.Join(f[1:], " ")
		}
		if _, err := im.t.tx.ExecContext(ctx, `INSERT OR REPLACE INTO support(ecosystem, pattern, kind, last_version, date, note) VALUES (?,?,?,?,?,?)`,
			eco, s.Pattern, kind, s.LastVersion, s.Date, s.Note); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", base, err)
	}
	return nil
}

// ImportReader imports OSV records from a stream of JSON: one record, or an
// array of records (the server's POST /advisories body).
func (db *DB) ImportReader(ctx context.Context, r io.Reader, opts ImportOptions) (*Delta, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<20+1))
	if err != nil {
		return nil, err
	}
	docs, err := splitPayload(b)
	if err != nil {
		return nil, err
	}
	if opts.Source == "" {
		opts.Source = "api"
	}
	t, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	for i, d := range docs {
		r, err := ParseRecord(d)
		if err != nil {
			t.rollback()
			return nil, fmt.Errorf("advisory %d: %w", i, err)
		}
		if err := t.putRecord(ctx, d, r, opts.Source); err != nil {
			t.rollback()
			return nil, err
		}
	}
	if err := t.touchSource(ctx, Source{Name: opts.Source}); err != nil {
		t.rollback()
		return nil, err
	}
	return t.commit()
}

// splitPayload splits a posted payload (one OSV record or an array) into
// records.
func splitPayload(b []byte) ([]json.RawMessage, error) {
	if len(b) > 64<<20 {
		return nil, errors.New("advisory payload over 64 MiB")
	}
	var docs []json.RawMessage
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &docs); err != nil {
			return nil, fmt.Errorf("advisory array: %w", err)
		}
	} else {
		docs = []json.RawMessage{b}
	}
	return docs, nil
}

// PackagesOf parses a payload ImportReader takes and returns the packages
// its records name, or the first record's error.
func PackagesOf(b []byte) ([]PackageKey, error) {
	docs, err := splitPayload(b)
	if err != nil {
		return nil, err
	}
	seen := map[PackageKey]bool{}
	var out []PackageKey
	for i, d := range docs {
		r, err := ParseRecord(d)
		if err != nil {
			return nil, fmt.Errorf("advisory %d: %w", i, err)
		}
		for _, a := range r.Affected {
			k := Key(a.Package.Ecosystem, a.Package.Name)
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out, nil
}

// TrackerStatus maps a Debian tracker kind to a finding status.
func TrackerStatus(kind string) (string, bool) {
	s, ok := trackerStatus[kind]
	return s, ok
}
