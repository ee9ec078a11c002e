package store

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	reg               prometheus.Registerer
	commits           prometheus.Counter
	commitErrors      prometheus.Counter
	commitSeconds     prometheus.Histogram
	groupEvents       prometheus.Histogram
	stored            prometheus.Counter
	duplicates        prometheus.Counter
	rejected          prometheus.Counter
	checkpointSeconds prometheus.Histogram
	collectors        []prometheus.Collector
}

func newMetrics(reg prometheus.Registerer, s *Store) *metrics {
	m := &metrics{
		reg: reg,
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actlog_store_commits_total", Help: "Group commits that succeeded.",
		}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actlog_store_commit_errors_total", Help: "Commits that failed.",
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "actlog_store_commit_duration_seconds", Help: "Time of one group commit.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		groupEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "actlog_store_group_events", Help: "Events in one group commit, duplicates included.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actlog_store_events_total", Help: "Events stored.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actlog_store_dedupe_hits_total", Help: "Events not stored again because their (source, messageId) was already stored within the dedupe window.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actlog_store_rejected_total", Help: "Rejected events kept in the rejected table.",
		}),
	}
	m.checkpointSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "actlog_store_checkpoint_duration_seconds", Help: "Time of one background checkpoint (commits wait meanwhile).",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
	m.collectors = []prometheus.Collector{m.checkpointSeconds, m.commits, m.commitErrors, m.commitSeconds, m.groupEvents, m.stored, m.duplicates, m.rejected,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "actlog_store_write_queue", Help: "Write requests waiting for the writer.",
		}, func() float64 { return float64(len(s.queue)) }),
		&sizeCollector{
			s:    s,
			size: prometheus.NewDesc("actlog_store_size_bytes", "Size of the database file and its write-ahead log.", nil, nil),
			rows: prometheus.NewDesc("actlog_store_rows", "Rows of the events and rejected tables.", []string{"table"}, nil),
		},
	}
	if reg != nil {
		for _, c := range m.collectors {
			reg.MustRegister(c)
		}
	}
	return m
}

func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}

// sizeCollector reports the store's size on disk and its rows, read at
// each scrape (file sizes, and counts DuckDB keeps: no scan).
type sizeCollector struct {
	s          *Store
	size, rows *prometheus.Desc
}

var _ prometheus.Collector = (*sizeCollector)(nil)

func (c *sizeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.size
	ch <- c.rows
}

func (c *sizeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.s.Stats(ctx)
	ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(st.SizeBytes))
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.rows, prometheus.GaugeValue, float64(st.Events), "events")
	ch <- prometheus.MustNewConstMetric(c.rows, prometheus.GaugeValue, float64(st.Rejected), "rejected")
}
