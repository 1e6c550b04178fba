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
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/policy"
	"github.com/customs-sec/customs/server"
	"github.com/customs-sec/customs/server/store"
	"github.com/customs-sec/customs/server/store/storetest"
)

const adminSecret = "cst_test_admin_secret_0123456789abcdef"

type harness struct {
	t          *testing.T
	url        string
	layerReads atomic.Int64
}

// start runs a server replica on dbURL with a permissive policy (only
// vulnerabilities judge), a fresh advisory database and its workers.
func start(t *testing.T, dbURL string) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db, err := advisory.Open(ctx, filepath.Join(t.TempDir(), "adv.db"), advisory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "permissive.yaml")
	os.WriteFile(data, []byte("customs:\n  settings:\n    signature: {enabled: false}\n    root_user: {enabled: false}\n    secrets: {enabled: false}\n    misconfigurations: {enabled: false}\n"), 0o644)
	eng, err := policy.New(ctx, policy.Options{DataFiles: []string{data}})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t}
	srv, err := server.New(server.Config{Store: st, DB: db, Policy: eng, Workers: 2, PollInterval: 20 * time.Millisecond,
		OnLayerRead: func(int, string) { h.layerReads.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	srv.AllowInsecureRegistries()
	if _, err := srv.Bootstrap(ctx, adminSecret); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	wg := srv.Start(ctx)
	t.Cleanup(func() { hs.Close(); cancel(); wg.Wait(); db.Close(); st.Close() })
	h.url = hs.URL
	return h
}

func (h *harness) do(method, path, token string, body any, out any) int {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, h.url+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (h *harness) waitJob(id int64) store.Job {
	h.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		var j store.Job
		h.do("GET", fmt.Sprintf("/api/v1/jobs/%d", id), adminSecret, nil, &j)
		if j.State == store.JobDone || j.State == store.JobFailed {
			if j.State == store.JobFailed {
				h.t.Fatalf("job %d failed: %s", id, j.Result)
			}
			return j
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("job %d did not finish", id)
	return store.Job{}
}

// receiver is a webhook endpoint that checks signatures independently.
type receiver struct {
	mu     sync.Mutex
	secret string
	events []map[string]any
	bad    int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m := hmac.New(sha256.New, []byte(rc.secret))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !hmac.Equal([]byte(r.Header.Get("X-Customs-Signature")), []byte(want)) {
		rc.bad++
		w.WriteHeader(400)
		return
	}
	var ev map[string]any
	json.Unmarshal(body, &ev)
	rc.events = append(rc.events, ev)
}

func (rc *receiver) find(event, digest string) []map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []map[string]any
	for _, e := range rc.events {
		img, _ := e["image"].(map[string]any)
		if e["event"] == event && img["digest"] == digest {
			out = append(out, e)
		}
	}
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestAdvisoryChangeRejudgesStoredImagesWithoutRescanning is the server's
// end-to-end story: two images stored, an advisory added for a package they
// share, both re-judged from their stored inventories, owners told by
// signed webhooks, grouped by their shared base; the advisory withdrawn,
// verdicts return.
func TestAdvisoryChangeRejudgesStoredImagesWithoutRescanning(t *testing.T) {
	layout := testimage.Layout(t)
	reg := testimage.Registry(t)
	testimage.Push(t, testimage.LayoutImage(t, layout, "debian-base"), reg+"/corpus/base:1")
	testimage.Push(t, testimage.LayoutImage(t, layout, "debian-app"), reg+"/corpus/app:1")

	storetest.Each(t, func(t *testing.T, dbURL string) {
		h := start(t, dbURL)
		rc := &receiver{secret: "webhook-secret-0123456789"}
		hook := httptest.NewServer(rc)
		defer hook.Close()
		if c := h.do("POST", "/api/v1/webhooks", adminSecret, map[string]any{"url": hook.URL, "secret": rc.secret}, nil); c != 201 {
			t.Fatalf("webhook: %d", c)
		}
		digests := map[string]string{}
		for name, ref := range map[string]string{"base": reg + "/corpus/base:1", "app": reg + "/corpus/app:1"} {
			var resp struct{ Job int64 }
			if c := h.do("POST", "/api/v1/images", adminSecret, map[string]string{"ref": ref, "team": "platform"}, &resp); c != 202 {
				t.Fatalf("submit %s: %d", name, c)
			}
			digests[name] = h.waitJob(resp.Job).Result
		}
		var base store.ImageDetail
		h.do("GET", "/api/v1/images/"+digests["base"]+"?inventory=true", adminSecret, nil, &base)
		if base.Decision != policy.Allow || base.Inventory == nil || len(base.Inventory.Packages) < 50 {
			t.Fatalf("debian-base stored: decision %s, inventory %v", base.Decision, base.Inventory != nil)
		}
		// A package both images hold, by the name advisories file it under.
		var pkg customs.Package
		for _, p := range base.Inventory.Packages {
			if p.Type == "deb" && p.Name == "zlib1g" || pkg.Name == "" && p.Type == "deb" {
				pkg = p
			}
		}
		eco := customs.OSEcosystem(base.Inventory.Distro)
		src := pkg.Source
		if src == "" {
			src = pkg.Name
		}
		readsBefore := h.layerReads.Load()
		if readsBefore == 0 {
			t.Fatal("no layer was read when the images were scanned")
		}
		rec := map[string]any{
			"schema_version": "1.6.0", "id": "CUSTOMS-TEST-0001", "modified": "2026-11-01T00:00:00Z", "published": "2026-11-01T00:00:00Z",
			"summary":  "test advisory for a shared package",
			"severity": []map[string]string{{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
			"affected": []map[string]any{{"package": map[string]string{"ecosystem": eco, "name": src},
				"ranges": []map[string]any{{"type": "ECOSYSTEM", "events": []map[string]string{{"introduced": "0"}, {"fixed": "99:0"}}}}}},
		}
		var imp struct {
			Delta advisory.Delta `json:"delta"`
			Job   int64          `json:"reevaluation_job"`
		}
		if c := h.do("POST", "/api/v1/advisories", adminSecret, rec, &imp); c != 200 || imp.Job == 0 {
			t.Fatalf("advisory import: %d %+v", c, imp)
		}
		h.waitJob(imp.Job)
		for name, d := range digests {
			var img store.ImageDetail
			h.do("GET", "/api/v1/images/"+d, adminSecret, nil, &img)
			if img.Decision != policy.Deny {
				t.Errorf("%s: decision %s after a critical fixable advisory, want deny", name, img.Decision)
			}
			if n := len(img.History); n < 2 || !strings.Contains(strings.Join(img.History[n-1].Added, ","), "CUSTOMS-TEST-0001") {
				t.Errorf("%s: history does not record the new finding: %+v", name, img.History)
			}
			eventually(t, name+" vulnerability.new", func() bool { return len(rc.find("vulnerability.new", d)) > 0 })
			eventually(t, name+" verdict_changed", func() bool { return len(rc.find("image.verdict_changed", d)) > 0 })
			rb := rc.find("rebuild.recommended", d)
			eventually(t, name+" rebuild.recommended", func() bool { rb = rc.find("rebuild.recommended", d); return len(rb) > 0 })
			if !strings.Contains(fmt.Sprint(rb[0]["bumps"]), "99:0") {
				t.Errorf("%s: rebuild.recommended does not name the fix: %v", name, rb[0]["bumps"])
			}
		}
		if got := h.layerReads.Load(); got != readsBefore {
			t.Fatalf("re-judging read %d layers; stored images must never be read again", got-readsBefore)
		}
		if rc.bad > 0 {
			t.Fatalf("%d deliveries had a wrong signature", rc.bad)
		}
		var vuln struct {
			Images []store.VulnImage `json:"images"`
		}
		h.do("GET", "/api/v1/vulnerabilities/CUSTOMS-TEST-0001", adminSecret, nil, &vuln)
		if len(vuln.Images) < 2 {
			t.Errorf("vulnerability view: %+v", vuln)
		}
		var sum store.Summary
		h.do("GET", "/api/v1/summary", adminSecret, nil, &sum)
		grouped := false
		for _, g := range sum.ByBaseImage {
			if g.Images == 2 && strings.Contains(strings.Join(g.Digests, " "), digests["base"]) && strings.Contains(strings.Join(g.Digests, " "), digests["app"]) {
				grouped = true
			}
		}
		if !grouped {
			t.Errorf("summary does not group the two images by their shared base: %+v", sum.ByBaseImage)
		}

		// Withdrawn: verdicts return.
		rec["withdrawn"], rec["modified"] = "2026-11-02T00:00:00Z", "2026-11-02T00:00:00Z"
		if c := h.do("POST", "/api/v1/advisories", adminSecret, rec, &imp); c != 200 || imp.Job == 0 {
			t.Fatalf("withdrawal: %d %+v", c, imp)
		}
		h.waitJob(imp.Job)
		for name, d := range digests {
			var img store.ImageDetail
			h.do("GET", "/api/v1/images/"+d, adminSecret, nil, &img)
			if img.Decision != policy.Allow {
				t.Errorf("%s: decision %s after the withdrawal, want allow again", name, img.Decision)
			}
		}
		if got := h.layerReads.Load(); got != readsBefore {
			t.Fatalf("the withdrawal read %d layers", got-readsBefore)
		}
	})
}

// TestEveryEndpointChecksTokenRoleAndTeam: no token, a wrong role, a wrong
// team are refused everywhere.
func TestEveryEndpointChecksTokenRoleAndTeam(t *testing.T) {
	h := start(t, storetest.SQLite(t))
	mk := func(role string, teams ...string) string {
		var out struct{ Secret string }
		if c := h.do("POST", "/api/v1/tokens", adminSecret, map[string]any{"name": role, "role": role, "teams": teams}, &out); c != 201 {
			t.Fatalf("token: %d", c)
		}
		return out.Secret
	}
	viewer, dev := mk(store.RoleViewer, "web"), mk(store.RoleDeveloper, "web")
	endpoints := []struct {
		method, path, role string
		body               any
	}{
		{"POST", "/api/v1/images", store.RoleDeveloper, map[string]string{"ref": "registry.example.com/a:1", "team": "web"}},
		{"GET", "/api/v1/images", store.RoleViewer, nil},
		{"GET", "/api/v1/images/sha256:x", store.RoleViewer, nil},
		{"POST", "/api/v1/inventories?team=web", store.RoleDeveloper, []byte("{}")},
		{"GET", "/api/v1/summary", store.RoleViewer, nil},
		{"GET", "/api/v1/vulnerabilities/CVE-1", store.RoleViewer, nil},
		{"GET", "/api/v1/jobs/1", store.RoleViewer, nil},
		{"POST", "/api/v1/advisories", store.RoleSecurityAdmin, []byte("[]")},
		{"POST", "/api/v1/webhooks", store.RoleSecurityAdmin, map[string]string{"url": "http://127.0.0.1:1/", "secret": "0123456789abcdef"}},
		{"GET", "/api/v1/webhooks", store.RoleSecurityAdmin, nil},
		{"DELETE", "/api/v1/webhooks/1", store.RoleSecurityAdmin, nil},
		{"GET", "/api/v1/webhooks/1/deliveries", store.RoleSecurityAdmin, nil},
		{"POST", "/api/v1/tokens", store.RoleSecurityAdmin, map[string]any{"name": "x", "role": "viewer", "teams": []string{"web"}}},
		{"GET", "/api/v1/tokens", store.RoleSecurityAdmin, nil},
		{"DELETE", "/api/v1/tokens/999", store.RoleSecurityAdmin, nil},
		{"GET", "/api/v1/audit", store.RoleSecurityAdmin, nil},
	}
	for _, e := range endpoints {
		if c := h.do(e.method, e.path, "", e.body, nil); c != 401 {
			t.Errorf("%s %s without a token: %d, want 401", e.method, e.path, c)
		}
		if c := h.do(e.method, e.path, "cst_not_a_token", e.body, nil); c != 401 {
			t.Errorf("%s %s with an unknown token: %d, want 401", e.method, e.path, c)
		}
		weaker := ""
		switch e.role {
		case store.RoleDeveloper:
			weaker = viewer
		case store.RoleSecurityAdmin:
			weaker = dev
		}
		if weaker != "" {
			if c := h.do(e.method, e.path, weaker, e.body, nil); c != 403 {
				t.Errorf("%s %s with a weaker role: %d, want 403", e.method, e.path, c)
			}
		}
	}
	// Wrong team: a web developer submitting for payments.
	if c := h.do("POST", "/api/v1/images", dev, map[string]string{"ref": "registry.example.com/a:1", "team": "payments"}, nil); c != 403 {
		t.Errorf("submit for another team: %d, want 403", c)
	}
	if c := h.do("POST", "/api/v1/inventories?team=payments", dev, []byte("{}"), nil); c != 403 {
		t.Errorf("SBOM for another team: %d, want 403", c)
	}
	// Local references would read the server's disk.
	if c := h.do("POST", "/api/v1/images", dev, map[string]string{"ref": "dir:/etc", "team": "web"}, nil); c != 400 {
		t.Errorf("local reference: %d, want 400", c)
	}
	// Revoked tokens stop working.
	var toks struct{ Tokens []store.Token }
	h.do("GET", "/api/v1/tokens", adminSecret, nil, &toks)
	for _, tk := range toks.Tokens {
		if tk.Name == store.RoleViewer {
			h.do("DELETE", fmt.Sprintf("/api/v1/tokens/%d", tk.ID), adminSecret, nil, nil)
		}
	}
	if c := h.do("GET", "/api/v1/images", viewer, nil, nil); c != 401 {
		t.Errorf("revoked token: %d, want 401", c)
	}
	// Wrong team for webhooks: a web security admin neither sees, reads the
	// deliveries of, nor deletes a payments webhook; its own it does.
	webAdmin := mk(store.RoleSecurityAdmin, "web")
	var payHook, webHook store.Webhook
	if c := h.do("POST", "/api/v1/webhooks", adminSecret, map[string]string{"url": "http://127.0.0.1:1/", "secret": "0123456789abcdef", "team": "payments"}, &payHook); c != 201 {
		t.Fatalf("payments webhook: %d", c)
	}
	if c := h.do("POST", "/api/v1/webhooks", webAdmin, map[string]string{"url": "http://127.0.0.1:1/", "secret": "0123456789abcdef", "team": "web"}, &webHook); c != 201 {
		t.Fatalf("web webhook: %d", c)
	}
	var hooks struct{ Webhooks []store.Webhook }
	h.do("GET", "/api/v1/webhooks", webAdmin, nil, &hooks)
	for _, wh := range hooks.Webhooks {
		if wh.Team != "web" {
			t.Errorf("web's security admin lists a %q webhook", wh.Team)
		}
	}
	if len(hooks.Webhooks) != 1 {
		t.Errorf("web's security admin lists %d webhooks, want its one", len(hooks.Webhooks))
	}
	if c := h.do("GET", fmt.Sprintf("/api/v1/webhooks/%d/deliveries", payHook.ID), webAdmin, nil, nil); c != 404 {
		t.Errorf("another team's delivery log: %d, want 404", c)
	}
	if c := h.do("DELETE", fmt.Sprintf("/api/v1/webhooks/%d", payHook.ID), webAdmin, nil, nil); c != 404 {
		t.Errorf("deleting another team's webhook: %d, want 404", c)
	}
	if c := h.do("GET", fmt.Sprintf("/api/v1/webhooks/%d/deliveries", webHook.ID), webAdmin, nil, nil); c != 200 {
		t.Errorf("own delivery log: %d, want 200", c)
	}
	if c := h.do("DELETE", fmt.Sprintf("/api/v1/webhooks/%d", webHook.ID), webAdmin, nil, nil); c != 204 {
		t.Errorf("deleting own webhook: %d, want 204", c)
	}
	// Tokens: a team's security admin sees and revokes its team's tokens,
	// never the first admin's (every team) nor another team's.
	mk(store.RoleViewer, "payments")
	var tokList struct{ Tokens []store.Token }
	h.do("GET", "/api/v1/tokens", webAdmin, nil, &tokList)
	for _, tk := range tokList.Tokens {
		for _, team := range tk.Teams {
			if team != "web" {
				t.Errorf("web's security admin lists token %q of team %q", tk.Name, team)
			}
		}
	}
	var allToks struct{ Tokens []store.Token }
	h.do("GET", "/api/v1/tokens", adminSecret, nil, &allToks)
	for _, tk := range allToks.Tokens {
		if slices.Contains(tk.Teams, "web") && len(tk.Teams) == 1 {
			continue
		}
		if c := h.do("DELETE", fmt.Sprintf("/api/v1/tokens/%d", tk.ID), webAdmin, nil, nil); c != 404 {
			t.Errorf("web's security admin revoking token %q (%v): %d, want 404", tk.Name, tk.Teams, c)
		}
	}
	if c := h.do("GET", "/api/v1/audit", webAdmin, nil, nil); c != 403 {
		t.Errorf("a team's security admin reads the audit log of every team: %d, want 403", c)
	}
	if c := h.do("GET", "/api/v1/images", adminSecret, nil, nil); c != 200 {
		t.Errorf("the first admin's token stopped working: %d", c)
	}
	var audit struct{ Audit []store.AuditEntry }
	h.do("GET", "/api/v1/audit", adminSecret, nil, &audit)
	if len(audit.Audit) < 3 {
		t.Errorf("audit log: %+v", audit.Audit)
	}
}

// TestTeamsSeeOnlyTheirImages: a viewer of one team never sees another
// team's images, in lists, details or summaries.
func TestTeamsSeeOnlyTheirImages(t *testing.T) {
	h := start(t, storetest.SQLite(t))
	// An SBOM made elsewhere (customs' own JSON, as `customs sbom` writes).
	doc := map[string]any{"schema": customs.InventorySchema, "image": map[string]any{"ref": "registry.example.com/pay:1", "config_digest": "sha256:" + strings.Repeat("a", 64)},
		"packages": []map[string]any{{"name": "lodash", "version": "4.17.20", "type": "npm", "purl": "pkg:npm/lodash@4.17.20", "locations": []string{}}}}
	b, _ := json.Marshal(doc)
	var row store.ImageRow
	if c := h.do("POST", "/api/v1/inventories?team=payments&ref=registry.example.com/pay:1", adminSecret, b, &row); c != 201 {
		t.Fatalf("SBOM submit: %d", c)
	}
	var out struct{ Secret string }
	h.do("POST", "/api/v1/tokens", adminSecret, map[string]any{"name": "w", "role": "viewer", "teams": []string{"web"}}, &out)
	var list struct{ Images []store.ImageRow }
	h.do("GET", "/api/v1/images", out.Secret, nil, &list)
	if len(list.Images) != 0 {
		t.Errorf("web sees payments' images: %+v", list.Images)
	}
	if c := h.do("GET", "/api/v1/images/"+row.Digest, out.Secret, nil, nil); c != 404 {
		t.Errorf("web reads payments' image: %d", c)
	}
	var sum store.Summary
	h.do("GET", "/api/v1/summary", out.Secret, nil, &sum)
	if sum.Images != 0 {
		t.Errorf("web's summary counts payments' images: %+v", sum)
	}
}

// TestDeliveryLogPages pages through a webhook's delivery log, longer than
// a page, through the API and sees every delivery exactly once, newest
// first, and none of another webhook's.
func TestDeliveryLogPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		h := start(t, url)
		sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
		defer sink.Close()
		var hook, other store.Webhook
		for _, w := range []*store.Webhook{&hook, &other} {
			if c := h.do("POST", "/api/v1/webhooks", adminSecret, map[string]string{"url": sink.URL, "secret": "0123456789abcdef"}, w); c != 201 {
				t.Fatalf("webhook: %d", c)
			}
		}
		st, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		const total = 250
		var ds []store.NewDelivery
		for i := range total {
			ds = append(ds, store.NewDelivery{WebhookID: hook.ID, Event: server.EventVerdictChanged, Payload: fmt.Sprintf(`{"n":%d}`, i)})
			if i%3 == 0 {
				ds = append(ds, store.NewDelivery{WebhookID: other.ID, Event: server.EventVerdictChanged, Payload: fmt.Sprintf(`{"other":%d}`, i)})
			}
		}
		if err := st.AddDeliveries(ctx, ds); err != nil {
			t.Fatal(err)
		}
		type page struct {
			Deliveries []store.Delivery `json:"deliveries"`
			NextBefore int64            `json:"next_before"`
		}
		// pageAll follows next_before from the first page of query.
		pageAll := func(query string, want int) (pages int) {
			t.Helper()
			seen := map[int64]bool{}
			var last int64
			path := fmt.Sprintf("/api/v1/webhooks/%d/deliveries?%s", hook.ID, query)
			for {
				var p page
				if c := h.do("GET", path, adminSecret, nil, &p); c != 200 {
					t.Fatalf("GET %s: %d", path, c)
				}
				pages++
				for _, d := range p.Deliveries {
					if d.WebhookID != hook.ID {
						t.Fatalf("%s: delivery %d of webhook %d in webhook %d's log", query, d.ID, d.WebhookID, hook.ID)
					}
					if seen[d.ID] {
						t.Fatalf("%s: delivery %d shown twice", query, d.ID)
					}
					if last != 0 && d.ID >= last {
						t.Fatalf("%s: delivery %d after %d: not newest first", query, d.ID, last)
					}
					seen[d.ID], last = true, d.ID
				}
				if p.NextBefore == 0 {
					break
				}
				if p.NextBefore != last {
					t.Fatalf("%s: next_before %d, the page ended at %d", query, p.NextBefore, last)
				}
				if pages > total {
					t.Fatalf("%s: paging does not end", query)
				}
				q, _ := neturl.ParseQuery(query)
				q.Set("before", strconv.FormatInt(p.NextBefore, 10))
				path = fmt.Sprintf("/api/v1/webhooks/%d/deliveries?%s", hook.ID, q.Encode())
			}
			if len(seen) != want {
				t.Fatalf("%s: %d deliveries seen over %d pages, want %d", query, len(seen), pages, want)
			}
			return pages
		}
		for _, c := range []struct {
			query string
			pages int
		}{
			{"limit=100", 3},
			{"limit=125", 2}, // the last page is full, and says nothing follows
			{"limit=1", total},
			{"", 3},           // default 100
			{"limit=5000", 1}, // at most 1000
			{"limit=-4", 3},
			{"limit=100&before=0", 3}, // 0: from the newest
		} {
			if got := pageAll(c.query, total); got != c.pages {
				t.Errorf("%q: %d pages, want %d", c.query, got, c.pages)
			}
		}
		for _, before := range []string{"latest", "-1"} {
			if c := h.do("GET", fmt.Sprintf("/api/v1/webhooks/%d/deliveries?before=%s", hook.ID, before), adminSecret, nil, nil); c != 400 {
				t.Errorf("before=%s: %d, want 400", before, c)
			}
		}
	})
}
