package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/actlog/actlog/internal/query"
)

// registerAnalyses adds the analysis endpoints (docs/api.md#analyses).
func (a *API) registerAnalyses(mux router) {
	e := a.opts.Analyses
	mux.HandleFunc("POST /api/v1/funnel", a.auth(post(a, e.Funnel)))
	mux.HandleFunc("POST /api/v1/paths", a.auth(post(a, e.Paths)))
	mux.HandleFunc("POST /api/v1/attribution", a.auth(post(a, e.Attribution)))
	mux.HandleFunc("POST /api/v1/dwell", a.auth(post(a, e.Dwell)))
	mux.HandleFunc("POST /api/v1/dropoff", a.auth(post(a, e.Dropoff)))
	mux.HandleFunc("POST /api/v1/retention", a.auth(post(a, e.Retention)))
	mux.HandleFunc("GET /api/v1/users/{id}/journey", a.auth(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		req := query.JourneyRequest{Range: query.Range{From: q.Get("from"), To: q.Get("to")}, ID: r.PathValue("id")}
		if !intParam(w, q.Get("limit"), &req.Limit) {
			return
		}
		a.answer(w, r, func(ctx context.Context) (any, error) { return e.Journey(ctx, req) })
	}))
	mux.HandleFunc("GET /api/v1/events", a.auth(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		req := query.EventsRequest{Range: query.Range{From: q.Get("from"), To: q.Get("to")}, Cursor: q.Get("cursor")}
		if err := whereParam(q.Get("where"), &req.Where); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if !intParam(w, q.Get("limit"), &req.Limit) {
			return
		}
		a.answer(w, r, func(ctx context.Context) (any, error) { return e.Events(ctx, req) })
	}))
	mux.HandleFunc("GET /api/v1/events/stream", a.auth(a.stream))
	mux.HandleFunc("GET /api/v1/overview", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.answer(w, r, func(ctx context.Context) (any, error) {
			ov, err := e.Overview(ctx, rangeParam(r))
			if err != nil {
				return nil, err
			}
			return overviewAnswer{OverviewAnswer: ov, Kafka: a.lag()}, nil
		})
	}))
	mux.HandleFunc("GET /api/v1/overview/minutes", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.answer(w, r, func(ctx context.Context) (any, error) {
			m, err := e.PerMinute(ctx)
			if err != nil {
				return nil, err
			}
			return map[string]any{"per_minute": m}, nil
		})
	}))
	mux.HandleFunc("GET /api/v1/catalog", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.answer(w, r, func(ctx context.Context) (any, error) { return e.Catalog(ctx, rangeParam(r)) })
	}))
	mux.HandleFunc("GET /api/v1/rejected", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.answer(w, r, func(ctx context.Context) (any, error) { return e.Rejected(ctx, rangeParam(r)) })
	}))
	mux.HandleFunc("GET /api/v1/plan/violations", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.answer(w, r, func(ctx context.Context) (any, error) {
			v, err := e.Violations(ctx, rangeParam(r))
			if err != nil {
				return nil, err
			}
			var plan any
			if a.opts.Plan != nil {
				plan = a.opts.Plan()
			}
			return struct {
				*query.ViolationsAnswer
				Plan any `json:"plan"`
			}{v, plan}, nil
		})
	}))
}

func rangeParam(r *http.Request) query.Range {
	q := r.URL.Query()
	return query.Range{From: q.Get("from"), To: q.Get("to")}
}

// overviewAnswer is the overview with the consumer lag of the Kafka tier.
type overviewAnswer struct {
	*query.OverviewAnswer
	Kafka *kafkaLag `json:"kafka"` // nil without a consumer
}

type kafkaLag struct {
	Lag        int64          `json:"lag"`
	Partitions []partitionLag `json:"partitions"`
}

type partitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Lag       int64  `json:"lag"`
}

// lag answers the consumer lag, partitions in order, or nil without a
// consumer.
func (a *API) lag() *kafkaLag {
	if a.opts.Lag == nil {
		return nil
	}
	out := &kafkaLag{Partitions: []partitionLag{}}
	for topic, parts := range a.opts.Lag() {
		for p, n := range parts {
			out.Lag += n
			out.Partitions = append(out.Partitions, partitionLag{topic, p, n})
		}
	}
	sort.Slice(out.Partitions, func(i, j int) bool {
		x, y := out.Partitions[i], out.Partitions[j]
		return x.Topic < y.Topic || x.Topic == y.Topic && x.Partition < y.Partition
	})
	return out
}

// intParam reads the limit query parameter into dst when given; it answers
// 400 and false when it is not a number.
func intParam(w http.ResponseWriter, s string, dst *int) bool {
	if s == "" {
		return true
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		writeError(w, http.StatusBadRequest, "limit: not a number")
		return false
	}
	*dst = n
	return true
}

// whereParam reads the where query parameter: a JSON list of filters.
func whereParam(s string, dst *[]query.Filter) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), dst); err != nil {
		return fmt.Errorf(`where: want a JSON list of {"field","op","value"}: %v`, err)
	}
	return nil
}

// post serves an analysis whose request is the JSON body.
func post[Req, Ans any](a *API, run func(context.Context, Req) (Ans, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		dec := json.NewDecoder(io.LimitReader(r.Body, 256<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
		if dec.More() {
			writeError(w, http.StatusBadRequest, "body: one JSON object, nothing after it")
			return
		}
		a.answer(w, r, func(ctx context.Context) (any, error) { return run(ctx, req) })
	}
}

// answer runs an analysis under the query timeout and maps its outcome to
// HTTP.
func (a *API) answer(w http.ResponseWriter, r *http.Request, run func(context.Context) (any, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.QueryTimeout)
	defer cancel()
	start := time.Now()
	ans, err := run(ctx)
	switch {
	case err == nil:
		w.Header().Set("Server-Timing", fmt.Sprintf("query;dur=%.1f", float64(time.Since(start).Microseconds())/1000))
		writeJSON(w, http.StatusOK, ans)
	case query.IsInvalid(err):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "analysis took longer than "+a.opts.QueryTimeout.String())
	case errors.Is(err, context.Canceled):
		// The client went away.
	default:
		a.log.Error("analysis failed", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "analysis failed")
	}
}

// stream serves newly stored events as server-sent events, one event per
// message, until the client goes away.
func (a *API) stream(w http.ResponseWriter, r *http.Request) {
	var where []query.Filter
	if err := whereParam(r.URL.Query().Get("where"), &where); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := query.CheckFilters(where); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// The stream ends when the client goes away or the server drains.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-a.stopped:
			cancel()
		case <-ctx.Done():
		}
	}()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives http.write_timeout
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	// The comment goes out once the tail's starting point is taken: a client
	// may take it as "live from here".
	started := func() {
		_, _ = io.WriteString(w, ": actlog live tail\n\n")
		_ = rc.Flush()
	}
	err := a.opts.Analyses.Tail(ctx, where, time.Second, started, func(evs []query.StoredEvent) error {
		for _, ev := range evs {
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return err
			}
		}
		return rc.Flush()
	})
	switch {
	case err == nil, errors.Is(err, context.Canceled):
	default:
		a.log.Warn("live tail stopped", "err", err)
	}
}
