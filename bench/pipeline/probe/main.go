// Command probe measures end-to-end latency: from the HTTP answer to a
// tracking request until its event can be read through the SQL API. It
// sends one probe event every interval to the ingest URL and polls the
// SQL API of the process that stores the events.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	ingest := flag.String("ingest", "http://127.0.0.1:8080", "base URL that takes events")
	query := flag.String("query", "http://127.0.0.1:8080", "base URL of the SQL API")
	key := flag.String("write-key", "", "write key")
	token := flag.String("admin-token", "", "admin token")
	every := flag.Duration("every", 50*time.Millisecond, "time between probes")
	duration := flag.Duration("duration", 20*time.Second, "how long to probe")
	poll := flag.Duration("poll", 5*time.Millisecond, "time between SQL polls")
	flag.Parse()
	run := fmt.Sprintf("%x", time.Now().UnixNano())
	client := &http.Client{Timeout: 10 * time.Second}

	var mu sync.Mutex
	acked := map[string]time.Time{}
	var lat []time.Duration
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // poller
		defer wg.Done()
		for {
			mu.Lock()
			pending := len(acked)
			mu.Unlock()
			select {
			case <-done:
				if pending == 0 {
					return
				}
			default:
			}
			if pending > 0 {
				body, _ := json.Marshal(map[string]string{"sql": "SELECT event_id FROM events WHERE event = 'latency_probe' AND (properties->>'run') = '" + run + "'"})
				req, _ := http.NewRequest(http.MethodPost, *query+"/api/v1/sql", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+*token)
				resp, err := client.Do(req)
				now := time.Now()
				if err == nil {
					var out struct{ Rows [][]any }
					_ = json.NewDecoder(resp.Body).Decode(&out)
					resp.Body.Close()
					mu.Lock()
					for _, r := range out.Rows {
						id, _ := r[0].(string)
						if t, ok := acked[id]; ok {
							lat = append(lat, now.Sub(t))
							delete(acked, id)
						}
					}
					mu.Unlock()
				}
			}
			time.Sleep(*poll)
		}
	}()
	end := time.Now().Add(*duration)
	failed := 0
	for i := 0; time.Now().Before(end); i++ {
		id := fmt.Sprintf("probe-%s-%d", run, i)
		ev := fmt.Sprintf(`{"batch":[{"type":"track","event":"latency_probe","messageId":%q,"anonymousId":"probe-%d","properties":{"run":%q}}]}`, id, i%50, run)
		req, _ := http.NewRequest(http.MethodPost, *ingest+"/v1/batch", strings.NewReader(ev))
		req.SetBasicAuth(*key, "")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			failed++
		} else {
			mu.Lock()
			acked[id] = time.Now()
			mu.Unlock()
		}
		if resp != nil {
			resp.Body.Close()
		}
		time.Sleep(*every)
	}
	// Give the last probes up to 30 s to become visible.
	go func() { time.Sleep(30 * time.Second); mu.Lock(); clear(acked); mu.Unlock() }()
	close(done)
	wg.Wait()
	if len(lat) == 0 {
		log.Fatal("no probe became visible")
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Fprintf(os.Stdout, "probes=%d visible=%d failed=%d e2e_p50=%.1fms e2e_p90=%.1fms e2e_p99=%.1fms e2e_max=%.1fms\n",
		len(lat)+failed, len(lat), failed, ms(q(0.5)), ms(q(0.9)), ms(q(0.99)), ms(lat[len(lat)-1]))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
