package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestCrashExactlyOnce runs `actlog serve` as a subprocess under continuous
// load with client retries, kills it with SIGKILL at random moments, restarts
// it on the same data directory, and checks that every event whose request
// got a 2xx is stored exactly once and nothing is stored twice — including
// retries of acknowledged batches sent after a restart (dedupe persisted).
func TestCrashExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs subprocesses")
	}
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, port, "")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	load := newRetryLoad()
	const kills = 3
	for round := range kills {
		srv := startServer(t, cfg, port)
		load.start(srv.base, fmt.Sprintf("r%d", round), 8, 0)
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		srv.kill()
		load.stop()
	}
	// Restarted: let it run, then resend every batch once more, acknowledged
	// or not, so that every id ever sent is acknowledged.
	srv := startServer(t, cfg, port)
	defer srv.stop()
	load.start(srv.base, "last", 8, 0)
	time.Sleep(500 * time.Millisecond)
	load.stop()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for _, ids := range load.batches {
		code, err := postBatch(client, srv.base, ids)
		if err != nil || code != http.StatusOK {
			t.Fatalf("resend after restart: %d %v", code, err)
		}
		load.ack(ids)
	}
	stored := load.check(t, srv.sql("SELECT event_id, count(*) FROM events GROUP BY event_id"))
	if stored != len(load.acked) {
		t.Fatalf("stored %d events, acknowledged %d (every batch was resent until acknowledged)", stored, len(load.acked))
	}
	srv.checkIdentities()
}

// TestGracefulShutdown checks that SIGINT under load answers or refuses every
// request cleanly and that every acknowledged event is stored.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs subprocesses")
	}
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, port, "")
	srv := startServer(t, cfg, port)
	client := &http.Client{Timeout: 5 * time.Second}
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				ids := []string{fmt.Sprintf("g-%d-%d-a", c, n), fmt.Sprintf("g-%d-%d-b", c, n)}
				if code, err := postBatch(client, srv.base, ids); err == nil && code == http.StatusOK {
					mu.Lock()
					acked[ids[0]], acked[ids[1]] = true, true
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(400 * time.Millisecond)
	srv.stop()
	close(stop)
	wg.Wait()
	client.CloseIdleConnections()

	srv = startServer(t, cfg, port)
	defer srv.stop()
	rows := srv.sql("SELECT event_id FROM events")
	stored := map[string]bool{}
	for _, r := range rows {
		stored[r[0].(string)] = true
	}
	for id := range acked {
		if !stored[id] {
			t.Fatalf("acknowledged event %s lost over a graceful shutdown", id)
		}
	}
	if len(acked) == 0 {
		t.Fatal("no request was acknowledged")
	}
	t.Logf("acknowledged=%d stored=%d", len(acked), len(stored))
}
