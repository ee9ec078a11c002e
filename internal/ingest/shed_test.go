package ingest_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/ingest"
	"github.com/actlog/actlog/internal/store"
)

// gate holds every Write until it is opened, then passes it to the store.
type gate struct {
	st      *store.Store
	waiting sync.WaitGroup
	open    chan struct{}
}

func (g *gate) Write(ctx context.Context, b *event.Batch) error {
	g.waiting.Done()
	<-g.open
	return g.st.Write(ctx, b)
}

// TestShedBeyondMaxInFlight: with MaxInFlight requests waiting for the
// store, the next one is answered 503 with Retry-After as soon as its body
// is read; the waiting ones are stored when the store answers.
func TestShedBeyondMaxInFlight(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g := &gate{st: st, open: make(chan struct{})}
	h, err := ingest.New(g, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), ingest.Options{
		Sources: []ingest.Source{{Name: "web", WriteKey: "wk_web"}}, MaxInFlight: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(id string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/batch", strings.NewReader(`{"batch":[{"type":"track","event":"e","anonymousId":"a","messageId":"`+id+`"}]}`))
		req.Header.Set("X-Write-Key", "wk_web")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After") + " " + string(b)
	}
	g.waiting.Add(2)
	codes := make(chan int, 2)
	for _, id := range []string{"m1", "m2"} {
		go func() { c, _ := post(id); codes <- c }()
	}
	g.waiting.Wait() // both are in the sink
	if code, body := post("m3"); code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "1 ") || !strings.Contains(body, "too many requests in flight") {
		t.Fatalf("third request: %d %q", code, body)
	}
	close(g.open)
	for range 2 {
		if c := <-codes; c != http.StatusOK {
			t.Fatalf("a waiting request was answered %d", c)
		}
	}
	var n int
	if err := st.DB().QueryRow(`SELECT count(*) FROM events`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d events stored (%v), want 2", n, err)
	}
	// Room again: accepted.
	g.waiting.Add(1)
	if code, _ := post("m4"); code != http.StatusOK {
		t.Fatalf("after the burst: %d", code)
	}
}
