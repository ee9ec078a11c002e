package privacy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/lake"
	"github.com/actlog/actlog/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func write(t *testing.T, st *store.Store, at time.Time, users ...string) {
	t.Helper()
	b := &event.Batch{}
	for i, u := range users {
		b.Events = append(b.Events, event.Event{
			EventID: fmt.Sprintf("%s-%d-%d", u, at.Unix(), i), Source: "web", Type: event.Track, Event: "book_opened",
			AnonymousID: "dev-" + u, UserID: u, TS: at, ReceivedAt: at, Properties: []byte(`{}`), Context: []byte(`{}`),
		})
	}
	if err := st.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, st *store.Store, q string) int64 {
	t.Helper()
	var n int64
	if err := st.DB().QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestEraseLakeFailureIsRetried: when the lake cannot be rewritten the
// store part stands, the audit says why, and the next erasure rewrites
// the failed hours too.
func TestEraseLakeFailureIsRetried(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	h1 := time.Now().UTC().Add(-5 * time.Hour).Truncate(time.Hour)
	h2 := h1.Add(time.Hour)
	write(t, st, h1.Add(time.Minute), "X", "Y")
	write(t, st, h2.Add(time.Minute), "Y", "Z")
	root := filepath.Join(t.TempDir(), "lake")
	dst, err := lake.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	lk, err := lake.New(st, dst, lake.Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lk.Export(ctx); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	er, err := NewEraser(st, EraserOptions{Lake: lk, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	// Break the lake: its first partition's directory becomes a file.
	part := filepath.Join(root, lake.PartitionPath(h1))
	if err := os.RemoveAll(part); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(part, []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := er.Erase(ctx, "X", "ticket-1")
	if err == nil || res.Events != 1 || res.LakeError == "" {
		t.Fatalf("erase with a broken lake: %+v, %v", res, err)
	}
	if n := count(t, st, `SELECT count(*) FROM events WHERE user_id = 'X'`); n != 0 {
		t.Fatalf("%d events of X left", n)
	}
	if n := count(t, st, `SELECT count(*) FROM erasures WHERE lake_status LIKE 'lake failed: %'`); n != 1 {
		t.Fatal("the audit does not record the failed lake rewrite")
	}
	if got := testutil.ToFloat64(er.erasures.WithLabelValues("lake_failed")); got != 1 {
		t.Errorf("lake_failed counted %v", got)
	}
	// Mend the lake; the next erasure (Z, in the other hour) rewrites X's
	// hour as well.
	if err := os.Remove(part); err != nil {
		t.Fatal(err)
	}
	res, err = er.Erase(ctx, "Z", "ticket-2")
	if err != nil || res.Events != 1 || res.LakePartitions != 1 {
		t.Fatalf("second erasure: %+v, %v", res, err)
	}
	if n := count(t, st, `SELECT count(*) FROM erasures WHERE lake_status = 'done'`); n != 2 {
		t.Fatalf("%d erasures done, want 2", n)
	}
	for _, h := range []time.Time{h1, h2} {
		m, err := dst.Get(ctx, lake.ManifestKey(h))
		if err != nil {
			t.Fatalf("manifest of %s: %v", h, err)
		}
		if len(m) == 0 {
			t.Fatalf("empty manifest of %s", h)
		}
	}
	if n, err := er.RetryLake(ctx); err != nil || n != 0 {
		t.Fatalf("retry with nothing pending: %d, %v", n, err)
	}
	list, err := er.Erasures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if recs := list.([]AuditRecord); len(recs) != 2 || recs[0].RequestedBy != "ticket-2" || len(recs[1].Hours) != 1 || !recs[1].Hours[0].Equal(h1) {
		t.Fatalf("audit %+v", recs)
	}
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	write(t, st, now.AddDate(0, 0, -40), "old")
	write(t, st, now.AddDate(0, 0, -29), "kept")
	reg := prometheus.NewRegistry()
	er, err := NewEraser(st, EraserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := er.Retention(30, func() time.Time { return now }, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Cutoff(); !got.Equal(now.AddDate(0, 0, -30)) {
		t.Fatalf("cutoff %s", got)
	}
	evs, _, err := r.Once(ctx)
	if err != nil || evs != 1 {
		t.Fatalf("retention deleted %d, %v", evs, err)
	}
	if n := count(t, st, `SELECT count(*) FROM events`); n != 1 {
		t.Fatalf("%d events left", n)
	}
	if got := testutil.ToFloat64(r.deleted.WithLabelValues("events")); got != 1 {
		t.Errorf("deleted counted %v", got)
	}
	// Run deletes at once and stops with its context.
	write(t, st, now.AddDate(0, 0, -31), "late")
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); r.Run(runCtx, time.Hour) }()
	deadline := time.Now().Add(10 * time.Second)
	for count(t, st, `SELECT count(*) FROM events`) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if n := count(t, st, `SELECT count(*) FROM events`); n != 1 {
		t.Fatalf("%d events after Run", n)
	}
	if _, err := er.Retention(0, nil, nil, nil); err == nil {
		t.Error("a retention of 0 days was accepted")
	}
}

// TestEraseWithRetention: retention deleted an old hour from the store but
// the lake keeps it; erasing a member removes the member's rows from that
// old partition without losing anyone else's, and rebuilds the recent
// hours from the store.
func TestEraseWithRetention(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Now().UTC()
	old := now.AddDate(0, 0, -40).Truncate(time.Hour)
	recent := now.Add(-3 * time.Hour).Truncate(time.Hour)
	write(t, st, old.Add(time.Minute), "X", "Y", "Y")
	write(t, st, old.Add(2*time.Minute), "X")
	write(t, st, old.Add(time.Hour+time.Minute), "X") // an old hour of X alone
	write(t, st, recent.Add(time.Minute), "X", "Z")
	dst, err := lake.NewDir(filepath.Join(t.TempDir(), "lake"))
	if err != nil {
		t.Fatal(err)
	}
	lk, err := lake.New(st, dst, lake.Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := lk.Export(ctx); err != nil || sum.Written != 3 {
		t.Fatalf("export: %+v, %v", sum, err)
	}
	er, err := NewEraser(st, EraserOptions{Lake: lk})
	if err != nil {
		t.Fatal(err)
	}
	ret, err := er.Retention(30, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if evs, _, err := ret.Once(ctx); err != nil || evs != 5 {
		t.Fatalf("retention: %d, %v", evs, err)
	}
	// A rewrite of an hour retention cut into is refused: it would drop
	// the archive's rows.
	if sum, err := lk.Rewrite(ctx, []time.Time{old}); err != nil || sum.Archived != 1 || sum.Written+sum.Deleted != 0 {
		t.Fatalf("rewrite of an archived hour: %+v, %v", sum, err)
	}
	res, err := er.Erase(ctx, "X", "ticket-9")
	if err != nil {
		t.Fatal(err)
	}
	// The store held X's recent event only; the lake also had X's old ones.
	if res.Events != 1 || res.LakePartitions != 3 {
		t.Fatalf("erasure %+v: want 1 event from the store, 3 partitions changed", res)
	}
	lakeRows := func(h time.Time) (x, others int64, ok bool) {
		t.Helper()
		b, err := dst.Get(ctx, lake.DataKey(h))
		if err != nil {
			return 0, 0, false
		}
		f := filepath.Join(st.ExportDir(), "check.parquet")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(f)
		if err := st.DB().QueryRow(`SELECT count(*) FILTER (WHERE user_id = 'X'), count(*) FILTER (WHERE user_id <> 'X') FROM read_parquet(?)`, f).Scan(&x, &others); err != nil {
			t.Fatal(err)
		}
		return x, others, true
	}
	if x, others, ok := lakeRows(old); !ok || x != 0 || others != 2 {
		t.Errorf("old hour in the lake: %d rows of X, %d of others (found %v); want 0 and 2", x, others, ok)
	}
	if _, _, ok := lakeRows(old.Add(time.Hour)); ok {
		t.Error("the old hour of X alone is still in the lake")
	}
	if x, others, ok := lakeRows(recent); !ok || x != 0 || others != 1 {
		t.Errorf("recent hour in the lake: %d rows of X, %d of others; want 0 and 1", x, others)
	}
	if n := count(t, st, `SELECT count(*) FROM erasures_pending`); n != 0 {
		t.Errorf("%d erased members still named after the lake step", n)
	}
	// The archive is not shrunk by the next export: the old hour stays.
	if sum, err := lk.Export(ctx); err != nil || sum.Written != 0 {
		t.Fatalf("export after: %+v, %v", sum, err)
	}
	if _, others, ok := lakeRows(old); !ok || others != 2 {
		t.Error("the next export lost the old hour")
	}
}
