package server

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
	"strconv"
	"time"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/policy"
	"github.com/customs-sec/customs/server/store"
)

// Events.
const (
	EventVerdictChanged     = "image.verdict_changed"
	EventVulnerabilityNew   = "vulnerability.new"
	EventRebuildRecommended = "rebuild.recommended"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body
// under the webhook's secret.
const SignatureHeader = "X-Customs-Signature"

// maxDeliveryAttempts before a delivery is marked failed.
const maxDeliveryAttempts = 10

// Sign is the signature a receiver recomputes to trust a delivery.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

type eventImage struct {
	Digest      string `json:"digest"`
	Ref         string `json:"ref"`
	Repository  string `json:"repository"`
	Team        string `json:"team"`
	Owner       string `json:"owner,omitempty"`
	Environment string `json:"environment,omitempty"`
	BaseLayer   string `json:"base_layer,omitempty"`
}

type event struct {
	// ID is the same for the same change announced twice (a job resumed
	// after a crash), so receivers can drop duplicates.
	ID       string     `json:"id"`
	Event    string     `json:"event"`
	Cause    string     `json:"cause"`
	Image    eventImage `json:"image"`
	Severity string     `json:"severity,omitempty"`
	// vulnerability.new
	Vulnerability *eventVuln `json:"vulnerability,omitempty"`
	// image.verdict_changed
	From    string   `json:"from,omitempty"`
	To      string   `json:"to,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	// rebuild.recommended
	Bumps []bump `json:"bumps,omitempty"`
}

type eventVuln struct {
	ID        string   `json:"id"`
	Aliases   []string `json:"aliases,omitempty"`
	Package   string   `json:"package"`
	PURL      string   `json:"purl,omitempty"`
	Installed string   `json:"installed"`
	Fixed     string   `json:"fixed,omitempty"`
	Severity  string   `json:"severity"`
	// InBase says the package came with the base image: rebuild on a
	// newer base rather than bumping it in the application.
	InBase bool `json:"in_base"`
}

type bump struct {
	Package string   `json:"package"`
	From    string   `json:"from"`
	To      string   `json:"to"`
	InBase  bool     `json:"in_base"`
	Fixes   []string `json:"fixes"`
}

// change is one image's judgement change, to announce.
type change struct {
	row store.ImageRow
	// baseTop is the index of the base image's top layer (-1: unknown), to
	// tell base-image packages from the application's.
	baseTop int
	// added are the findings the image did not have before.
	added    []customs.Finding
	from, to string // decisions
	deny     []policy.Reason
	cause    string
}

// announce queues the events one change means, for every webhook that
// wants them.
func (s *Server) announce(ctx context.Context, c change) {
	hooks, err := s.st.Webhooks(ctx)
	if err != nil || len(hooks) == 0 {
		return
	}
	s.queueEvents(ctx, hooks, []change{c})
}

// queueEvents queues the events of many changes in one transaction.
func (s *Server) queueEvents(ctx context.Context, hooks []store.Webhook, cs []change) {
	ds := deliveriesOf(hooks, cs)
	if len(ds) == 0 {
		return
	}
	if err := s.st.AddDeliveries(ctx, ds); err != nil {
		s.log.Warn("queueing webhook deliveries failed", "deliveries", len(ds), "err", err)
		return
	}
	s.wakeDelivery()
}

func (s *Server) wakeDelivery() {
	select {
	case s.deliver <- struct{}{}:
	default:
	}
}

// deliveriesOf are the deliveries changes mean for the webhooks that want them.
func deliveriesOf(hooks []store.Webhook, cs []change) []store.NewDelivery {
	var ds []store.NewDelivery
	for _, c := range cs {
		for _, ev := range eventsOf(c) {
			body, _ := json.Marshal(ev)
			for _, h := range hooks {
				if !h.Wants(ev.Event) || (h.Team != "" && h.Team != store.AllTeams && h.Team != c.row.Team) {
					continue
				}
				if ev.Severity != "" && h.MinSeverity != "" && customs.SeverityRank(ev.Severity) < customs.SeverityRank(h.MinSeverity) {
					continue
				}
				ds = append(ds, store.NewDelivery{WebhookID: h.ID, Event: ev.Event, Payload: string(body)})
			}
		}
	}
	return ds
}

func eventsOf(c change) []event {
	row := c.row
	img := eventImage{Digest: row.Digest, Ref: row.Ref, Repository: row.Repository, Team: row.Team, Owner: row.Owner, Environment: row.Environment, BaseLayer: row.BaseLayer}
	var events []event
	bumps := map[string]*bump{}
	var order []string
	worst := ""
	for _, f := range c.added {
		inBase := f.Layer.DiffID != "" && f.Layer.Index <= c.baseTop
		events = append(events, event{Event: EventVulnerabilityNew, Severity: f.Severity, Vulnerability: &eventVuln{ID: f.ID, Aliases: f.Aliases, Package: f.Package.Name,
			PURL: f.Package.PURL, Installed: f.Installed, Fixed: f.Fixed, Severity: f.Severity, InBase: inBase}})
		if f.Fixed != "" {
			b := bumps[f.Package.Name]
			if b == nil {
				b = &bump{Package: f.Package.Name, From: f.Installed, To: f.Fixed, InBase: inBase}
				bumps[f.Package.Name] = b
				order = append(order, f.Package.Name)
			}
			b.Fixes = append(b.Fixes, f.ID)
			if customs.SeverityRank(f.Severity) > customs.SeverityRank(worst) {
				worst = f.Severity
			}
		}
	}
	if len(bumps) > 0 {
		ev := event{Event: EventRebuildRecommended, Severity: worst}
		for _, p := range order {
			ev.Bumps = append(ev.Bumps, *bumps[p])
		}
		events = append(events, ev)
	}
	if c.from != c.to {
		ev := event{Event: EventVerdictChanged, From: c.from, To: c.to}
		for _, r := range c.deny {
			if len(ev.Reasons) < 50 {
				ev.Reasons = append(ev.Reasons, r.ID+": "+r.Message)
			}
		}
		events = append(events, ev)
	}
	for i := range events {
		events[i].Image, events[i].Cause = img, c.cause
		events[i].ID = eventID(events[i])
	}
	return events
}

func eventID(ev event) string {
	h := sha256.New()
	fmt.Fprint(h, ev.Event, "\x00", ev.Image.Digest, "\x00", ev.To, "\x00")
	if ev.Vulnerability != nil {
		fmt.Fprint(h, ev.Vulnerability.ID, "\x00", ev.Vulnerability.Package)
	}
	for _, b := range ev.Bumps {
		fmt.Fprint(h, b.Package, b.To, "\x00")
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// deliveryLoop posts pending deliveries, retrying with exponential backoff.
func (s *Server) deliveryLoop(ctx context.Context) {
	for ctx.Err() == nil {
		d, err := s.st.ClaimDelivery(ctx, s.cfg.DeliveryLease)
		if err != nil || d == nil {
			t := time.NewTimer(s.cfg.PollInterval * 5)
			select {
			case <-ctx.Done():
			case <-t.C:
			case <-s.deliver:
			}
			t.Stop()
			continue
		}
		s.attempt(ctx, d)
	}
}

func (s *Server) attempt(ctx context.Context, d *store.Delivery) {
	hooks, err := s.st.Webhooks(ctx)
	if err != nil {
		return // the lease lapses; retried later
	}
	var hook *store.Webhook
	for i := range hooks {
		if hooks[i].ID == d.WebhookID {
			hook = &hooks[i]
		}
	}
	if hook == nil {
		s.st.DeliveryResult(ctx, d.ID, store.DeliveryFailed, 0, "webhook deleted", time.Now())
		return
	}
	body := []byte(d.Payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		s.st.DeliveryResult(ctx, d.ID, store.DeliveryFailed, 0, err.Error(), time.Now())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "customs-webhook/1")
	req.Header.Set("X-Customs-Event", d.Event)
	req.Header.Set("X-Customs-Delivery", strconv.FormatInt(d.ID, 10))
	req.Header.Set(SignatureHeader, Sign(hook.Secret, body))
	resp, err := s.cfg.WebhookClient.Do(req)
	status, msg := 0, ""
	if err != nil {
		msg = err.Error()
	} else {
		status = resp.StatusCode
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if status < 200 || status > 299 {
			msg = "HTTP " + strconv.Itoa(status)
		}
	}
	if ctx.Err() != nil {
		return
	}
	switch {
	case msg == "":
		s.metrics.deliveries.WithLabelValues("delivered").Inc()
		s.st.DeliveryResult(ctx, d.ID, store.DeliveryDelivered, status, "", time.Now())
	case d.Attempts >= maxDeliveryAttempts:
		s.metrics.deliveries.WithLabelValues("failed").Inc()
		s.st.DeliveryResult(ctx, d.ID, store.DeliveryFailed, status, msg, time.Now())
	default:
		s.metrics.deliveries.WithLabelValues("retry").Inc()
		backoff := min(time.Duration(1<<min(d.Attempts, 12))*time.Second, time.Hour)
		s.st.DeliveryResult(ctx, d.ID, store.DeliveryPending, status, msg, time.Now().Add(backoff))
	}
}
