// Package server is `customs serve`: it keeps the inventory of every image
// submitted (scanned here, or an SBOM made elsewhere), judges each against
// policy, and re-judges the stored images an advisory change touches,
// without reading their layers again. Owners hear about it through signed
// webhooks. Several replicas can share one PostgreSQL database: the work
// queue, webhook deliveries and the layer cache live there.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/image"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/policy"
	"github.com/customs-sec/customs/server/store"
)

// Config configures a server.
type Config struct {
	// Listen is the address to serve on (default 127.0.0.1:8080).
	Listen string
	// TLSCert and TLSKey, when set, serve HTTPS.
	TLSCert, TLSKey string
	// Store is the server's database.
	Store *store.Store
	// DB is the advisory database matching uses.
	DB *advisory.DB
	// Policy is the prepared policy set verdicts come from.
	Policy *policy.Engine
	// Workers is how many jobs run at once in this replica (default 2).
	Workers int
	// Image options for scanning references (registry credentials come
	// from the usual docker config; Insecure allows plain-HTTP registries).
	Image image.Options
	// UpdateInterval, when set, updates the advisory database from
	// UpdateOptions on that schedule and re-judges what changed.
	UpdateInterval time.Duration
	UpdateOptions  advisory.UpdateOptions
	// Log receives structured logs (default: discard).
	Log *slog.Logger
	// ReplicaID names this replica in leases (default: random).
	ReplicaID string
	// OnLayerRead is told each time a layer is actually read (tests assert
	// stored images are never read again).
	OnLayerRead func(index int, diffID string)
	// WebhookClient posts webhook deliveries (default: 10 s timeout).
	WebhookClient *http.Client
	// PollInterval is how often idle workers look for work (default 200 ms).
	PollInterval time.Duration
	// JobLease is how long a worker holds a job between renewals (default
	// 30 s); DeliveryLease how long a webhook attempt holds its delivery
	// (default 1 min). A killed replica's work resumes this long after.
	JobLease, DeliveryLease time.Duration
}

// Server is one replica.
type Server struct {
	cfg     Config
	st      *store.Store
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *metrics
	dbMu    sync.RWMutex // advisory imports write; matching reads
	// privateSeq is the last private advisory imported (under dbMu).
	privateSeq int64
	wake       chan struct{}
	deliver    chan struct{}
	handler    http.Handler
	replicaD   string
	// layers is the layer cache every worker's scans share, so two scans
	// of images with a new layer in common read it once.
	layers *inspect.SharedCache
}

// New makes a server from its configuration.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.DB == nil || cfg.Policy == nil {
		return nil, errors.New("server: a store, an advisory database and a policy are required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.ReplicaID == "" {
		b := make([]byte, 4)
		rand.Read(b)
		host, _ := os.Hostname()
		cfg.ReplicaID = host + "-" + hex.EncodeToString(b)
	}
	if cfg.WebhookClient == nil {
		cfg.WebhookClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.JobLease <= 0 {
		cfg.JobLease = 30 * time.Second
	}
	if cfg.DeliveryLease <= 0 {
		cfg.DeliveryLease = time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	s := &Server{cfg: cfg, st: cfg.Store, log: cfg.Log, reg: prometheus.NewRegistry(),
		wake: make(chan struct{}, 1), deliver: make(chan struct{}, 1), replicaD: cfg.ReplicaID,
		layers: inspect.NewSharedCache(store.LayerCache{S: cfg.Store})}
	s.metrics = newMetrics(s.reg, s)
	s.handler = s.routes()
	return s, nil
}

// Handler is the HTTP API (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// Bootstrap creates the first admin token when the store has none: from
// CUSTOMS_ADMIN_TOKEN when set (automated installs), else a fresh one that
// is returned to be printed once. It returns "" when tokens already exist.
func (s *Server) Bootstrap(ctx context.Context, fromEnv string) (string, error) {
	n, err := s.st.CountTokens(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	secret := fromEnv
	if secret == "" {
		secret = store.NewTokenSecret()
	} else if len(secret) < 32 {
		return "", errors.New("CUSTOMS_ADMIN_TOKEN must be at least 32 characters")
	}
	if _, err := s.st.CreateToken(ctx, "admin", store.RoleSecurityAdmin, []string{store.AllTeams}, secret); err != nil {
		return "", err
	}
	s.st.Audit(ctx, "bootstrap", "token.create", "admin", "first start")
	if fromEnv != "" {
		return "", nil
	}
	return secret, nil
}

// Start runs the workers, the webhook dispatcher and the advisory
// scheduler until ctx ends.
func (s *Server) Start(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	if _, err := s.syncPrivate(ctx); err != nil {
		s.log.Warn("importing private advisories failed", "err", err)
	}
	for i := range s.cfg.Workers {
		wg.Add(1)
		go func() { defer wg.Done(); s.workLoop(ctx, fmt.Sprintf("%s/%d", s.replicaD, i)) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); s.deliveryLoop(ctx) }()
	if s.cfg.UpdateInterval > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); s.updateLoop(ctx) }()
	}
	return &wg
}

// ListenAndServe serves until ctx ends, then shuts down gracefully: the
// listener closes, requests in flight finish (up to 20 s), workers stop
// after their current job (an unfinished job's lease lets another replica
// take it over).
func (s *Server) ListenAndServe(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute,
		WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	wg := s.Start(wctx)
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLSCert != "" {
			errc <- srv.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	if ready != nil {
		ready(ln.Addr().String())
	}
	s.log.Info("serving", "addr", ln.Addr().String(), "tls", s.cfg.TLSCert != "", "replica", s.replicaD, "database", dialectName(s.st))
	select {
	case err := <-errc:
		stop()
		wg.Wait()
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	stop()
	wg.Wait()
	return err
}

func dialectName(st *store.Store) string {
	if st.Dialect() == store.Postgres {
		return "postgresql"
	}
	return "sqlite"
}

func (s *Server) updateLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.UpdateInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.dbMu.Lock()
		delta, err := s.cfg.DB.Update(ctx, s.cfg.UpdateOptions)
		s.dbMu.Unlock()
		if err != nil {
			s.log.Warn("advisory update failed", "err", err)
			continue
		}
		if _, err := s.enqueueReeval(ctx, delta, "scheduled advisory update"); err != nil {
			s.log.Warn("queueing re-evaluation failed", "err", err)
		}
	}
}

// AllowInsecureRegistries lets scans pull from plain-HTTP registries.
func (s *Server) AllowInsecureRegistries() { s.cfg.Image.Insecure = true }
