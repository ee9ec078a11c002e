package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/actlog/actlog/internal/event"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func testEvent(id string, ts time.Time) event.Event {
	return event.Event{
		EventID: id, Source: "web", Type: event.Track, Event: "book_view",
		AnonymousID: "anon-1", TS: ts, ReceivedAt: ts,
		Properties: []byte(`{"book_id":"b1"}`), Context: []byte(`{}`),
	}
}

func count(t *testing.T, s *Store, q string) int64 {
	t.Helper()
	var n int64
	if err := s.DB().QueryRowContext(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestWriteDedupeAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC()
	s := openStore(t, dir)
	ctx := context.Background()
	b := &event.Batch{Events: []event.Event{testEvent("a", now), testEvent("b", now), testEvent("a", now)}}
	if err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	// A retry of the same ids.
	if err := s.Write(ctx, &event.Batch{Events: []event.Event{testEvent("b", now), testEvent("c", now)}}); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, "SELECT count(*) FROM events"); got != 3 {
		t.Fatalf("events = %d, want 3", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	if got := s.dedupe.size(); got != 3 {
		t.Fatalf("restored dedupe ids = %d, want 3", got)
	}
	if err := s.Write(ctx, &event.Batch{Events: []event.Event{testEvent("a", now), testEvent("d", now)}}); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, "SELECT count(*) FROM events"); got != 4 {
		t.Fatalf("events after restart = %d, want 4", got)
	}
	if got := count(t, s, "SELECT count(DISTINCT event_id) FROM events"); got != 4 {
		t.Fatalf("distinct ids = %d, want 4", got)
	}
}

func TestGroupCommitConcurrent(t *testing.T) {
	s := openStore(t, t.TempDir())
	now := time.Now().UTC()
	var wg sync.WaitGroup
	const writers, per = 16, 50
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				b := &event.Batch{Events: []event.Event{testEvent(fmt.Sprintf("%d-%d", w, i), now)}}
				if err := s.Write(context.Background(), b); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := count(t, s, "SELECT count(*) FROM events"); got != writers*per {
		t.Fatalf("events = %d, want %d", got, writers*per)
	}
}

func TestRejectedKept(t *testing.T) {
	s := openStore(t, t.TempDir())
	now := time.Now().UTC()
	b := &event.Batch{
		Events:   []event.Event{testEvent("ok", now)},
		Rejected: []event.Rejected{{ReceivedAt: now, Source: "web", Index: 1, MessageID: "bad", Reason: "event name is required for track", Raw: []byte("{\"type\":\"track\xff\"}")}},
	}
	if err := s.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, "SELECT count(*) FROM rejected WHERE message_id = 'bad' AND idx = 1"); got != 1 {
		t.Fatalf("rejected rows = %d, want 1", got)
	}
}

func TestSessionsDerived(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	base := time.Now().UTC().Add(-3 * time.Hour)
	evs := []event.Event{
		testEvent("1", base),
		testEvent("2", base.Add(10*time.Minute)),
		testEvent("3", base.Add(50*time.Minute)), // 40 min gap: new session
	}
	camp := testEvent("4", base.Add(51*time.Minute))
	camp.UTMCampaign = "summer"
	evs = append(evs, camp)
	sent := testEvent("5", base.Add(52*time.Minute))
	sent.SessionID = "client-session"
	evs = append(evs, sent)
	if err := s.Write(context.Background(), &event.Batch{Events: evs}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	rows, err := s.DB().Query("SELECT event_id, session_id FROM events")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, sid string
		if err := rows.Scan(&id, &sid); err != nil {
			t.Fatal(err)
		}
		ids[id] = sid
	}
	if ids["1"] != ids["2"] || ids["1"] == ids["3"] || ids["3"] == ids["4"] || ids["5"] != "client-session" {
		t.Fatalf("sessions = %v", ids)
	}
}

func TestDedupeGenerations(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := newDedupe(8*time.Hour, 0)
	d.rotate(now)
	for h := range 12 {
		at := now.Add(time.Duration(h) * time.Hour)
		keys := make([]uint64, 1000)
		for i := range keys {
			keys[i] = dedupeKey("s", fmt.Sprintf("%d-%d", h, i))
		}
		d.add(keys, at)
	}
	has := func(h, i int) bool { return d.has(dedupeKey("s", fmt.Sprintf("%d-%d", h, i))) }
	for h := 3; h < 12; h++ {
		if !has(h, 7) {
			t.Errorf("key of hour %d forgotten inside the window", h)
		}
	}
	if has(0, 7) || has(1, 7) {
		t.Errorf("keys older than the window kept")
	}
	if d.has(dedupeKey("s", "never")) {
		t.Errorf("unknown key found")
	}
}

func TestKeySet(t *testing.T) {
	s := newKeySet()
	want := map[uint64]bool{}
	for i := range uint64(50_000) {
		k := i * 0x9E3779B97F4A7C15 // spread over the high bits, including 0
		s.add(k)
		s.add(k) // twice: still one
		want[k] = true
	}
	if s.len() != len(want) {
		t.Fatalf("len = %d, want %d", s.len(), len(want))
	}
	for k := range want {
		if !s.has(k) {
			t.Fatalf("key %x lost", k)
		}
	}
	if s.has(12345) {
		t.Fatal("absent key found")
	}
	if got := len(s.keys(nil)); got != len(want) {
		t.Fatalf("keys() returned %d, want %d", got, len(want))
	}
}

func TestSessionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	base := time.Now().UTC().Add(-10 * time.Minute)
	first := testEvent("1", base)
	first.UTMCampaign = "summer"
	if err := s.Write(context.Background(), &event.Batch{Events: []event.Event{first, testEvent("2", base.Add(time.Minute))}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	same := testEvent("3", base.Add(5*time.Minute))
	same.UTMCampaign = "summer" // the campaign the session began with: no new session
	if err := s.Write(context.Background(), &event.Batch{Events: []event.Event{same}}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(DISTINCT session_id) FROM events"); n != 1 {
		t.Fatalf("%d sessions after a restart, want 1", n)
	}
}

func TestOffsetsCommitWithRows(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	now := time.Now().UTC()
	b := &event.Batch{
		Events:  []event.Event{testEvent("k1", now)},
		Offsets: []event.Offset{{Topic: "actlog.events", Partition: 0, Next: 5}, {Topic: "actlog.events", Partition: 0, Next: 7}, {Topic: "actlog.events", Partition: 2, Next: 1}},
	}
	if err := s.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	// Offsets move forward only with the batch that carries them; a batch
	// of only duplicates still records its offsets.
	if err := s.Write(context.Background(), &event.Batch{Events: []event.Event{testEvent("k1", now)}, Offsets: []event.Offset{{Topic: "actlog.events", Partition: 2, Next: 9}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	got, err := s.Offsets(context.Background(), "actlog.events")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != 7 || got[2] != 9 {
		t.Fatalf("offsets %v, want map[0:7 2:9]", got)
	}
	if n := count(t, s, "SELECT count(*) FROM events"); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
}

// TestIdentitiesKeepFirstLink writes identify events in random batches, out
// of order, with ties and duplicates, concurrently, across a restart, and
// checks that identities holds for each anonymous id the link its stored
// identify events make first (earliest, then least user id).
func TestIdentitiesKeepFirstLink(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	base := time.Date(2026, 11, 10, 10, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	identify := func(id, anon, user string, ts time.Time) event.Event {
		e := testEvent(id, ts)
		e.Type, e.Event, e.AnonymousID, e.UserID = event.Identify, "", anon, user
		return e
	}
	var all []event.Event
	for i := range 600 {
		anon := fmt.Sprintf("a%d", rng.IntN(40))
		user := fmt.Sprintf("u%d", rng.IntN(5))
		ts := base.Add(time.Duration(rng.IntN(20)) * time.Second) // many ties
		all = append(all, identify(fmt.Sprintf("i%d", i), anon, user, ts))
		if rng.IntN(10) == 0 { // a track event, and identifies missing an id
			all = append(all, testEvent(fmt.Sprintf("t%d", i), ts),
				identify(fmt.Sprintf("n%d", i), "", user, base), identify(fmt.Sprintf("m%d", i), anon, "", base))
		}
	}
	var written []event.Event
	write := func(s *Store, events []event.Event) {
		t.Helper()
		written = append(written, events...)
		var wg sync.WaitGroup
		for len(events) > 0 {
			n := min(len(events), 1+rng.IntN(30))
			b := &event.Batch{Events: append([]event.Event(nil), events[:n]...)}
			if rng.IntN(4) == 0 { // and a retry of some of it
				b.Events = append(b.Events, b.Events[:n/2]...)
			}
			events = events[n:]
			wg.Go(func() {
				if err := s.Write(ctx, b); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	check := func(s *Store) {
		t.Helper()
		want := map[string]identity{}
		for i := range written {
			want = addLink(want, &written[i])
		}
		rows, err := s.DB().QueryContext(ctx, "SELECT anonymous_id, user_id, ts FROM identities")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var a string
			var l identity
			if err := rows.Scan(&a, &l.userID, &l.ts); err != nil {
				t.Fatal(err)
			}
			if w := want[a]; w.userID != l.userID || !w.ts.Equal(l.ts) {
				t.Errorf("identity of %s = %s at %v, want %s at %v", a, l.userID, l.ts, w.userID, w.ts)
			}
			n++
		}
		if n != len(want) {
			t.Errorf("identities has %d anonymous ids, want %d", n, len(want))
		}
	}
	// pending counts the identify events whose links are not yet in
	// identity_links (the views read those themselves).
	pending := func(s *Store) int64 {
		t.Helper()
		return count(t, s, `SELECT count(*) FROM events WHERE commit_seq > (SELECT through FROM identity_state) AND type = 'identify'`)
	}
	s := openStore(t, dir)
	half := len(all) / 2
	write(s, all[half:]) // the later half of the ids first
	check(s)             // exact at once, links caught up or not
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Options{Dir: dir, LinksInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if n := pending(s); n != 0 {
		t.Fatalf("after a close and reopen, %d identifies have no link", n)
	}
	write(s, all[:half])
	check(s)
	// The writer catches the links up between commits.
	deadline := time.Now().Add(10 * time.Second)
	for pending(s) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := pending(s); n != 0 {
		t.Fatalf("%d identifies still have no link", n)
	}
	check(s)
	// A crash between a commit and the catch-up loses no link: a reopened
	// store catches up (here, through is moved back as if it had not).
	if _, err := s.DB().ExecContext(ctx, "UPDATE identity_state SET through = 0; DELETE FROM identity_links"); err != nil {
		t.Fatal(err)
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	if n := pending(s); n != 0 || count(t, s, "SELECT count(*) FROM identity_links") == 0 {
		t.Fatalf("after reopening: %d identifies without a link", n)
	}
	check(s)
	// Oracle check: addLink must agree with the migration's SQL rule.
	if got := count(t, s, `SELECT count(*) FROM (SELECT anonymous_id, arg_min(user_id, (ts, user_id)) AS user_id FROM events
		WHERE type = 'identify' AND user_id IS NOT NULL AND anonymous_id IS NOT NULL GROUP BY 1) w
		JOIN identities USING (anonymous_id, user_id)`); got != count(t, s, "SELECT count(*) FROM identities") {
		t.Errorf("identities disagrees with the events for %d anonymous ids", count(t, s, "SELECT count(*) FROM identities")-got)
	}
	// A store of schema 3 gets identities from its events on upgrade.
	if _, err := s.DB().ExecContext(ctx, "DROP VIEW identities; DROP VIEW identity_links_all; DROP TABLE identity_links; DROP TABLE identity_state; DROP TABLE saved_reports; DELETE FROM schema_migrations WHERE version >= 4"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(openStore(t, dir))
}

// identity is a link of an anonymous id to a member: the test's oracle.
type identity struct {
	userID string
	ts     time.Time
}

// addLink adds the link e makes, if any, to m when it comes before the one
// m holds: the earlier, and of two at the same time the least user id.
func addLink(m map[string]identity, e *event.Event) map[string]identity {
	if e.Type != event.Identify || e.AnonymousID == "" || e.UserID == "" {
		return m
	}
	l := identity{userID: e.UserID, ts: e.TS}
	if cur, ok := m[e.AnonymousID]; ok && !(l.ts.Before(cur.ts) || l.ts.Equal(cur.ts) && l.userID < cur.userID) {
		return m
	}
	m[e.AnonymousID] = l
	return m
}

func TestCheckpointWait(t *testing.T) {
	for _, c := range []struct{ took, want time.Duration }{
		{0, 5 * time.Second},
		{50 * time.Millisecond, 5 * time.Second},   // 10M events: the interval
		{250 * time.Millisecond, 5 * time.Second},  // at the limit
		{600 * time.Millisecond, 12 * time.Second}, // 100M events: spaced out
	} {
		if got := checkpointWait(5*time.Second, c.took); got != c.want {
			t.Errorf("checkpointWait(5s, %v) = %v, want %v", c.took, got, c.want)
		}
	}
}
