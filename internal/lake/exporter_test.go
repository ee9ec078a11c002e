package lake

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/actlog/actlog/internal/store"
)

// TestExportReadBackByDuckDB exports the closed hours to a directory and
// reads them back with DuckDB's hive partitioning: the same event ids per
// hour as the store, the open hour left out, manifests that describe
// their files.
func TestExportReadBackByDuckDB(t *testing.T) {
	s := fixture(t)
	reg := prometheus.NewRegistry()
	dir := filepath.Join(t.TempDir(), "lake")
	dst, err := NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := hour(5).Add(30 * time.Minute)
	e, err := New(s, dst, Options{Now: func() time.Time { return now }, Version: "test"}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := e.Export(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != 4 || sum.Unchanged != 0 || sum.Rows != 40+50+60+70 || sum.Bytes <= 0 {
		t.Fatalf("summary %+v, want hours 0-3 written (220 rows)", sum)
	}
	db := openReader(t)
	got := lakeRows(t, db, dir)
	equalRows(t, got, storeRows(t, s, hour(0), hour(5)))
	if _, ok := got[hour(5)]; ok {
		t.Fatal("the open hour 05 was exported")
	}
	noStaging(t, s)

	// The hive columns as DuckDB types them (docs/lake.md): dt a DATE,
	// hour text ("05") unless typed, and a filter on them prunes files.
	var dtType, hourType, hourTyped string
	var n int
	if err := db.QueryRow(`SELECT typeof(dt), typeof(hour) FROM read_parquet(?, hive_partitioning = true) LIMIT 1`,
		filepath.Join(dir, "*", "*", "*.parquet")).Scan(&dtType, &hourType); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT any_value(typeof(hour)), count(*) FROM read_parquet(?, hive_partitioning = true,
		hive_types = {'dt': DATE, 'hour': INTEGER}) WHERE dt = DATE '2026-11-24' AND hour = 2`,
		filepath.Join(dir, "*", "*", "*.parquet")).Scan(&hourTyped, &n); err != nil {
		t.Fatal(err)
	}
	if dtType != "DATE" || hourType != "VARCHAR" || hourTyped != "INTEGER" || n != 60 {
		t.Fatalf("dt %s, hour %s (typed %s, %d rows of hour 2); want DATE, VARCHAR, INTEGER, 60", dtType, hourType, hourTyped, n)
	}

	for h := range 4 {
		m := readManifest(t, dir, hour(h))
		file := filepath.Join(dir, filepath.FromSlash(DataKey(hour(h))))
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		sha, size, _ := hashFile(file)
		if m.Rows != int64(40+10*h) || m.Bytes != int64(len(b)) || m.Bytes != size || m.SHA256 != sha || m.File != DataFile {
			t.Errorf("hour %d: manifest %+v does not describe its file (%d bytes, sha %s)", h, m, size, sha)
		}
		if m.Partition != PartitionPath(hour(h)) || !m.HourStart.Equal(hour(h)) || !m.HourEnd.Equal(hour(h+1)) {
			t.Errorf("hour %d: manifest partition %s %s-%s", h, m.Partition, m.HourStart, m.HourEnd)
		}
		if m.MinTS == nil || !m.MinTS.Equal(hour(h)) || m.MaxTS == nil || !m.MaxTS.Before(hour(h+1)) || m.MaxTS.Before(*m.MinTS) {
			t.Errorf("hour %d: ts range %v-%v", h, m.MinTS, m.MaxTS)
		}
		if !m.ExportedAt.Equal(now) || m.SchemaVersion != store.SchemaVersion || m.ActlogVersion != "test" {
			t.Errorf("hour %d: exported_at %s, schema %d, version %q", h, m.ExportedAt, m.SchemaVersion, m.ActlogVersion)
		}
		var names []string
		for _, c := range m.Columns {
			names = append(names, c.Name)
		}
		if len(names) < 30 || names[0] != "event_id" || slices.Contains(names, "dedupe_key") || !slices.Contains(names, "properties") {
			t.Errorf("hour %d: manifest columns %v", h, names)
		}
	}
	if v := testutil.ToFloat64(e.m.partitions); v != 4 {
		t.Errorf("partitions written metric %v, want 4", v)
	}
	if v := testutil.ToFloat64(e.m.rows); v != 220 {
		t.Errorf("rows written metric %v, want 220", v)
	}
	if v := testutil.ToFloat64(e.m.lastSuccess); v <= 0 {
		t.Errorf("last success %v", v)
	}
	if n := testutil.CollectAndCount(reg); n != 6 {
		t.Errorf("%d metrics registered, want 6", n)
	}
}

// TestExportIdempotent runs the export again: it writes nothing and
// changes no byte, until something changes in the store.
func TestExportIdempotent(t *testing.T) {
	s := fixture(t)
	e, c, dir := newExporter(t, s, Options{})
	ctx := context.Background()
	if _, err := e.Export(ctx); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	for range 2 {
		sum, err := e.Export(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Written != 0 || sum.Unchanged != 4 || sum.Rows != 0 {
			t.Fatalf("second export %+v: want nothing written, 4 unchanged", sum)
		}
	}
	// A new exporter (a restart: no cached manifest) agrees.
	e2, err := New(s, e.dst, Options{Now: c.Now}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := e2.Export(ctx); err != nil || sum.Written != 0 || sum.Unchanged != 4 {
		t.Fatalf("export after a restart: %+v, %v", sum, err)
	}
	after := snapshot(t, dir)
	if len(before) != 8 || !maps2Equal(before, after) {
		t.Fatalf("files changed by an export with nothing new:\n before %v\n after  %v", before, after)
	}
	noStaging(t, s)
}

func maps2Equal(a, b map[string]fileState) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.sha != w.sha || !v.mtime.Equal(w.mtime) {
			return false
		}
	}
	return true
}

// TestExportLateEvents: an event that arrives for an exported hour makes
// that hour, and only it, export again; an hour that closes is exported
// by the next run.
func TestExportLateEvents(t *testing.T) {
	s := fixture(t)
	e, c, dir := newExporter(t, s, Options{})
	ctx := context.Background()
	if _, err := e.Export(ctx); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	writeEvents(t, s, hour(1).Add(59*time.Minute), 1, "late")
	sum, err := e.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != 1 || sum.Unchanged != 3 || sum.Rows != 51 {
		t.Fatalf("summary %+v: want hour 01 written again with 51 rows", sum)
	}
	after := snapshot(t, dir)
	for k, v := range before {
		changed := v.sha != after[k].sha
		if want := k == DataKey(hour(1)) || k == ManifestKey(hour(1)); changed != want {
			t.Errorf("%s changed: %v, want %v", k, changed, want)
		}
	}
	if m := readManifest(t, dir, hour(1)); m.Rows != 51 {
		t.Fatalf("manifest of hour 01: %d rows, want 51", m.Rows)
	}
	db := openReader(t)
	equalRows(t, lakeRows(t, db, dir), storeRows(t, s, hour(0), hour(5)))

	// 06:15: hour 05 is closed.
	c.now = hour(6).Add(15 * time.Minute)
	if sum, err = e.Export(ctx); err != nil || sum.Written != 1 || sum.Rows != 90 {
		t.Fatalf("export after hour 05 closed: %+v, %v", sum, err)
	}
	equalRows(t, lakeRows(t, db, dir), storeRows(t, s, hour(0), hour(6)))
}

// TestExportKeepsArchive: when retention deleted rows of the store, the
// export keeps the lake's partition as it is.
func TestExportKeepsArchive(t *testing.T) {
	s := fixture(t)
	e, _, dir := newExporter(t, s, Options{})
	ctx := context.Background()
	if _, err := e.Export(ctx); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	if _, err := s.DB().Exec(`DELETE FROM events WHERE ts < ?`, hour(0).Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	sum, err := e.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != 0 || sum.Behind != 1 || sum.Unchanged != 3 {
		t.Fatalf("summary %+v: want hour 00 kept (behind), nothing written", sum)
	}
	if !maps2Equal(before, snapshot(t, dir)) {
		t.Fatal("the lake changed")
	}
	if got := lakeRows(t, openReader(t), dir)[hour(0)]; len(got) != 40 {
		t.Fatalf("hour 00 in the lake: %d rows, want the 40 exported", len(got))
	}
}

// TestExportSince: hours before Options.Since are not exported.
func TestExportSince(t *testing.T) {
	s := fixture(t)
	e, _, dir := newExporter(t, s, Options{Since: hour(2).Add(20 * time.Minute)})
	sum, err := e.Export(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != 2 {
		t.Fatalf("summary %+v: want hours 02 and 03", sum)
	}
	equalRows(t, lakeRows(t, openReader(t), dir), storeRows(t, s, hour(2), hour(4)))
}

// TestRewriteAfterErasure deletes a member's events, as an erasure does,
// and rewrites their hours: a partition shrinks, one left empty is
// deleted, an open hour is left to the export; a second rewrite changes
// nothing, and neither does the next export.
func TestRewriteAfterErasure(t *testing.T) {
	s := fixture(t)
	e, _, dir := newExporter(t, s, Options{})
	ctx := context.Background()
	if _, err := e.Export(ctx); err != nil {
		t.Fatal(err)
	}
	// member-b's events in hour 1, everything of hour 2.
	if _, err := s.DB().Exec(`DELETE FROM events WHERE (user_id = 'member-b' AND ts >= ? AND ts < ?) OR (ts >= ? AND ts < ?)`,
		hour(1), hour(2), hour(2), hour(3)); err != nil {
		t.Fatal(err)
	}
	// The erased events' times: the same hour several times, an hour with
	// nothing in the lake (04), the open hour (05).
	times := []time.Time{hour(1).Add(10 * time.Minute), hour(2).Add(5 * time.Minute), hour(1), hour(1).Add(59 * time.Minute), hour(4), hour(5).Add(time.Minute)}
	sum, err := e.Rewrite(ctx, times)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != 1 || sum.Deleted != 1 || sum.Open != 1 || sum.Rows != 25 {
		t.Fatalf("rewrite summary %+v: want hour 01 written (25 rows), 02 deleted, 05 open", sum)
	}
	db := openReader(t)
	equalRows(t, lakeRows(t, db, dir), storeRows(t, s, hour(0), hour(5)))
	if m := readManifest(t, dir, hour(1)); m.Rows != 25 {
		t.Fatalf("manifest of hour 01: %d rows, want 25", m.Rows)
	}
	if _, err := os.Stat(filepath.Join(dir, "dt=2026-11-24", "hour=02")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("hour 02's partition directory: %v, want it gone", err)
	}
	noStaging(t, s)

	before := snapshot(t, dir)
	sum, err = e.Rewrite(ctx, times)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != 0 || sum.Deleted != 0 || sum.Unchanged != 1 {
		t.Fatalf("second rewrite %+v: want nothing written", sum)
	}
	if sum, err = e.Export(ctx); err != nil || sum.Written != 0 {
		t.Fatalf("export after the rewrite: %+v, %v", sum, err)
	}
	if !maps2Equal(before, snapshot(t, dir)) {
		t.Fatal("a rewrite or export of unchanged rows changed the lake")
	}
	// A rewrite of an unchanged hour gives the same rows and bytes.
	sum, err = e.Rewrite(ctx, []time.Time{hour(0), hour(3)})
	if err != nil || sum.Unchanged != 2 || sum.Written != 0 {
		t.Fatalf("rewrite of unchanged hours: %+v, %v", sum, err)
	}
}

// TestRewriteWithoutManifest: a partition whose manifest is missing (a
// crash between the file and its manifest) is written again by Export.
func TestExportMissingManifest(t *testing.T) {
	s := fixture(t)
	e, _, dir := newExporter(t, s, Options{})
	ctx := context.Background()
	if _, err := e.Export(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(ManifestKey(hour(3))))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(ManifestKey(hour(2)))), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := e.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != 2 || sum.Unchanged != 2 {
		t.Fatalf("summary %+v: want hours 02 (unreadable manifest) and 03 (none) written", sum)
	}
	if m := readManifest(t, dir, hour(2)); m.Rows != 60 {
		t.Fatalf("manifest of hour 02: %+v", m)
	}
}

// TestExportFailingDestination: when the destination refuses, Export
// fails, counts the error and leaves no staging file; once it accepts
// again, the next run writes everything.
func TestExportFailingDestination(t *testing.T) {
	s := fixture(t)
	root := filepath.Join(t.TempDir(), "lake")
	dst, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	now := hour(5).Add(30 * time.Minute)
	e, err := New(s, dst, Options{Now: func() time.Time { return now }}, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	// A file where the lake's first partition directory goes.
	if err := os.WriteFile(filepath.Join(root, "dt=2026-11-24"), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.Export(ctx); err == nil {
		t.Fatal("export into a blocked directory: no error")
	}
	noStaging(t, s)
	if v := testutil.ToFloat64(e.m.errors); v != 1 {
		t.Fatalf("errors metric %v, want 1", v)
	}
	if v := testutil.ToFloat64(e.m.lastSuccess); v != 0 {
		t.Fatalf("last success %v after a failure", v)
	}
	if err := os.Remove(filepath.Join(root, "dt=2026-11-24")); err != nil {
		t.Fatal(err)
	}
	if sum, err := e.Export(ctx); err != nil || sum.Written != 4 {
		t.Fatalf("export once the directory is free: %+v, %v", sum, err)
	}
}

// TestExportCancelled: a cancelled export returns the context's error and
// leaves no staging file.
func TestExportCancelled(t *testing.T) {
	s := fixture(t)
	e, _, _ := newExporter(t, s, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Export(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	noStaging(t, s)
}

// TestRemoveStaleStaging: staging files older than an hour (a crash) are
// removed by the next run; other files of the export directory are not.
func TestRemoveStaleStaging(t *testing.T) {
	s := openStore(t)
	e, _, _ := newExporter(t, s, Options{})
	old := time.Now().Add(-2 * time.Hour)
	for _, name := range []string{".lake-2026112401-dead.parquet", ".lake-fresh.parquet", "mine.csv"} {
		p := filepath.Join(s.ExportDir(), name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if name != ".lake-fresh.parquet" {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := e.Export(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(s.ExportDir())
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	if !slices.Equal(names, []string{".lake-fresh.parquet", "mine.csv"}) {
		t.Fatalf("export dir holds %v", names)
	}
}

// TestRun exports on a schedule until its context ends.
func TestRun(t *testing.T) {
	s := fixture(t)
	e, _, dir := newExporter(t, s, Options{})
	if err := e.Run(context.Background(), 0); err == nil {
		t.Fatal("Run with interval 0: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, 5*time.Millisecond) }()
	deadline := time.Now().Add(30 * time.Second)
	for len(snapshot(t, dir)) < 8 {
		if time.Now().After(deadline) {
			t.Fatal("Run exported nothing")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	equalRows(t, lakeRows(t, openReader(t), dir), storeRows(t, s, hour(0), hour(5)))
}

// TestNewOptions: defaults and refused options.
func TestNewOptions(t *testing.T) {
	s := openStore(t)
	dst, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(s, dst, Options{Since: time.Date(2026, 11, 1, 7, 45, 0, 0, time.FixedZone("KST", 9*3600))}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.opts.CloseAfter != DefaultCloseAfter || e.opts.Now == nil || !e.opts.Since.Equal(time.Date(2026, 10, 31, 22, 0, 0, 0, time.UTC)) {
		t.Fatalf("options %+v", e.opts)
	}
	if _, err := New(s, dst, Options{CloseAfter: -time.Minute}, nil, nil); err == nil {
		t.Fatal("negative CloseAfter accepted")
	}
	if _, err := New(nil, dst, Options{}, nil, nil); err == nil {
		t.Fatal("no store accepted")
	}
	// Two exporters on one registry share the series.
	reg := prometheus.NewRegistry()
	for range 2 {
		if _, err := New(s, dst, Options{}, nil, reg); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPartitionPaths(t *testing.T) {
	h := time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC)
	kst := time.Date(2026, 11, 24, 14, 59, 59, 0, time.FixedZone("KST", 9*3600))
	if PartitionPath(kst) != "dt=2026-11-24/hour=05" || DataKey(h) != "dt=2026-11-24/hour=05/events.parquet" ||
		ManifestKey(h) != "dt=2026-11-24/hour=05/_manifest.json" {
		t.Fatalf("paths %s %s %s", PartitionPath(kst), DataKey(h), ManifestKey(h))
	}
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"dt=2026-11-24/hour=05/_manifest.json", true},
		{"dt=2026-11-24/hour=5/_manifest.json", false},
		{"dt=2026-11-24/hour=05/events.parquet", false},
		{"x/dt=2026-11-24/hour=05/_manifest.json", false},
		{"dt=2026-13-24/hour=05/_manifest.json", false},
	} {
		got, ok := hourOfManifestKey(tc.key)
		if ok != tc.ok || (ok && !got.Equal(h)) {
			t.Errorf("hourOfManifestKey(%s) = %s, %v", tc.key, got, ok)
		}
	}
}
