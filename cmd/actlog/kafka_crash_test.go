package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// kafkaYAML is the kafka section of a test configuration.
func kafkaYAML(c *kfake.Cluster, group string) string {
	return fmt.Sprintf(`kafka:
  brokers: [%s]
  consumer:
    group: %s
    session_timeout: 6s
    heartbeat_interval: 500ms
    rebalance_timeout: 10s
`, strings.Join(c.ListenAddrs(), ", "), group)
}

// TestKafkaProcessorCrash kills the `actlog process` subprocess with SIGKILL
// at random moments while load flows through `actlog ingest` into Kafka,
// restarts it each time on the same data directory, and checks that every
// event acknowledged by ingest is stored exactly once.
func TestKafkaProcessorCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs subprocesses")
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(6, "actlog.events", "actlog.rejected"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	dir := t.TempDir()
	kcfg := kafkaYAML(cluster, "crash")
	ingestPort, processPort := freePort(t), freePort(t)
	ingestCfg := writeConfigAs(t, dir, "ingest.yaml", ingestPort, kcfg)
	processCfg := writeConfigAs(t, dir, "process.yaml", processPort, kcfg)

	ing := startRole(t, "ingest", ingestCfg, ingestPort)
	defer ing.stop()

	var (
		mu      sync.Mutex
		acked   = map[string]bool{}
		batches [][]string
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 11))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var ids []string
				mu.Lock()
				if len(batches) > 0 && r.IntN(10) == 0 {
					ids = batches[r.IntN(len(batches))] // a client retry
				} else {
					for i := range 10 {
						ids = append(ids, fmt.Sprintf("k-c%d-n%d-%d", c, n, i))
					}
					batches = append(batches, ids)
				}
				mu.Unlock()
				if code, err := postBatch(client, ing.base, ids); err == nil && code == http.StatusOK {
					mu.Lock()
					for _, id := range ids {
						acked[id] = true
					}
					mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	const kills = 3
	storedNow := func(p *server) int {
		rows := p.sql("SELECT count(*) FROM events")
		n, _ := rows[0][0].(float64)
		return int(n)
	}
	before := 0
	for range kills {
		proc := startRole(t, "process", processCfg, processPort)
		// Kill mid-stream: once this incarnation is storing.
		deadline := time.Now().Add(30 * time.Second)
		for storedNow(proc) <= before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Duration(100+rng.IntN(700)) * time.Millisecond)
		before = storedNow(proc)
		proc.kill()
	}
	close(stop)
	wg.Wait()

	proc := startRole(t, "process", processCfg, processPort)
	defer proc.stop()
	mu.Lock()
	want := len(acked)
	mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	var rows [][]any
	for {
		rows = proc.sql("SELECT event_id, count(*) FROM events GROUP BY event_id")
		if len(rows) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stored := map[string]bool{}
	doubled := 0
	for _, r := range rows {
		if n, _ := r[1].(float64); n != 1 {
			doubled++
		}
		stored[r[0].(string)] = true
	}
	lost := 0
	for id := range acked {
		if !stored[id] {
			lost++
		}
	}
	t.Logf("kills=%d acknowledged=%d stored=%d lost=%d doubled=%d", kills, len(acked), len(stored), lost, doubled)
	if lost != 0 || doubled != 0 {
		t.Fatalf("lost %d acknowledged events, %d stored more than once", lost, doubled)
	}
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
}
