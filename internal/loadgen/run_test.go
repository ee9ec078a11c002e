package loadgen

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testKey = "wk_test"

// run runs loadgen against url with opts and fails the test on error.
func run(t *testing.T, url string, opts Options) Summary {
	t.Helper()
	opts.URL = url
	if opts.WriteKey == "" {
		opts.WriteKey = testKey
	}
	s, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return s
}

func noProblems(t *testing.T, st acceptorStats) {
	t.Helper()
	for _, p := range st.problems {
		t.Error(p)
	}
}

// idRecorder collects OnResult calls.
type idRecorder struct {
	mu    sync.Mutex
	calls map[int]int         // status → calls
	ok    map[string]struct{} // ids answered 2xx
	byReq map[string][]int    // first id of a request → statuses in order
}

func newIDRecorder() *idRecorder {
	return &idRecorder{calls: map[int]int{}, ok: map[string]struct{}{}, byReq: map[string][]int{}}
}

func (r *idRecorder) record(ids []string, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[status]++
	r.byReq[ids[0]] = append(r.byReq[ids[0]], status)
	if status/100 == 2 {
		for _, id := range ids {
			r.ok[id] = struct{}{}
		}
	}
}

func TestRunCountsMatchServer(t *testing.T) {
	t.Parallel()
	acc := newAcceptor(t, testKey)
	rec := newIDRecorder()
	s := run(t, acc.start(), Options{
		Duration: 300 * time.Millisecond, Users: 30, Concurrency: 4, Seed: 1, OnResult: rec.record,
	})
	st := acc.snapshot()
	noProblems(t, st)
	if s.Requests == 0 || s.Requests != int64(st.requests) {
		t.Errorf("Requests %d, server saw %d", s.Requests, st.requests)
	}
	if s.Sent != s.Requests*DefaultBatch || s.Sent != int64(st.received) {
		t.Errorf("Sent %d, server received %d", s.Sent, st.received)
	}
	if s.Accepted != int64(st.unique) || st.unique != st.received {
		t.Errorf("Accepted %d, server unique %d of %d", s.Accepted, st.unique, st.received)
	}
	if s.Rejected != 0 || s.Errors != 0 || s.Retries != 0 || s.Duplicates != 0 {
		t.Errorf("unexpected %+v", s)
	}
	if len(s.Status) != 1 || s.Status[200] != s.Requests {
		t.Errorf("Status %v", s.Status)
	}
	if !(0 < s.P50 && s.P50 <= s.P90 && s.P90 <= s.P99 && s.P99 <= s.Max) {
		t.Errorf("latencies p50 %v p90 %v p99 %v max %v", s.P50, s.P90, s.P99, s.Max)
	}
	if s.EventsPerSec <= 0 || s.RequestsPerSec <= 0 || s.Elapsed < 300*time.Millisecond {
		t.Errorf("rates %v %v elapsed %v", s.EventsPerSec, s.RequestsPerSec, s.Elapsed)
	}
	if len(rec.ok) != st.unique || rec.calls[200] != int(s.Requests) {
		t.Errorf("OnResult saw %d ids in %d calls, server %d ids", len(rec.ok), rec.calls[200], st.unique)
	}
}

func TestDuplicatesResendIdenticalBody(t *testing.T) {
	t.Parallel()
	acc := newAcceptor(t, testKey)
	s := run(t, acc.start(), Options{
		Duration: 300 * time.Millisecond, Users: 20, Concurrency: 4, DuplicateRate: 0.3, Seed: 2,
	})
	st := acc.snapshot()
	noProblems(t, st)
	if s.Duplicates == 0 || s.Duplicates != int64(st.resentAfter) {
		t.Errorf("Duplicates %d, server saw %d bodies again after success", s.Duplicates, st.resentAfter)
	}
	if s.Accepted != int64(st.unique) {
		t.Errorf("Accepted %d, server unique %d", s.Accepted, st.unique)
	}
	if want := s.Sent + s.Duplicates*DefaultBatch; int64(st.received) != want {
		t.Errorf("server received %d events, want %d", st.received, want)
	}
	if s.Status[200] != s.Requests+s.Duplicates || s.Errors != 0 {
		t.Errorf("Status %v Errors %d", s.Status, s.Errors)
	}
}

func TestRetry503SameMessageIDs(t *testing.T) {
	t.Parallel()
	acc := newAcceptor(t, testKey)
	// Every third new body is answered 503 once.
	var distinct int
	acc.hook = func(_ int, _ [32]byte, seen int) answer {
		if seen > 1 {
			return answer{}
		}
		distinct++
		if distinct%3 == 0 {
			return answer{status: http.StatusServiceUnavailable, retryAfter: "0"}
		}
		return answer{}
	}
	rec := newIDRecorder()
	s := run(t, acc.start(), Options{
		Duration: 300 * time.Millisecond, Users: 20, Concurrency: 2, Seed: 3, OnResult: rec.record,
	})
	st := acc.snapshot()
	noProblems(t, st)
	if st.nonOK == 0 || s.Retries != int64(st.nonOK) || s.Status[503] != int64(st.nonOK) {
		t.Errorf("Retries %d, Status %v, server answered 503 %d times", s.Retries, s.Status, st.nonOK)
	}
	if st.retried != st.nonOK {
		t.Errorf("server saw %d identical bodies after 503, want %d", st.retried, st.nonOK)
	}
	if s.Errors != 0 || s.Accepted != int64(st.unique) || s.Sent != int64(st.received) {
		t.Errorf("Errors %d Accepted %d Sent %d; server unique %d received %d", s.Errors, s.Accepted, s.Sent, st.unique, st.received)
	}
	retriedReqs := 0
	for _, statuses := range rec.byReq {
		if slices.Equal(statuses, []int{503, 200}) {
			retriedReqs++
		} else if !slices.Equal(statuses, []int{200}) {
			t.Errorf("request statuses %v", statuses)
		}
	}
	if retriedReqs != st.nonOK {
		t.Errorf("OnResult saw %d requests retried, want %d", retriedReqs, st.nonOK)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	acc := newAcceptor(t, testKey)
	var first [32]byte
	acc.hook = func(n int, sum [32]byte, _ int) answer {
		if n == 1 {
			first = sum
			return answer{status: http.StatusTooManyRequests, retryAfter: "1"}
		}
		return answer{}
	}
	s := run(t, acc.start(), Options{Duration: 100 * time.Millisecond, Users: 3, Concurrency: 1, Seed: 4})
	noProblems(t, acc.snapshot())
	acc.mu.Lock()
	at := acc.arrivedAt[first]
	acc.mu.Unlock()
	if len(at) != 2 {
		t.Fatalf("first body arrived %d times, want 2", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < 950*time.Millisecond || gap > 3*time.Second {
		t.Errorf("retry after %v, want about 1s", gap)
	}
	if s.Retries != 1 || s.Errors != 0 || s.Status[429] != 1 {
		t.Errorf("Retries %d Errors %d Status %v", s.Retries, s.Errors, s.Status)
	}
	// The request's latency includes the wait.
	if s.Max < 950*time.Millisecond {
		t.Errorf("Max %v, want the retried request's full time", s.Max)
	}
}

func TestFailures(t *testing.T) {
	t.Parallel()
	closedURL := func(t *testing.T) string {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		ln.Close()
		return url
	}
	tests := []struct {
		name        string
		url         func(t *testing.T) string
		key         string
		maxRetries  int
		wantStatus  int
		wantRetries int64 // per request
		wantErr     string
	}{
		{
			name: "503 until retries run out",
			url: func(t *testing.T) string {
				t.Helper()
				acc := newAcceptor(t, testKey)
				acc.hook = func(int, [32]byte, int) answer { return answer{status: 503, retryAfter: "0"} }
				return acc.start()
			},
			maxRetries: 2, wantStatus: 503, wantRetries: 2, wantErr: "HTTP 503",
		},
		{
			name:       "401 is not retried",
			url:        func(t *testing.T) string { t.Helper(); return newAcceptor(t, testKey).start() },
			key:        "wk_wrong",
			wantStatus: 401, wantRetries: 0, wantErr: "bad write key",
		},
		{
			name:       "network error is retried",
			url:        closedURL,
			maxRetries: 1, wantStatus: 0, wantRetries: 1, wantErr: "send batch",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newIDRecorder()
			s := run(t, tt.url(t), Options{
				Duration: 150 * time.Millisecond, Users: 4, Concurrency: 2, WriteKey: tt.key,
				MaxRetries: tt.maxRetries, OnResult: rec.record,
			})
			attempts := s.Requests * (1 + tt.wantRetries)
			if s.Requests == 0 || s.Errors != s.Requests || s.Retries != s.Requests*tt.wantRetries {
				t.Errorf("Requests %d Errors %d Retries %d", s.Requests, s.Errors, s.Retries)
			}
			if s.Status[tt.wantStatus] != attempts || len(s.Status) != 1 {
				t.Errorf("Status %v, want %d×%d", s.Status, attempts, tt.wantStatus)
			}
			if s.Accepted != 0 || rec.calls[tt.wantStatus] != int(attempts) {
				t.Errorf("Accepted %d, OnResult calls %v", s.Accepted, rec.calls)
			}
			if !strings.Contains(s.LastError, tt.wantErr) {
				t.Errorf("LastError %q, want %q", s.LastError, tt.wantErr)
			}
		})
	}
}

func TestInvalidEventsAreRejectedOneByOne(t *testing.T) {
	t.Parallel()
	acc := newAcceptor(t, testKey)
	s := run(t, acc.start(), Options{
		Duration: 300 * time.Millisecond, Users: 20, Concurrency: 4, InvalidRate: 0.2, Seed: 5,
	})
	st := acc.snapshot()
	noProblems(t, st)
	if s.Rejected == 0 || s.Rejected != int64(st.rejected) {
		t.Errorf("Rejected %d, server rejected %d", s.Rejected, st.rejected)
	}
	if frac := float64(s.Rejected) / float64(s.Sent); frac < 0.1 || frac > 0.3 {
		t.Errorf("rejected fraction %.3f, want about 0.2", frac)
	}
	if s.Accepted != int64(st.unique) || s.Accepted+s.Rejected != s.Sent || s.Errors != 0 {
		t.Errorf("Accepted %d Rejected %d Sent %d Errors %d; server unique %d", s.Accepted, s.Rejected, s.Sent, s.Errors, st.unique)
	}
}

func TestOpenLoopRate(t *testing.T) {
	t.Parallel()
	acc := newAcceptor(t, testKey)
	s := run(t, acc.start(), Options{Rate: 50, Duration: time.Second, Users: 20, MaxInFlight: 8, Seed: 6})
	noProblems(t, acc.snapshot())
	// 50/s for 1 s schedules requests at 0, 20 ms, …, 1 s.
	if s.Requests < 40 || s.Requests > 52 {
		t.Errorf("Requests %d, want about 50", s.Requests)
	}
	if s.Errors != 0 || s.Accepted != s.Sent {
		t.Errorf("Errors %d Accepted %d Sent %d", s.Errors, s.Accepted, s.Sent)
	}
}

func TestOpenLoopLatencyFromIntendedTime(t *testing.T) {
	t.Parallel()
	acc := newAcceptor(t, testKey)
	acc.hook = func(int, [32]byte, int) answer { return answer{delay: 20 * time.Millisecond} }
	// 100 requests/s against a server that handles at most 50/s with one in
	// flight: the backlog grows, and latency from the schedule shows it.
	s := run(t, acc.start(), Options{Rate: 100, Duration: time.Second, Users: 10, MaxInFlight: 1, Seed: 7})
	noProblems(t, acc.snapshot())
	if s.Requests < 10 || s.Requests > 60 {
		t.Errorf("Requests %d, want at most about 50", s.Requests)
	}
	if s.Max < 200*time.Millisecond || s.P99 < 200*time.Millisecond {
		t.Errorf("p99 %v max %v: latency not measured from the intended time", s.P99, s.Max)
	}
}

func TestSameSeedSameEvents(t *testing.T) {
	t.Parallel()
	const n = 150
	labels := func(seed int64) []string {
		t.Helper()
		acc := newAcceptor(t, testKey)
		acc.strict = true
		run(t, acc.start(), Options{Duration: 200 * time.Millisecond, Users: 7, Concurrency: 1, Seed: seed})
		st := acc.snapshot()
		noProblems(t, st)
		if len(st.labels) < n {
			t.Fatalf("only %d events", len(st.labels))
		}
		return st.labels[:n]
	}
	a, b, c := labels(42), labels(42), labels(43)
	if !slices.Equal(a, b) {
		t.Errorf("seed 42 twice:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 42 and 43 gave the same events")
	}
}

func TestCancelStopsRun(t *testing.T) {
	t.Parallel()
	acc := newAcceptor(t, testKey)
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	begin := time.Now()
	s, err := Run(ctx, Options{URL: acc.start(), WriteKey: testKey, Users: 10, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("Run took %v after cancel", took)
	}
	if s.Requests == 0 || s.Errors != 0 || s.Requests != int64(acc.snapshot().requests) {
		t.Errorf("Requests %d Errors %d", s.Requests, s.Errors)
	}
}

func TestProgressLines(t *testing.T) {
	t.Parallel()
	acc := newAcceptor(t, testKey)
	var out bytes.Buffer
	run(t, acc.start(), Options{
		Duration: 350 * time.Millisecond, Users: 5, Concurrency: 1, Progress: &out, ProgressEvery: 100 * time.Millisecond,
	})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 || len(lines) > 4 {
		t.Fatalf("%d progress lines:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		for _, want := range []string{"req/s", "events/s", "accepted", "errors", "p99"} {
			if !strings.Contains(l, want) {
				t.Errorf("line %q lacks %q", l, want)
			}
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
	}{
		{"no URL", Options{}},
		{"bad scheme", Options{URL: "ftp://127.0.0.1"}},
		{"no host", Options{URL: "http://"}},
		{"negative rate", Options{URL: "http://127.0.0.1:1", Rate: -1}},
		{"negative duration", Options{URL: "http://127.0.0.1:1", Duration: -time.Second}},
		{"negative users", Options{URL: "http://127.0.0.1:1", Users: -1}},
		{"duplicate rate above 1", Options{URL: "http://127.0.0.1:1", DuplicateRate: 1.5}},
		{"negative invalid rate", Options{URL: "http://127.0.0.1:1", InvalidRate: -0.1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Run(t.Context(), tt.opts); err == nil {
				t.Errorf("Run(%+v) succeeded", tt.opts)
			}
		})
	}
}

func TestSummaryWrite(t *testing.T) {
	t.Parallel()
	s := Summary{
		Requests: 100, Sent: 1000, Accepted: 990, Rejected: 10, Duplicates: 1, Retries: 2, Errors: 0,
		Status: map[int]int64{200: 101, 503: 2, 0: 1}, Elapsed: 2 * time.Second,
		EventsPerSec: 495, RequestsPerSec: 50, P50: 1234 * time.Microsecond, P90: 2 * time.Millisecond,
		P99: 5 * time.Millisecond, Max: 9 * time.Millisecond, LastError: "HTTP 503: busy",
	}
	var b bytes.Buffer
	s.Write(&b)
	for _, want := range []string{
		"requests     100 (50.0/s)", "accepted     990 (495.0 events/s)", "rejected     10",
		"duplicates   1", "retries      2", "status       network-error=1 200=101 503=2",
		"p50 1.23ms", "max 9ms", "last error   HTTP 503: busy",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

// BenchmarkRunMaxThroughput shows what the generator reaches against a
// server that only reads and acknowledges:
// go test -run X -bench RunMaxThroughput -benchtime 1x ./internal/loadgen/
func BenchmarkRunMaxThroughput(b *testing.B) {
	ack := []byte(`{"accepted":10,"rejected":[]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ack)
	}))
	defer srv.Close()
	for b.Loop() {
		s, err := Run(b.Context(), Options{URL: srv.URL, WriteKey: testKey, Duration: 2 * time.Second, Users: 1000})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(s.RequestsPerSec, "req/s")
		b.ReportMetric(s.EventsPerSec, "events/s")
		b.ReportMetric(float64(s.P99.Microseconds()), "p99-µs")
		if s.Errors > 0 {
			b.Fatalf("errors: %+v", s)
		}
	}
}
