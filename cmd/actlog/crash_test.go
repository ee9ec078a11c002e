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

	var (
		mu      sync.Mutex
		acked   = map[string]bool{} // ids of requests answered 2xx
		batches [][]string          // every batch ever sent, for retries
	)
	const kills = 3
	const clients = 8
	for round := 0; round <= kills; round++ {
		srv := startServer(t, cfg, port)
		client := &http.Client{Timeout: 5 * time.Second}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(round), uint64(c)))
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					var ids []string
					mu.Lock()
					if len(batches) > 0 && r.IntN(10) == 0 {
						// A client retry of an earlier batch, acknowledged or not.
						ids = batches[r.IntN(len(batches))]
					} else {
						for i := range 10 {
							ids = append(ids, fmt.Sprintf("r%d-c%d-n%d-%d", round, c, n, i))
						}
						batches = append(batches, ids)
					}
					mu.Unlock()
					code, err := postBatch(client, srv.base, ids)
					if err == nil && code == http.StatusOK {
						mu.Lock()
						for _, id := range ids {
							acked[id] = true
						}
						mu.Unlock()
					}
				}
			}()
		}
		if round < kills {
			time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
			srv.kill()
			close(stop)
			wg.Wait()
			continue
		}
		// Last round: let it run, then stop the load and resend every batch
		// once more, acknowledged or not, to the restarted server.
		time.Sleep(500 * time.Millisecond)
		close(stop)
		wg.Wait()
		mu.Lock()
		all := batches
		mu.Unlock()
		for _, ids := range all {
			code, err := postBatch(client, srv.base, ids)
			if err != nil || code != http.StatusOK {
				t.Fatalf("resend after restart: %d %v", code, err)
			}
			for _, id := range ids {
				acked[id] = true
			}
		}
		client.CloseIdleConnections()

		rows := srv.sql("SELECT event_id, count(*) FROM events GROUP BY event_id")
		stored := make(map[string]bool, len(rows))
		doubled := 0
		for _, r := range rows {
			id, _ := r[0].(string)
			if n, _ := r[1].(float64); n != 1 {
				doubled++
			}
			stored[id] = true
		}
		lost := 0
		for id := range acked {
			if !stored[id] {
				lost++
			}
		}
		t.Logf("kills=%d batches=%d acknowledged=%d stored=%d lost=%d doubled=%d", kills, len(all), len(acked), len(stored), lost, doubled)
		if lost != 0 || doubled != 0 {
			t.Fatalf("lost %d acknowledged events, %d stored more than once", lost, doubled)
		}
		if len(stored) != len(acked) {
			t.Fatalf("stored %d events, acknowledged %d (every batch was resent until acknowledged)", len(stored), len(acked))
		}
		srv.stop()
	}
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
