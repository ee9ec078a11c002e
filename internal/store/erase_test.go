package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/event"
)

func TestErase(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	t0 := time.Date(2026, 11, 20, 9, 15, 0, 0, time.UTC)
	n := 0
	ev := func(typ event.Type, name, anon, user string, at time.Time) event.Event {
		n++
		e := testEvent(fmt.Sprintf("m-%d", n), at)
		e.Type, e.Event, e.AnonymousID, e.UserID = typ, name, anon, user
		return e
	}
	b := &event.Batch{Events: []event.Event{
		// Member X on a phone (A) and a laptop (B).
		ev(event.Track, "book_view", "A", "", t0),
		ev(event.Identify, "identify", "A", "X", t0.Add(time.Minute)),
		ev(event.Track, "purchase", "A", "X", t0.Add(2*time.Minute)),
		ev(event.Track, "book_view", "B", "", t0.Add(3*time.Hour)),
		ev(event.Identify, "identify", "B", "X", t0.Add(3*time.Hour+time.Minute)),
		// Member Y logs in on the laptop too: Y's events stay.
		ev(event.Identify, "identify", "B", "Y", t0.Add(5*time.Hour)),
		ev(event.Track, "book_view", "B", "Y", t0.Add(5*time.Hour+time.Minute)),
		// Someone else entirely.
		ev(event.Track, "book_view", "C", "", t0.Add(time.Hour)),
		ev(event.Identify, "identify", "C", "Z", t0.Add(time.Hour)),
	}, Rejected: []event.Rejected{
		{ReceivedAt: t0, Source: "web", Reason: "bad", Raw: []byte(`{"userId":"X","type":"track"}`)},
		{ReceivedAt: t0, Source: "web", Reason: "bad", Raw: []byte(`{"anonymousId":"A","type":"track"}`)},
		{ReceivedAt: t0, Source: "web", Reason: "bad", Raw: []byte(`{"anonymousId":"C","type":"track"}`)},
		{ReceivedAt: t0, Source: "web", Reason: "bad", Raw: []byte(`{"userId":"X", cut`)},
		{ReceivedAt: t0, Source: "kafka:actlog.events", Reason: "bad", Raw: []byte(`{"event_id":"k","anonymous_id":"B","type":"track"}`)},
		{ReceivedAt: t0, Source: "import", Reason: "bad", Raw: []byte(`2026-11-20 09:15,A,banner_click,home_top`)},
		{ReceivedAt: t0, Source: "web", Reason: "bad", Raw: []byte(`{"userId":"Y","type":"track"}`)},
	}}
	if err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	e, err := s.Erase(ctx, "X", "dpo@books.example")
	if err != nil {
		t.Fatal(err)
	}
	if e.Events != 5 || e.AnonymousIDs != 2 || e.Rejected != 5 || len(e.Hours) != 2 {
		t.Errorf("erasure %+v: want 5 events, 2 devices, 5 rejected, 2 hours", e)
	}
	if !e.Hours[0].Equal(t0.Truncate(time.Hour)) || !e.Hours[1].Equal(t0.Truncate(time.Hour).Add(3*time.Hour)) {
		t.Errorf("hours %v", e.Hours)
	}
	for q, want := range map[string]int64{
		`SELECT count(*) FROM events WHERE user_id = 'X'`:                                                                                       0,
		`SELECT count(*) FROM events WHERE user_id IS NULL AND anonymous_id IN ('A','B')`:                                                       0,
		`SELECT count(*) FROM events WHERE user_id = 'Y'`:                                                                                       2,
		`SELECT count(*) FROM events WHERE anonymous_id = 'C'`:                                                                                  2,
		`SELECT count(*) FROM identity_links_all WHERE user_id = 'X'`:                                                                           0,
		`SELECT count(*) FROM identities WHERE user_id = 'X'`:                                                                                   0,
		`SELECT count(*) FROM rejected WHERE raw LIKE '%"X"%' AND json_valid(raw)`:                                                              0,
		`SELECT count(*) FROM rejected`:                                                                                                         2, // C's, and the unreadable one
		`SELECT count(*) FROM erasures WHERE subject_sha256 = '` + SubjectHash("X") + `' AND events = 5 AND requested_by = 'dpo@books.example'`: 1,
		`SELECT count(*) FROM erasures WHERE subject_sha256 LIKE '%X%'`:                                                                         0,
	} {
		if got := count(t, s, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	// Y is still the member of laptop B's later events.
	if got := count(t, s, `SELECT count(*) FROM identities WHERE anonymous_id = 'B' AND user_id = 'Y'`); got != 1 {
		t.Errorf("B is no longer linked to Y")
	}
	if err := s.RecordLake(ctx, e.ID, 2, nil); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, `SELECT count(*) FROM erasures WHERE lake_partitions = 2 AND lake_status = 'done'`); got != 1 {
		t.Errorf("lake rewrite not recorded")
	}
	again, err := s.Erase(ctx, "X", "dpo@books.example")
	if err != nil || again.Events != 0 {
		t.Errorf("second erasure: %+v, %v", again, err)
	}
	for _, id := range []string{"", "a\x00b"} {
		if _, err := s.Erase(ctx, id, "x"); err == nil {
			t.Errorf("user id %q was erased", id)
		}
	}
}

// TestDeletionKeepsIdentityLinks: a deletion large enough for DuckDB to
// compact the table at the next checkpoint moves the rowids of the rows
// left; identifies written during and after must still get their links.
func TestDeletionKeepsIdentityLinks(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Dir: t.TempDir(), LinksInterval: 5 * time.Millisecond, CheckpointInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	old := time.Now().UTC().Add(-400 * 24 * time.Hour)
	now := time.Now().UTC()
	write := func(prefix string, n int, at time.Time, identify bool) {
		t.Helper()
		for i := 0; i < n; i += 5000 {
			b := &event.Batch{}
			for j := i; j < min(n, i+5000); j++ {
				e := testEvent(fmt.Sprintf("%s-%d", prefix, j), at.Add(time.Duration(j)*time.Millisecond))
				e.AnonymousID = fmt.Sprintf("%s-anon-%d", prefix, j%997)
				if identify && j%10 == 0 {
					e.Type, e.Event, e.UserID = event.Identify, "identify", fmt.Sprintf("%s-user-%d", prefix, j%997)
				}
				b.Events = append(b.Events, e)
			}
			if err := s.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("old", 300_000, old, true)
	write("kept", 30_000, now.Add(-time.Hour), true)
	// A reader holds a transaction open across the deletion, as a
	// dashboard query would: checkpoints then cannot compact at once.
	reader, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := reader.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		t.Fatal(err)
	}
	var seen int64
	if err := reader.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&seen); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // identifies keep arriving during the deletion
		defer wg.Done()
		write("during", 20_000, now, true)
	}()
	evs, _, err := s.DeleteBefore(ctx, now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if _, err := reader.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	// Let the background checkpoints compact the table (20 ms apart).
	time.Sleep(300 * time.Millisecond)
	if evs != 300_000 {
		t.Fatalf("deleted %d events, want 300000", evs)
	}
	write("after", 20_000, now.Add(time.Minute), true)
	missing := func() int64 {
		return count(t, s, `SELECT count(*) FROM (
			SELECT DISTINCT anonymous_id, user_id, ts FROM events WHERE type = 'identify'
			EXCEPT SELECT anonymous_id, user_id, ts FROM identity_links_all)`)
	}
	if n := missing(); n != 0 {
		t.Fatalf("%d identifies are missing from the identity view", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !s.LinksCaughtUp() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// Caught up: the links table alone holds every identify.
	if n := count(t, s, `SELECT count(*) FROM (
			SELECT DISTINCT anonymous_id, user_id, ts FROM events WHERE type = 'identify'
			EXCEPT SELECT anonymous_id, user_id, ts FROM identity_links)`); n != 0 {
		t.Fatalf("%d identifies have no link after the catch-up", n)
	}
	if got := count(t, s, `SELECT count(*) FROM events`); got != 70_000 {
		t.Fatalf("events left %d, want 70000", got)
	}
}
