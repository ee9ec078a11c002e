package ingest

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	duration   *prometheus.HistogramVec
	events     *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	limited    *prometheus.CounterVec
	sinkErrors prometheus.Counter
	bytes      prometheus.Counter
	inFlight   prometheus.Gauge
	shed       prometheus.Counter
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
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "actlog_ingest_rejected_total",
			Help: "Events rejected, by source and reason class.",
		}, []string{"source", "reason"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actlog_ingest_received_bytes_total",
			Help: "Request body bytes read from the wire (compressed as sent).",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "actlog_ingest_in_flight_requests",
			Help: "Tracking API requests being answered.",
		}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actlog_ingest_shed_total",
			Help: "Requests answered 503 at once because ingest.max_in_flight requests were being answered.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.duration, m.events, m.rejected, m.limited, m.sinkErrors, m.bytes, m.inFlight, m.shed)
	}
	return m
}

// reasonClass is the bounded label of a rejection reason: reasons name
// fields and limits, and some quote what was sent, which must never become
// a label value.
func reasonClass(reason string) string {
	switch {
	case strings.HasPrefix(reason, planReasonPrefix):
		return "tracking_plan"
	case strings.Contains(reason, "required"):
		return "missing_field"
	case strings.Contains(reason, "longer than"), strings.Contains(reason, "larger than"):
		return "too_large"
	case strings.Contains(reason, "UTF-8"):
		return "invalid_text"
	case strings.Contains(reason, "unknown type"):
		return "unknown_type"
	case strings.Contains(reason, "parsing time"), strings.Contains(reason, "time"):
		return "invalid_time"
	case strings.Contains(reason, "NaN"), strings.Contains(reason, "number"):
		return "invalid_number"
	case strings.Contains(reason, "must be"):
		return "wrong_type"
	}
	return "other"
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	m.duration.WithLabelValues(route, strconv.Itoa(code)).Observe(d.Seconds())
}
