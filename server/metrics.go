package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	requests     *prometheus.CounterVec
	jobs         *prometheus.CounterVec
	jobSeconds   *prometheus.HistogramVec
	layerReads   prometheus.Counter
	imagesStored prometheus.Counter
	reevaluated  prometheus.Counter
	deliveries   *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry, s *Server) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "customs_http_requests_total", Help: "API requests by route and status code."},
			[]string{"route", "code"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "customs_jobs_total", Help: "Jobs finished by this replica, by kind and state."},
			[]string{"kind", "state"}),
		jobSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "customs_job_duration_seconds", Help: "Job run time.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}, []string{"kind"}),
		layerReads:   prometheus.NewCounter(prometheus.CounterOpts{Name: "customs_layer_reads_total", Help: "Layers actually read (not served by the layer cache)."}),
		imagesStored: prometheus.NewCounter(prometheus.CounterOpts{Name: "customs_images_stored_total", Help: "Images stored (scanned or from an SBOM)."}),
		reevaluated:  prometheus.NewCounter(prometheus.CounterOpts{Name: "customs_images_reevaluated_total", Help: "Stored images re-judged after advisory changes."}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "customs_webhook_deliveries_total", Help: "Webhook delivery attempts by outcome."},
			[]string{"outcome"}),
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "customs_jobs_queued", Help: "Jobs waiting in the shared queue."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		d, err := s.st.QueueDepth(ctx)
		if err != nil {
			return -1
		}
		return float64(d["queued"])
	})
	reg.MustRegister(m.requests, m.jobs, m.jobSeconds, m.layerReads, m.imagesStored, m.reevaluated, m.deliveries, queue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
