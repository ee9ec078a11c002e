package plan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/actlog/actlog/internal/event"
)

// Watcher holds the current plan of a file and reloads it when the file
// changes (Run) or when asked (Reload, on SIGHUP). A file that fails to
// parse is logged and counted, and the plan in force stays.
type Watcher struct {
	path string
	log  *slog.Logger

	cur atomic.Pointer[loaded]

	mu   sync.Mutex // serialises reloads
	stat fileStamp

	reloads    *prometheus.CounterVec
	loadedAt   prometheus.Gauge
	violations *prometheus.CounterVec
}

type loaded struct {
	plan *Plan
	sum  [sha256.Size]byte
	at   time.Time
}

type fileStamp struct {
	size  int64
	mtime time.Time
}

// NewWatcher loads the plan in path. It fails when the file cannot be read
// or parsed: actlog does not start on a broken plan. log and reg may be
// nil.
func NewWatcher(path string, log *slog.Logger, reg prometheus.Registerer) (*Watcher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{
		path: path,
		log:  log,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "actlog_plan_reloads_total", Help: "Tracking plan reloads by result (loaded, unchanged, failed).",
		}, []string{"result"}),
		loadedAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "actlog_plan_loaded_timestamp_seconds", Help: "When the tracking plan in force was loaded (Unix time).",
		}),
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "actlog_plan_violations_total", Help: "Events that broke the tracking plan, by source and action (flag, reject).",
		}, []string{"source", "action"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{w.reloads, w.loadedAt, w.violations} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register plan metrics: %w", err)
			}
		}
	}
	if _, err := w.Reload(); err != nil {
		return nil, err
	}
	return w, nil
}

// Plan is the plan in force.
func (w *Watcher) Plan() *Plan { return w.cur.Load().plan }

// LoadedAt is when the plan in force was loaded.
func (w *Watcher) LoadedAt() time.Time { return w.cur.Load().at }

// Path is the plan's file.
func (w *Watcher) Path() string { return w.path }

// Check holds an event to the plan in force (see Plan.Check) and counts
// violations.
func (w *Watcher) Check(source, name string, properties []byte) ([]event.Violation, bool) {
	v, reject := w.cur.Load().plan.Check(source, name, properties)
	if len(v) > 0 {
		action := "flag"
		if reject {
			action = "reject"
		}
		w.violations.WithLabelValues(source, action).Inc()
	}
	return v, reject
}

// Reload reads the file again and puts its plan in force if it parses. It
// reports whether the plan changed. On error the plan in force stays.
func (w *Watcher) Reload() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, err := os.Stat(w.path)
	if err != nil {
		w.reloads.WithLabelValues("failed").Inc()
		return false, fmt.Errorf("tracking plan: %w", err)
	}
	data, err := os.ReadFile(w.path)
	if err != nil {
		w.reloads.WithLabelValues("failed").Inc()
		return false, fmt.Errorf("tracking plan: %w", err)
	}
	w.stat = fileStamp{st.Size(), st.ModTime()}
	sum := sha256.Sum256(data)
	if cur := w.cur.Load(); cur != nil && bytes.Equal(cur.sum[:], sum[:]) {
		w.reloads.WithLabelValues("unchanged").Inc()
		return false, nil
	}
	p, err := Parse(data)
	if err != nil {
		w.reloads.WithLabelValues("failed").Inc()
		return false, fmt.Errorf("tracking plan %s: %w", w.path, err)
	}
	now := time.Now()
	w.cur.Store(&loaded{plan: p, sum: sum, at: now})
	w.reloads.WithLabelValues("loaded").Inc()
	w.loadedAt.Set(float64(now.UnixNano()) / 1e9)
	w.log.Info("tracking plan loaded", "file", w.path, "events", len(p.names), "default", string(p.defaultMode))
	return true, nil
}

// Run checks the file every interval and reloads it when its size or
// modification time changed, until ctx ends. The caller owns the
// goroutine.
func (w *Watcher) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := os.Stat(w.path)
		w.mu.Lock()
		same := err == nil && w.stat == fileStamp{st.Size(), st.ModTime()}
		w.mu.Unlock()
		if same {
			continue
		}
		if _, err := w.Reload(); err != nil {
			w.log.Error("tracking plan not reloaded; the plan in force stays", "err", err)
		}
	}
}
