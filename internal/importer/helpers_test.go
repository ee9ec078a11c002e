package importer

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/ingest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// importTime is the import time of the tests' runs.
var importTime = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// newDecoder is the collector's decoder as actlog import builds it: legacy
// timestamps are not clamped.
func newDecoder() Decoder {
	return ingest.NewBulk(ingest.EnrichOptions{MaxPast: 20 * 365 * 24 * time.Hour}, nil)
}

// memSink keeps what it is given, in memory: what the importer hands a
// store or a Kafka producer. hook, if set, runs before each write with its
// number (1-based) and may fail it.
type memSink struct {
	mu       sync.Mutex
	writes   int
	events   []event.Event
	rejected []event.Rejected
	hook     func(n int) error
}

func (s *memSink) Write(_ context.Context, b *event.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.hook != nil {
		if err := s.hook(s.writes); err != nil {
			return err
		}
	}
	s.events = append(s.events, b.Events...)
	for _, r := range b.Rejected {
		r.Raw = bytes.Clone(r.Raw)
		s.rejected = append(s.rejected, r)
	}
	return nil
}

var _ Sink = (*memSink)(nil)

// ids counts the stored events by messageId.
func (s *memSink) ids() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, e := range s.events {
		out[e.EventID]++
	}
	return out
}

func (s *memSink) byID() map[string]event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]event.Event{}
	for _, e := range s.events {
		out[e.EventID] = e
	}
	return out
}

func (s *memSink) reasons() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.rejected {
		out = append(out, r.Reason)
	}
	sort.Strings(out)
	return out
}

// opts are the options of a test run into sink.
func opts(sink Sink, inputs ...string) Options {
	return Options{
		Inputs:       inputs,
		Source:       "legacy",
		Sink:         sink,
		NewDecoder:   newDecoder,
		Now:          func() time.Time { return importTime },
		PrintRejects: -1,
		RetryBackoff: time.Millisecond,
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeGzip(t *testing.T, dir, name, content string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, b.String())
}

func run(t *testing.T, o Options) Summary {
	t.Helper()
	sum, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return sum
}

func gzipWriter(w *bytes.Buffer) *gzip.Writer { return gzip.NewWriter(w) }
