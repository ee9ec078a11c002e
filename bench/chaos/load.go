package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/actlog/actlog/internal/loadgen"
)

// loadConfig configures the client.
type loadConfig struct {
	base    string        // the collector, e.g. http://127.0.0.1:8080
	workers int           // concurrent clients
	rate    float64       // new batches per second in all; 0: as fast as answers come
	resend  float64       // share of turns that resend an acknowledged batch
	seed    int64         // generators' seeds (and so the messageIds)
	timeout time.Duration // one HTTP attempt
}

// answer is how the collector answered one HTTP attempt.
type answer struct {
	start      time.Time
	took       time.Duration
	code       int    // 0: no HTTP answer
	retryAfter string // Retry-After of the answer
	err        string // kind of network error when code is 0
}

func (a answer) end() time.Time { return a.start.Add(a.took) }

// batch is one request body and the messageIds it carries.
type batch struct {
	ids  []string
	body []byte
}

// load is several clients sending 10-event batches of the loadgen's e-book
// members, each with new messageIds, and retrying a batch that got no 2xx
// (connection refused, 503, timeout) with the same body until it gets one,
// like a Segment SDK. It records every answer and the ids acknowledged.
type load struct {
	cfg     loadConfig
	client  *http.Client
	ctx     context.Context // cancelled by abort: retries give up
	abort   context.CancelFunc
	stopNew chan struct{} // closed: no new batches
	wg      sync.WaitGroup

	mu         sync.Mutex
	sent       map[string]bool // every id sent
	acked      map[string]bool // ids of batches answered 2xx, less the rejected
	ackedOrder []string        // acked in the order acknowledged
	answers    []answer
	batches    int // new batches started
	resends    int // deliberate resends of acknowledged batches
	resent     map[string]bool
	rejected   int // events reported rejected in a 2xx answer
	badAnswers int // 2xx answers whose body could not be read
	gaveUp     int // batches never acknowledged (4xx, or abandoned at the end)
}

func startLoad(cfg loadConfig) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{
		cfg:     cfg,
		client:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.workers, MaxConnsPerHost: cfg.workers}, Timeout: cfg.timeout},
		ctx:     ctx,
		abort:   cancel,
		stopNew: make(chan struct{}),
		sent:    map[string]bool{},
		acked:   map[string]bool{},
		resent:  map[string]bool{},
	}
	var tokens chan struct{}
	if cfg.rate > 0 {
		tokens = make(chan struct{})
		l.wg.Go(func() { l.pace(tokens) })
	}
	for w := range cfg.workers {
		l.wg.Go(func() { l.worker(w, tokens) })
	}
	return l
}

// pace offers a token for a new batch rate times a second; a token no
// worker is ready to take is dropped (workers busy retrying send nothing new).
func (l *load) pace(tokens chan<- struct{}) {
	t := time.NewTicker(time.Duration(float64(time.Second) / l.cfg.rate))
	defer t.Stop()
	for {
		select {
		case <-l.stopNew:
			return
		case <-t.C:
			select {
			case tokens <- struct{}{}:
			default:
			}
		}
	}
}

func (l *load) worker(w int, tokens <-chan struct{}) {
	gen := loadgen.NewGenerator(l.cfg.seed*1000+int64(w)+1, 0)
	rng := rand.New(rand.NewPCG(uint64(l.cfg.seed), uint64(w)))
	var recent []batch // a few acknowledged batches, for deliberate resends
	for {
		if tokens != nil {
			select {
			case <-l.stopNew:
				return
			case <-tokens:
			}
		} else {
			select {
			case <-l.stopNew:
				return
			default:
			}
		}
		var b batch
		resend := len(recent) > 0 && rng.Float64() < l.cfg.resend
		if resend {
			b = recent[rng.IntN(len(recent))]
		} else {
			var err error
			b, err = newBatch(gen)
			if err != nil {
				panic(err) // the generator's own output: a bug
			}
		}
		l.mu.Lock()
		if resend {
			l.resends++
			for _, id := range b.ids {
				l.resent[id] = true
			}
		} else {
			l.batches++
			for _, id := range b.ids {
				l.sent[id] = true
			}
		}
		l.mu.Unlock()
		if l.deliver(b) && !resend {
			if len(recent) < 64 {
				recent = append(recent, b)
			} else {
				recent[rng.IntN(len(recent))] = b
			}
		}
		if l.ctx.Err() != nil {
			return
		}
	}
}

// newBatch makes a 10-event body and reads its messageIds back.
func newBatch(gen *loadgen.Generator) (batch, error) {
	body := gen.Next(nil, 10, time.Now())
	var parsed struct {
		Batch []struct {
			MessageID string `json:"messageId"`
		} `json:"batch"`
	}
	if err := json.Unmarshal(body, &parsed); err != nil {
		return batch{}, fmt.Errorf("read generated batch: %w", err)
	}
	b := batch{body: body, ids: make([]string, len(parsed.Batch))}
	for i, m := range parsed.Batch {
		b.ids[i] = m.MessageID
	}
	return b, nil
}

// deliver sends b until an answer is 2xx (true), the answer is a 4xx other
// than 408 and 429 (a client would drop the batch), or abort.
func (l *load) deliver(b batch) bool {
	backoff := 50 * time.Millisecond
	for {
		a, rejected, readErr := l.post(b.body)
		l.mu.Lock()
		l.answers = append(l.answers, a)
		ok := a.code >= 200 && a.code < 300
		if ok {
			if readErr {
				l.badAnswers++
			}
			l.rejected += len(rejected)
			skip := map[int]bool{}
			for _, i := range rejected {
				skip[i] = true
			}
			for i, id := range b.ids {
				if !skip[i] && !l.acked[id] {
					l.acked[id] = true
					l.ackedOrder = append(l.ackedOrder, id)
				}
			}
		}
		drop := a.code >= 400 && a.code < 500 && a.code != http.StatusRequestTimeout && a.code != http.StatusTooManyRequests
		if drop {
			l.gaveUp++
		}
		l.mu.Unlock()
		if ok {
			return true
		}
		if drop {
			return false
		}
		wait := backoff
		if s, err := strconv.Atoi(a.retryAfter); err == nil && s > 0 {
			wait = min(time.Duration(s)*time.Second, 2*time.Second)
		}
		backoff = min(2*backoff, time.Second)
		t := time.NewTimer(wait)
		select {
		case <-l.ctx.Done():
			t.Stop()
			l.mu.Lock()
			l.gaveUp++
			l.mu.Unlock()
			return false
		case <-t.C:
		}
	}
}

// post sends one attempt; it returns the answer, the indexes reported
// rejected, and whether a 2xx body could not be read.
func (l *load) post(body []byte) (a answer, rejected []int, readErr bool) {
	a.start = time.Now()
	req, err := http.NewRequestWithContext(l.ctx, http.MethodPost, l.cfg.base+"/v1/batch", bytes.NewReader(body))
	if err != nil {
		a.err = err.Error()
		return a, nil, false
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(writeKey, "")
	resp, err := l.client.Do(req)
	if err != nil {
		a.took = time.Since(a.start)
		a.err = errKind(err)
		return a, nil, false
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	a.took = time.Since(a.start)
	a.code = resp.StatusCode
	a.retryAfter = resp.Header.Get("Retry-After")
	if a.code < 200 || a.code >= 300 {
		return a, nil, false
	}
	var out struct {
		Rejected []struct {
			Index int `json:"index"`
		} `json:"rejected"`
	}
	if err != nil || json.Unmarshal(raw, &out) != nil {
		return a, nil, true
	}
	for _, r := range out.Rejected {
		rejected = append(rejected, r.Index)
	}
	return a, rejected, false
}

// errKind names a network error briefly.
func errKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	case strings.Contains(err.Error(), "server closed idle connection"):
		return "connection closed"
	case errors.Is(err, context.Canceled):
		return "abandoned"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// stop ends the load: no new batches; the batches being sent are retried
// until acknowledged, for at most limit, then abandoned. It returns the
// number of batches abandoned.
func (l *load) stop(limit time.Duration) int {
	close(l.stopNew)
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	l.mu.Lock()
	before := l.gaveUp
	l.mu.Unlock()
	l.abort()
	<-done
	l.client.CloseIdleConnections()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gaveUp - before
}

// ackedCount is how many ids are acknowledged so far.
func (l *load) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ackedOrder)
}

// ackedPrefix returns the first n ids acknowledged.
func (l *load) ackedPrefix(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ackedOrder[:n]...)
}

// answersSince returns the answers that ended at or after t.
func (l *load) answersSince(t time.Time) []answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []answer
	for _, a := range l.answers {
		if !a.end().Before(t) {
			out = append(out, a)
		}
	}
	return out
}

// loadStats are the client's totals.
type loadStats struct {
	requests, ok2xx, s503, other, errs int
	errKinds                           map[string]int
	otherCodes                         map[int]int
	batches, resends, gaveUp           int
	eventsSent, eventsAcked, rejected  int
	badAnswers                         int
}

func (l *load) stats() loadStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := loadStats{
		requests: len(l.answers), errKinds: map[string]int{}, otherCodes: map[int]int{},
		batches: l.batches, resends: l.resends, gaveUp: l.gaveUp,
		eventsSent: len(l.sent), eventsAcked: len(l.acked), rejected: l.rejected, badAnswers: l.badAnswers,
	}
	for _, a := range l.answers {
		switch {
		case a.code >= 200 && a.code < 300:
			s.ok2xx++
		case a.code == http.StatusServiceUnavailable:
			s.s503++
		case a.code == 0:
			s.errs++
			s.errKinds[a.err]++
		default:
			s.other++
			s.otherCodes[a.code]++
		}
	}
	return s
}

// snapshot returns copies of the sent, acknowledged and resent ids.
func (l *load) snapshot() (sent, acked, resent map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	resent = make(map[string]bool, len(l.resent))
	for id := range l.resent {
		resent[id] = true
	}
	sent = make(map[string]bool, len(l.sent))
	for id := range l.sent {
		sent[id] = true
	}
	acked = make(map[string]bool, len(l.acked))
	for id := range l.acked {
		acked[id] = true
	}
	return sent, acked, resent
}
