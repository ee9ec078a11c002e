package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/ingest"
	"github.com/actlog/actlog/internal/loadgen"
	"github.com/actlog/actlog/internal/store"
)

type bulkOptions struct {
	Dir    string
	Events int
	Days   int
	Users  int
	Seed   int64
	Batch  int // events per body: 1,000
	// MemoryLimit is DuckDB's memory_limit while loading; empty: DuckDB's
	// default (80 % of RAM).
	MemoryLimit string
}

// bulkLoad fills the store in o.Dir with o.Events simulated events spread
// evenly over the last o.Days days: the loadgen's members, encoded as
// Segment bodies, decoded and enriched as the collector does, written in
// group commits — everything but HTTP. Benchmarks of the analyses use it.
func bulkLoad(ctx context.Context, o bulkOptions, stdout, progress io.Writer) error {
	if o.Events <= 0 || o.Days <= 0 {
		return errors.New("--events and --days must be positive")
	}
	st, err := store.Open(ctx, store.Options{Dir: o.Dir, QueueSize: 64, MemoryLimit: o.MemoryLimit})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	start := time.Now()
	end := start.Truncate(time.Second)
	first := end.Add(-time.Duration(o.Days) * 24 * time.Hour)
	step := end.Sub(first) / time.Duration(o.Events)
	if users := o.Users; users == loadgen.DefaultUsers {
		// Few members at once keep each journey's pace on the simulated
		// clock: the model's dwell times of tens of seconds at events/s
		// spread over days.
		o.Users = max(16, int(float64(o.Events)/end.Sub(first).Seconds()*30))
	}
	// One body (one request's time) holds about one event per member:
	// with more, a member's journey would run past the body's time and its
	// events pile up at that instant. Each write takes bodies of about
	// 1,000 events in all, to keep the store's group commits large.
	o.Batch = min(max(o.Users, 16), 1000)
	type body struct {
		b   []byte
		now time.Time
	}
	chunks := make(chan []body, 8)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(chunks)
		gen := loadgen.NewGenerator(o.Seed, o.Users)
		var chunk []body
		inChunk := 0
		for done := 0; done < o.Events; {
			n := min(o.Batch, o.Events-done)
			done += n
			now := first.Add(step * time.Duration(done))
			chunk = append(chunk, body{gen.Next(nil, n, now), now})
			if inChunk += n; inChunk < 1000 && done < o.Events {
				continue
			}
			select {
			case chunks <- chunk:
			case <-gctx.Done():
				return gctx.Err()
			}
			chunk, inChunk = nil, 0
		}
		return nil
	})
	var stored, rejected int64
	var written = make(chan [2]int, 64)
	for range 2 {
		g.Go(func() error {
			dec := ingest.NewBulk(ingest.EnrichOptions{MaxPast: time.Duration(o.Days+1) * 24 * time.Hour}, nil)
			for chunk := range chunks {
				batch := &event.Batch{}
				for _, b := range chunk {
					one, err := dec.Decode(b.b, "loadgen", b.now)
					if err != nil {
						return fmt.Errorf("decode: %w", err)
					}
					batch.Events = append(batch.Events, one.Events...)
					batch.Rejected = append(batch.Rejected, one.Rejected...)
				}
				if err := st.Write(gctx, batch); err != nil {
					return fmt.Errorf("write: %w", err)
				}
				written <- [2]int{len(batch.Events), len(batch.Rejected)}
			}
			return nil
		})
	}
	go func() {
		_ = g.Wait()
		close(written)
	}()
	next := int64(1_000_000)
	for w := range written {
		stored += int64(w[0])
		rejected += int64(w[1])
		if progress != nil && stored >= next {
			fmt.Fprintf(progress, "%d events stored, %.0f/s\n", stored, float64(stored)/time.Since(start).Seconds())
			next += 1_000_000
		}
	}
	err = g.Wait()
	if cerr := st.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close store: %w", cerr)
	}
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "stored %d events (%d rejected) from %s to %s in %s: %.0f events/s\n",
		stored, rejected, first.Format(time.RFC3339), end.Format(time.RFC3339), el.Round(time.Millisecond), float64(stored)/el.Seconds())
	return nil
}
