package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/policy"
	"github.com/customs-sec/customs/sbom"
	"github.com/customs-sec/customs/server"
	"github.com/customs-sec/customs/server/store"
	"github.com/customs-sec/customs/server/store/storetest"
)

// The crash test's shape. Every image holds crashShared (a package of the
// Debian base they all share); every advisory the test posts affects it.
const (
	crashShared     = "libcrashshared"
	crashEcosystem  = "Debian:12"
	crashCause      = "advisories added by admin"
	crashHookSecret = "crash-hook-secret-all-0123456789"
	crashVerdictKey = "crash-hook-secret-verdicts-0123456"
)

// TestCrashKill9DuringReevaluationAndDelivery runs `customs serve` as a
// subprocess, stores images from SBOMs, posts private advisories for the
// package they share and SIGKILLs the server in the middle of the
// re-evaluation (at a different point each round), and once more while
// webhook deliveries are pending (the receiver failing). After each kill the
// server restarts on the same data. When the queue has drained:
//
//   - every image carries each advisory's finding exactly once, with
//     exactly one verdict-history entry per advisory (none duplicated, none
//     missing) and the deny verdict;
//   - every expected event reached the receivers (valid HMAC) at least once,
//     and nothing else did;
//   - deliveries pending at the kill were delivered after the restart, and
//     the delivery log holds no pending or failed delivery.
//
// CUSTOMS_CRASH_ROUNDS sets how many advisories are killed mid-way per
// database (default 2 on SQLite, 1 on PostgreSQL).
func TestCrashKill9DuringReevaluationAndDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and waits out leases")
	}
	bin := buildCustoms(t)
	policyData := filepath.Join(t.TempDir(), "permissive.yaml")
	if err := os.WriteFile(policyData, []byte(permissivePolicyData), 0o644); err != nil {
		t.Fatal(err)
	}
	images := 150
	if v, err := strconv.Atoi(os.Getenv("CUSTOMS_CRASH_IMAGES")); err == nil && v > 0 {
		images = v
	}
	t.Run("sqlite", func(t *testing.T) {
		runCrashScenario(t, &crashEnv{bin: bin, policy: policyData, dataDir: t.TempDir()}, images, crashRounds(2))
	})
	t.Run("postgres", func(t *testing.T) {
		dbURL := storetest.Postgres(t)
		runCrashScenario(t, &crashEnv{bin: bin, policy: policyData, dataDir: t.TempDir(), dbURL: dbURL}, images, crashRounds(1))
	})
}

func crashRounds(def int) int {
	if v, err := strconv.Atoi(os.Getenv("CUSTOMS_CRASH_ROUNDS")); err == nil && v >= 0 {
		return v
	}
	return def
}

// buildCustoms builds cmd/customs into the test's temp dir.
func buildCustoms(t *testing.T) string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	bin := filepath.Join(t.TempDir(), "customs")
	start := time.Now()
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/customs")
	cmd.Dir = testimage.ModuleRoot(t)
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/customs: %v\n%s", err, out)
	}
	t.Logf("built customs in %s", time.Since(start).Round(time.Millisecond))
	return bin
}

// crashEnv is one server's data: a data dir (SQLite and the advisory
// database) and optionally a PostgreSQL URL.
type crashEnv struct {
	bin, policy, dataDir, dbURL string
	gen                         int
}

// serveProc is one `customs serve` process.
type serveProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	log  string
	done chan struct{}
}

func (e *crashEnv) start(t *testing.T) *serveProc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e.gen++
	args := []string{"serve", "--listen", addr, "--data-dir", e.dataDir, "--data", e.policy, "--workers", "2", "--job-lease", "3s", "--delivery-lease", "5s"}
	if e.dbURL != "" {
		args = append(args, "--database", e.dbURL)
	}
	p := &serveProc{t: t, url: "http://" + addr, log: filepath.Join(e.dataDir, fmt.Sprintf("serve-%d.log", e.gen)), done: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(e.bin, args...)
	p.cmd.Env = append(os.Environ(), "CUSTOMS_ADMIN_TOKEN="+replicaAdmin, "CUSTOMS_DATABASE=")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-p.done:
			t.Fatalf("customs serve exited at start:\n%s", p.tail())
		default:
		}
		if resp, err := http.Get(p.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("customs serve not ready after 90 s:\n%s", p.tail())
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *serveProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks for a graceful shutdown.
func (p *serveProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Errorf("customs serve did not stop within 30 s of SIGTERM")
		p.kill()
	}
}

func (p *serveProc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// hookReceiver is a webhook endpoint that checks signatures, can be told
// to answer slowly or to fail, and remembers every accepted event.
type hookReceiver struct {
	secret string
	delay  atomic.Int64 // nanoseconds per request
	fail   atomic.Bool  // answer 503

	mu       sync.Mutex
	bad      int                       // wrong signatures
	rejected int                       // answered 503
	okAt     map[string][]time.Time    // event id → accepted at
	events   map[string]map[string]any // event id → event
	accepted int
	last     time.Time // last request
}

func newHookReceiver(secret string) *hookReceiver {
	return &hookReceiver{secret: secret, okAt: map[string][]time.Time{}, events: map[string]map[string]any{}}
}

func (rc *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if d := time.Duration(rc.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	m := hmac.New(sha256.New, []byte(rc.secret))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.last = time.Now()
	if !hmac.Equal([]byte(r.Header.Get(server.SignatureHeader)), []byte(want)) {
		rc.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if rc.fail.Load() {
		rc.rejected++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil {
		rc.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id, _ := ev["id"].(string)
	rc.events[id] = ev
	rc.okAt[id] = append(rc.okAt[id], time.Now())
	rc.accepted++
}

func (rc *hookReceiver) lastRequest() time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.last
}

func (rc *hookReceiver) snapshot() (events map[string]map[string]any, okAt map[string][]time.Time, bad, rejected, accepted int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	events, okAt = map[string]map[string]any{}, map[string][]time.Time{}
	for k, v := range rc.events {
		events[k] = v
	}
	for k, v := range rc.okAt {
		okAt[k] = append([]time.Time(nil), v...)
	}
	return events, okAt, rc.bad, rc.rejected, rc.accepted
}

// eventKey names an event by what it says, independently of its id:
// "vulnerability.new <digest> <vuln>", "rebuild.recommended <digest>
// <fixes>", "image.verdict_changed <digest> <from>-><to>".
func eventKey(ev map[string]any) string {
	img, _ := ev["image"].(map[string]any)
	digest, _ := img["digest"].(string)
	kind, _ := ev["event"].(string)
	switch kind {
	case server.EventVulnerabilityNew:
		v, _ := ev["vulnerability"].(map[string]any)
		return fmt.Sprintf("%s %s %v/%v", kind, digest, v["id"], v["package"])
	case server.EventRebuildRecommended:
		var fixes []string
		bumps, _ := ev["bumps"].([]any)
		for _, b := range bumps {
			bm, _ := b.(map[string]any)
			fs, _ := bm["fixes"].([]any)
			for _, f := range fs {
				fixes = append(fixes, fmt.Sprintf("%v/%v->%v", f, bm["package"], bm["to"]))
			}
		}
		sort.Strings(fixes)
		return fmt.Sprintf("%s %s %s", kind, digest, strings.Join(fixes, ","))
	case server.EventVerdictChanged:
		return fmt.Sprintf("%s %s %v->%v", kind, digest, ev["from"], ev["to"])
	}
	return kind + " " + digest
}

// crashInventory is a synthetic image shaped like a real one: a Debian
// base of 120 packages every image shares (crashShared among them) and 30
// npm packages of its own.
func crashInventory(i int) *customs.Inventory {
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return "sha256:" + hex.EncodeToString(h[:]) }
	base, app := sum("crash base layer"), sum(fmt.Sprintf("crash app layer %d", i))
	inv := &customs.Inventory{
		Schema: customs.InventorySchema,
		Tool:   customs.Tool{Name: "customs", Version: "test"},
		Image: customs.Image{
			Ref: fmt.Sprintf("registry.example.com/crash/app%d:1", i), Source: "registry",
			ManifestDigest: sum(fmt.Sprintf("crash image %d", i)), ConfigDigest: sum(fmt.Sprintf("crash config %d", i)),
			OS: "linux", Architecture: "amd64",
			Layers: []customs.Layer{{Index: 0, DiffID: base}, {Index: 1, DiffID: app}},
			Config: &customs.Config{User: "app"},
		},
		Distro: &customs.Distro{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
	}
	for p := range 120 {
		name := fmt.Sprintf("libcrashbase%03d", p)
		if p == 60 {
			name = crashShared
		}
		inv.Packages = append(inv.Packages, customs.Package{Name: name, Version: "1.0-1", Type: customs.TypeDeb, Ecosystem: crashEcosystem,
			Source: name, SourceVersion: "1.0-1", Arch: "amd64", PURL: "pkg:deb/debian/" + name + "@1.0-1?arch=amd64&distro=debian-12",
			Layer: customs.LayerRef{Index: 0, DiffID: base}, Locations: []string{"/var/lib/dpkg/status"}})
	}
	for p := range 30 {
		name := fmt.Sprintf("crash-app%d-dep%d", i, p)
		inv.Packages = append(inv.Packages, customs.Package{Name: name, Version: "2.0.0", Type: customs.TypeNPM, Ecosystem: "npm",
			PURL: "pkg:npm/" + name + "@2.0.0", Layer: customs.LayerRef{Index: 1, DiffID: app},
			Locations: []string{"/app/node_modules/" + name + "/package.json"}})
	}
	return inv
}

// crashAdvisory is a critical advisory on crashShared, fixed in fixed.
func crashAdvisory(id, fixed string) map[string]any {
	return map[string]any{
		"schema_version": "1.6.0", "id": id, "modified": "2026-11-01T00:00:00Z", "published": "2026-11-01T00:00:00Z",
		"summary":  "crash test advisory on the shared base package",
		"severity": []map[string]string{{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		"affected": []map[string]any{{"package": map[string]string{"ecosystem": crashEcosystem, "name": crashShared},
			"ranges": []map[string]any{{"type": "ECOSYSTEM", "events": []map[string]string{{"introduced": "0"}, {"fixed": fixed}}}}}},
	}
}

// judgedCount is how many images the vulnerability view lists.
func judgedCount(t testing.TB, base, vuln string) int {
	var v struct {
		Images []store.VulnImage `json:"images"`
	}
	if c := apiCall(t, base, "GET", "/api/v1/vulnerabilities/"+vuln, nil, &v); c != 200 {
		t.Fatalf("vulnerability view of %s: %d", vuln, c)
	}
	ds := map[string]bool{}
	for _, i := range v.Images {
		ds[i.Digest] = true
	}
	return len(ds)
}

func waitJobDone(t testing.TB, base string, id int64, within time.Duration) store.Job {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var j store.Job
		apiCall(t, base, "GET", fmt.Sprintf("/api/v1/jobs/%d", id), nil, &j)
		if j.State == store.JobDone || j.State == store.JobFailed {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d still %s after %s", id, j.State, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// allDeliveries reads a webhook's whole delivery log from the store.
func allDeliveries(t testing.TB, e *crashEnv, hook int64) []store.Delivery {
	t.Helper()
	u := e.dbURL
	if u == "" {
		u = "sqlite:" + filepath.Join(e.dataDir, "customs.db")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ds, err := st.Deliveries(ctx, hook, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func deliveryEventID(d store.Delivery) string {
	var ev struct {
		ID string `json:"id"`
	}
	json.Unmarshal([]byte(d.Payload), &ev)
	return ev.ID
}

// crashKillPoint says when round r kills the server: once a share of the
// images shows the new advisory (0: the first image), or after a delay,
// whichever comes first. The first round waits for the first re-judged
// image (right after the first commit of the re-evaluation); later rounds
// aim further in, or cut it short by time.
func crashKillPoint(r int) (share float64, delay time.Duration) {
	switch r {
	case 0:
		return 0, 5 * time.Second
	case 1:
		return 0.6, 240 * time.Millisecond
	case 2:
		return 0.3, 60 * time.Millisecond
	}
	return float64(r%6) * 0.15, time.Duration(20*r) * time.Millisecond
}

func runCrashScenario(t *testing.T, e *crashEnv, nImages, rounds int) {
	began := time.Now()
	all, verdicts := newHookReceiver(crashHookSecret), newHookReceiver(crashVerdictKey)
	allSrv, verdictSrv := httptest.NewServer(all), httptest.NewServer(verdicts)
	defer allSrv.Close()
	defer verdictSrv.Close()
	for _, rc := range []*hookReceiver{all, verdicts} {
		rc.delay.Store(int64(10 * time.Millisecond)) // deliveries pile up behind a slow receiver
	}

	p := e.start(t)
	var hookAll, hookVerdicts store.Webhook
	if c := apiCall(t, p.url, "POST", "/api/v1/webhooks", map[string]any{"url": allSrv.URL + "/all", "secret": crashHookSecret}, &hookAll); c != 201 {
		t.Fatalf("webhook: %d", c)
	}
	if c := apiCall(t, p.url, "POST", "/api/v1/webhooks", map[string]any{"url": verdictSrv.URL + "/verdicts", "secret": crashVerdictKey,
		"events": []string{server.EventVerdictChanged}}, &hookVerdicts); c != 201 {
		t.Fatalf("webhook: %d", c)
	}

	// Store the images from CycloneDX SBOMs.
	digests := make([]string, nImages)
	for i := range nImages {
		inv := crashInventory(i)
		var buf bytes.Buffer
		if err := sbom.Encode(&buf, inv, sbom.FormatCycloneDX); err != nil {
			t.Fatal(err)
		}
		var row store.ImageRow
		if c := apiCall(t, p.url, "POST", "/api/v1/inventories?team=platform&ref="+inv.Image.Ref, buf.Bytes(), &row); c != 201 {
			t.Fatalf("SBOM %d: %d", i, c)
		}
		if row.Digest != inv.Image.ID() || row.Decision != policy.Allow {
			t.Fatalf("SBOM %d stored as %s, decision %s", i, row.Digest, row.Decision)
		}
		digests[i] = row.Digest
	}
	t.Logf("stored %d images from SBOMs in %s", nImages, time.Since(began).Round(time.Millisecond))

	// expected holds the event keys the receivers must get.
	expected := map[string]bool{}
	expectedVerdicts := map[string]bool{}
	var advisories []string
	kills := 0
	post := func(id, fixed string) int64 {
		t.Helper()
		var imp struct {
			Job int64 `json:"reevaluation_job"`
		}
		if c := apiCall(t, p.url, "POST", "/api/v1/advisories", crashAdvisory(id, fixed), &imp); c != 200 || imp.Job == 0 {
			t.Fatalf("advisory %s: %d %+v", id, c, imp)
		}
		advisories = append(advisories, id)
		for _, d := range digests {
			expected[fmt.Sprintf("%s %s %s/%s", server.EventVulnerabilityNew, d, id, crashShared)] = true
			expected[fmt.Sprintf("%s %s %s/%s->%s", server.EventRebuildRecommended, d, id, crashShared, fixed)] = true
			if len(advisories) == 1 {
				k := fmt.Sprintf("%s %s %s->%s", server.EventVerdictChanged, d, policy.Allow, policy.Deny)
				expected[k], expectedVerdicts[k] = true, true
			}
		}
		return imp.Job
	}

	// Rounds: kill -9 part-way through re-judging the images. Each round
	// kills at a different point: when a share of the images shows the new
	// finding, or after a delay, whichever comes first.
	for r := range rounds {
		target, delay := crashKillPoint(r)
		id := fmt.Sprintf("CUSTOMS-CRASH-%d", r+1)
		posted := time.Now()
		job := post(id, fmt.Sprintf("1.0-%d", r+2))
		want := max(1, int(target*float64(nImages)))
		seen, polls := 0, 0
		for time.Since(posted) < delay {
			polls++
			if seen = judgedCount(t, p.url, id); seen >= want {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		p.kill()
		killedAfter := time.Since(posted)
		kills++
		pendingAtKill := 0
		for _, d := range allDeliveries(t, e, hookAll.ID) {
			if d.State == store.DeliveryPending {
				pendingAtKill++
			}
		}
		p = e.start(t)
		// The dead process still holds the job's lease: nothing has moved.
		atKill := judgedCount(t, p.url, id)
		var before store.Job
		apiCall(t, p.url, "GET", fmt.Sprintf("/api/v1/jobs/%d", job), nil, &before)
		restarted := time.Now()
		j := waitJobDone(t, p.url, job, 2*time.Minute)
		t.Logf("round %d (%s): killed %s after posting (aimed at %d images or %s, %d polls), job %s, %d/%d images showing it, %d deliveries pending; job %s %s after the restart (attempts %d): %s",
			r+1, id, killedAfter.Round(time.Millisecond), want, delay, polls, before.State, atKill, nImages, pendingAtKill, j.State,
			time.Since(restarted).Round(time.Millisecond), j.Attempts, j.Result)
		if j.State != store.JobDone {
			t.Fatalf("re-evaluation job %d: %s: %s", job, j.State, j.Result)
		}
		switch before.State {
		case store.JobRunning:
			if j.Attempts != 2 {
				t.Errorf("re-evaluation job %d killed while running was leased %d times, want 2", job, j.Attempts)
			}
		case store.JobDone:
			t.Logf("round %d: the job had finished before the kill (timing only; the checks still hold)", r+1)
		default:
			t.Logf("round %d: the job had not started at the kill (timing only; the checks still hold)", r+1)
		}
	}

	// Kill -9 while deliveries are pending: the receivers fail, so every
	// delivery of a new advisory is retried with backoff.
	all.fail.Store(true)
	verdicts.fail.Store(true)
	all.delay.Store(0)
	verdicts.delay.Store(0)
	lastID := fmt.Sprintf("CUSTOMS-CRASH-%d", rounds+1)
	job := post(lastID, fmt.Sprintf("1.0-%d", rounds+2))
	if j := waitJobDone(t, p.url, job, 2*time.Minute); j.State != store.JobDone {
		t.Fatalf("re-evaluation job %d: %s: %s", job, j.State, j.Result)
	}
	// Wait until deliveries have been tried and failed, and kill while
	// the dispatcher waits out their backoff (none claimed), so they are
	// all pending and due soon after the restart.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, _, _, rejected, _ := all.snapshot()
		if rejected >= 20 && time.Since(all.lastRequest()) > 300*time.Millisecond && time.Since(verdicts.lastRequest()) > 300*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Logf("the dispatcher never paused in 30 s (%d attempts failed): killing anyway", rejected)
			break
		}
	}
	p.kill()
	kills++
	pending := map[int64]string{} // delivery id → event id, pending at the kill
	retried := 0
	for _, d := range allDeliveries(t, e, hookAll.ID) {
		if d.State == store.DeliveryPending {
			pending[d.ID] = deliveryEventID(d)
			if d.Attempts > 0 {
				retried++
			}
		}
	}
	if len(pending) == 0 {
		t.Fatal("no delivery was pending at the kill; the test did not test resumption")
	}
	all.fail.Store(false)
	verdicts.fail.Store(false)
	restartedAt := time.Now()
	p = e.start(t)
	t.Logf("delivery kill: %d deliveries pending (%d of them already tried and failed)", len(pending), retried)

	// Drain: every delivery of both hooks delivered.
	drainStart := time.Now()
	for deadline := time.Now().Add(4 * time.Minute); ; time.Sleep(250 * time.Millisecond) {
		left := 0
		for _, h := range []int64{hookAll.ID, hookVerdicts.ID} {
			for _, d := range allDeliveries(t, e, h) {
				if d.State != store.DeliveryDelivered {
					left++
				}
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still not delivered after 4 minutes:\n%s", left, p.tail())
		}
	}
	t.Logf("deliveries drained %s after the last restart", time.Since(drainStart).Round(time.Millisecond))

	// Images: each advisory's finding once, one history entry per
	// advisory, denied; every image in each advisory's vulnerability view.
	for _, d := range digests {
		var img store.ImageDetail
		if c := apiCall(t, p.url, "GET", "/api/v1/images/"+d, nil, &img); c != 200 {
			t.Errorf("image %s: %d", d, c)
			continue
		}
		if img.Decision != policy.Deny {
			t.Errorf("image %s: decision %s, want deny", d, img.Decision)
		}
		if len(img.History) != 1+len(advisories) {
			t.Errorf("image %s: %d history entries, want %d (the SBOM and one per advisory): %+v", d, len(img.History), 1+len(advisories), img.History)
		}
		for _, a := range advisories {
			key := a + " " + crashShared
			entries, findings := 0, 0
			for _, h := range img.History {
				for _, x := range h.Added {
					if x == key {
						entries++
						if h.Cause != crashCause || h.Decision != policy.Deny {
							t.Errorf("image %s: history entry for %s has cause %q decision %s", d, a, h.Cause, h.Decision)
						}
					}
				}
			}
			for _, f := range img.Scan.Findings {
				if f.ID == a {
					findings++
				}
			}
			if entries != 1 || findings != 1 {
				t.Errorf("image %s: advisory %s recorded in %d history entries and %d findings, want exactly 1 each", d, a, entries, findings)
			}
		}
	}
	for _, a := range advisories {
		if n := judgedCount(t, p.url, a); n != nImages {
			t.Errorf("%s: the vulnerability view lists %d images, want %d", a, n, nImages)
		}
	}

	// Webhooks: every expected event accepted at least once with a valid
	// signature, and nothing unexpected.
	checkReceiver := func(name string, rc *hookReceiver, want map[string]bool, hook int64) {
		events, okAt, bad, rejected, accepted := rc.snapshot()
		if bad > 0 {
			t.Errorf("%s: %d deliveries had a bad signature or body", name, bad)
		}
		got := map[string]int{}
		for _, ev := range events {
			got[eventKey(ev)]++
		}
		missing := 0
		for k := range want {
			if got[k] == 0 {
				missing++
				if missing <= 5 {
					t.Errorf("%s: never received %s", name, k)
				}
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d expected events never received", name, missing, len(want))
		}
		for k, n := range got {
			if !want[k] {
				t.Errorf("%s: unexpected event %s", name, k)
			}
			if n > 1 {
				t.Errorf("%s: %d distinct event ids for %s (ids must be stable)", name, n, k)
			}
		}
		// The log: every row delivered, every row's event received.
		log := allDeliveries(t, e, hook)
		rowsPerEvent := map[string]int{}
		for _, d := range log {
			id := deliveryEventID(d)
			rowsPerEvent[id]++
			if d.State != store.DeliveryDelivered {
				t.Errorf("%s: delivery %d is %s (%s)", name, d.ID, d.State, d.LastError)
			}
			if len(okAt[id]) == 0 {
				t.Errorf("%s: delivery %d is %s but its event %s never arrived", name, d.ID, d.State, id)
			}
		}
		dupRows, redelivered := 0, 0
		for _, n := range rowsPerEvent {
			dupRows += n - 1
		}
		for _, ts := range okAt {
			redelivered += len(ts) - 1
		}
		if len(rowsPerEvent) != len(want) {
			t.Errorf("%s: the delivery log holds %d distinct events, want %d", name, len(rowsPerEvent), len(want))
		}
		// A crash between announcing and storing a judgement re-announces
		// that one image on resume: at most 3 events per kill.
		if dupRows > 3*kills {
			t.Errorf("%s: %d duplicate delivery rows after %d kills (re-announced more than the image in progress)", name, dupRows, kills)
		}
		t.Logf("%s: %d deliveries logged for %d events (%d duplicate rows); %d accepted (%d redelivered), %d rejected while failing",
			name, len(log), len(rowsPerEvent), dupRows, accepted, redelivered, rejected)
	}
	checkReceiver("all-events hook", all, expected, hookAll.ID)
	checkReceiver("verdict hook", verdicts, expectedVerdicts, hookVerdicts.ID)

	// Pending at the kill, delivered after the restart.
	_, okAt, _, _, _ := all.snapshot()
	for did, ev := range pending {
		after := false
		for _, at := range okAt[ev] {
			after = after || at.After(restartedAt)
		}
		if !after {
			t.Errorf("delivery %d (event %s) was pending at the kill but not delivered after the restart", did, ev)
		}
	}

	// The delivery log through the API, page by page.
	for _, h := range []int64{hookVerdicts.ID, hookAll.ID} {
		var out struct{ Deliveries []store.Delivery }
		for before := int64(0); ; {
			var page struct {
				Deliveries []store.Delivery
				NextBefore int64 `json:"next_before"`
			}
			if c := apiCall(t, p.url, "GET", fmt.Sprintf("/api/v1/webhooks/%d/deliveries?limit=1000&before=%d", h, before), nil, &page); c != 200 {
				t.Fatalf("deliveries of hook %d: %d", h, c)
			}
			out.Deliveries = append(out.Deliveries, page.Deliveries...)
			if before = page.NextBefore; before == 0 {
				break
			}
		}
		if log := allDeliveries(t, e, h); len(out.Deliveries) != len(log) {
			t.Errorf("API: hook %d's log shows %d deliveries, the store holds %d", h, len(out.Deliveries), len(log))
		}
		for _, d := range out.Deliveries {
			if d.State != store.DeliveryDelivered {
				t.Errorf("API: hook %d delivery %d is %s (%s)", h, d.ID, d.State, d.LastError)
			}
		}
		if h == hookVerdicts.ID {
			ids := map[string]bool{}
			for _, d := range out.Deliveries {
				ids[deliveryEventID(d)] = true
			}
			if len(ids) != len(expectedVerdicts) {
				t.Errorf("API: the verdict hook's log shows %d distinct events, want %d", len(ids), len(expectedVerdicts))
			}
		}
	}
	p.stop()
	t.Logf("scenario took %s", time.Since(began).Round(time.Millisecond))
}
