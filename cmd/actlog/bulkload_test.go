package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/loadgen"
	"github.com/actlog/actlog/internal/store"
)

// TestBulkLoad fills a store without HTTP and checks what the analyses
// benchmark relies on: every event stored once, spread over the days asked,
// with members who log in and sessions.
func TestBulkLoad(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	start := time.Now()
	err := bulkLoad(context.Background(), bulkOptions{Dir: dir, Events: 5000, Days: 2, Users: loadgen.DefaultUsers, Seed: 3}, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "stored 5000 events (0 rejected)") {
		t.Fatalf("summary %q", out.String())
	}
	st, err := store.Open(context.Background(), store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n, ids, identifies, sessions int
	var first, last time.Time
	err = st.DB().QueryRow(`SELECT count(*), count(DISTINCT event_id), count(*) FILTER (WHERE type = 'identify'),
		count(DISTINCT session_id), min(ts), max(ts) FROM events`).Scan(&n, &ids, &identifies, &sessions, &first, &last)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5000 || ids != 5000 {
		t.Fatalf("%d rows, %d distinct ids; want 5000", n, ids)
	}
	if identifies == 0 || sessions < 10 {
		t.Fatalf("%d identify events, %d sessions", identifies, sessions)
	}
	if span := last.Sub(first); span < 30*time.Hour || last.After(start.Add(time.Minute)) || first.Before(start.Add(-49*time.Hour)) {
		t.Fatalf("events from %s to %s: want about two days ending now", first, last)
	}
}
