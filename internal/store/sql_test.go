package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/event"
)

func TestReadOnlySQL(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	ctx := context.Background()
	now := time.Now().UTC()
	if err := s.Write(ctx, &event.Batch{Events: []event.Event{testEvent("x", now), testEvent("y", now)}}); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret.csv")
	if err := os.WriteFile(secret, []byte("a,b\n1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.csv")

	ok := func(q string, wantRows int) {
		t.Helper()
		res, err := s.ReadOnly(ctx, q, 1000)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if len(res.Rows) != wantRows {
			t.Fatalf("%q: %d rows, want %d", q, len(res.Rows), wantRows)
		}
	}
	ok("SELECT event_id, ts, properties FROM events ORDER BY event_id", 2)
	ok("WITH x AS (SELECT * FROM events) SELECT count(*) FROM x", 1)
	ok("select properties->>'book_id' AS book, count(*) from events group by 1", 1)

	refused := []struct{ name, sql string }{
		{"insert", "INSERT INTO events (event_id, source, type, ts, received_at) VALUES ('z','w','track',now(),now())"},
		{"delete", "DELETE FROM events"},
		{"update", "UPDATE events SET event = 'x'"},
		{"drop", "DROP TABLE events"},
		{"create", "CREATE TABLE t AS SELECT 1"},
		{"alter", "ALTER TABLE events ADD COLUMN z INT"},
		{"two statements", "SELECT 1; DELETE FROM events"},
		{"select then drop", "SELECT 1; DROP TABLE events"},
		{"set", "SET threads = 1"},
		{"reset", "RESET lock_configuration"},
		{"pragma", "PRAGMA enable_profiling"},
		{"attach", "ATTACH '" + filepath.Join(dir, "other.duckdb") + "' AS o"},
		{"detach", "DETACH DATABASE memory"},
		{"install", "INSTALL httpfs"},
		{"load", "LOAD httpfs"},
		{"copy to", "COPY events TO '" + out + "'"},
		{"copy from", "COPY events FROM '" + secret + "'"},
		{"export", "EXPORT DATABASE '" + dir + "/exp'"},
		{"read_csv", "SELECT * FROM read_csv('" + secret + "')"},
		{"read_text", "SELECT * FROM read_text('/etc/passwd')"},
		{"replacement scan", "SELECT * FROM '" + secret + "'"},
		{"glob", "SELECT * FROM glob('/etc/*')"},
		{"query() delete", "SELECT * FROM query('DELETE FROM events')"},
		{"checkpoint", "CHECKPOINT"},
		{"call", "CALL pragma_version()"},
		{"begin", "BEGIN TRANSACTION"},
		{"vacuum", "VACUUM"},
		{"create secret", "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')"},
		{"create macro", "CREATE MACRO m(a) AS a"},
		{"use", "USE memory"},
		{"empty", "   "},
		{"syntax", "SELEC 1"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.ReadOnly(ctx, tc.sql, 1000)
			if err == nil {
				t.Fatalf("%q was allowed", tc.sql)
			}
			if !IsQueryError(err) {
				t.Fatalf("%q: error %v is not a query error", tc.sql, err)
			}
		})
	}
	// Nothing changed.
	ok("SELECT * FROM events", 2)
	if _, err := os.Stat(out); err == nil {
		t.Fatal("COPY wrote a file")
	}
	res, err := s.ReadOnly(ctx, "SELECT * FROM range(10)", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 3 || !res.Truncated {
		t.Fatalf("row limit: %d rows, truncated %v", len(res.Rows), res.Truncated)
	}
	if _, err := s.ReadOnly(ctx, "SELECT current_setting('TimeZone')", 1); err != nil {
		t.Fatal(err)
	}
	res, _ = s.ReadOnly(ctx, "SELECT current_setting('TimeZone')", 1)
	if tz, _ := res.Rows[0][0].(string); !strings.EqualFold(tz, "UTC") {
		t.Fatalf("time zone %v, want UTC", res.Rows[0][0])
	}
}
