package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/advisory/embedded"
	"github.com/customs-sec/customs/policy"
	"github.com/customs-sec/customs/server"
	"github.com/customs-sec/customs/server/store"
)

// serveConfig is the server's configuration file; flags override it.
type serveConfig struct {
	Listen         string   `json:"listen"`
	DataDir        string   `json:"data_dir"`
	Database       string   `json:"database"`
	TLSCert        string   `json:"tls_cert"`
	TLSKey         string   `json:"tls_key"`
	Workers        int      `json:"workers"`
	Policies       []string `json:"policies"`
	PolicyData     []string `json:"policy_data"`
	UpdateInterval string   `json:"update_interval"`
	Insecure       bool     `json:"insecure_registries"`
	JobLease       time.Duration
	DeliveryLease  time.Duration
}

func (a *app) serveCommand() *cobra.Command {
	var cfgFile string
	var c serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server: every image's inventory, re-judged when advisories change",
		Long: `Serves the customs API (JSON under /api/v1, described at /api/v1/openapi.json),
Prometheus metrics at /metrics and health at /healthz and /readyz.

State is kept in embedded SQLite under --data-dir by default, or in PostgreSQL with
--database postgres://... (several replicas may share one PostgreSQL database: the work
queue, webhook deliveries and the layer cache live there). The advisory database is
--data-dir/advisories.db (the embedded sample on first start; --update-interval keeps
it current).

On first start an admin token is created and printed once, or taken from
CUSTOMS_ADMIN_TOKEN (at least 32 characters) for automated installs. Settings come
from --config FILE (YAML or JSON with the flags' names, e.g. listen, data_dir,
database), then flags, then CUSTOMS_DATABASE.`,
		Example: `  customs serve --listen 127.0.0.1:8080 --data-dir /var/lib/customs
  customs serve --database postgres://customs@db:5432/customs --tls-cert cert.pem --tls-key key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfgFile != "" {
				b, err := os.ReadFile(cfgFile)
				if err != nil {
					return err
				}
				var fc serveConfig
				if err := yaml.UnmarshalStrict(b, &fc); err != nil {
					return fmt.Errorf("config %s: %w", cfgFile, err)
				}
				mergeConfig(cmd, &c, fc)
			}
			if c.Database == "" {
				c.Database = os.Getenv("CUSTOMS_DATABASE")
			}
			if c.DataDir == "" {
				c.DataDir = "customs-data"
			}
			if c.Database == "" {
				c.Database = "sqlite:" + filepath.Join(c.DataDir, "customs.db")
			}
			if (c.TLSCert == "") != (c.TLSKey == "") {
				return errors.New("--tls-cert and --tls-key go together")
			}
			var interval time.Duration
			if c.UpdateInterval != "" {
				d, err := time.ParseDuration(c.UpdateInterval)
				if err != nil {
					return fmt.Errorf("update interval: %w", err)
				}
				interval = d
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := slog.New(slog.NewJSONHandler(a.stderr, nil))
			st, err := store.Open(ctx, c.Database)
			if err != nil {
				return err
			}
			defer st.Close()
			advPath := filepath.Join(c.DataDir, "advisories.db")
			if _, err := os.Stat(advPath); errors.Is(err, fs.ErrNotExist) {
				d, err := embedded.Install(ctx, advPath)
				if err != nil {
					return fmt.Errorf("installing the embedded advisory sample: %w", err)
				}
				log.Info("installed the embedded advisory sample", "records", len(d.Added), "path", advPath)
			}
			db, err := advisory.Open(ctx, advPath, advisory.Options{})
			if err != nil {
				return err
			}
			defer db.Close()
			engine, err := policy.New(ctx, policy.Options{Dirs: c.Policies, DataFiles: c.PolicyData})
			if err != nil {
				return err
			}
			srv, err := server.New(server.Config{Listen: c.Listen, TLSCert: c.TLSCert, TLSKey: c.TLSKey, Store: st, DB: db, Policy: engine,
				Workers: c.Workers, UpdateInterval: interval, Log: log, JobLease: c.JobLease, DeliveryLease: c.DeliveryLease})
			if err != nil {
				return err
			}
			if c.Insecure {
				srv.AllowInsecureRegistries()
			}
			secret, err := srv.Bootstrap(ctx, os.Getenv("CUSTOMS_ADMIN_TOKEN"))
			if err != nil {
				return err
			}
			if secret != "" {
				fmt.Fprintf(a.stderr, "First start: created the admin token (shown once, store it now):\n\n  %s\n\n", secret)
			}
			return srv.ListenAndServe(ctx, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgFile, "config", "", "configuration file (YAML or JSON)")
	f.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&c.DataDir, "data-dir", "", "directory for the embedded database and the advisory database (default ./customs-data)")
	f.StringVar(&c.Database, "database", "", "database URL: postgres://... or sqlite:PATH (env CUSTOMS_DATABASE; default SQLite in --data-dir)")
	f.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	f.StringVar(&c.TLSKey, "tls-key", "", "the certificate's private key (PEM)")
	f.IntVar(&c.Workers, "workers", 2, "jobs run at once by this replica")
	f.StringArrayVar(&c.Policies, "policy", nil, "directory of Rego policies evaluated with the built-in set (repeatable)")
	f.StringArrayVar(&c.PolicyData, "data", nil, "policy data file: settings and exceptions (repeatable)")
	f.StringVar(&c.UpdateInterval, "update-interval", "", "update the advisory database this often (e.g. 6h) and re-judge what changed")
	f.BoolVar(&c.Insecure, "insecure", false, "allow plain-HTTP registries")
	f.DurationVar(&c.JobLease, "job-lease", 30*time.Second, "how long a job stays with a replica between renewals: a killed replica's job resumes elsewhere this long after")
	f.DurationVar(&c.DeliveryLease, "delivery-lease", time.Minute, "how long a webhook attempt holds its delivery before another may retry it")
	return cmd
}

// mergeConfig fills what the flags did not set from the file.
func mergeConfig(cmd *cobra.Command, c *serveConfig, fc serveConfig) {
	set := func(name string) bool { return cmd.Flags().Changed(name) }
	if !set("listen") && fc.Listen != "" {
		c.Listen = fc.Listen
	}
	if !set("data-dir") && fc.DataDir != "" {
		c.DataDir = fc.DataDir
	}
	if !set("database") && fc.Database != "" {
		c.Database = fc.Database
	}
	if !set("tls-cert") && fc.TLSCert != "" {
		c.TLSCert, c.TLSKey = fc.TLSCert, fc.TLSKey
	}
	if !set("workers") && fc.Workers > 0 {
		c.Workers = fc.Workers
	}
	if !set("policy") {
		c.Policies = append(c.Policies, fc.Policies...)
	}
	if !set("data") {
		c.PolicyData = append(c.PolicyData, fc.PolicyData...)
	}
	if !set("update-interval") && fc.UpdateInterval != "" {
		c.UpdateInterval = fc.UpdateInterval
	}
	if !set("insecure") {
		c.Insecure = c.Insecure || fc.Insecure
	}
}
