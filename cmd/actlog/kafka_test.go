package main

// Kafka mode end to end: `actlog ingest` and `actlog process` run as real
// subprocesses (the test binary re-executed, see TestMain) against an
// in-process kfake cluster that speaks the Kafka protocol, each process
// with its own DuckDB store, port and data directory. Nothing is mocked:
// events go HTTP → ingest → Kafka → process → DuckDB and are read back
// through the processors' SQL API.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	ktEvents     = "actlog.events"
	ktRejected   = "actlog.rejected"
	ktPartitions = 6
)

// ktCluster starts a 3-broker kfake cluster with both topics seeded with 6
// partitions; it is closed when the test ends (Close is idempotent).
func ktCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{
		kfake.NumBrokers(3),
		kfake.SeedTopics(ktPartitions, ktEvents, ktRejected),
	}, opts...)...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// ktKafkaYAML is the kafka: section of a configuration: the brokers and a
// classic consumer group tuned so that rebalances take seconds, not minutes.
func ktKafkaYAML(brokers []string, group string) string {
	quoted := make([]string, len(brokers))
	for i, b := range brokers {
		quoted[i] = fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf(`kafka:
  brokers: [%s]
  consumer:
    group: %s
    session_timeout: 6s
    heartbeat_interval: 500ms
    rebalance_timeout: 10s
`, strings.Join(quoted, ", "), group)
}

// ktChild is a started actlog role that is killed when the test ends unless
// the test stopped it first (so a failing test leaves no process behind).
type ktChild struct {
	*server
	name string
	gone bool
}

func ktStart(t *testing.T, role, name, dir, extra string) *ktChild {
	t.Helper()
	port := freePort(t)
	cfg := writeConfigAs(t, dir, name+".yaml", port, extra)
	c := &ktChild{server: startRole(t, role, cfg, port), name: name}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- log of actlog %s (%s):\n%s", role, name, c.log)
		}
		if !c.gone {
			c.gone = true
			c.kill()
		}
	})
	return c
}

// stop ends the child with SIGINT and waits for a clean exit.
func (c *ktChild) stop() {
	c.t.Helper()
	c.gone = true
	c.server.stop()
}

// eventCounts returns event_id → number of rows in the child's store.
func (c *ktChild) eventCounts() map[string]int {
	c.t.Helper()
	rows := c.sql("SELECT event_id, count(*) FROM events GROUP BY event_id")
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		id, _ := r[0].(string)
		n, _ := r[1].(float64)
		out[id] = int(n)
	}
	return out
}

// offsets returns the next offsets the child's store holds for topic.
func (c *ktChild) offsets(topic string) map[int32]int64 {
	c.t.Helper()
	rows := c.sql("SELECT partition, next_offset FROM stream_offsets WHERE topic = '" + topic + "'")
	out := map[int32]int64{}
	for _, r := range rows {
		p, _ := r[0].(float64)
		n, _ := r[1].(float64)
		out[int32(p)] = int64(n)
	}
	return out
}

// ktWait polls cond every 100 ms until it holds; after limit the test
// fails naming what it waited for.
func ktWait(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ktAnswer is how ingest answered one request.
type ktAnswer struct {
	start      time.Time
	took       time.Duration
	code       int
	retryAfter string
	rejected   []int // indexes the answer reported as rejected
	err        error
}

func ktPost(client *http.Client, base string, body []byte) ktAnswer {
	a := ktAnswer{start: time.Now()}
	defer func() { a.took = time.Since(a.start) }()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/batch", bytes.NewReader(body))
	if err != nil {
		a.err = err
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("test-write-key", "")
	resp, err := client.Do(req)
	if err != nil {
		a.err = err
		a.took = time.Since(a.start)
		return a
	}
	defer resp.Body.Close()
	a.code = resp.StatusCode
	a.retryAfter = resp.Header.Get("Retry-After")
	raw, err := io.ReadAll(resp.Body)
	a.took = time.Since(a.start)
	if err != nil {
		a.err = err
		return a
	}
	if a.code == http.StatusOK {
		var out struct {
			Rejected []struct {
				Index int `json:"index"`
			} `json:"rejected"`
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			a.err = fmt.Errorf("decode answer %q: %w", raw, err)
			return a
		}
		for _, r := range out.Rejected {
			a.rejected = append(a.rejected, r.Index)
		}
	}
	return a
}

// ktTrackBatch is a batch of valid track events. Each event's anonymousId
// (the record key) follows from its id, so events spread over all
// partitions and a re-sent event goes to the partition of its first copy.
func ktTrackBatch(ids []string) []byte {
	var b bytes.Buffer
	now := time.Now().UTC().Format(time.RFC3339Nano)
	b.WriteString(`{"sentAt":"` + now + `","batch":[`)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"track","event":"kafka_test","messageId":%q,"anonymousId":"anon-%s","timestamp":%q,"properties":{"i":%d}}`, id, id, now, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// ktLoad sends batches of new event ids to ingest from a few clients until
// halted, and records every answer.
type ktLoad struct {
	base   string
	client *http.Client
	stopc  chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	sent    map[string]bool // every id ever sent
	acked   map[string]bool // ids of requests answered 200
	unacked [][]string      // batches not answered 200, for a resend
	answers []ktAnswer
}

func ktStartLoad(base, prefix string, clients, per int) *ktLoad {
	l := &ktLoad{
		base:   base,
		client: &http.Client{Timeout: 15 * time.Second},
		stopc:  make(chan struct{}),
		sent:   map[string]bool{}, acked: map[string]bool{},
	}
	for c := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; ; n++ {
				select {
				case <-l.stopc:
					return
				case <-time.After(5 * time.Millisecond):
				}
				ids := make([]string, per)
				for i := range ids {
					ids[i] = fmt.Sprintf("%s-c%d-n%d-%d", prefix, c, n, i)
				}
				l.mu.Lock()
				for _, id := range ids {
					l.sent[id] = true
				}
				l.mu.Unlock()
				a := ktPost(l.client, l.base, ktTrackBatch(ids))
				l.mu.Lock()
				l.answers = append(l.answers, a)
				if a.err == nil && a.code == http.StatusOK {
					for _, id := range ids {
						l.acked[id] = true
					}
				} else {
					l.unacked = append(l.unacked, ids)
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *ktLoad) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// answersSince returns the answers to requests started at or after t.
func (l *ktLoad) answersSince(t time.Time) []ktAnswer {
	return l.answersBetween(t, time.Now().Add(time.Hour), false)
}

// answersBetween returns the answers to requests that started before to and
// started (or, with inFlight, ended) at or after from.
func (l *ktLoad) answersBetween(from, to time.Time, inFlight bool) []ktAnswer {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []ktAnswer
	for _, a := range l.answers {
		end := a.start
		if inFlight {
			end = a.start.Add(a.took)
		}
		if !end.Before(from) && a.start.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// halt stops the clients and waits for their last answers.
func (l *ktLoad) halt() {
	close(l.stopc)
	l.wg.Wait()
	l.client.CloseIdleConnections()
}

// snapshot returns copies of the acknowledged and sent ids.
func (l *ktLoad) snapshot() (acked, sent map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	acked, sent = make(map[string]bool, len(l.acked)), make(map[string]bool, len(l.sent))
	for id := range l.acked {
		acked[id] = true
	}
	for id := range l.sent {
		sent[id] = true
	}
	return acked, sent
}

// ktEndOffsets returns the high watermark of every partition of topic.
func ktEndOffsets(t *testing.T, brokers []string, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	lo, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	var perr error
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			perr = o.Err
		}
		out[o.Partition] = o.Offset
	})
	if perr != nil {
		t.Fatalf("end offsets of %s: %v", topic, perr)
	}
	return out
}

// ktLoc is where a record sits in the log.
type ktLoc struct {
	partition int32
	offset    int64
}

// ktIndexTopic reads topic from the start up to ends (its high watermarks)
// with a plain consumer (no group) and returns where each event id is.
func ktIndexTopic(t *testing.T, brokers []string, topic string, ends map[int32]int64) map[string][]ktLoc {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	next := map[int32]int64{}
	done := func() bool {
		for p, e := range ends {
			if next[p] < e {
				return false
			}
		}
		return true
	}
	out := map[string][]ktLoc{}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: got %v of %v", topic, next, ends)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("read %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			var v struct {
				EventID string `json:"event_id"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Errorf("record %d/%d: %v", r.Partition, r.Offset, err)
				return
			}
			out[v.EventID] = append(out[v.EventID], ktLoc{r.Partition, r.Offset})
			next[r.Partition] = r.Offset + 1
		})
	}
	return out
}

// TestKafkaEndToEnd sends batches, some with an invalid event and some sent
// twice with the same messageIds, through `actlog ingest` to Kafka and
// checks that `actlog process` stores exactly the acknowledged valid events,
// each once, and every rejected event (one row per attempt, as rejections
// are a log of attempts).
func TestKafkaEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Kafka and subprocesses")
	}
	c := ktCluster(t)
	dir := t.TempDir()
	kcfg := ktKafkaYAML(c.ListenAddrs(), "e2e")
	ing := ktStart(t, "ingest", "ingest", dir, kcfg)
	proc := ktStart(t, "process", "process", dir, kcfg)

	type sentBatch struct {
		ids     []string
		invalid map[int]bool
	}
	// body is a batch of track, page and identify events; the events at the
	// invalid indexes are track events without a name.
	body := func(b sentBatch) []byte {
		var buf bytes.Buffer
		now := time.Now().UTC().Format(time.RFC3339Nano)
		buf.WriteString(`{"sentAt":"` + now + `","batch":[`)
		for i, id := range b.ids {
			if i > 0 {
				buf.WriteByte(',')
			}
			switch {
			case b.invalid[i]:
				fmt.Fprintf(&buf, `{"type":"track","messageId":%q,"anonymousId":"anon-%s","timestamp":%q}`, id, id, now)
			case i%3 == 0:
				fmt.Fprintf(&buf, `{"type":"track","event":"book_view","messageId":%q,"anonymousId":"anon-%s","timestamp":%q,"properties":{"book_id":"b-%d","banner":"home_top","section":"new"}}`, id, id, now, i)
			case i%3 == 1:
				fmt.Fprintf(&buf, `{"type":"page","name":"Book","messageId":%q,"anonymousId":"anon-%s","timestamp":%q,"properties":{"url":"https://books.example/b/%d?utm_source=mail"}}`, id, id, now, i)
			default:
				fmt.Fprintf(&buf, `{"type":"identify","messageId":%q,"anonymousId":"anon-%s","userId":"u-%s","timestamp":%q,"traits":{"plan":"premium"}}`, id, id, id, now)
			}
		}
		buf.WriteString(`]}`)
		return buf.Bytes()
	}

	const batches, per = 40, 10
	var all []sentBatch
	for n := range batches {
		b := sentBatch{invalid: map[int]bool{}}
		for i := range per {
			b.ids = append(b.ids, fmt.Sprintf("e2e-%d-%d", n, i))
		}
		if n%3 == 0 {
			b.invalid[n%per] = true
		}
		all = append(all, b)
	}
	client := &http.Client{Timeout: 15 * time.Second}
	defer client.CloseIdleConnections()
	acked := map[string]bool{}      // valid events of acknowledged requests
	rejectedIDs := map[string]int{} // invalid events, per attempt
	send := func(b sentBatch) {
		t.Helper()
		a := ktPost(client, ing.base, body(b))
		if a.err != nil || a.code != http.StatusOK {
			t.Fatalf("batch %s…: %d %v", b.ids[0], a.code, a.err)
		}
		var want []int
		for i := range b.ids {
			if b.invalid[i] {
				want = append(want, i)
			}
		}
		if !slices.Equal(a.rejected, want) {
			t.Fatalf("batch %s…: rejected indexes %v, want %v", b.ids[0], a.rejected, want)
		}
		for i, id := range b.ids {
			if b.invalid[i] {
				rejectedIDs[id]++
			} else {
				acked[id] = true
			}
		}
	}
	for _, b := range all {
		send(b)
	}
	// Client retries: every fifth batch again, with the same messageIds.
	resent := 0
	for n := 0; n < batches; n += 5 {
		send(all[n])
		resent++
	}
	wantRejected := 0
	for _, n := range rejectedIDs {
		wantRejected += n
	}

	var counts map[string]int
	var rejectedRows [][]any
	ktWait(t, 30*time.Second, "the processor to store every acknowledged event and every rejection", func() bool {
		counts = proc.eventCounts()
		rejectedRows = proc.sql("SELECT message_id, reason, source, idx FROM rejected")
		return len(counts) >= len(acked) && len(rejectedRows) >= wantRejected
	})
	// The processor has caught up with both topics: nothing more will come.
	for _, topic := range []string{ktEvents, ktRejected} {
		ends := ktEndOffsets(t, c.ListenAddrs(), topic)
		ktWait(t, 30*time.Second, "stored offsets of "+topic+" at the end of every partition", func() bool {
			got := proc.offsets(topic)
			for p, e := range ends {
				if e > 0 && got[p] != e {
					return false
				}
			}
			return true
		})
	}
	counts = proc.eventCounts()
	rejectedRows = proc.sql("SELECT message_id, reason, source, idx FROM rejected")

	for id := range acked {
		switch n := counts[id]; n {
		case 1:
		case 0:
			t.Errorf("acknowledged event %s not stored", id)
		default:
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	for id := range counts {
		if !acked[id] {
			t.Errorf("stored event %s was not an acknowledged valid event", id)
		}
	}
	gotRejected := map[string]int{}
	for _, r := range rejectedRows {
		id, _ := r[0].(string)
		reason, _ := r[1].(string)
		src, _ := r[2].(string)
		if reason != "event name is required for track" || src != "web" {
			t.Errorf("rejected row %v: want reason %q and source web", r, "event name is required for track")
		}
		gotRejected[id]++
	}
	if !maps.Equal(gotRejected, rejectedIDs) {
		t.Errorf("rejected rows per messageId %v, want %v", gotRejected, rejectedIDs)
	}
	// Fields and JSON survive the trip through Kafka.
	rows := proc.sql("SELECT type, event, banner, section, page_path, utm_source, user_id, properties->>'$.book_id', properties->>'$.plan' FROM events WHERE event_id IN ('e2e-1-0', 'e2e-1-1', 'e2e-1-2') ORDER BY event_id")
	want := [][]any{
		{"track", "book_view", "home_top", "new", nil, nil, nil, "b-0", nil},
		{"page", "page_view", nil, nil, "/b/1", "mail", nil, nil, nil},
		{"identify", "identify", nil, nil, nil, nil, "u-e2e-1-2", nil, "premium"},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("stored fields\n got %v\nwant %v", rows, want)
	}
	t.Logf("batches=%d resent=%d acknowledged valid=%d stored=%d rejected rows=%d", batches, resent, len(acked), len(counts), len(rejectedRows))
	proc.stop()
	ing.stop()
}

// TestKafkaProcessorsJoinAndLeave runs processors in one consumer group
// while load flows through one ingest: one processor at first, a second and
// a third join under load, then the second leaves (SIGINT) under load. With
// the load stopped, the second rejoins (its store's offsets are now behind
// the group's), every processor catches up, and the union of their stores
// must hold every acknowledged event exactly once.
//
// How partitions map to stores: at any moment each partition of
// actlog.events (and actlog.rejected) is owned by one processor of the
// group. A processor stores what it reads from a partition in its own
// DuckDB file, together with the partition's next offset (table
// stream_offsets), and commits that offset to the group only after the
// store commit. When a partition moves (join, leave), the new owner starts
// at the later of the group's committed offset and its own stored offset.
// So each partition's log splits into consecutive offset ranges, each range
// in the store of the processor that owned the partition at the time, and
// the stores together hold every record once: no range is read by two
// processors and no gap is left between ranges. The test reads the topic
// itself to map every stored event id to its partition and offset, checks
// that every offset of every partition is in exactly one store, and logs
// the ranges (e.g. "p3: [0,812)→p1 [812,2040)→p3").
func TestKafkaProcessorsJoinAndLeave(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Kafka and subprocesses")
	}
	c := ktCluster(t)
	dir := t.TempDir()
	brokers := c.ListenAddrs()
	kcfg := ktKafkaYAML(brokers, "join-leave")
	ing := ktStart(t, "ingest", "ingest", dir, kcfg)
	procs := []*ktChild{ktStart(t, "process", "p1", dir, kcfg)}

	load := ktStartLoad(ing.base, "jl", 3, 20)
	loadHalted := false
	defer func() {
		if !loadHalted {
			load.halt()
		}
	}()
	stored := func(p *ktChild) int {
		return int(p.sql("SELECT count(*) FROM events")[0][0].(float64))
	}
	ktWait(t, 30*time.Second, "p1 to store events", func() bool { return stored(procs[0]) > 0 })

	// Join under load: each new processor must get partitions (store events).
	for _, name := range []string{"p2", "p3"} {
		p := ktStart(t, "process", name, dir, kcfg)
		procs = append(procs, p)
		ktWait(t, 40*time.Second, name+" to be assigned partitions and store events", func() bool { return stored(p) > 0 })
	}

	// Leave under load: p2 stops gracefully; its partitions move to p1 and p3.
	before := load.ackedCount()
	procs[1].stop()
	ktWait(t, 30*time.Second, "more load to be acknowledged after p2 left", func() bool { return load.ackedCount() >= before+2000 })
	stored1, stored3 := stored(procs[0]), stored(procs[2])
	ktWait(t, 30*time.Second, "p1 and p3 to keep storing after p2 left", func() bool {
		return stored(procs[0]) > stored1 && stored(procs[2]) > stored3
	})
	load.halt()
	loadHalted = true
	acked, sent := load.snapshot()
	if len(acked) == 0 {
		t.Fatal("no request was acknowledged")
	}

	// p2 rejoins with its old store: for partitions it had, the group's
	// committed offsets are now ahead of its stored ones.
	procs[1] = ktStart(t, "process", "p2", dir, kcfg)

	// Caught up: for every partition some store holds the end offset (read
	// again each time, in case a request that timed out still lands), and
	// the union stopped changing.
	var union []map[string]int
	var ends map[int32]int64
	prevTotal := -1
	ktWait(t, 40*time.Second, "every partition consumed to its end and the union stable", func() bool {
		ends = ktEndOffsets(t, brokers, ktEvents)
		best := map[int32]int64{}
		for _, pr := range procs {
			for p, n := range pr.offsets(ktEvents) {
				best[p] = max(best[p], n)
			}
		}
		caught := maps.Equal(best, ends)
		union = union[:0]
		total := 0
		for _, pr := range procs {
			m := pr.eventCounts()
			union = append(union, m)
			total += len(m)
		}
		stable := total == prevTotal
		prevTotal = total
		return caught && stable
	})

	// Every acknowledged event exactly once across all stores; nothing
	// stored that was not sent.
	where := map[string][]string{}
	for i, m := range union {
		for id, n := range m {
			for range n {
				where[id] = append(where[id], procs[i].name)
			}
		}
	}
	lost, doubled, unknown := 0, 0, 0
	for id := range acked {
		if len(where[id]) == 0 {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged event %s is in no store", id)
			}
		}
	}
	for id, ps := range where {
		if len(ps) > 1 {
			doubled++
			if doubled <= 5 {
				t.Errorf("event %s stored %d times: in %v", id, len(ps), ps)
			}
		}
		if !sent[id] {
			unknown++
		}
	}
	if unknown > 0 {
		t.Errorf("%d stored events were never sent", unknown)
	}

	for p := range int32(ktPartitions) {
		if ends[p] == 0 {
			t.Errorf("partition %d of %s is empty (ends %v): the load did not spread", p, ktEvents, ends)
		}
	}
	// Every offset of every partition in exactly one store.
	index := ktIndexTopic(t, brokers, ktEvents, ends)
	owner := map[int32][]string{}
	for p, e := range ends {
		owner[p] = make([]string, e)
	}
	for i, m := range union {
		for id := range m {
			locs := index[id]
			if len(locs) != 1 {
				t.Errorf("event %s is %d times in the topic (no client retries in this test)", id, len(locs))
				continue
			}
			l := locs[0]
			if prev := owner[l.partition][l.offset]; prev != "" {
				t.Errorf("%d/%d (event %s) is in the stores of %s and %s", l.partition, l.offset, id, prev, procs[i].name)
			}
			owner[l.partition][l.offset] = procs[i].name
		}
	}
	var ranges []string
	parts := make([]int32, 0, len(owner))
	for p := range owner {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		own := owner[p]
		var b strings.Builder
		fmt.Fprintf(&b, "p%d:", p)
		for start := 0; start < len(own); {
			end := start
			for end < len(own) && own[end] == own[start] {
				end++
			}
			name := own[start]
			if name == "" {
				t.Errorf("partition %d offsets [%d,%d) are in no store", p, start, end)
				name = "NONE"
			}
			fmt.Fprintf(&b, " [%d,%d)→%s", start, end, name)
			start = end
		}
		ranges = append(ranges, b.String())
	}
	t.Logf("partition ranges per store:\n  %s", strings.Join(ranges, "\n  "))
	sizes := make([]string, len(procs))
	for i, m := range union {
		sizes[i] = fmt.Sprintf("%s=%d", procs[i].name, len(m))
	}
	t.Logf("acknowledged=%d sent=%d stored per processor %v lost=%d doubled=%d", len(acked), len(sent), sizes, lost, doubled)

	for _, p := range procs {
		p.stop()
	}
	ing.stop()
}

// TestKafkaBrokersDown closes the whole Kafka cluster under load: ingest
// must answer 503 with Retry-After without hanging (each answer well within
// the 1 s commit timeout plus a margin) and fail /readyz. A new cluster on
// the same ports and data directory comes up: ingest recovers by itself
// (2xx again, /readyz 200) without a restart. A processor that ran through
// the outage, and one that starts afterwards in a new group (reading the
// persisted log from the start), each store every acknowledged event
// exactly once.
func TestKafkaBrokersDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Kafka and subprocesses")
	}
	dir := t.TempDir()
	kdir := filepath.Join(dir, "kafka")
	ports := []int{freePort(t), freePort(t), freePort(t)}
	kopts := []kfake.Opt{kfake.Ports(ports...), kfake.DataDir(kdir), kfake.SyncWrites()}
	c1 := ktCluster(t, kopts...)
	brokers := c1.ListenAddrs()
	ing := ktStart(t, "ingest", "ingest", dir, "ingest:\n  commit_timeout: 1s\n"+ktKafkaYAML(brokers, "unused"))
	through := ktStart(t, "process", "through", dir, ktKafkaYAML(brokers, "through-outage"))

	readyz := func() int {
		resp, err := http.Get(ing.base + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	load := ktStartLoad(ing.base, "bd", 4, 10)
	loadHalted := false
	defer func() {
		if !loadHalted {
			load.halt()
		}
	}()
	ktWait(t, 30*time.Second, "load to be acknowledged before the outage", func() bool { return load.ackedCount() >= 500 })

	down := time.Now()
	c1.Close()
	ktWait(t, 30*time.Second, "503 answers during the outage", func() bool {
		n := 0
		for _, a := range load.answersSince(down) {
			if a.code == http.StatusServiceUnavailable {
				n++
			}
		}
		return n >= 8
	})
	ktWait(t, 30*time.Second, "/readyz to answer 503 during the outage", func() bool { return readyz() == http.StatusServiceUnavailable })

	up := time.Now()
	c2 := ktCluster(t, kopts...)
	if got := c2.ListenAddrs(); !slices.Equal(got, brokers) {
		t.Fatalf("restarted cluster listens on %v, want %v", got, brokers)
	}
	var recovered time.Duration
	ktWait(t, 40*time.Second, "ingest to acknowledge requests again without a restart", func() bool {
		for _, a := range load.answersSince(up) {
			if a.code == http.StatusOK {
				recovered = a.start.Add(a.took).Sub(up)
				return true
			}
		}
		return false
	})
	ktWait(t, 30*time.Second, "/readyz 200 after the brokers came back", func() bool { return readyz() == http.StatusOK })
	select {
	case err := <-ing.done:
		t.Fatalf("ingest exited during the outage: %v", err)
	default: // the same ingest process recovered by itself
	}

	// The outage's answers: 200 (acknowledged before the close) or a quick
	// 503 with Retry-After; never a hang, an error or another status.
	outage, quick503, slowest503 := 0, 0, time.Duration(0)
	for _, a := range load.answersBetween(down, up, true) {
		outage++
		switch {
		case a.err != nil:
			t.Errorf("request during the outage failed: %v (after %v)", a.err, a.took)
		case a.code == http.StatusServiceUnavailable:
			if a.retryAfter == "" {
				t.Errorf("503 without Retry-After")
			}
			if a.took >= 5*time.Second {
				t.Errorf("503 after %v: ingest hung past its 1s commit timeout", a.took)
			} else {
				quick503++
			}
			slowest503 = max(slowest503, a.took)
		case a.code == http.StatusOK:
			if a.took >= 5*time.Second {
				t.Errorf("200 after %v during the outage", a.took)
			}
		default:
			t.Errorf("status %d during the outage", a.code)
		}
	}
	load.halt()
	loadHalted = true

	// Like a client would, resend every batch that was not acknowledged
	// until it is: then every id ever sent is acknowledged.
	client := &http.Client{Timeout: 15 * time.Second}
	defer client.CloseIdleConnections()
	load.mu.Lock()
	unacked := load.unacked
	load.mu.Unlock()
	for _, ids := range unacked {
		ok := false
		for attempt := 0; attempt < 20 && !ok; attempt++ {
			a := ktPost(client, ing.base, ktTrackBatch(ids))
			ok = a.err == nil && a.code == http.StatusOK
			if !ok {
				time.Sleep(500 * time.Millisecond)
			}
		}
		if !ok {
			t.Fatalf("batch %s… not acknowledged after the brokers came back", ids[0])
		}
		load.mu.Lock()
		for _, id := range ids {
			load.acked[id] = true
		}
		load.mu.Unlock()
	}
	acked, sent := load.snapshot()
	if len(acked) != len(sent) {
		t.Fatalf("acknowledged %d of %d sent ids after resending", len(acked), len(sent))
	}

	after := ktStart(t, "process", "after", dir, ktKafkaYAML(brokers, "after-outage"))
	for _, p := range []*ktChild{through, after} {
		var counts map[string]int
		ktWait(t, 40*time.Second, p.name+" to store every acknowledged event", func() bool {
			counts = p.eventCounts()
			return len(counts) >= len(acked)
		})
		lost, doubled, unknown := 0, 0, 0
		for id := range acked {
			if counts[id] == 0 {
				lost++
			}
		}
		for id, n := range counts {
			if n > 1 {
				doubled++
			}
			if !sent[id] {
				unknown++
			}
		}
		t.Logf("%s: acknowledged=%d stored=%d lost=%d doubled=%d unknown=%d", p.name, len(acked), len(counts), lost, doubled, unknown)
		if lost+doubled+unknown > 0 {
			t.Errorf("%s: lost %d acknowledged events, %d stored more than once, %d never sent", p.name, lost, doubled, unknown)
		}
	}
	t.Logf("outage answers=%d quick 503s=%d (slowest %v); first 2xx %v after the new cluster started; unacknowledged batches resent=%d",
		outage, quick503, slowest503.Round(time.Millisecond), recovered.Round(time.Millisecond), len(unacked))
	through.stop()
	after.stop()
	ing.stop()
}

// TestKafkaProcessorKeepsWhatIngestAccepted sends an event that ingest
// accepts under a raised ingest.max_event_name (a 250-byte name, limit 300)
// and checks that the processor stores it rather than turning the
// acknowledged event into an "undecodable record" rejection. Both roles get
// the same configuration.
func TestKafkaProcessorKeepsWhatIngestAccepted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Kafka and subprocesses")
	}
	c := ktCluster(t)
	dir := t.TempDir()
	cfg := "ingest:\n  max_event_name: 300\n" + ktKafkaYAML(c.ListenAddrs(), "limits")
	ing := ktStart(t, "ingest", "ingest", dir, cfg)
	proc := ktStart(t, "process", "process", dir, cfg)
	name := strings.Repeat("n", 250)
	body := fmt.Sprintf(`{"batch":[{"type":"track","event":%q,"messageId":"long-name","anonymousId":"a1"}]}`, name)
	client := &http.Client{Timeout: 15 * time.Second}
	defer client.CloseIdleConnections()
	a := ktPost(client, ing.base, []byte(body))
	if a.err != nil || a.code != http.StatusOK || len(a.rejected) != 0 {
		t.Fatalf("ingest answered %d %v, rejected %v: want 200 accepting the event", a.code, a.err, a.rejected)
	}
	var events, rejected [][]any
	ktWait(t, 30*time.Second, "the processor to store the event or reject it", func() bool {
		events = proc.sql("SELECT event_id FROM events")
		rejected = proc.sql("SELECT reason FROM rejected")
		return len(events)+len(rejected) > 0
	})
	if len(events) != 1 || len(rejected) != 0 {
		t.Errorf("acknowledged event lost by the processor: events %v, rejected %v", events, rejected)
	}
	proc.stop()
	ing.stop()
}
