package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/actlog/actlog/internal/ingest"
	"github.com/actlog/actlog/internal/store"
)

// The sources of the test server. No source allows every origin, so that
// a preflight from an unknown origin is refused.
func testSources() []ingest.Source {
	return []ingest.Source{
		{Name: "web", WriteKey: "wk_web", AllowedOrigins: []string{"https://shop.example/"}},
		{Name: "admin", WriteKey: "wk_admin", AllowedOrigins: []string{"https://admin.example"}},
	}
}

// server is the ingest handler over real HTTP in front of a real store.
type server struct {
	t   *testing.T
	st  *store.Store
	srv *httptest.Server
	log *syncBuffer
}

func newServer(t *testing.T, opts ingest.Options) *server {
	t.Helper()
	if opts.Sources == nil {
		opts.Sources = testSources()
	}
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	logs := &syncBuffer{}
	h, err := ingest.New(st, slog.New(slog.NewTextHandler(logs, nil)), prometheus.NewRegistry(), opts)
	if err != nil {
		t.Fatalf("new handler: %v", err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &server{t: t, st: st, srv: srv, log: logs}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// req is one HTTP request to the server.
type req struct {
	method string // default POST
	path   string // default /v1/batch
	body   []byte
	header map[string]string // Content-Type defaults to application/json, X-Write-Key to wk_web
	gzip   bool
	chunk  bool // send without Content-Length
}

// resp is the server's answer.
type resp struct {
	code   int
	header http.Header
	body   []byte
	// decoded 2xx / error bodies
	Accepted int `json:"accepted"`
	Rejected []struct {
		Index     int    `json:"index"`
		MessageID string `json:"messageId"`
		Error     string `json:"error"`
	} `json:"rejected"`
	Error string `json:"error"`
}

func (s *server) do(r req) resp {
	s.t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = "/v1/batch"
	}
	body := r.body
	if r.gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = b.Bytes()
	}
	var rd io.Reader = bytes.NewReader(body)
	if r.chunk {
		rd = io.MultiReader(rd) // hides the length: sent chunked
	}
	hr, err := http.NewRequest(r.method, s.srv.URL+r.path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("X-Write-Key", "wk_web")
	if r.gzip {
		hr.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	res, err := s.srv.Client().Do(hr)
	if err != nil {
		s.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	out := resp{code: res.StatusCode, header: res.Header}
	if out.body, err = io.ReadAll(res.Body); err != nil {
		s.t.Fatalf("read answer: %v", err)
	}
	if len(out.body) > 0 {
		if err := json.Unmarshal(out.body, &out); err != nil {
			s.t.Fatalf("answer %q is not JSON: %v", out.body, err)
		}
	}
	return out
}

func (s *server) count(q string, args ...any) int {
	s.t.Helper()
	var n int
	if err := s.st.DB().QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func wantCode(t *testing.T, got resp, code int) {
	t.Helper()
	if got.code != code {
		t.Fatalf("status %d, want %d; body %s", got.code, code, got.body)
	}
}

func trackMsg(id string) string {
	return `{"type":"track","event":"book_view","anonymousId":"anon-1","messageId":"` + id + `","properties":{"book_id":"b1"}}`
}

func batch(msgs ...string) []byte {
	return []byte(`{"batch":[` + strings.Join(msgs, ",") + `]}`)
}

func TestBatchMixed(t *testing.T) {
	s := newServer(t, ingest.Options{})
	const (
		chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
		secret = "s3cr3t-value"
	)
	body := batch(
		`{"type":"page","anonymousId":"anon-1","messageId":"ok-1","timestamp":"2024-05-01T10:00:00Z","sentAt":"2024-05-01T10:00:01Z",
		  "context":{"page":{"url":"https://shop.example/books/9?utm_source=kakao&utm_campaign=spring","title":"Book 9"},"sessionId":"sess-1","seq":3},
		  "properties":{"section":"home_top","banner":"spring_sale"}}`,
		`{"type":"track","anonymousId":"anon-1","messageId":"bad-1","properties":{"note":"`+secret+`"}}`,
		trackMsg("ok-2"),
		`{"type":"track","event":"e","anonymousId":"anon-1","messageId":"bad-2","properties":{"price":NaN}}`,
		`{"type":"`+secret+`","messageId":"bad-3"}`,
		`"`+secret+`"`,
		"{\"type\":\"track\",\"event\":\"e\",\"anonymousId\":\"anon-1\",\"messageId\":\"bad-5\",\"properties\":{\"t\":\"\xff\"}}",
	)
	got := s.do(req{body: body, header: map[string]string{"User-Agent": chrome}})
	wantCode(t, got, http.StatusOK)
	if got.Accepted != 2 {
		t.Fatalf("accepted = %d, want 2; %s", got.Accepted, got.body)
	}
	type rj struct {
		index     int
		messageID string
		reason    string
	}
	want := []rj{
		{1, "bad-1", "event name is required for track"},
		{3, "bad-2", "properties holds NaN or Infinity, which JSON does not allow"},
		{4, "bad-3", "unknown type"},
		{5, "", "event must be a JSON object"},
		{6, "bad-5", "properties is not valid UTF-8"},
	}
	if len(got.Rejected) != len(want) {
		t.Fatalf("rejected %+v, want %+v", got.Rejected, want)
	}
	for i, w := range want {
		g := got.Rejected[i]
		if g.Index != w.index || g.MessageID != w.messageID || g.Error != w.reason {
			t.Fatalf("rejected[%d] = %+v, want %+v", i, g, w)
		}
	}
	if strings.Contains(string(got.body), secret) {
		t.Fatalf("answer echoes the payload: %s", got.body)
	}

	// The valid events are stored, enriched.
	if n := s.count(`SELECT count(*) FROM events`); n != 2 {
		t.Fatalf("events = %d, want 2", n)
	}
	var (
		typ, event, source, path, title, section, banner, utmSource, utmCampaign string
		device, browser, ip, session, props                                      string
		seq                                                                      int64
		ts, received                                                             time.Time
	)
	err := s.st.DB().QueryRow(`SELECT type, event, source, page_path, page_title, section, banner, utm_source, utm_campaign,
		device_type, browser, ip, session_id, seq, ts, received_at, properties::VARCHAR FROM events WHERE event_id = 'ok-1'`).Scan(
		&typ, &event, &source, &path, &title, &section, &banner, &utmSource, &utmCampaign, &device, &browser, &ip, &session, &seq, &ts, &received, &props)
	if err != nil {
		t.Fatalf("read ok-1: %v", err)
	}
	for _, c := range [][3]string{
		{"type", typ, "page"}, {"event", event, "page_view"}, {"source", source, "web"},
		{"page_path", path, "/books/9"}, {"page_title", title, "Book 9"},
		{"section", section, "home_top"}, {"banner", banner, "spring_sale"},
		{"utm_source", utmSource, "kakao"}, {"utm_campaign", utmCampaign, "spring"},
		{"device_type", device, "desktop"}, {"browser", browser, "Chrome"},
		{"ip", ip, "127.0.0.0"}, {"session_id", session, "sess-1"},
	} {
		if c[1] != c[2] {
			t.Errorf("%s = %q, want %q", c[0], c[1], c[2])
		}
	}
	if seq != 3 {
		t.Errorf("seq = %d, want 3", seq)
	}
	if d := received.Sub(ts); d != time.Second {
		t.Errorf("received_at - ts = %v, want the 1 s between timestamp and sentAt", d)
	}
	if !strings.Contains(props, `"section":"home_top"`) {
		t.Errorf("properties = %s", props)
	}
	if n := s.count(`SELECT count(*) FROM events WHERE event_id = 'ok-2' AND json_extract_string(properties, '$.book_id') = 'b1'`); n != 1 {
		t.Fatalf("ok-2 rows with properties.book_id = %d, want 1", n)
	}

	// The invalid ones are kept with their reason and raw JSON.
	rows, err := s.st.DB().Query(`SELECT received_at, source, idx, coalesce(message_id, ''), reason, raw FROM rejected ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var (
			at                   time.Time
			src, id, reason, raw string
			idx                  int
		)
		if err := rows.Scan(&at, &src, &idx, &id, &reason, &raw); err != nil {
			t.Fatal(err)
		}
		if i >= len(want) {
			t.Fatalf("more rejected rows than %d", len(want))
		}
		w := want[i]
		if idx != w.index || id != w.messageID || reason != w.reason || src != "web" || at.IsZero() {
			t.Errorf("rejected row %d = %v %q %d %q %q, want %+v", i, at, src, idx, id, reason, w)
		}
		if !json.Valid([]byte(raw)) {
			t.Errorf("raw %q is not JSON", raw)
		}
		i++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(want) {
		t.Fatalf("rejected rows = %d, want %d", i, len(want))
	}
	var raw string
	if err := s.st.DB().QueryRow(`SELECT raw FROM rejected WHERE message_id = 'bad-1'`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(raw, secret) || !strings.Contains(raw, `"messageId":"bad-1"`) {
		t.Fatalf("raw of bad-1 = %s, want the event as sent", raw)
	}
	if strings.Contains(s.log.String(), secret) {
		t.Fatalf("log holds the payload: %s", s.log.String())
	}
}

// Strings and numbers that the lenient parser accepts must not reach the
// store in a form that fails the commit of the whole group.
func TestBatchHostileValuesStored(t *testing.T) {
	s := newServer(t, ingest.Options{})
	deep := strings.Repeat(`{"a":`, 250) + "1" + strings.Repeat("}", 250)
	body := batch(
		`{"type":"track","event":"e","anonymousId":"a","messageId":"h-1","properties":{"q":"\"quoted\" \u0000 \u0007 \u2028","n":1e400,"big":123456789012345678901234567890}}`,
		"{\"type\":\"track\",\"event\":\"e\",\"anonymousId\":\"a\",\"messageId\":\"h-2\",\"properties\":{\"raw\":\"tab\there \x01 \\ud800\"}}",
		`{"type":"screen","anonymousId":"a","messageId":"h-3","name":"Library 📚","context":{"page":{"url":"https://x.example/%FF%00?utm_source=%FE"}}}`,
		`{"type":"track","event":"e","anonymousId":"a","messageId":"h-4","properties":{"deep":`+deep+`}}`,
	)
	got := s.do(req{body: body})
	wantCode(t, got, http.StatusOK)
	if got.Accepted != 4 {
		t.Fatalf("accepted = %d, want 4: %s", got.Accepted, got.body)
	}
	if n := s.count(`SELECT count(*) FROM events WHERE json_valid(properties::VARCHAR) AND json_valid(context::VARCHAR)`); n != 4 {
		t.Fatalf("events with valid JSON = %d, want 4", n)
	}
	var q string
	if err := s.st.DB().QueryRow(`SELECT json_extract_string(properties, '$.q') FROM events WHERE event_id = 'h-1'`).Scan(&q); err != nil {
		t.Fatal(err)
	}
	if q != "\"quoted\" \x00 \a \u2028" {
		t.Fatalf("properties.q = %q", q)
	}
}

func TestWriteKey(t *testing.T) {
	s := newServer(t, ingest.Options{})
	basic := func(k string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(k+":")) }
	for _, tc := range []struct {
		name   string
		r      req
		code   int
		source string // the source the event is stored under
	}{
		{"basic auth", req{header: map[string]string{"X-Write-Key": "", "Authorization": basic("wk_admin")}}, 200, "admin"},
		{"header", req{header: map[string]string{"X-Write-Key": "wk_admin"}}, 200, "admin"},
		{"body, text/plain beacon", req{header: map[string]string{"X-Write-Key": "", "Content-Type": "text/plain;charset=UTF-8"}, body: []byte(`{"writeKey":"wk_admin","batch":[MSG]}`)}, 200, "admin"},
		{"body, single message", req{path: "/v1/track", header: map[string]string{"X-Write-Key": ""}, body: []byte(`{"writeKey":"wk_web","type":"track","event":"e","anonymousId":"a","messageId":"ID"}`)}, 200, "web"},
		{"no content type", req{header: map[string]string{"Content-Type": ""}}, 200, "web"},
		{"json with charset", req{header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}, 200, "web"},
		{"unknown header key", req{header: map[string]string{"X-Write-Key": "wk_nope"}}, 401, ""},
		{"unknown basic key", req{header: map[string]string{"X-Write-Key": "", "Authorization": basic("wk_nope")}}, 401, ""},
		{"unknown body key", req{header: map[string]string{"X-Write-Key": ""}, body: []byte(`{"writeKey":"wk_nope","batch":[MSG]}`)}, 401, ""},
		{"no key", req{header: map[string]string{"X-Write-Key": ""}}, 401, ""},
		{"malformed basic auth", req{header: map[string]string{"X-Write-Key": "", "Authorization": "Basic %%%"}}, 401, ""},
		{"wrong content type", req{header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, ""},
		{"unparsable content type", req{header: map[string]string{"Content-Type": "/"}}, 415, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "wk-" + strings.ReplaceAll(tc.name, " ", "-")
			r := tc.r
			if r.body == nil {
				r.body = batch(trackMsg(id))
			} else {
				r.body = bytes.ReplaceAll(r.body, []byte("MSG"), []byte(trackMsg(id)))
				r.body = bytes.ReplaceAll(r.body, []byte(`"ID"`), []byte(`"`+id+`"`))
			}
			got := s.do(r)
			wantCode(t, got, tc.code)
			if tc.code != 200 {
				if got.Error == "" {
					t.Fatalf("error answer without a message: %s", got.body)
				}
				if n := s.count(`SELECT count(*) FROM events WHERE event_id = ?`, id); n != 0 {
					t.Fatalf("refused event stored %d times", n)
				}
				return
			}
			if n := s.count(`SELECT count(*) FROM events WHERE event_id = ? AND source = ?`, id, tc.source); n != 1 {
				t.Fatalf("events of %s under source %s = %d, want 1", id, tc.source, n)
			}
		})
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func TestBodyEncodingAndLimits(t *testing.T) {
	const limit = 64 << 10
	s := newServer(t, ingest.Options{MaxRequestBytes: limit, MaxBatchEvents: 10})
	full := gzipped(batch(trackMsg("gz-truncated")))
	// A bomb: small on the wire, far beyond the limit once decompressed.
	bomb := gzipped([]byte(`{"batch":[` + strings.Repeat(" ", 8<<20) + `]}`))
	// Incompressible: a little larger on the wire than decompressed, so
	// only the wire is over the limit.
	noise := make([]byte, limit-8)
	_, _ = rand.Read(noise)
	noisy := gzipped(noise)
	msgs := make([]string, 11)
	for i := range msgs {
		msgs[i] = trackMsg(fmt.Sprintf("many-%d", i))
	}
	for _, tc := range []struct {
		name   string
		r      req
		code   int
		stored string // an event id that must be stored
	}{
		{"gzip", req{body: batch(trackMsg("gz-1")), gzip: true}, 200, "gz-1"},
		{"gzip chunked", req{body: batch(trackMsg("gz-2")), gzip: true, chunk: true}, 200, "gz-2"},
		{"gzip upper case", req{body: gzipped(batch(trackMsg("gz-3"))), header: map[string]string{"Content-Encoding": "GZIP"}}, 200, "gz-3"},
		{"identity", req{body: batch(trackMsg("id-1")), header: map[string]string{"Content-Encoding": "identity"}}, 200, "id-1"},
		{"truncated gzip", req{body: full[:len(full)-12], header: map[string]string{"Content-Encoding": "gzip"}}, 400, ""},
		{"truncated gzip header", req{body: full[:5], header: map[string]string{"Content-Encoding": "gzip"}}, 400, ""},
		{"not gzip", req{body: batch(trackMsg("x")), header: map[string]string{"Content-Encoding": "gzip"}}, 400, ""},
		{"gzip bomb", req{body: bomb, header: map[string]string{"Content-Encoding": "gzip"}}, 413, ""},
		{"gzip bomb chunked", req{body: bomb, chunk: true, header: map[string]string{"Content-Encoding": "gzip"}}, 413, ""},
		{"compressed body over the limit", req{body: noisy, header: map[string]string{"Content-Encoding": "gzip"}}, 413, ""},
		{"compressed body over the limit, chunked", req{body: noisy, chunk: true, header: map[string]string{"Content-Encoding": "gzip"}}, 413, ""},
		{"unknown encoding", req{body: batch(trackMsg("x")), header: map[string]string{"Content-Encoding": "br"}}, 415, ""},
		{"body over the limit", req{body: []byte(`{"batch":[` + strings.Repeat(" ", limit) + `]}`)}, 413, ""},
		{"body over the limit, chunked", req{body: []byte(`{"batch":[` + strings.Repeat(" ", limit) + `]}`), chunk: true}, 413, ""},
		{"body at the limit", req{body: []byte(`{"batch":[` + trackMsg("at-limit") + strings.Repeat(" ", limit-len(`{"batch":[]}`)-len(trackMsg("at-limit"))) + `]}`)}, 200, "at-limit"},
		{"too many events", req{body: batch(msgs...)}, 400, ""},
		{"empty body", req{body: nil}, 400, ""},
		{"not JSON", req{body: []byte(`{"batch":[`)}, 400, ""},
		{"empty batch", req{body: []byte(`{"batch":[]}`)}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := s.do(tc.r)
			wantCode(t, got, tc.code)
			if tc.stored != "" {
				if n := s.count(`SELECT count(*) FROM events WHERE event_id = ?`, tc.stored); n != 1 {
					t.Fatalf("event %s stored %d times, want 1", tc.stored, n)
				}
			}
			// The server keeps serving after every failure.
			id := "after-" + strings.ReplaceAll(tc.name, " ", "-")
			wantCode(t, s.do(req{body: batch(trackMsg(id))}), 200)
			if n := s.count(`SELECT count(*) FROM events WHERE event_id = ?`, id); n != 1 {
				t.Fatalf("event after the failure stored %d times", n)
			}
		})
	}
}

func TestMethods(t *testing.T) {
	s := newServer(t, ingest.Options{})
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodHead} {
		got := s.do(req{method: m})
		wantCode(t, got, http.StatusMethodNotAllowed)
		if a := got.header.Get("Allow"); a != "POST, OPTIONS" {
			t.Fatalf("%s: Allow = %q", m, a)
		}
	}
}

func TestCORS(t *testing.T) {
	s := newServer(t, ingest.Options{})
	preflight := func(origin string) resp {
		return s.do(req{method: http.MethodOptions, header: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type",
			"X-Write-Key": "", "Content-Type": "",
		}})
	}
	t.Run("preflight allowed", func(t *testing.T) {
		got := preflight("https://shop.example")
		wantCode(t, got, http.StatusNoContent)
		for k, want := range map[string]string{
			"Access-Control-Allow-Origin":  "https://shop.example",
			"Access-Control-Allow-Methods": "POST, OPTIONS",
			"Vary":                         "Origin",
		} {
			if v := got.header.Get(k); v != want {
				t.Fatalf("%s = %q, want %q", k, v, want)
			}
		}
		for _, h := range []string{"Content-Type", "Content-Encoding", "Authorization", "X-Write-Key"} {
			if !strings.Contains(got.header.Get("Access-Control-Allow-Headers"), h) {
				t.Fatalf("Access-Control-Allow-Headers = %q lacks %s", got.header.Get("Access-Control-Allow-Headers"), h)
			}
		}
	})
	t.Run("preflight from an origin of another source", func(t *testing.T) {
		wantCode(t, preflight("https://admin.example"), http.StatusNoContent)
	})
	for _, origin := range []string{"https://evil.example", "https://shop.example.evil", "null", ""} {
		t.Run("preflight refused "+origin, func(t *testing.T) {
			got := preflight(origin)
			wantCode(t, got, http.StatusForbidden)
			if v := got.header.Get("Access-Control-Allow-Origin"); v != "" {
				t.Fatalf("Access-Control-Allow-Origin = %q", v)
			}
		})
	}
	t.Run("post from an allowed origin", func(t *testing.T) {
		got := s.do(req{body: batch(trackMsg("cors-1")), header: map[string]string{"Origin": "https://shop.example"}})
		wantCode(t, got, http.StatusOK)
		if v := got.header.Get("Access-Control-Allow-Origin"); v != "https://shop.example" {
			t.Fatalf("Access-Control-Allow-Origin = %q", v)
		}
	})
	t.Run("post from an origin not allowed for the source", func(t *testing.T) {
		got := s.do(req{body: batch(trackMsg("cors-2")), header: map[string]string{"Origin": "https://admin.example"}})
		wantCode(t, got, http.StatusForbidden)
		if n := s.count(`SELECT count(*) FROM events WHERE event_id = 'cors-2'`); n != 0 {
			t.Fatal("event from a refused origin stored")
		}
	})
	t.Run("post from an unknown origin", func(t *testing.T) {
		got := s.do(req{body: batch(trackMsg("cors-3")), header: map[string]string{"Origin": "https://evil.example"}})
		wantCode(t, got, http.StatusForbidden)
		if v := got.header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Fatalf("Access-Control-Allow-Origin = %q", v)
		}
	})
	t.Run("beacon with the key in the body", func(t *testing.T) {
		got := s.do(req{body: []byte(`{"writeKey":"wk_web","batch":[` + trackMsg("cors-4") + `]}`),
			header: map[string]string{"Origin": "https://shop.example", "X-Write-Key": "", "Content-Type": "text/plain;charset=UTF-8"}})
		wantCode(t, got, http.StatusOK)
	})
}

func TestRateLimit(t *testing.T) {
	// 0.01 events/s: once the burst is spent, the next token is 100 s away,
	// so the test does not depend on how fast it runs.
	src := testSources()
	src[0].RateLimit, src[0].RateBurst = 0.01, 3
	s := newServer(t, ingest.Options{Sources: src})
	wantCode(t, s.do(req{body: batch(trackMsg("rl-1"), trackMsg("rl-2"), trackMsg("rl-3"))}), http.StatusOK)
	got := s.do(req{body: batch(trackMsg("rl-4"))})
	wantCode(t, got, http.StatusTooManyRequests)
	ra, err := strconv.Atoi(got.header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 100 {
		t.Fatalf("Retry-After = %q, want 1..100 seconds", got.header.Get("Retry-After"))
	}
	wantCode(t, s.do(req{body: batch(trackMsg("rl-5"), trackMsg("rl-6"), trackMsg("rl-7"), trackMsg("rl-8"))}), http.StatusRequestEntityTooLarge)
	// Other sources have their own budget.
	wantCode(t, s.do(req{body: batch(trackMsg("rl-9")), header: map[string]string{"X-Write-Key": "wk_admin"}}), http.StatusOK)
	if n := s.count(`SELECT count(*) FROM events`); n != 4 {
		t.Fatalf("events = %d, want 4", n)
	}
}

func TestSingleMessageEndpoints(t *testing.T) {
	s := newServer(t, ingest.Options{})
	for _, tc := range []struct {
		path, body, typ, event string
	}{
		{"/v1/track", `{"event":"book_view","anonymousId":"a"}`, "track", "book_view"},
		{"/v1/t", `{"event":"book_view","anonymousId":"a"}`, "track", "book_view"},
		{"/v1/page", `{"anonymousId":"a","properties":{"path":"/home"}}`, "page", "page_view"},
		{"/v1/p", `{"anonymousId":"a","type":"page"}`, "page", "page_view"},
		{"/v1/screen", `{"userId":"u","name":"Library"}`, "screen", "screen_view"},
		{"/v1/s", `{"userId":"u","name":"Library"}`, "screen", "screen_view"},
		{"/v1/identify", `{"userId":"u","traits":{"plan":"pro"}}`, "identify", "identify"},
		{"/v1/i", `{"userId":"u"}`, "identify", "identify"},
		{"/v1/group", `{"userId":"u","groupId":"g1"}`, "group", "group"},
		{"/v1/g", `{"userId":"u","groupId":"g1"}`, "group", "group"},
		{"/v1/alias", `{"userId":"u","previousId":"a"}`, "alias", "alias"},
		{"/v1/a", `{"userId":"u","previousId":"a"}`, "alias", "alias"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			id := "single" + strings.ReplaceAll(tc.path, "/", "-")
			body := strings.Replace(tc.body, "{", `{"messageId":"`+id+`",`, 1)
			got := s.do(req{path: tc.path, body: []byte(body)})
			wantCode(t, got, http.StatusOK)
			if got.Accepted != 1 || len(got.Rejected) != 0 {
				t.Fatalf("answer %s", got.body)
			}
			if n := s.count(`SELECT count(*) FROM events WHERE event_id = ? AND type = ? AND event = ?`, id, tc.typ, tc.event); n != 1 {
				t.Fatalf("stored %d rows of type %s, want 1", n, tc.typ)
			}
		})
	}
	t.Run("type contradicting the path", func(t *testing.T) {
		got := s.do(req{path: "/v1/page", body: []byte(`{"type":"track","event":"e","anonymousId":"a","messageId":"contra"}`)})
		wantCode(t, got, http.StatusOK)
		if got.Accepted != 0 || len(got.Rejected) != 1 || got.Rejected[0].Error != "type does not match the endpoint" || got.Rejected[0].MessageID != "contra" {
			t.Fatalf("answer %s", got.body)
		}
		if n := s.count(`SELECT count(*) FROM rejected WHERE message_id = 'contra'`); n != 1 {
			t.Fatalf("rejected rows = %d, want 1", n)
		}
	})
	t.Run("batch body on a single path", func(t *testing.T) {
		got := s.do(req{path: "/v1/track", body: batch(trackMsg("b-on-t"))})
		wantCode(t, got, http.StatusOK)
		if got.Accepted != 0 || len(got.Rejected) != 1 {
			t.Fatalf("answer %s", got.body)
		}
	})
	t.Run("import is a batch", func(t *testing.T) {
		wantCode(t, s.do(req{path: "/v1/import", body: batch(trackMsg("imp-1"))}), http.StatusOK)
		if n := s.count(`SELECT count(*) FROM events WHERE event_id = 'imp-1'`); n != 1 {
			t.Fatal("import not stored")
		}
	})
}

// TestSegmentMobileLibraries covers what analytics-swift and analytics-kotlin
// need: their settings document, naming actlog as the destination, and
// batches posted to <apiHost>/b.
func TestSegmentMobileLibraries(t *testing.T) {
	s := newServer(t, ingest.Options{})
	key := testSources()[0].WriteKey
	res, err := http.Get(s.srv.URL + "/v1/projects/" + key + "/settings")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Integrations map[string]struct {
			APIKey  string `json:"apiKey"`
			APIHost string `json:"apiHost"`
		} `json:"integrations"`
	}
	err = json.NewDecoder(res.Body).Decode(&doc)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("settings: %d %v", res.StatusCode, err)
	}
	seg := doc.Integrations["Segment.io"]
	if want := strings.TrimPrefix(s.srv.URL, "http://") + "/v1"; seg.APIKey != key || seg.APIHost != want {
		t.Fatalf("Segment.io settings %+v, want key %s and host %s", seg, key, want)
	}
	res, err = http.Get(s.srv.URL + "/v1/projects/wk_unknown_key/settings")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown key: %d, want 404", res.StatusCode)
	}

	got := s.do(req{path: "/v1/b", body: batch(trackMsg("mobile-b-1"))})
	wantCode(t, got, http.StatusOK)
	if n := s.count(`SELECT count(*) FROM events WHERE event_id = 'mobile-b-1'`); n != 1 {
		t.Fatalf("stored %d rows from /v1/b, want 1", n)
	}
}

func TestRetryStoredOnce(t *testing.T) {
	s := newServer(t, ingest.Options{})
	body := batch(trackMsg("r-1"), trackMsg("r-2"), trackMsg("r-3"))
	for range 3 {
		got := s.do(req{body: body})
		wantCode(t, got, http.StatusOK)
		if got.Accepted != 3 {
			t.Fatalf("accepted = %d, want 3", got.Accepted)
		}
	}
	// The same ids under another source are other events.
	wantCode(t, s.do(req{body: body, header: map[string]string{"X-Write-Key": "wk_admin"}}), http.StatusOK)
	if n := s.count(`SELECT count(*) FROM events`); n != 6 {
		t.Fatalf("events = %d, want 6", n)
	}
	if n := s.count(`SELECT count(DISTINCT (source, event_id)) FROM events`); n != 6 {
		t.Fatalf("distinct events = %d, want 6", n)
	}
}

func TestStoreClosed(t *testing.T) {
	s := newServer(t, ingest.Options{CommitTimeout: 200 * time.Millisecond})
	if err := s.st.Close(); err != nil {
		t.Fatal(err)
	}
	const secret = "s3cr3t-value"
	got := s.do(req{body: batch(trackMsg("closed-1"), `{"type":"track","anonymousId":"`+secret+`","properties":{"p":"`+secret+`"}}`)})
	wantCode(t, got, http.StatusServiceUnavailable)
	if logs := s.log.String(); !strings.Contains(logs, "sink write failed") || strings.Contains(logs, secret) {
		t.Fatalf("log %q: want the sink failure, without the payload", logs)
	}
	if ra, err := strconv.Atoi(got.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After = %q", got.header.Get("Retry-After"))
	}
	if got.Error == "" {
		t.Fatalf("503 without a message: %s", got.body)
	}
}

// New accepts a nil logger; the 503 path logs, and must not panic.
func TestStoreClosedNilLogger(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := ingest.New(st, nil, nil, ingest.Options{Sources: testSources(), CommitTimeout: 200 * time.Millisecond, RetryAfter: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s := &server{t: t, srv: srv}
	got := s.do(req{body: batch(trackMsg("nil-log"), `{"type":"track"}`)})
	wantCode(t, got, http.StatusServiceUnavailable)
	if v := got.header.Get("Retry-After"); v != "3" {
		t.Fatalf("Retry-After = %q, want 3", v)
	}
}

func TestForwardedFor(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies []netip.Prefix
		ip      ingest.IPMode
		want    string
	}{
		{"untrusted", nil, "", "127.0.0.0"},
		{"trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "", "198.51.100.0"},
		{"trusted proxy, ip kept", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, ingest.IPKeep, "198.51.100.23"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, ingest.Options{TrustedProxies: tc.proxies, Enrich: ingest.EnrichOptions{IP: tc.ip}})
			wantCode(t, s.do(req{body: batch(trackMsg("xff")), header: map[string]string{"X-Forwarded-For": "198.51.100.23"}}), http.StatusOK)
			var ip string
			if err := s.st.DB().QueryRow(`SELECT ip FROM events WHERE event_id = 'xff'`).Scan(&ip); err != nil {
				t.Fatal(err)
			}
			if ip != tc.want {
				t.Fatalf("ip = %q, want %q", ip, tc.want)
			}
		})
	}
}

func TestConcurrentClients(t *testing.T) {
	s := newServer(t, ingest.Options{})
	const clients, per = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, clients*per)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				body := batch(trackMsg(fmt.Sprintf("c%d-%d-a", c, i)), trackMsg(fmt.Sprintf("c%d-%d-b", c, i)), `{"type":"track"}`)
				res, err := s.srv.Client().Post(s.srv.URL+"/v1/batch?writeKey=ignored", "text/plain", bytes.NewReader(append([]byte(`{"writeKey":"wk_web",`), body[1:]...)))
				if err != nil {
					errs <- err
					return
				}
				var out struct {
					Accepted int `json:"accepted"`
				}
				err = json.NewDecoder(res.Body).Decode(&out)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 || out.Accepted != 2 {
					errs <- fmt.Errorf("status %d, accepted %d, err %v", res.StatusCode, out.Accepted, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := s.count(`SELECT count(*) FROM events`); n != clients*per*2 {
		t.Fatalf("events = %d, want %d", n, clients*per*2)
	}
	if n := s.count(`SELECT count(*) FROM rejected`); n != clients*per {
		t.Fatalf("rejected = %d, want %d", n, clients*per)
	}
}

func TestNewRejectsBadSources(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  []ingest.Source
	}{
		{"no name", []ingest.Source{{WriteKey: "k"}}},
		{"no key", []ingest.Source{{Name: "n"}}},
		{"shared key", []ingest.Source{{Name: "a", WriteKey: "k"}, {Name: "b", WriteKey: "k"}}},
	} {
		if _, err := ingest.New(nil, nil, nil, ingest.Options{Sources: tc.src}); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}
