package store

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/event"
)

func benchBatch(prefix string, n int, now time.Time) *event.Batch {
	b := &event.Batch{Events: make([]event.Event, n)}
	for i := range b.Events {
		e := testEvent(prefix+strconv.Itoa(i), now)
		e.SessionID = "s1"
		e.PageURL = "https://books.example/books/123"
		e.PagePath = "/books/123"
		e.Context = []byte(`{"library":{"name":"actlog-loadgen","version":"1"},"locale":"en-US","page":{"path":"/books/123","title":"A book","url":"https://books.example/books/123"},"seq":1,"sessionId":"s1","userAgent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"}`)
		b.Events[i] = e
	}
	return b
}

// BenchmarkWriteSerial is one writer: the latency of a 10-event commit.
func BenchmarkWriteSerial(b *testing.B) {
	writeSerial(b, func(*event.Batch, int) {})
}

// writeSerial commits 10-event batches one by one, each changed by edit.
func writeSerial(b *testing.B, edit func(bb *event.Batch, i int)) {
	s, err := Open(context.Background(), Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	b.ResetTimer()
	for i := range b.N {
		bb := benchBatch(strconv.Itoa(i)+"-", 10, now)
		edit(bb, i)
		if err := s.Write(context.Background(), bb); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkWriteConcurrent is 64 writers: group commit throughput.
func BenchmarkWriteConcurrent(b *testing.B) {
	s, err := Open(context.Background(), Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	var wg sync.WaitGroup
	per := b.N/64 + 1
	b.ResetTimer()
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if err := s.Write(context.Background(), benchBatch(strconv.Itoa(w)+"-"+strconv.Itoa(i)+"-", 10, now)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(per*64*10)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkWriteSerialIdentify is BenchmarkWriteSerial with a login in
// every commit: the identity links must not cost the commit.
func BenchmarkWriteSerialIdentify(b *testing.B) {
	writeSerial(b, func(bb *event.Batch, i int) {
		bb.Events[9].Type = event.Identify
		bb.Events[9].AnonymousID = "anon-" + strconv.Itoa(i)
		bb.Events[9].UserID = "u-" + strconv.Itoa(i)
	})
}
