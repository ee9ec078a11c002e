// Command gen writes the import benchmark's dataset: N simulated members'
// events of an e-book app (internal/loadgen, the same journeys as `actlog
// loadgen --to-store`), spread evenly over DAYS days ending now, as Segment
// messages archived one per line with the sentAt and receivedAt of their
// request (20 messages a request; the shape of a Segment S3 archive),
// gzip-compressed.
//
// Usage: go run ./bench/import/gen -events 10000000 -out /tmp/actlog-import-10m.ndjson.gz
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/valyala/fastjson"

	"github.com/actlog/actlog/internal/loadgen"
)

func main() {
	events := flag.Int("events", 10_000_000, "events to write")
	days := flag.Int("days", 30, "the events spread over this many days, ending now")
	seed := flag.Int64("seed", 1, "random seed: the same seed writes the same events")
	out := flag.String("out", "/tmp/actlog-import.ndjson.gz", "output file (gzip NDJSON)")
	level := flag.Int("level", gzip.BestSpeed, "gzip level")
	flag.Parse()
	if err := write(*out, *events, *days, *seed, *level); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// flushAt is the messages per request of the simulated SDKs (analytics.js
// flushes at 20).
const flushAt = 20

func write(path string, n, days int, seed int64, level int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, err := gzip.NewWriterLevel(bw, level)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(zw, 1<<20)

	end := time.Now().Truncate(time.Second)
	first := end.Add(-time.Duration(days) * 24 * time.Hour)
	step := end.Sub(first) / time.Duration(n)
	// As bulkLoad does: few members at once keep each journey's pace on
	// the simulated clock; one body holds about one event per member.
	users := max(16, int(float64(n)/end.Sub(first).Seconds()*30))
	per := min(max(users, 16), 1000)
	gen := loadgen.NewGenerator(seed, users)
	var p fastjson.Parser
	var body, line []byte
	for done := 0; done < n; {
		k := min(per, n-done)
		done += k
		now := first.Add(step * time.Duration(done))
		body = gen.Next(body[:0], k, now)
		v, err := p.ParseBytes(body)
		if err != nil {
			return fmt.Errorf("loadgen body: %w", err)
		}
		var sent, received []byte
		for j, m := range v.GetArray("batch") {
			if j%flushAt == 0 {
				// An SDK flushes 20 messages a request: they share its sentAt
				// and the collector's receivedAt.
				at := now.Add(time.Duration(j/flushAt) * time.Millisecond)
				sent = []byte(`"` + at.UTC().Format(time.RFC3339Nano) + `"`)
				received = []byte(`"` + at.Add(40*time.Millisecond).UTC().Format(time.RFC3339Nano) + `"`)
			}
			line = m.MarshalTo(line[:0])
			line = append(line[:len(line)-1], `,"sentAt":`...)
			line = append(line, sent...)
			line = append(line, `,"receivedAt":`...)
			line = append(line, received...)
			line = append(line, "}\n"...)
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
		if done%1_000_000 < k {
			fmt.Fprintf(os.Stderr, "%d events\n", done)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}
