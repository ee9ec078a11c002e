package lake

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	partitions  prometheus.Counter
	rows        prometheus.Counter
	bytes       prometheus.Counter
	errors      prometheus.Counter
	duration    prometheus.Histogram
	lastSuccess prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		partitions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actlog_lake_partitions_written_total", Help: "Hour partitions written to the lake (Parquet file and manifest).",
		}),
		rows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actlog_lake_rows_written_total", Help: "Events written to the lake, rewrites included.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actlog_lake_bytes_written_total", Help: "Bytes of Parquet written to the lake.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actlog_lake_errors_total", Help: "Lake export runs that failed.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "actlog_lake_run_duration_seconds", Help: "Time of one lake export run.",
			Buckets: []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900, 3600},
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "actlog_lake_last_success_timestamp_seconds", Help: "Unix time of the end of the last lake export run that succeeded.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.partitions, err = register(reg, m.partitions); err != nil {
		return nil, err
	}
	if m.rows, err = register(reg, m.rows); err != nil {
		return nil, err
	}
	if m.bytes, err = register(reg, m.bytes); err != nil {
		return nil, err
	}
	if m.errors, err = register(reg, m.errors); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.lastSuccess, err = register(reg, m.lastSuccess); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name (a second exporter on one registry shares the first's series).
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing, nil
		}
	}
	if err != nil {
		return c, fmt.Errorf("register metrics: %w", err)
	}
	return c, nil
}
