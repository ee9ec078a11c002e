package lake

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the reader of the exported files
	"go.uber.org/goleak"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// base is the first hour of the tests' events.
var base = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func hour(n int) time.Time { return base.Add(time.Duration(n) * time.Hour) }

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// writeEvents stores n events spread over the given hour, ids prefix-i,
// members alternating between member-a and member-b.
func writeEvents(t *testing.T, s *store.Store, h time.Time, n int, prefix string) {
	t.Helper()
	b := &event.Batch{}
	for i := range n {
		ts := h.Add(time.Duration(i) * time.Hour / time.Duration(n))
		member := "member-a"
		if i%2 == 1 {
			member = "member-b"
		}
		b.Events = append(b.Events, event.Event{
			EventID: fmt.Sprintf("%s-%d", prefix, i), Source: "web", Type: event.Track, Event: "book_view",
			AnonymousID: "anon-" + member, UserID: member, TS: ts, ReceivedAt: ts.Add(time.Second),
			Seq: int64(i), HasSeq: true, PagePath: "/books/" + prefix,
			Properties: json.RawMessage(fmt.Sprintf(`{"book_id":"b%d"}`, i)), Context: json.RawMessage(`{"locale":"en"}`),
		})
	}
	if err := s.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// fixture is a store with events in hours 0, 1, 2, 3 and 5 of base (none
// in hour 4), 40 to 80 a hour.
func fixture(t *testing.T) *store.Store {
	t.Helper()
	s := openStore(t)
	for _, h := range []int{0, 1, 2, 3, 5} {
		writeEvents(t, s, hour(h), 40+10*h, fmt.Sprintf("h%d", h))
	}
	return s
}

// clock is a settable Now.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// newExporter returns an exporter of s to a new directory, its clock at
// 05:30 of base's day (hours 0 to 4 closed), and the directory.
func newExporter(t *testing.T, s *store.Store, opts Options) (*Exporter, *clock, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lake")
	dst, err := NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: hour(5).Add(30 * time.Minute)}
	opts.Now = c.Now
	e, err := New(s, dst, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e, c, dir
}

func openReader(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	return db
}

// lakeRows reads the lake in dir with DuckDB (hive partitioning) and
// returns the event ids per hour, from the partition columns; none when
// the lake has no file.
func lakeRows(t *testing.T, db *sql.DB, dir string) map[time.Time][]string {
	t.Helper()
	out := map[time.Time][]string{}
	matches, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*.parquet"))
	if len(matches) == 0 {
		return out
	}
	rows, err := db.Query(`SELECT dt, hour, event_id, ts FROM read_parquet(?, hive_partitioning = true, hive_types = {'dt': DATE, 'hour': INTEGER}) ORDER BY ts, event_id`,
		filepath.Join(dir, "*", "*", "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var dt, ts time.Time
		var h int64
		var id string
		if err := rows.Scan(&dt, &h, &id, &ts); err != nil {
			t.Fatal(err)
		}
		part := dt.Add(time.Duration(h) * time.Hour)
		if got := ts.UTC().Truncate(time.Hour); !got.Equal(part) {
			t.Fatalf("event %s at %s is in partition %s", id, ts, part)
		}
		out[part] = append(out[part], id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// storeRows returns the store's event ids per hour, for ts in [from, to).
func storeRows(t *testing.T, s *store.Store, from, to time.Time) map[time.Time][]string {
	t.Helper()
	rows, err := s.DB().Query(`SELECT event_id, ts FROM events WHERE ts >= ? AND ts < ? ORDER BY ts, event_id`, from, to)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[time.Time][]string{}
	for rows.Next() {
		var id string
		var ts time.Time
		if err := rows.Scan(&id, &ts); err != nil {
			t.Fatal(err)
		}
		h := ts.UTC().Truncate(time.Hour)
		out[h] = append(out[h], id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func equalRows(t *testing.T, got, want map[time.Time][]string) {
	t.Helper()
	if maps.EqualFunc(got, want, slices.Equal[[]string]) {
		return
	}
	hours := slices.Collect(maps.Keys(got))
	for h := range want {
		if _, ok := got[h]; !ok {
			hours = append(hours, h)
		}
	}
	slices.SortFunc(hours, func(a, b time.Time) int { return a.Compare(b) })
	var b strings.Builder
	for _, h := range hours {
		fmt.Fprintf(&b, "\n  %s: lake %d rows, store %d", PartitionPath(h), len(got[h]), len(want[h]))
	}
	t.Fatalf("lake and store differ:%s", b.String())
}

// fileState is a file's content hash and modification time.
type fileState struct {
	sha   string
	mtime time.Time
}

// snapshot returns every file under dir, by relative path.
func snapshot(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = fileState{hex.EncodeToString(sum[:]), info.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readManifest(t *testing.T, dir string, h time.Time) Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(ManifestKey(h))))
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// noStaging fails when the store's export directory holds a file.
func noStaging(t *testing.T, s *store.Store) {
	t.Helper()
	entries, err := os.ReadDir(s.ExportDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("staging file left behind: %s", e.Name())
	}
}
