package server

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/sbom"
	"github.com/customs-sec/customs/server/store"
)

//go:embed openapi.json
var openAPI []byte

// Request body limits.
const (
	maxSmallBody = 64 << 10
	maxSBOMBody  = 64 << 20
)

type ctxKey struct{}

func tokenOf(r *http.Request) *store.Token {
	t, _ := r.Context().Value(ctxKey{}).(*store.Token)
	return t
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, role string, h http.HandlerFunc) {
		route := pattern
		var next http.Handler = h
		if role != "" {
			next = s.auth(role, h)
		}
		mux.Handle(pattern, s.count(route, next))
	}
	handle("GET /healthz", "", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	handle("GET /readyz", "", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	handle("GET /api/v1/openapi.json", "", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	handle("POST /api/v1/images", store.RoleDeveloper, s.submitImage)
	handle("GET /api/v1/images", store.RoleViewer, s.listImages)
	handle("GET /api/v1/images/{digest}", store.RoleViewer, s.getImage)
	handle("POST /api/v1/inventories", store.RoleDeveloper, s.submitInventory)
	handle("GET /api/v1/summary", store.RoleViewer, s.summary)
	handle("GET /api/v1/vulnerabilities/{id}", store.RoleViewer, s.vulnerability)
	handle("GET /api/v1/jobs/{id}", store.RoleViewer, s.getJob)
	handle("POST /api/v1/advisories", store.RoleSecurityAdmin, s.addAdvisories)
	handle("POST /api/v1/webhooks", store.RoleSecurityAdmin, s.createWebhook)
	handle("GET /api/v1/webhooks", store.RoleSecurityAdmin, s.listWebhooks)
	handle("DELETE /api/v1/webhooks/{id}", store.RoleSecurityAdmin, s.deleteWebhook)
	handle("GET /api/v1/webhooks/{id}/deliveries", store.RoleSecurityAdmin, s.deliveries)
	handle("POST /api/v1/tokens", store.RoleSecurityAdmin, s.createToken)
	handle("GET /api/v1/tokens", store.RoleSecurityAdmin, s.listTokens)
	handle("DELETE /api/v1/tokens/{id}", store.RoleSecurityAdmin, s.revokeToken)
	handle("GET /api/v1/audit", store.RoleSecurityAdmin, s.audit)
	return mux
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int) { w.code = c; w.ResponseWriter.WriteHeader(c) }

func (s *Server) count(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: 200}
		h.ServeHTTP(sw, r)
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
	})
}

// auth admits a request with a valid bearer token of at least role: 401
// without one (or with an unknown or revoked one), 403 with too weak a role.
func (s *Server) auth(role string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || secret == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="customs"`)
			writeError(w, http.StatusUnauthorized, "a bearer token is required")
			return
		}
		tok, err := s.st.TokenBySecret(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="customs", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unknown or revoked token")
			return
		}
		if store.RoleRank(tok.Role) < store.RoleRank(role) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("this needs the %s role; the token has %s", role, tok.Role))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, tok)))
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	d := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSmallBody))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	return true
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "database: "+err.Error())
		return
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
}

// teamFor picks the team a write is for: the one asked, or the token's
// only team; the token must hold it.
func teamFor(tok *store.Token, asked string) (string, error) {
	if asked == "" {
		if len(tok.Teams) == 1 && tok.Teams[0] != store.AllTeams {
			return tok.Teams[0], nil
		}
		return "", errors.New("name the team (this token acts for several)")
	}
	if !tok.CanSee(asked) {
		return "", fmt.Errorf("this token does not act for team %q", asked)
	}
	return asked, nil
}

func allTeams(t *store.Token) bool {
	for _, x := range t.Teams {
		if x == store.AllTeams {
			return true
		}
	}
	return false
}

// localRef says whether a reference names a file on the server's disk:
// API users may only submit registry references.
func localRef(ref string) bool {
	for _, p := range []string{"oci:", "oci-archive:", "docker-archive:", "dir:", "sbom:", "/", "."} {
		if strings.HasPrefix(ref, p) {
			return true
		}
	}
	return false
}

func (s *Server) submitImage(w http.ResponseWriter, r *http.Request) {
	tok := tokenOf(r)
	var req scanRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Ref == "" || len(req.Ref) > 1024 {
		writeError(w, http.StatusBadRequest, "ref: a registry reference (registry/repo:tag or @sha256:...) is required")
		return
	}
	if localRef(req.Ref) {
		writeError(w, http.StatusBadRequest, "ref: only registry references can be submitted; send an SBOM to /api/v1/inventories for images elsewhere")
		return
	}
	team, err := teamFor(tok, req.Team)
	if err != nil {
		writeError(w, http.StatusForbidden, err.Error())
		return
	}
	req.Team = team
	b, _ := json.Marshal(req)
	id, err := s.st.Enqueue(r.Context(), jobScan, string(b))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.st.Audit(r.Context(), tok.Name, "image.submit", req.Ref, "team "+team)
	s.kick()
	writeJSON(w, http.StatusAccepted, map[string]any{"job": id, "status": store.JobQueued, "href": fmt.Sprintf("/api/v1/jobs/%d", id)})
}

func (s *Server) submitInventory(w http.ResponseWriter, r *http.Request) {
	tok := tokenOf(r)
	q := r.URL.Query()
	team, err := teamFor(tok, q.Get("team"))
	if err != nil {
		writeError(w, http.StatusForbidden, err.Error())
		return
	}
	inv, err := sbom.Decode(http.MaxBytesReader(w, r.Body, maxSBOMBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "SBOM: "+err.Error())
		return
	}
	if inv.Image.ID() == "" {
		writeError(w, http.StatusBadRequest, "SBOM: it names no image digest, so the image cannot be identified")
		return
	}
	req := scanRequest{Ref: q.Get("ref"), Team: team, Owner: q.Get("owner"), Environment: q.Get("environment"), Repository: q.Get("repository")}
	digest, err := s.storeInventory(r.Context(), inv, req, "sbom")
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.st.Audit(r.Context(), tok.Name, "inventory.submit", digest, "team "+team)
	d, err := s.st.Image(r.Context(), digest, false)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, d.ImageRow)
}

func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	f := store.ImageFilter{Teams: tokenOf(r).Teams, Team: q.Get("team"), Repository: q.Get("repository"), Decision: q.Get("verdict"),
		Severity: q.Get("severity"), HasFix: q.Get("has_fix") == "true", Limit: pageLimit(q.Get("limit")), Offset: max(offset, 0)}
	rows, err := s.st.Images(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, 200, map[string]any{"images": rows})
}

func (s *Server) getImage(w http.ResponseWriter, r *http.Request) {
	d, err := s.st.Image(r.Context(), r.PathValue("digest"), r.URL.Query().Get("inventory") == "true")
	if errors.Is(err, store.ErrNotFound) || (err == nil && !tokenOf(r).CanSee(d.Team)) {
		writeError(w, http.StatusNotFound, "no such image") // other teams' images are not acknowledged
		return
	}
	if err == nil && d.Stale {
		// An advisory change updated its counts and decision in place: rebuild
		// the findings and verdict documents from the inventory before showing them.
		if _, err = s.reevalImage(r.Context(), d.ID, "refresh"); err == nil {
			d, err = s.st.Image(r.Context(), d.Digest, r.URL.Query().Get("inventory") == "true")
		}
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, 200, d)
}

func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	sum, err := s.st.Summarize(r.Context(), tokenOf(r).Teams)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, 200, sum)
}

func (s *Server) vulnerability(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	imgs, err := s.st.VulnerabilityImages(r.Context(), id, tokenOf(r).Teams)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	teams := map[string]int{}
	for _, i := range imgs {
		teams[i.Team]++
	}
	writeJSON(w, 200, map[string]any{"id": id, "images": imgs, "teams": teams})
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	j, err := s.st.Job(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such job")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if j.Kind == jobScan {
		var req scanRequest
		json.Unmarshal([]byte(j.Payload), &req)
		if !tokenOf(r).CanSee(req.Team) {
			writeError(w, http.StatusNotFound, "no such job")
			return
		}
	}
	writeJSON(w, 200, j)
}

func (s *Server) addAdvisories(w http.ResponseWriter, r *http.Request) {
	tok := tokenOf(r)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSBOMBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "advisories: "+err.Error())
		return
	}
	keys, err := advisory.PackagesOf(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "advisories: "+err.Error())
		return
	}
	// The document goes to the shared store with the job that applies it,
	// in one transaction: every replica imports it from there (the one that
	// runs the job first), and a crash cannot keep one without the other.
	cause := "advisories added by " + tok.Name
	_, job, err := s.st.AddPrivateAdvisory(r.Context(), body, tok.Name, jobReeval, func(seq int64) string {
		req := reevalRequest{Cause: cause}
		for _, k := range keys {
			req.Packages = append(req.Packages, [2]string{k.Ecosystem, k.Name})
		}
		b, _ := json.Marshal(req)
		return string(b)
	})
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	delta, err := s.syncPrivate(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "advisories recorded, importing them here failed: "+err.Error())
		return
	}
	s.kick()
	s.st.Audit(r.Context(), tok.Name, "advisory.import", strings.Join(append(append(delta.Added, delta.Modified...), delta.Withdrawn...), ","), "")
	writeJSON(w, 200, map[string]any{"delta": delta, "reevaluation_job": job})
}

type webhookRequest struct {
	URL         string   `json:"url"`
	Secret      string   `json:"secret"`
	Team        string   `json:"team"`
	MinSeverity string   `json:"min_severity"`
	Events      []string `json:"events"`
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	var req webhookRequest
	if !decodeBody(w, r, &req) {
		return
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		writeError(w, http.StatusBadRequest, "url: an http or https URL is required")
		return
	}
	if len(req.Secret) < 16 {
		writeError(w, http.StatusBadRequest, "secret: at least 16 characters (it keys the HMAC-SHA256 signature)")
		return
	}
	for _, e := range req.Events {
		if e != EventVerdictChanged && e != EventVulnerabilityNew && e != EventRebuildRecommended {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("events: unknown event %q", e))
			return
		}
	}
	if req.MinSeverity != "" && customs.SeverityRank(req.MinSeverity) == 0 {
		writeError(w, http.StatusBadRequest, "min_severity: one of critical, high, medium, low")
		return
	}
	if req.Team == "" {
		req.Team = store.AllTeams
	}
	if !tokenOf(r).CanSee(req.Team) || (req.Team == store.AllTeams && !allTeams(tokenOf(r))) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("this token does not act for team %q", req.Team))
		return
	}
	h := &store.Webhook{URL: req.URL, Secret: req.Secret, Team: req.Team, MinSeverity: req.MinSeverity, Events: req.Events}
	if err := s.st.CreateWebhook(r.Context(), h); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.st.Audit(r.Context(), tokenOf(r).Name, "webhook.create", strconv.FormatInt(h.ID, 10), u.Host)
	writeJSON(w, http.StatusCreated, h)
}

// webhookVisible says whether the token acts for the webhook's team (a
// webhook for every team only for a token of every team), as creating it
// required.
func webhookVisible(tok *store.Token, h store.Webhook) bool {
	if h.Team == store.AllTeams {
		return allTeams(tok)
	}
	return tok.CanSee(h.Team)
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	hs, err := s.st.Webhooks(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := []store.Webhook{}
	for _, h := range hs {
		if webhookVisible(tokenOf(r), h) {
			out = append(out, h)
		}
	}
	writeJSON(w, 200, map[string]any{"webhooks": out})
}

// ownWebhook answers 404 (and false) unless webhook id exists and the
// token acts for its team: another team's webhooks are not there for it.
func (s *Server) ownWebhook(w http.ResponseWriter, r *http.Request, id int64) bool {
	hs, err := s.st.Webhooks(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return false
	}
	for _, h := range hs {
		if h.ID == id && webhookVisible(tokenOf(r), h) {
			return true
		}
	}
	writeError(w, http.StatusNotFound, "no such webhook")
	return false
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if !s.ownWebhook(w, r, id) {
		return
	}
	if err := s.st.DeleteWebhook(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such webhook")
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.st.Audit(r.Context(), tokenOf(r).Name, "webhook.delete", strconv.FormatInt(id, 10), "")
	w.WriteHeader(http.StatusNoContent)
}

// deliveries pages through a webhook's delivery log, newest first: limit
// rows with ids below before (0 or none: from the newest); next_before,
// when present, is the before of the next page.
func (s *Server) deliveries(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if !s.ownWebhook(w, r, id) {
		return
	}
	q := r.URL.Query()
	limit := pageLimit(q.Get("limit"))
	var before int64
	if v := q.Get("before"); v != "" {
		b, err := strconv.ParseInt(v, 10, 64)
		if err != nil || b < 0 {
			// Ignoring it would start over from the newest, and a client
			// following pages would never reach the end.
			writeError(w, http.StatusBadRequest, "before: a delivery id (the next_before of the previous page)")
			return
		}
		before = b
	}
	// One row more than asked says whether another page follows.
	ds, err := s.st.Deliveries(r.Context(), id, before, limit+1)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := map[string]any{"deliveries": ds}
	if len(ds) > limit {
		ds = ds[:limit]
		out["deliveries"], out["next_before"] = ds, ds[limit-1].ID
	}
	writeJSON(w, 200, out)
}

// Page sizes of list endpoints.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// pageLimit reads a list endpoint's limit parameter: unset, or not a
// positive number, gives the default; above the maximum, the maximum.
func pageLimit(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return defaultPageSize
	}
	return min(n, maxPageSize)
}

type tokenRequest struct {
	Name  string   `json:"name"`
	Role  string   `json:"role"`
	Teams []string `json:"teams"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Name == "" || store.RoleRank(req.Role) == 0 || len(req.Teams) == 0 {
		writeError(w, http.StatusBadRequest, "name, role (viewer, developer, security-admin) and teams are required")
		return
	}
	for _, t := range req.Teams {
		if t == "" || strings.Contains(t, ",") {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("teams: bad team name %q", t))
			return
		}
		// An admin of some teams grants only those teams.
		if !tokenOf(r).CanSee(t) || (t == store.AllTeams && !allTeams(tokenOf(r))) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("this token does not act for team %q", t))
			return
		}
	}
	secret := store.NewTokenSecret()
	tok, err := s.st.CreateToken(r.Context(), req.Name, req.Role, req.Teams, secret)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.st.Audit(r.Context(), tokenOf(r).Name, "token.create", req.Name, req.Role+" "+strings.Join(req.Teams, ","))
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "secret": secret})
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := s.st.Tokens(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := []store.Token{}
	for _, t := range ts {
		if tokenWithin(tokenOf(r), t) {
			out = append(out, t)
		}
	}
	writeJSON(w, 200, map[string]any{"tokens": out})
}

// tokenWithin says whether caller may see and revoke t: every team t acts
// for is one of the caller's. A team's security admin manages its team's
// tokens, never a token of other (or all) teams, such as the first admin's.
func tokenWithin(caller *store.Token, t store.Token) bool {
	if allTeams(caller) {
		return true
	}
	for _, team := range t.Teams {
		if team == store.AllTeams || !caller.CanSee(team) {
			return false
		}
	}
	return true
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	ts, err := s.st.Tokens(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !slices.ContainsFunc(ts, func(t store.Token) bool { return t.ID == id && tokenWithin(tokenOf(r), t) }) {
		writeError(w, http.StatusNotFound, "no such token")
		return
	}
	if err := s.st.RevokeToken(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such token")
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.st.Audit(r.Context(), tokenOf(r).Name, "token.revoke", strconv.FormatInt(id, 10), "")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	// The log spans every team's changes: only a token of every team reads it.
	if !allTeams(tokenOf(r)) {
		writeError(w, http.StatusForbidden, "the audit log is for a token of every team")
		return
	}
	es, err := s.st.AuditLog(r.Context(), 500)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, 200, map[string]any{"audit": es})
}
