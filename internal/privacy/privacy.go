package privacy

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/actlog/actlog/internal/lake"
	"github.com/actlog/actlog/internal/store"
)

// Store is what erasure and retention need of the store.
type Store interface {
	Erase(ctx context.Context, userID, requestedBy string) (store.Erasure, error)
	RecordLake(ctx context.Context, id string, partitions int, lakeErr error) error
	LakePending(ctx context.Context) ([]store.PendingErasure, error)
	DeleteBefore(ctx context.Context, cutoff time.Time) (events, rejected int64, err error)
	RetainedFrom(ctx context.Context) (time.Time, error)
	DB() *sql.DB
}

// Lake is what erasure needs of the lake export: rebuilding the hours the
// store holds whole from the store, and removing a member's rows from
// older hours, read from the lake itself.
type Lake interface {
	Rewrite(ctx context.Context, hours []time.Time) (lake.Summary, error)
	Scrub(ctx context.Context, before time.Time, m store.Member) (lake.Summary, error)
}

var (
	_ Store = (*store.Store)(nil)
	_ Lake  = (*lake.Exporter)(nil)
)

// Result is one erasure: what the store removed and how the lake was
// rewritten.
type Result struct {
	store.Erasure
	LakePartitions int    `json:"lake_partitions"` // rewritten or deleted
	LakeError      string `json:"lake_error,omitempty"`
}

// EraserOptions configure an Eraser.
type EraserOptions struct {
	Lake       Lake // nil: no lake export
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Eraser erases members from the store and, when there is one, the lake.
// The store says which hours it holds whole (those after the latest
// retention cutoff): those are rebuilt from it, older ones are scrubbed
// in the lake itself. Its Retention runs under the same lock, so that no
// retention run cuts into an hour while an erasure rebuilds it.
type Eraser struct {
	st   Store
	opts EraserOptions
	log  *slog.Logger
	mu   *sync.Mutex // shared with Retention

	erasures *prometheus.CounterVec
}

// NewEraser returns an Eraser.
func NewEraser(st Store, opts EraserOptions) (*Eraser, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Eraser{st: st, opts: opts, log: log, mu: &sync.Mutex{}, erasures: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "actlog_erasures_total", Help: "Member erasures by result (done, failed, lake_failed).",
	}, []string{"result"})}
	for _, r := range []string{"done", "failed", "lake_failed"} {
		e.erasures.WithLabelValues(r)
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(e.erasures); err != nil {
			return nil, fmt.Errorf("register erasure metrics: %w", err)
		}
	}
	return e, nil
}

// Erase removes every event of member userID from the store, then from the
// lake: the hours the store holds whole are rebuilt from it, older ones
// (with retention) are scrubbed of the member's rows. A failed lake step
// is recorded in the audit and returned; the next erasure, or RetryLake
// (`actlog erase --retry-lake`), does it again.
func (e *Eraser) Erase(ctx context.Context, userID, requestedBy string) (Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.retryLake(ctx); err != nil {
		e.log.Error("erasure: earlier lake rewrites still fail", "err", err)
	}
	er, err := e.st.Erase(ctx, userID, requestedBy)
	if err != nil {
		e.erasures.WithLabelValues("failed").Inc()
		return Result{}, err
	}
	res := Result{Erasure: er}
	n, lerr := e.lakeWork(ctx, er.Member, er.Hours)
	res.LakePartitions = n
	if lerr != nil {
		res.LakeError = lerr.Error()
		e.erasures.WithLabelValues("lake_failed").Inc()
		e.log.Error("erasure: lake rewrite failed", "erasure", er.ID, "hours", len(er.Hours), "err", lerr)
	} else {
		e.erasures.WithLabelValues("done").Inc()
	}
	if err := e.st.RecordLake(ctx, er.ID, n, lerr); err != nil {
		return res, err
	}
	if lerr != nil {
		return res, fmt.Errorf("erasure %s: events deleted from the store, lake rewrite failed: %w", er.ID, lerr)
	}
	return res, nil
}

// lakeWork removes m from the lake: the hours at or after the horizon
// rebuilt from the store, the lake's older hours scrubbed. It answers the
// partitions changed.
func (e *Eraser) lakeWork(ctx context.Context, m store.Member, hours []time.Time) (int, error) {
	if e.opts.Lake == nil {
		return 0, nil
	}
	horizon, err := e.st.RetainedFrom(ctx)
	if err != nil {
		return 0, err
	}
	var whole []time.Time
	for _, h := range hours {
		if !h.Before(horizon) {
			whole = append(whole, h)
		}
	}
	n := 0
	if len(whole) > 0 {
		sum, err := e.opts.Lake.Rewrite(ctx, whole)
		n += sum.Written + sum.Deleted
		if err != nil {
			return n, err
		}
	}
	if !horizon.IsZero() {
		sum, err := e.opts.Lake.Scrub(ctx, horizon, m)
		n += sum.Written + sum.Deleted
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// RetryLake does the lake step of every erasure whose lake step failed,
// and answers how many it completed.
func (e *Eraser) RetryLake(ctx context.Context) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.retryLake(ctx)
}

func (e *Eraser) retryLake(ctx context.Context) (int, error) {
	pending, err := e.st.LakePending(ctx)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, p := range pending {
		n, lerr := e.lakeWork(ctx, p.Member, p.Hours)
		if err := e.st.RecordLake(ctx, p.ID, n, lerr); err != nil {
			return done, err
		}
		if lerr != nil {
			return done, fmt.Errorf("lake step of erasure %s: %w", p.ID, lerr)
		}
		done++
	}
	return done, nil
}

// EraseUser is Erase for the web API.
func (e *Eraser) EraseUser(ctx context.Context, userID, requestedBy string) (any, error) {
	return e.Erase(ctx, userID, requestedBy)
}

// AuditRecord is one row of the erasure audit.
type AuditRecord struct {
	ID             string      `json:"id"`
	SubjectHash    string      `json:"subject_sha256"`
	RequestedBy    string      `json:"requested_by"`
	RequestedAt    time.Time   `json:"requested_at"`
	FinishedAt     time.Time   `json:"finished_at"`
	AnonymousIDs   int         `json:"anonymous_ids"`
	Events         int64       `json:"events"`
	Rejected       int64       `json:"rejected"`
	Links          int64       `json:"links"`
	Hours          []time.Time `json:"hours"`
	LakePartitions *int        `json:"lake_partitions"`
	LakeStatus     *string     `json:"lake_status"`
}

// Erasures lists the audit, the latest first (at most 1,000).
func (e *Eraser) Erasures(ctx context.Context) (any, error) {
	rows, err := e.st.DB().QueryContext(ctx, `SELECT id, subject_sha256, coalesce(requested_by, ''), requested_at, finished_at,
		anonymous_ids, events, rejected, links, hours::VARCHAR, lake_partitions, lake_status
		FROM erasures ORDER BY requested_at DESC LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("read erasures: %w", err)
	}
	defer rows.Close()
	out := []AuditRecord{}
	for rows.Next() {
		var r AuditRecord
		var parts sql.NullInt64
		var status sql.NullString
		var hours string
		if err := rows.Scan(&r.ID, &r.SubjectHash, &r.RequestedBy, &r.RequestedAt, &r.FinishedAt,
			&r.AnonymousIDs, &r.Events, &r.Rejected, &r.Links, &hours, &parts, &status); err != nil {
			return nil, fmt.Errorf("scan erasure: %w", err)
		}
		if err := json.Unmarshal([]byte(hours), &r.Hours); err != nil {
			return nil, fmt.Errorf("hours of erasure %s: %w", r.ID, err)
		}
		r.RequestedAt, r.FinishedAt = r.RequestedAt.UTC(), r.FinishedAt.UTC()
		if parts.Valid {
			n := int(parts.Int64)
			r.LakePartitions = &n
		}
		if status.Valid {
			r.LakeStatus = &status.String
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Retention deletes the events older than a number of days on a
// schedule. The lake is the archive: retention never touches it.
type Retention struct {
	st      Store
	mu      *sync.Mutex // the eraser's
	days    int
	log     *slog.Logger
	now     func() time.Time
	deleted *prometheus.CounterVec
	lastRun prometheus.Gauge
}

// Retention returns the retention of days days (at least 1) of the
// eraser's store, run under the eraser's lock. log and reg may be nil;
// now nil is time.Now.
func (e *Eraser) Retention(days int, now func() time.Time, log *slog.Logger, reg prometheus.Registerer) (*Retention, error) {
	r, err := newRetention(e.st, days, now, log, reg)
	if err != nil {
		return nil, err
	}
	r.mu = e.mu
	return r, nil
}

func newRetention(st Store, days int, now func() time.Time, log *slog.Logger, reg prometheus.Registerer) (*Retention, error) {
	if days < 1 {
		return nil, fmt.Errorf("retention of %d days: want at least 1", days)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	r := &Retention{st: st, days: days, log: log, now: now, mu: &sync.Mutex{},
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "actlog_retention_deleted_total", Help: "Rows deleted for being older than retention.days, by table (events, rejected).",
		}, []string{"table"}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "actlog_retention_last_run_timestamp_seconds", Help: "When retention last deleted old events successfully (Unix time).",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{r.deleted, r.lastRun} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register retention metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Cutoff is the time before which events are deleted now.
func (r *Retention) Cutoff() time.Time {
	return r.now().UTC().AddDate(0, 0, -r.days)
}

// Once deletes the events older than the retention period.
func (r *Retention) Once(ctx context.Context) (events, rejected int64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cutoff := r.Cutoff()
	events, rejected, err = r.st.DeleteBefore(ctx, cutoff)
	if err != nil {
		return 0, 0, err
	}
	r.deleted.WithLabelValues("events").Add(float64(events))
	r.deleted.WithLabelValues("rejected").Add(float64(rejected))
	r.lastRun.Set(float64(r.now().UnixNano()) / 1e9)
	if events+rejected > 0 {
		r.log.Info("retention deleted old events", "before", cutoff.Format(time.RFC3339), "events", events, "rejected", rejected)
	}
	return events, rejected, nil
}

// Run deletes old events at once and then every interval until ctx ends.
func (r *Retention) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, _, err := r.Once(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("retention failed; retrying at the next run", "err", err)
		}
		t.Reset(every)
	}
}
