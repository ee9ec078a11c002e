package stream

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(4, "actlog.events", "actlog.rejected"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testOptions(c *kfake.Cluster) Options {
	return Options{
		Brokers: c.ListenAddrs(),
		Consumer: ConsumerOptions{
			Group: "test", SessionTimeout: 6 * time.Second, HeartbeatInterval: 500 * time.Millisecond,
			RebalanceTimeout: 10 * time.Second,
		},
	}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func events(prefix string, n int) *event.Batch {
	now := time.Now().UTC()
	b := &event.Batch{}
	for i := range n {
		b.Events = append(b.Events, event.Event{
			EventID: fmt.Sprintf("%s-%d", prefix, i), Source: "web", Type: event.Track, Event: "book_view",
			AnonymousID: fmt.Sprintf("a-%d", i%13), TS: now, ReceivedAt: now, Seq: int64(i), HasSeq: true,
			Properties: []byte(`{"book_id":"b1"}`), Context: []byte(`{"locale":"ko-KR"}`),
		})
	}
	return b
}

func count(t *testing.T, st *store.Store, q string) int64 {
	t.Helper()
	var n int64
	if err := st.DB().QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runProcessor(t *testing.T, opts Options, st *store.Store) (stop func()) {
	t.Helper()
	p, err := NewProcessor(context.Background(), opts, st, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("processor: %v", err)
		}
		p.Close()
	}
}

func TestProduceProcessExactlyOnce(t *testing.T) {
	c := newCluster(t)
	opts := testOptions(c)
	prod, err := NewProducer(context.Background(), opts, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close(context.Background())
	const batches, per = 20, 50
	for i := range batches {
		b := events(fmt.Sprintf("b%d", i), per)
		b.Rejected = []event.Rejected{{ReceivedAt: time.Now().UTC(), Source: "web", Index: 3, Reason: "event name is required for track", Raw: []byte(`{}`)}}
		if err := prod.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	// A client retry of a batch: same message ids.
	if err := prod.Write(context.Background(), events("b0", per)); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	stop := runProcessor(t, opts, st)
	waitFor(t, "all events stored", func() bool { return count(t, st, "SELECT count(*) FROM events") == batches*per })
	waitFor(t, "all rejected stored", func() bool { return count(t, st, "SELECT count(*) FROM rejected") == batches })
	stop()
	if n := count(t, st, "SELECT count(DISTINCT event_id) FROM events"); n != batches*per {
		t.Fatalf("%d distinct events, want %d", n, batches*per)
	}
	offs, err := st.Offsets(context.Background(), "actlog.events")
	if err != nil || len(offs) == 0 {
		t.Fatalf("stored offsets %v %v", offs, err)
	}
	// Restart: nothing is consumed twice (offsets come from the store).
	stop = runProcessor(t, opts, st)
	if err := prod.Write(context.Background(), events("after", 5)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "new events stored", func() bool { return count(t, st, "SELECT count(*) FROM events") == batches*per+5 })
	stop()
	if n := count(t, st, "SELECT count(*) FROM rejected"); n != batches {
		t.Fatalf("%d rejected rows after restart, want %d", n, batches)
	}
}

func TestPoisonRecordDoesNotStall(t *testing.T) {
	c := newCluster(t)
	opts := testOptions(c)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	poisoned := []*kgo.Record{
		{Topic: "actlog.events", Key: []byte("a-1"), Value: []byte("not json")},
		{Topic: "actlog.events", Key: []byte("a-1"), Value: []byte(`{"event_id":"x"}`), Headers: []kgo.RecordHeader{{Key: headerFormat, Value: []byte("1")}, {Key: headerKind, Value: []byte("event")}}},
		{Topic: "actlog.events", Key: []byte("a-1"), Value: []byte(`{}`), Headers: []kgo.RecordHeader{{Key: headerFormat, Value: []byte("9")}}},
	}
	if err := cl.ProduceSync(context.Background(), poisoned...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	prod, err := NewProducer(context.Background(), opts, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close(context.Background())
	b := events("good", 20)
	for i := range b.Events {
		b.Events[i].AnonymousID = "a-1" // same partition as the poison
	}
	if err := prod.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	stop := runProcessor(t, opts, st)
	defer stop()
	waitFor(t, "good events behind the poison stored", func() bool { return count(t, st, "SELECT count(*) FROM events") == 20 })
	waitFor(t, "poison kept as rejected", func() bool {
		return count(t, st, "SELECT count(*) FROM rejected WHERE starts_with(reason, 'undecodable record')") == int64(len(poisoned))
	})
}

func TestMissingTopicsNamed(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opts := Options{Brokers: c.ListenAddrs()}
	_, err = NewProducer(context.Background(), opts, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "actlog.events") {
		t.Fatalf("error %v, want one naming the missing topic", err)
	}
	opts.Topics.Create = true
	p, err := NewProducer(context.Background(), opts, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatalf("create topics: %v", err)
	}
	_ = p.Close(context.Background())
}

func TestLoneSurrogate(t *testing.T) {
	for _, tc := range []struct {
		json string
		lone bool
	}{
		{`{"a":"plain"}`, false},
		{`{"a":"\ud83d\ude00"}`, false},
		{`{"a":"\uD83D\uDE00 and \n \\ud800"}`, false}, // an escaped backslash, not an escape
		{`{"a":"\ud800"}`, true},
		{`{"a":"\ud800x"}`, true},
		{`{"a":"\udc00"}`, true},
		{`{"\ud800":1}`, true},
		{`{"a":"\ud83d\u0041"}`, true},
	} {
		if got := loneSurrogate([]byte(tc.json)); got != tc.lone {
			t.Errorf("loneSurrogate(%s) = %v, want %v", tc.json, got, tc.lone)
		}
	}
}
