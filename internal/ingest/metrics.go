package ingest

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	duration   *prometheus.HistogramVec
	events     *prometheus.CounterVec
	limited    *prometheus.CounterVec
	sinkErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "actlog_ingest_request_duration_seconds",
			Help:    "Time to answer a tracking API request, by route and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "code"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "actlog_ingest_events_total",
			Help: "Events received, by source and outcome (accepted or rejected).",
		}, []string{"source", "outcome"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "actlog_ingest_rate_limited_total",
			Help: "Requests answered 429 by the per-source rate limit.",
		}, []string{"source"}),
		sinkErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actlog_ingest_sink_errors_total",
			Help: "Requests answered 503 because the sink could not make them durable in time.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.duration, m.events, m.limited, m.sinkErrors)
	}
	return m
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	m.duration.WithLabelValues(route, strconv.Itoa(code)).Observe(d.Seconds())
}
