package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Run sends simulated members' events to opts.URL until opts.Duration has
// passed or ctx is cancelled, then stops sending new requests, waits for the
// requests in flight (and their retries, for at most a few seconds) and
// returns the totals. Stopping through ctx is a normal end and returns a nil
// error; only invalid Options return an error.
func Run(ctx context.Context, opts Options) (Summary, error) {
	cfg, err := opts.config()
	if err != nil {
		return Summary{}, err
	}
	var pre [8]byte
	_, _ = rand.Read(pre[:]) // never fails
	r := &runner{
		cfg: cfg,
		gen: newGenerator(cfg.Seed, cfg.Users, cfg.shards, hex.EncodeToString(pre[:]), cfg.InvalidRate, cfg.DuplicateRate),
	}
	r.pool.New = func() any { return new(request) }
	r.client = cfg.Client
	if r.client == nil {
		tr := newTransport(cfg.workers)
		defer tr.CloseIdleConnections()
		r.client = &http.Client{Transport: tr, Timeout: clientTimeout}
	}

	var stopCtx context.Context
	var stop context.CancelFunc
	if cfg.Duration > 0 {
		stopCtx, stop = context.WithTimeout(ctx, cfg.Duration)
	} else {
		stopCtx, stop = context.WithCancel(ctx)
	}
	defer stop()
	// Requests already started finish on sendCtx, which outlives ctx by at
	// most drainTimeout.
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()

	start := time.Now()
	var workers, aux sync.WaitGroup
	workersDone := make(chan struct{})
	aux.Go(func() {
		select {
		case <-workersDone:
			return
		case <-stopCtx.Done():
		}
		t := time.NewTimer(drainTimeout)
		defer t.Stop()
		select {
		case <-workersDone:
		case <-t.C:
			cancelSend()
		}
	})
	if cfg.Progress != nil {
		r.interval = new(histogram)
		aux.Go(func() { r.progress(workersDone, start) })
	}

	shards := r.gen.shards
	if cfg.Rate > 0 {
		jobs := make(chan time.Time)
		for i := range cfg.workers {
			sh := shards[i%len(shards)]
			workers.Go(func() {
				for intended := range jobs {
					r.request(sendCtx, sh, intended)
				}
			})
		}
		schedule(stopCtx, jobs, start, cfg.Rate)
		close(jobs)
	} else {
		for i := range cfg.workers {
			sh := shards[i%len(shards)]
			workers.Go(func() {
				for stopCtx.Err() == nil {
					r.request(sendCtx, sh, time.Time{})
				}
			})
		}
	}
	workers.Wait()
	elapsed := time.Since(start)
	close(workersDone)
	aux.Wait()
	return r.summary(elapsed), nil
}

// schedule hands out the intended send time of request i, start + i/rate,
// until stop is done. When every worker is busy it blocks, and the late
// requests keep their intended times, so their latency includes the wait.
func schedule(stop context.Context, jobs chan<- time.Time, start time.Time, rate float64) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := int64(0); stop.Err() == nil; i++ {
		at := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-stop.Done():
				return
			case <-timer.C:
			}
		}
		select {
		case jobs <- at:
		case <-stop.Done():
			return
		}
	}
}

func newTransport(conns int) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		DisableCompression:  true,
	}
}

type runner struct {
	cfg    config
	gen    *generator
	client *http.Client
	pool   sync.Pool // *request

	requests, sent, accepted, rejected, dups, retries, failed atomic.Int64
	status                                                    [600]atomic.Int64

	latency  histogram
	interval *histogram // latencies since the last progress line; nil without Progress

	errMu   sync.Mutex
	lastErr string
}

// request is one batch with its pooled buffers.
type request struct {
	body   []byte
	spans  []span
	ids    []string
	resp   []byte
	dup    bool
	bodies sync.WaitGroup // request bodies the transport has not closed yet
}

// idList returns the messageIds of the batch, built once per request.
func (rq *request) idList() []string {
	if rq.ids == nil {
		rq.ids = make([]string, len(rq.spans))
		for i, sp := range rq.spans {
			rq.ids[i] = string(rq.body[sp.start:sp.end])
		}
	}
	return rq.ids
}

// request generates one batch from sh, sends it with retries, records its
// latency from intended (now when zero) and maybe sends it once more.
func (r *runner) request(ctx context.Context, sh *shard, intended time.Time) {
	rq := r.pool.Get().(*request)
	rq.ids = nil
	rq.body, rq.spans, rq.dup = sh.fill(rq.body[:0], r.cfg.Batch, rq.spans[:0], time.Now())
	if intended.IsZero() {
		intended = time.Now()
	}
	n := int64(len(rq.spans))
	r.requests.Add(1)
	r.sent.Add(n)
	ok, acc, rej := r.send(ctx, rq)
	lat := time.Since(intended)
	r.latency.record(lat)
	if r.interval != nil {
		r.interval.record(lat)
	}
	if ok {
		r.accepted.Add(acc)
		r.rejected.Add(rej)
		if rq.dup {
			r.dups.Add(1)
			r.send(ctx, rq)
		}
	}
	rq.bodies.Wait() // the transport may still hold the body after answering
	r.pool.Put(rq)
}

// send posts rq.body until it gets a final answer: a 2xx, a non-retryable
// status, or a retryable failure after cfg.retries retries.
func (r *runner) send(ctx context.Context, rq *request) (ok bool, accepted, rejected int64) {
	for attempt := 0; ; attempt++ {
		status, retryAfter, err := r.attempt(ctx, rq)
		r.status[min(max(status, 0), len(r.status)-1)].Add(1)
		if r.cfg.OnResult != nil {
			r.cfg.OnResult(rq.idList(), status)
		}
		if err == nil && status >= 200 && status < 300 {
			accepted, rejected = parseAck(rq.resp, len(rq.spans))
			return true, accepted, rejected
		}
		if err != nil {
			r.noteError(err.Error())
		} else {
			r.noteError(fmt.Sprintf("HTTP %d: %s", status, bytes.TrimSpace(rq.resp[:min(len(rq.resp), 200)])))
		}
		if !retryable(status) || attempt >= r.cfg.retries || ctx.Err() != nil {
			r.failed.Add(1)
			return false, 0, 0
		}
		r.retries.Add(1)
		if !sleepCtx(ctx, retryWait(attempt, retryAfter)) {
			r.failed.Add(1)
			return false, 0, 0
		}
	}
}

func retryable(status int) bool {
	return status == 0 || status == http.StatusTooManyRequests || status >= 500
}

// attempt makes one HTTP request; status is 0 with a non-nil error when no
// answer arrived.
func (r *runner) attempt(ctx context.Context, rq *request) (status int, retryAfter time.Duration, err error) {
	rq.resp = rq.resp[:0]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.endpoint, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("send batch: %w", err)
	}
	body := &trackedBody{wg: &rq.bodies}
	body.r.Reset(rq.body)
	rq.bodies.Add(1)
	req.Body = body
	req.ContentLength = int64(len(rq.body))
	req.Header.Set("Content-Type", "application/json")
	if r.cfg.auth != "" {
		req.Header.Set("Authorization", r.cfg.auth)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("send batch: %w", err)
	}
	defer resp.Body.Close()
	rq.resp, err = appendRead(rq.resp, resp.Body, 1<<20)
	_, _ = io.Copy(io.Discard, resp.Body) // let the connection be reused
	if err != nil {
		return 0, 0, fmt.Errorf("send batch: read answer: %w", err)
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
	}
	return resp.StatusCode, retryAfter, nil
}

// trackedBody is a request body that tells rq.bodies when the transport is
// done with it, so its buffer can go back to the pool.
type trackedBody struct {
	r      bytes.Reader
	wg     *sync.WaitGroup
	closed atomic.Bool
}

func (b *trackedBody) Read(p []byte) (int, error)         { return b.r.Read(p) }
func (b *trackedBody) WriteTo(w io.Writer) (int64, error) { return b.r.WriteTo(w) }
func (b *trackedBody) Close() error {
	if b.closed.CompareAndSwap(false, true) {
		b.wg.Done()
	}
	return nil
}

// appendRead appends up to limit bytes of rd to b.
func appendRead(b []byte, rd io.Reader, limit int) ([]byte, error) {
	for len(b) < limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := rd.Read(b[len(b):min(cap(b), limit)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// retryWait is Retry-After (capped at maxRetryWait) plus up to 10% jitter,
// or without it an exponential backoff from 50 ms with full jitter.
func retryWait(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		w := min(retryAfter, maxRetryWait)
		return w + mrand.N(w/10+1)
	}
	b := min(50*time.Millisecond<<min(attempt, 10), maxRetryWait)
	return b/2 + mrand.N(b/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// parseAck reads a 2xx answer {"accepted":N,"rejected":[…]} for a batch of
// n events. The common answer without rejections is scanned without
// decoding; an answer without "accepted" counts every event not rejected.
func parseAck(body []byte, n int) (accepted, rejected int64) {
	if noRejections(body) {
		if a, ok := scanInt(body, `"accepted"`); ok {
			return a, 0
		}
		return int64(n), 0
	}
	var v struct {
		Accepted *int64            `json:"accepted"`
		Rejected []json.RawMessage `json:"rejected"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return int64(n), 0
	}
	rejected = int64(len(v.Rejected))
	if v.Accepted != nil {
		return *v.Accepted, rejected
	}
	return int64(n) - rejected, rejected
}

// noRejections reports whether body has no "rejected" key, or an empty or
// null one.
func noRejections(body []byte) bool {
	i := bytes.Index(body, []byte(`"rejected"`))
	if i < 0 {
		return true
	}
	rest := skipSpace(body[i+len(`"rejected"`):])
	if len(rest) == 0 || rest[0] != ':' {
		return false
	}
	rest = skipSpace(rest[1:])
	if bytes.HasPrefix(rest, []byte("null")) {
		return true
	}
	if len(rest) == 0 || rest[0] != '[' {
		return false
	}
	rest = skipSpace(rest[1:])
	return len(rest) > 0 && rest[0] == ']'
}

func scanInt(body []byte, key string) (int64, bool) {
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := skipSpace(body[i+len(key):])
	if len(rest) == 0 || rest[0] != ':' {
		return 0, false
	}
	rest = skipSpace(rest[1:])
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	if j == 0 || j > 18 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return v, err == nil
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

func (r *runner) noteError(msg string) {
	r.errMu.Lock()
	r.lastErr = msg
	r.errMu.Unlock()
}

// progress prints one line per interval until done is closed.
func (r *runner) progress(done <-chan struct{}, start time.Time) {
	t := time.NewTicker(r.cfg.ProgressEvery)
	defer t.Stop()
	var snap histSnapshot
	var prevReq, prevAcc int64
	prev := start
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			req, acc, errs := r.requests.Load(), r.accepted.Load(), r.failed.Load()
			dt := max(now.Sub(prev).Seconds(), 1e-9)
			r.interval.snapshot(&snap, true)
			fmt.Fprintf(r.cfg.Progress, "%7.1fs %9.0f req/s %10.0f events/s  accepted %d  errors %d  p99 %s\n",
				now.Sub(start).Seconds(), float64(req-prevReq)/dt, float64(acc-prevAcc)/dt, acc, errs,
				fmtDuration(snap.quantile(0.99)))
			prevReq, prevAcc, prev = req, acc, now
		}
	}
}

func (r *runner) summary(elapsed time.Duration) Summary {
	s := Summary{
		Requests:   r.requests.Load(),
		Sent:       r.sent.Load(),
		Accepted:   r.accepted.Load(),
		Rejected:   r.rejected.Load(),
		Duplicates: r.dups.Load(),
		Retries:    r.retries.Load(),
		Errors:     r.failed.Load(),
		Status:     make(map[int]int64),
		Elapsed:    elapsed,
	}
	r.errMu.Lock()
	s.LastError = r.lastErr
	r.errMu.Unlock()
	for code := range r.status {
		if n := r.status[code].Load(); n > 0 {
			s.Status[code] = n
		}
	}
	if sec := elapsed.Seconds(); sec > 0 {
		s.RequestsPerSec = float64(s.Requests) / sec
		s.EventsPerSec = float64(s.Accepted) / sec
	}
	var snap histSnapshot
	r.latency.snapshot(&snap, false)
	s.P50, s.P90, s.P99 = snap.quantile(0.50), snap.quantile(0.90), snap.quantile(0.99)
	s.Max = time.Duration(snap.max) * time.Microsecond
	return s
}
