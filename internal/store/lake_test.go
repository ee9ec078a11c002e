package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/event"
)

// lakeBase is the first hour of the lake tests' events.
var lakeBase = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

// lakeEvents are events over the hours 00, 01 and 03 of lakeBase's day
// (none at 02), one at 04:00 exactly, with every kind of column filled or
// left empty.
func lakeEvents() []event.Event {
	var out []event.Event
	add := func(id string, ts time.Time, f func(*event.Event)) {
		e := testEvent(id, ts)
		e.ReceivedAt = ts.Add(2 * time.Second)
		if f != nil {
			f(&e)
		}
		out = append(out, e)
	}
	for i := range 5 {
		add(fmt.Sprintf("h0-%d", i), lakeBase.Add(time.Duration(i)*7*time.Minute), func(e *event.Event) {
			e.Seq, e.HasSeq = int64(i), true
			e.SessionID = "s-1"
			e.UserID = "member-9"
			e.ClientTS, e.SentAt = e.TS.Add(-time.Second), e.TS.Add(-time.Millisecond)
			e.PageURL, e.PagePath, e.UTMCampaign = "https://books.example/b?x=1", "/b", "winter"
			e.Properties = json.RawMessage(fmt.Sprintf(`{"book_id":"b%d","price":9.5,"tags":["a","b"]}`, i))
			e.Context = json.RawMessage(`{"locale":"ko-KR"}`)
		})
	}
	add("h0-same-ts-b", lakeBase.Add(3*time.Minute), nil)
	add("h0-same-ts-a", lakeBase.Add(3*time.Minute), func(e *event.Event) { e.Source = "ios"; e.Type = event.Screen; e.ScreenName = "Home" })
	add("h0-last", lakeBase.Add(time.Hour-time.Microsecond), nil)
	for i := range 3 {
		add(fmt.Sprintf("h1-%d", i), lakeBase.Add(time.Hour+time.Duration(i)*time.Second), nil)
	}
	add("h3-0", lakeBase.Add(3*time.Hour+30*time.Minute), func(e *event.Event) { e.Properties = json.RawMessage(`{"quote":"it's \"fine\""}`) })
	add("h4-0", lakeBase.Add(4*time.Hour), nil)
	return out
}

func writeLakeEvents(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Write(context.Background(), &event.Batch{Events: lakeEvents()}); err != nil {
		t.Fatal(err)
	}
}

func TestHourCounts(t *testing.T) {
	s := openStore(t, t.TempDir())
	writeLakeEvents(t, s)
	ctx := context.Background()
	h := func(n int) time.Time { return lakeBase.Add(time.Duration(n) * time.Hour) }
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     []HourCount
	}{
		{"up to 04:00, exclusive", h(0), h(4), []HourCount{{h(0), 8}, {h(1), 3}, {h(3), 1}}},
		{"no lower bound", time.Time{}, h(5), []HourCount{{h(0), 8}, {h(1), 3}, {h(3), 1}, {h(4), 1}}},
		{"one hour", h(1), h(2), []HourCount{{h(1), 3}}},
		{"within an hour", h(0).Add(5 * time.Minute), h(0).Add(15 * time.Minute), []HourCount{{h(0), 2}}},
		{"nothing", h(5), h(9), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.HourCounts(ctx, tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// rowsOf runs q on db and returns its rows as values, times in UTC.
func rowsOf(t *testing.T, db *sql.DB, q string, args ...any) [][]any {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if tv, ok := v.(time.Time); ok {
				vals[i] = tv.UTC()
			}
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExportHour exports each hour, reads the files back with a separate
// DuckDB and finds the store's rows, in order, with the same values and
// types: timestamps as timestamps with time zone, JSON as text.
func TestExportHour(t *testing.T) {
	s := openStore(t, t.TempDir())
	writeLakeEvents(t, s)
	ctx := context.Background()
	reader, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := reader.Exec("SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}

	wantCols := lakeColumns()
	if slices.Contains(wantCols, "dedupe_key") || slices.Contains(wantCols, "commit_seq") || len(wantCols) != len(eventColumns)-2 || wantCols[0] != "event_id" {
		t.Fatalf("lake columns %v", wantCols)
	}
	// The store's rows, selected independently of the export's select list.
	storeQ := `SELECT * EXCLUDE (dedupe_key, commit_seq) REPLACE (properties::VARCHAR AS properties, context::VARCHAR AS context)
		FROM events WHERE ts >= ? AND ts < ? ORDER BY ts, source, event_id`
	for _, tc := range []struct {
		hour int
		rows int64
	}{{0, 8}, {1, 3}, {2, 0}, {3, 1}, {4, 1}} {
		t.Run(fmt.Sprintf("hour %02d", tc.hour), func(t *testing.T) {
			hour := lakeBase.Add(time.Duration(tc.hour) * time.Hour)
			file := filepath.Join(s.ExportDir(), fmt.Sprintf("h%d.parquet", tc.hour))
			n, err := s.ExportHour(ctx, hour, file)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.rows {
				t.Fatalf("ExportHour wrote %d rows, want %d", n, tc.rows)
			}
			got := rowsOf(t, reader, "SELECT * FROM read_parquet(?)", file)
			want := rowsOf(t, s.DB(), storeQ, hour, hour.Add(time.Hour))
			if int64(len(got)) != tc.rows || !reflect.DeepEqual(got, want) {
				t.Fatalf("parquet rows differ from the store's:\n got  %v\n want %v", got, want)
			}
			info, err := s.DescribeParquet(ctx, file)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			types := map[string]string{}
			for _, c := range info.Columns {
				names = append(names, c.Name)
				types[c.Name] = c.Type
			}
			if !slices.Equal(names, wantCols) {
				t.Fatalf("columns %v, want %v", names, wantCols)
			}
			if types["ts"] != "TIMESTAMP WITH TIME ZONE" || types["received_at"] != "TIMESTAMP WITH TIME ZONE" ||
				types["properties"] != "VARCHAR" || types["context"] != "VARCHAR" || types["seq"] != "BIGINT" {
				t.Fatalf("column types %v", types)
			}
			if info.Rows != tc.rows {
				t.Fatalf("described rows %d, want %d", info.Rows, tc.rows)
			}
			if tc.rows > 0 && (info.MinTS.Before(hour) || !info.MaxTS.Before(hour.Add(time.Hour)) || info.MaxTS.Before(info.MinTS)) {
				t.Fatalf("ts range %s..%s outside the hour %s", info.MinTS, info.MaxTS, hour)
			}
			if tc.rows == 0 && !info.MinTS.IsZero() {
				t.Fatalf("empty file has min ts %s", info.MinTS)
			}
		})
	}

	t.Run("same rows, same bytes", func(t *testing.T) {
		a, b := filepath.Join(s.ExportDir(), "a.parquet"), filepath.Join(s.ExportDir(), "b.parquet")
		for _, f := range []string{a, b} {
			if _, err := s.ExportHour(ctx, lakeBase, f); err != nil {
				t.Fatal(err)
			}
		}
		ba, _ := os.ReadFile(a)
		bb, _ := os.ReadFile(b)
		if len(ba) == 0 || !bytes.Equal(ba, bb) {
			t.Fatalf("two exports of the same hour differ (%d and %d bytes)", len(ba), len(bb))
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			hour time.Time
			file string
			want string
		}{
			{"not an hour start", lakeBase.Add(time.Minute), filepath.Join(s.ExportDir(), "x.parquet"), "not the start of an hour"},
			{"outside the export dir", lakeBase, filepath.Join(t.TempDir(), "x.parquet"), "not inside the export directory"},
			{"the export dir's sibling", lakeBase, s.ExportDir() + "-evil/x.parquet", "not inside the export directory"},
		} {
			if _, err := s.ExportHour(ctx, tc.hour, tc.file); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
			}
		}
		if _, err := s.DescribeParquet(ctx, filepath.Join(t.TempDir(), "x.parquet")); err == nil {
			t.Error("DescribeParquet outside the export dir: no error")
		}
	})
}
