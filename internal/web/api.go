package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actlog/actlog/internal/query"
	"github.com/actlog/actlog/internal/store"
)

// Querier runs read-only SQL.
type Querier interface {
	ReadOnly(ctx context.Context, sql string, maxRows int) (*store.Result, error)
}

var _ Querier = (*store.Store)(nil)

// Options configure the API. Zero values take the defaults.
type Options struct {
	// Analyses answers the analysis endpoints (funnel, journey …); nil
	// serves none (the ingest tier).
	Analyses     *query.Engine
	AdminToken   string        // required for /api/v1
	MaxRows      int           // rows one SQL answer may hold; default 10,000
	QueryTimeout time.Duration // default 30 s
	// Ready reports whether the process can accept and make events durable.
	Ready func() error
	// Status describes the process for GET /api/v1/status (role, store,
	// consumer lag); nil serves a minimal answer.
	Status func(ctx context.Context) (any, error)
	// Lag answers the consumer lag per topic and partition (the process
	// role on Kafka), for the overview; nil when there is no consumer.
	Lag func() map[string]map[int32]int64
	// Saved keeps the dashboard's saved reports; nil serves none.
	Saved SavedReports
	// Dashboard is the built dashboard (index.html and assets/); nil, or
	// one without index.html, serves a page saying how to build it.
	Dashboard fs.FS
	// SessionTTL is how long a dashboard sign-in lasts; default 12 hours.
	SessionTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Eraser serves member erasure (DELETE /api/v1/users/{id}); nil
	// serves none.
	Eraser Eraser
	// Plan describes the tracking plan in force for
	// /api/v1/plan/violations; nil when this process holds none.
	Plan PlanInfo
}

// API serves /api/v1 and the health endpoints.
type API struct {
	q        Querier
	log      *slog.Logger
	opts     Options
	draining atomic.Bool
	stopped  chan struct{} // closed by Drain: live tails end
	stopOnce sync.Once
	sessions *sessions
}

// New returns the API. q may be nil (the ingest tier has no store): then
// only health, readiness and profiles are served.
func New(q Querier, log *slog.Logger, opts Options) (*API, error) {
	if opts.AdminToken == "" {
		if q != nil {
			return nil, errors.New("admin token is required")
		}
		opts.AdminToken = randomToken()
	}
	if opts.MaxRows <= 0 {
		opts.MaxRows = 10_000
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = 30 * time.Second
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &API{q: q, log: log, opts: opts, stopped: make(chan struct{}), sessions: newSessions(opts.SessionTTL, opts.Now)}, nil
}

// Register adds the API's routes to mux.
func (a *API) Register(serveMux *http.ServeMux) {
	mux := routeLog{serveMux, a.log}
	if a.q != nil {
		mux.HandleFunc("POST /api/v1/sql", a.auth(a.sql))
	}
	if a.opts.Analyses != nil {
		a.registerAnalyses(mux)
		a.registerSessions(mux)
		a.registerDashboard(mux)
	}
	if a.opts.Saved != nil {
		a.registerSaved(mux)
	}
	if a.opts.Eraser != nil {
		a.registerPrivacy(mux)
	}
	mux.HandleFunc("GET /api/v1/status", a.auth(a.status))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.ready)
	// Profiles for operators, behind the admin token.
	mux.HandleFunc("GET /debug/pprof/", a.auth(pprof.Index))
	mux.HandleFunc("GET /debug/pprof/profile", a.auth(pprof.Profile))
	mux.HandleFunc("GET /debug/pprof/trace", a.auth(pprof.Trace))
}

// router is what the API registers its routes on: a ServeMux, through
// routeLog.
type router interface {
	Handle(pattern string, handler http.Handler)
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// routeLog registers routes on a ServeMux and logs each pattern at debug
// level, so that the routes a process serves can be listed (the access
// control test walks them all).
type routeLog struct {
	mux *http.ServeMux
	log *slog.Logger
}

func (r routeLog) Handle(pattern string, handler http.Handler) {
	r.mux.Handle(pattern, handler)
	if r.log != nil {
		r.log.Debug("route", "pattern", pattern)
	}
}

func (r routeLog) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	r.Handle(pattern, http.HandlerFunc(handler))
}

// Drain makes /readyz fail so load balancers stop sending traffic before
// the server stops accepting it.
// Live tails end then too.
func (a *API) Drain() {
	a.draining.Store(true)
	a.stopOnce.Do(func() { close(a.stopped) })
}

func (a *API) ready(w http.ResponseWriter, _ *http.Request) {
	if a.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	if a.opts.Ready != nil {
		if err := a.opts.Ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (a *API) sql(w http.ResponseWriter, r *http.Request) {
	var req struct {
		SQL     string `json:"sql"`
		MaxRows int    `json:"max_rows"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 256<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be {\"sql\": \"SELECT …\"}: "+err.Error())
		return
	}
	maxRows := a.opts.MaxRows
	if req.MaxRows > 0 && req.MaxRows < maxRows {
		maxRows = req.MaxRows
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.QueryTimeout)
	defer cancel()
	res, err := a.q.ReadOnly(ctx, req.SQL, maxRows)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, res)
	case store.IsQueryError(err):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "query took longer than "+a.opts.QueryTimeout.String())
	case errors.Is(err, context.Canceled):
		// The client went away.
	default:
		a.log.Error("sql query failed", "err", err)
		writeError(w, http.StatusInternalServerError, "query failed")
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": strings.TrimSpace(msg)})
}

// randomToken guards the profiles of a process that has no admin token.
func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (a *API) status(w http.ResponseWriter, r *http.Request) {
	if a.opts.Status == nil {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	st, err := a.opts.Status(r.Context())
	if err != nil {
		a.log.Error("status", "err", err)
		writeError(w, http.StatusInternalServerError, "status unavailable")
		return
	}
	writeJSON(w, http.StatusOK, st)
}
