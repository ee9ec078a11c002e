package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// documentedMetrics reads the metrics table of docs/operations.md: each
// metric and the roles that export it.
func documentedMetrics(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `(actlog_[a-z_]+)` \\| [a-z]+ \\|[^|]*\\| ([^|]+) \\|")
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if m := row.FindStringSubmatch(l); m != nil {
			out[m[1]] = m[2]
		}
	}
	if len(out) < 20 {
		t.Fatalf("docs/operations.md: %d metrics found in its table", len(out))
	}
	return out
}

// scrape answers /metrics as series (name{labels}) → value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

// sum adds the series of a metric whose labels contain every given pair.
func sum(series map[string]float64, name string, labels ...string) float64 {
	var s float64
	for k, v := range series {
		if k != name && !strings.HasPrefix(k, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(k, l)
		}
		if ok {
			s += v
		}
	}
	return s
}

// TestMetrics sends traffic to a real actlog serve and checks that every
// metric docs/operations.md lists for the serve role is exported, that the
// traffic moved them, that no label holds an id or a URL, and that the
// request id is answered.
func TestMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	docs := documentedMetrics(t)
	dir := t.TempDir()
	port := freePort(t)
	srv := startServer(t, writeConfig(t, dir, port, ""), port)
	defer srv.stop()
	before := scrape(t, srv.base)

	// Three events, one of them invalid, sent twice (the second time all
	// duplicates), with a request id.
	body := `{"batch":[
		{"type":"track","event":"book_view","messageId":"m-1","anonymousId":"a-1","properties":{"book_id":"b1"}},
		{"type":"page","messageId":"m-2","anonymousId":"a-1","properties":{"url":"https://books.example/p?secret=1"}},
		{"type":"track","messageId":"m-3","anonymousId":"a-1"}]}`
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, srv.base+"/v1/batch", strings.NewReader(body))
		req.SetBasicAuth("test-write-key", "")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Id", "trace-42")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-Id") != "trace-42" {
			t.Fatalf("batch: %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
		}
	}
	var after map[string]float64
	deadline := time.Now().Add(5 * time.Second)
	for {
		after = scrape(t, srv.base)
		if sum(after, "actlog_store_rows", `table="events"`) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	for name, roles := range docs {
		if !strings.Contains(roles, "serve") || strings.Contains(roles, "with ") ||
			name == "actlog_ingest_rate_limited_total" { // appears with the first 429
			continue
		}
		found := false
		for k := range after {
			found = found || k == name || strings.HasPrefix(k, name+"{") || strings.HasPrefix(k, name+"_")
		}
		if !found {
			t.Errorf("%s is documented for serve but not exported", name)
		}
	}
	moved := []struct {
		name   string
		labels []string
		delta  float64
	}{
		{"actlog_ingest_request_duration_seconds_count", []string{`route="batch"`, `code="200"`}, 2},
		{"actlog_ingest_events_total", []string{`outcome="accepted"`, `source="web"`}, 4},
		{"actlog_ingest_events_total", []string{`outcome="rejected"`}, 2},
		{"actlog_ingest_rejected_total", []string{`reason="missing_field"`, `source="web"`}, 2},
		{"actlog_store_events_total", nil, 2},
		{"actlog_store_dedupe_hits_total", nil, 2},
		{"actlog_store_rejected_total", nil, 2},
		{"actlog_store_rows", []string{`table="events"`}, 2},
		{"actlog_store_rows", []string{`table="rejected"`}, 2},
	}
	for _, m := range moved {
		if d := sum(after, m.name, m.labels...) - sum(before, m.name, m.labels...); d != m.delta {
			t.Errorf("%s%v moved by %v, want %v", m.name, m.labels, d, m.delta)
		}
	}
	if d := sum(after, "actlog_ingest_received_bytes_total") - sum(before, "actlog_ingest_received_bytes_total"); d != float64(2*len(body)) {
		t.Errorf("received bytes moved by %v, want %d", d, 2*len(body))
	}
	if sum(after, "actlog_store_size_bytes") <= 0 || sum(after, "actlog_store_commits_total") < 1 {
		t.Errorf("store size %v, commits %v", sum(after, "actlog_store_size_bytes"), sum(after, "actlog_store_commits_total"))
	}
	if v := sum(after, "actlog_ingest_in_flight_requests"); v != 0 {
		t.Errorf("in-flight requests %v after the answers", v)
	}
	for k := range after {
		if strings.Contains(k, "a-1") || strings.Contains(k, "books.example") || strings.Contains(k, "book_view") || strings.Contains(k, "trace-42") {
			t.Errorf("a label holds sent data: %s", k)
		}
	}
}
