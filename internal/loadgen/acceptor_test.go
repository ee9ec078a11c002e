package loadgen

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// wireBatch is the Segment batch body as a server decodes it.
type wireBatch struct {
	Batch  []wireMsg `json:"batch"`
	SentAt string    `json:"sentAt"`
}

type wireMsg struct {
	Type        string         `json:"type"`
	MessageID   string         `json:"messageId"`
	AnonymousID string         `json:"anonymousId"`
	UserID      string         `json:"userId"`
	Event       string         `json:"event"`
	Name        string         `json:"name"`
	Properties  map[string]any `json:"properties"`
	Traits      map[string]any `json:"traits"`
	Timestamp   string         `json:"timestamp"`
	Context     struct {
		SessionID string `json:"sessionId"`
		Seq       int    `json:"seq"`
		Page      struct {
			URL      string `json:"url"`
			Path     string `json:"path"`
			Title    string `json:"title"`
			Referrer string `json:"referrer"`
		} `json:"page"`
		Campaign *struct {
			Source string `json:"source"`
			Medium string `json:"medium"`
			Name   string `json:"name"`
		} `json:"campaign"`
		UserAgent string `json:"userAgent"`
		Library   struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"library"`
		Locale string `json:"locale"`
	} `json:"context"`
}

// label names an event for sequence comparisons: "track:book_view",
// "page:/books/1042", "identify".
func (m *wireMsg) label() string {
	switch m.Type {
	case "track":
		return "track:" + m.Event
	case "page":
		return "page:" + m.Context.Page.Path
	}
	return m.Type
}

// valid is the server's per-event rule.
func (m *wireMsg) valid() (bool, string) {
	switch {
	case m.MessageID == "":
		return false, "missing messageId"
	case m.Type != "track" && m.Type != "page" && m.Type != "identify":
		return false, "unknown type " + m.Type
	case m.AnonymousID == "" && m.UserID == "":
		return false, "missing anonymousId and userId"
	case m.Type == "track" && m.Event == "":
		return false, "track without event"
	}
	return true, ""
}

// answer overrides the normal 200 for one request.
type answer struct {
	status     int
	retryAfter string
	delay      time.Duration
}

// acceptor is a small Segment batch endpoint that checks what loadgen sends
// and counts it.
type acceptor struct {
	t      testing.TB
	key    string
	strict bool // one sender: seq and time must also increase across requests
	// hook, when set, may override the answer to the n-th request (1-based)
	// whose body hashes to sum and that arrived sum's seen-th time.
	hook func(n int, sum [32]byte, seen int) answer

	mu          sync.Mutex
	requests    int
	arrivals    map[[32]byte]int // body hash → arrivals
	arrivedAt   map[[32]byte][]time.Time
	succeeded   map[[32]byte]bool // body answered 200 before
	resentAfter int               // arrivals of a body already answered 200
	retried     int               // arrivals of a body answered non-200 before
	nonOK       int               // non-200 answers from hook
	seen        map[string]int    // messageId → arrivals (valid events)
	unique      int               // distinct valid messageIds
	received    int               // valid events received, repeats included
	rejected    int
	labels      []string // first arrival of each messageId, in arrival order
	seqs        map[string]map[int]bool
	lastSeq     map[string]int
	lastTS      map[string]time.Time
	problems    []string
}

func newAcceptor(t testing.TB, key string) *acceptor {
	t.Helper()
	return &acceptor{
		t: t, key: key,
		arrivals:  map[[32]byte]int{},
		arrivedAt: map[[32]byte][]time.Time{},
		succeeded: map[[32]byte]bool{},
		seen:      map[string]int{},
		seqs:      map[string]map[int]bool{},
		lastSeq:   map[string]int{},
		lastTS:    map[string]time.Time{},
	}
}

// start serves a on 127.0.0.1 until the test ends.
func (a *acceptor) start() string {
	a.t.Helper()
	srv := httptest.NewServer(a)
	a.t.Cleanup(srv.Close)
	return srv.URL
}

func (a *acceptor) problem(format string, args ...any) {
	if len(a.problems) < 20 {
		a.problems = append(a.problems, fmt.Sprintf(format, args...))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *acceptor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/batch" {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != a.key || pass != "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "bad write key"})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	sum := sha256.Sum256(body)

	a.mu.Lock()
	a.requests++
	n := a.requests
	a.arrivals[sum]++
	seen := a.arrivals[sum]
	a.arrivedAt[sum] = append(a.arrivedAt[sum], now)
	if seen > 1 {
		if a.succeeded[sum] {
			a.resentAfter++
		} else {
			a.retried++
		}
	}
	var ans answer
	if a.hook != nil {
		ans = a.hook(n, sum, seen)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		a.problem("content type %q", ct)
	}
	a.mu.Unlock()

	if ans.delay > 0 {
		time.Sleep(ans.delay)
	}
	if ans.status != 0 && ans.status != http.StatusOK {
		a.mu.Lock()
		a.nonOK++
		a.mu.Unlock()
		if ans.retryAfter != "" {
			w.Header().Set("Retry-After", ans.retryAfter)
		}
		writeJSON(w, ans.status, map[string]string{"error": "try later"})
		return
	}

	var b wireBatch
	if err := json.Unmarshal(body, &b); err != nil {
		a.mu.Lock()
		a.problem("invalid JSON: %v", err)
		a.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON"})
		return
	}
	type rejection struct {
		Index     int    `json:"index"`
		MessageID string `json:"messageId"`
		Error     string `json:"error"`
	}
	rejected := []rejection{}
	accepted := 0

	a.mu.Lock()
	defer a.mu.Unlock()
	a.succeeded[sum] = true
	if _, err := time.Parse(time.RFC3339Nano, b.SentAt); err != nil {
		a.problem("sentAt %q: %v", b.SentAt, err)
	}
	batchSeq := map[string]int{}
	for i := range b.Batch {
		m := &b.Batch[i]
		first := a.seen[m.MessageID] == 0 && m.MessageID != ""
		if first {
			a.labels = append(a.labels, m.label())
		}
		if ok, why := m.valid(); !ok {
			a.rejected++
			rejected = append(rejected, rejection{Index: i, MessageID: m.MessageID, Error: why})
			a.seen[m.MessageID]++
			continue
		}
		accepted++
		a.received++
		a.seen[m.MessageID]++
		if !first {
			continue
		}
		a.unique++
		a.check(m, now, batchSeq)
	}
	writeJSON(w, http.StatusOK, map[string]any{"accepted": accepted, "rejected": rejected})
}

// check applies the per-event checks to the first arrival of a valid event.
func (a *acceptor) check(m *wireMsg, now time.Time, batchSeq map[string]int) {
	c := &m.Context
	if m.AnonymousID == "" {
		a.problem("%s: no anonymousId", m.MessageID)
	}
	if c.SessionID == "" {
		a.problem("%s: no sessionId", m.MessageID)
	}
	if c.Seq < 1 {
		a.problem("%s: seq %d", m.MessageID, c.Seq)
	}
	if prev, ok := batchSeq[c.SessionID]; ok && c.Seq <= prev {
		a.problem("%s: seq %d after %d in one batch", m.MessageID, c.Seq, prev)
	}
	batchSeq[c.SessionID] = c.Seq
	if a.seqs[c.SessionID] == nil {
		a.seqs[c.SessionID] = map[int]bool{}
	}
	if a.seqs[c.SessionID][c.Seq] {
		a.problem("%s: seq %d repeated in session %s", m.MessageID, c.Seq, c.SessionID)
	}
	a.seqs[c.SessionID][c.Seq] = true
	ts, err := time.Parse(time.RFC3339Nano, m.Timestamp)
	switch {
	case err != nil:
		a.problem("%s: timestamp %q: %v", m.MessageID, m.Timestamp, err)
	case ts.After(now):
		a.problem("%s: timestamp %s is in the future (now %s)", m.MessageID, ts, now)
	case ts.Before(now.Add(-time.Hour)):
		a.problem("%s: timestamp %s older than an hour", m.MessageID, ts)
	}
	if a.strict {
		if c.Seq <= a.lastSeq[c.SessionID] {
			a.problem("%s: seq %d after %d", m.MessageID, c.Seq, a.lastSeq[c.SessionID])
		}
		a.lastSeq[c.SessionID] = c.Seq
		if ts.Before(a.lastTS[m.AnonymousID]) {
			a.problem("%s: time goes back for %s", m.MessageID, m.AnonymousID)
		}
		a.lastTS[m.AnonymousID] = ts
	}
	if m.Type == "track" && strings.HasPrefix(m.Event, "banner_") {
		if m.Properties["section"] == nil || m.Properties["banner"] == nil {
			a.problem("%s: %s without section/banner", m.MessageID, m.Event)
		}
	}
	if c.Library.Name != "actlog-loadgen" || c.UserAgent == "" || (c.Locale != "ko-KR" && c.Locale != "en-US") {
		a.problem("%s: context %+v", m.MessageID, c)
	}
	if !strings.HasPrefix(c.Page.URL, "https://books.example/") || c.Page.Path == "" {
		a.problem("%s: page %+v", m.MessageID, c.Page)
	}
	if strings.Contains(c.Page.URL, "utm_source=") != (c.Campaign != nil) {
		a.problem("%s: url %s with campaign %v", m.MessageID, c.Page.URL, c.Campaign)
	}
}

// snapshot returns a copy of the counters under the lock.
func (a *acceptor) snapshot() acceptorStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return acceptorStats{
		requests: a.requests, resentAfter: a.resentAfter, retried: a.retried, nonOK: a.nonOK,
		unique: a.unique, received: a.received, rejected: a.rejected,
		labels: append([]string(nil), a.labels...), problems: append([]string(nil), a.problems...),
	}
}

type acceptorStats struct {
	requests, resentAfter, retried, nonOK int
	unique, received, rejected            int
	labels, problems                      []string
}
