package main

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

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
	kcfg := ktKafkaYAML(cluster.ListenAddrs(), "crash")
	ingestPort, processPort := freePort(t), freePort(t)
	ingestCfg := writeConfigAs(t, dir, "ingest.yaml", ingestPort, kcfg)
	processCfg := writeConfigAs(t, dir, "process.yaml", processPort, kcfg)

	ing := startRole(t, "ingest", ingestCfg, ingestPort)
	defer ing.stop()
	load := newRetryLoad()
	load.start(ing.base, "k", 4, 2*time.Millisecond)

	storedNow := func(p *server) int {
		rows := p.sql("SELECT count(*) FROM events")
		n, _ := rows[0][0].(float64)
		return int(n)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	const kills = 3
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
	load.stop()

	proc := startRole(t, "process", processCfg, processPort)
	defer proc.stop()
	want := len(load.acked)
	deadline := time.Now().Add(60 * time.Second)
	var rows [][]any
	for {
		rows = proc.sql("SELECT event_id, count(*) FROM events GROUP BY event_id")
		if len(rows) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	load.check(t, rows)
	proc.checkIdentities()
}
