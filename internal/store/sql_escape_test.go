package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/event"
)

// TestSQLEscapeAttempts runs a corpus of attempts to get out of the SQL
// console (Store.ReadOnly, what POST /api/v1/sql runs): writing, reading
// or listing files, changing settings, loading code, hiding a second
// statement. Each must be refused with a query error (HTTP 400) that says
// why, and leave the events and the file system as they were.
//
// Rows with a gap are known weaknesses: the attempt is allowed today. They
// are skipped (not encoded as right) while allowed, and start checking
// once the gap is closed; see the reason of each.
func TestSQLEscapeAttempts(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	ctx := context.Background()
	// No background checkpoint: the files must not change by themselves
	// while the corpus runs.
	s, err := Open(ctx, Options{Dir: dir, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	now := time.Now().UTC()
	if err := s.Write(ctx, &event.Batch{Events: []event.Event{testEvent("e1", now), testEvent("e2", now), testEvent("e3", now)}}); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret.csv")
	if err := os.WriteFile(secret, []byte("user,password\nroot,hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	exportDir := s.ExportDir()
	staged := filepath.Join(exportDir, "staged.csv")
	if err := os.WriteFile(staged, []byte("a,b\n1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dbFile := filepath.Join(dir, "actlog.duckdb")
	// Files the attempts would create: none may exist afterwards.
	targets := []string{
		filepath.Join(outside, "out.csv"), filepath.Join(exportDir, "out.csv"), filepath.Join(exportDir, "out.parquet"),
		filepath.Join(outside, "exp"), filepath.Join(outside, "other.duckdb"), filepath.Join(dir, "other.duckdb"),
	}

	const (
		notSelect   = "only SELECT statements are allowed"
		oneStmt     = "exactly one statement is allowed"
		notAllowed  = "is not allowed"
		notTable    = "only the database's tables can be read"
		syntax      = "syntax error"
		onlySelectQ = "Expected a single SELECT statement"
	)
	corpus := []struct {
		name, sql string
		want      string // what the error says; "" for any query error
		gap       string // a known weakness: allowed today, for this reason
	}{
		// Writing files.
		{"copy to a file", "COPY events TO '" + filepath.Join(outside, "out.csv") + "'", notSelect, ""},
		{"copy to the export dir", "COPY events TO '" + filepath.Join(exportDir, "out.csv") + "'", notSelect, ""},
		{"copy a query to parquet", "COPY (SELECT * FROM events) TO '" + filepath.Join(exportDir, "out.parquet") + "' (FORMAT parquet)", notSelect, ""},
		{"copy from a file", "COPY events FROM '" + secret + "'", notSelect, ""},
		{"export database", "EXPORT DATABASE '" + filepath.Join(outside, "exp") + "'", notSelect, ""},
		{"import database", "IMPORT DATABASE '" + outside + "'", notSelect, ""},
		// Other databases.
		{"attach a file", "ATTACH '" + filepath.Join(outside, "other.duckdb") + "' AS o", notSelect, ""},
		{"attach in memory", "ATTACH ':memory:' AS m", notSelect, ""},
		{"detach", "DETACH DATABASE actlog", notSelect, ""},
		{"use", "USE memory", notSelect, ""},
		// Code.
		{"install", "INSTALL httpfs", notSelect, ""},
		{"force install from a url", "FORCE INSTALL httpfs FROM 'http://127.0.0.1:1'", notSelect, ""},
		{"load", "LOAD httpfs", notSelect, ""},
		{"load a file", "LOAD '" + filepath.Join(outside, "evil.duckdb_extension") + "'", notSelect, ""},
		{"update extensions", "UPDATE EXTENSIONS", notSelect, ""},
		{"list extensions", "SELECT * FROM duckdb_extensions()", notAllowed, ""},
		// Reading files.
		{"read_csv /etc/passwd", "SELECT * FROM read_csv('/etc/passwd')", notAllowed, ""},
		{"read_text /etc/passwd", "SELECT * FROM read_text('/etc/passwd')", notAllowed, ""},
		{"read_text the environment", "SELECT * FROM read_text('/proc/self/environ')", notAllowed, ""},
		{"read_text a file url", "SELECT * FROM read_text('file:///etc/passwd')", notAllowed, ""},
		{"read_text a list", "SELECT * FROM read_text(['/etc/hostname', '" + secret + "'])", notAllowed, ""},
		{"read_blob a local file", "SELECT * FROM read_blob('" + secret + "')", notAllowed, ""},
		{"read_csv a local file", "SELECT * FROM read_csv('" + secret + "')", notAllowed, ""},
		{"read_parquet", "SELECT * FROM read_parquet('" + outside + "/*.parquet')", notAllowed, ""},
		{"read_json_auto", "SELECT * FROM read_json_auto('/etc/hostname')", notAllowed, ""},
		{"sniff_csv", "SELECT * FROM sniff_csv('/etc/passwd')", notAllowed, ""},
		{"parquet_metadata", "SELECT * FROM parquet_metadata('/etc/passwd')", notAllowed, ""},
		{"glob /etc", "SELECT * FROM glob('/etc/*')", notAllowed, ""},
		{"glob the data dir", "SELECT * FROM glob('" + dir + "/*')", notAllowed, ""},
		{"path traversal out of the export dir", "SELECT * FROM read_csv('" + exportDir + "/../../" + filepath.Base(outside) + "/secret.csv')", notAllowed, ""},
		{"replacement scan /etc/passwd", "SELECT * FROM '/etc/passwd'", notTable, ""},
		{"replacement scan of a csv", "SELECT * FROM '" + secret + "'", notTable, ""},
		{"a file in another schema", "SELECT * FROM information_schema.tables", notTable, ""},
		{"a url", "SELECT * FROM read_csv('http://127.0.0.1:1/x.csv')", notAllowed, ""},
		{"secrets", "SELECT * FROM duckdb_secrets()", notAllowed, ""},
		{"getenv", "SELECT getenv('ACTLOG_ADMIN_TOKEN')", "getenv does not exist", ""},
		// Settings.
		{"pragma", "PRAGMA enable_profiling", notSelect, ""},
		{"set external access", "SET enable_external_access = true", notSelect, ""},
		{"unlock the configuration", "SET lock_configuration = false", notSelect, ""},
		{"set allowed directories", "SET GLOBAL allowed_directories = ['/']", notSelect, ""},
		{"reset", "RESET allowed_directories", notSelect, ""},
		{"set variable", "SET VARIABLE x = 1", notSelect, ""},
		// Changing the database.
		{"create table", "CREATE TABLE t AS SELECT 1", notSelect, ""},
		{"create temp table", "CREATE TEMP TABLE t AS SELECT * FROM events", notSelect, ""},
		{"create view", "CREATE VIEW v AS SELECT 1", notSelect, ""},
		{"create macro", "CREATE MACRO m(a) AS a", notSelect, ""},
		{"create secret", "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", notSelect, ""},
		{"create sequence", "CREATE SEQUENCE q", notSelect, ""},
		{"insert", "INSERT INTO events (event_id, source, type, ts, received_at) VALUES ('z', 'w', 'track', now(), now())", notSelect, ""},
		{"update", "UPDATE events SET event = 'x'", notSelect, ""},
		{"delete", "DELETE FROM events", notSelect, ""},
		{"truncate", "TRUNCATE events", notSelect, ""},
		{"drop", "DROP TABLE events", notSelect, ""},
		{"alter", "ALTER TABLE events ADD COLUMN z INT", notSelect, ""},
		{"checkpoint", "CHECKPOINT", notSelect, ""},
		{"force checkpoint", "FORCE CHECKPOINT", notSelect, ""},
		{"call checkpoint", "CALL checkpoint()", notSelect, ""},
		{"force_checkpoint()", "SELECT * FROM force_checkpoint()", notAllowed, ""},
		{"call", "CALL pragma_version()", notSelect, ""},
		{"vacuum", "VACUUM", notSelect, ""},
		{"begin", "BEGIN TRANSACTION", notSelect, ""},
		{"commit the read-only transaction", "COMMIT", notSelect, ""},
		{"prepare", "PREPARE p AS DELETE FROM events", notSelect, ""},
		{"explain analyze", "EXPLAIN ANALYZE DELETE FROM events", notSelect, ""},
		// Hiding a statement.
		{"two statements", "SELECT 1; SELECT 2", oneStmt, ""},
		{"select then delete", "SELECT 1; DELETE FROM events", notSelect, ""},
		{"after a line comment", "SELECT 1 -- comment\n; DELETE FROM events", notSelect, ""},
		{"behind a line comment", "-- SELECT 1\nDELETE FROM events", notSelect, ""},
		{"behind a block comment", "/* SELECT 1 */ DELETE FROM events", notSelect, ""},
		{"after a block comment", "SELECT 1 /* x */; DROP TABLE events", notSelect, ""},
		{"cte with a delete", "WITH d AS (DELETE FROM events RETURNING *) SELECT * FROM d", syntax, ""},
		{"query() with a delete", "SELECT * FROM query('DELETE FROM events')", notAllowed, ""},
		{"query() with two statements", "SELECT * FROM query('SELECT 1; DROP TABLE events')", notAllowed, ""},
		{"query() with an attach", "SELECT * FROM query('ATTACH '':memory:'' AS m')", notAllowed, ""},
		{"a table function in a subquery", "SELECT (SELECT count(*) FROM read_text('/etc/hostname'))", notAllowed, ""},
		{"a table function in a cte", "WITH f AS (SELECT * FROM read_blob('/etc/hostname')) SELECT * FROM f", notAllowed, ""},
		{"empty", "  \n ", "sql is empty", ""},
		{"not sql", "SELEC 1", syntax, ""},

		// DuckDB lets a connection read its own database files even with
		// external access disabled, and the export and temp directories
		// are allowed_directories for every connection: the table-function
		// allow list closes these.
		{"read_blob the database file", "SELECT size FROM read_blob('" + dbFile + "')", notAllowed, ""},
		{"read_blob the write-ahead log", "SELECT size FROM read_blob('" + dbFile + ".wal')", notAllowed, ""},
		{"read_blob through query()", "SELECT size FROM query('SELECT * FROM read_blob(''" + dbFile + "'')')", notAllowed, ""},
		{"read_csv in the export dir", "SELECT * FROM read_csv('" + staged + "')", notAllowed, ""},
		{"glob the export dir", "SELECT * FROM glob('" + exportDir + "/*')", notAllowed, ""},
		{"checkpoint()", "SELECT * FROM checkpoint()", notAllowed, ""},
	}

	events := func() int64 { return count(t, s, "SELECT count(*) FROM events") }
	wantEvents := events()
	before := escTree(t, dir, outside)
	for _, tc := range corpus {
		t.Run(tc.name, func(t *testing.T) {
			qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			res, err := s.ReadOnly(qctx, tc.sql, 100)
			if tc.gap != "" {
				// The attempt may have changed the files (checkpoint()):
				// the rows after compare with what it left.
				defer func() { before = escTree(t, dir, outside) }()
				if err == nil {
					t.Skipf("KNOWN GAP, allowed: %s (answer %.200s)", tc.gap, fmt.Sprint(res.Rows))
				}
			}
			if err == nil {
				t.Fatalf("%q was allowed: %.200s", tc.sql, fmt.Sprint(res.Rows))
			}
			if !IsQueryError(err) {
				t.Fatalf("%q: %v is not a query error (it would be a 500, not a 400)", tc.sql, err)
			}
			if !strings.Contains(err.Error(), tc.want) { // "" for the gaps: any refusal closes them
				t.Fatalf("%q: error %q, want it to say %q", tc.sql, err, tc.want)
			}
			if n := events(); n != wantEvents {
				t.Fatalf("%q changed the events: %d, want %d", tc.sql, n, wantEvents)
			}
			if tc.gap == "" {
				if diff := escDiff(before, escTree(t, dir, outside)); diff != "" {
					t.Fatalf("%q changed the file system: %s", tc.sql, diff)
				}
			}
		})
	}
	for _, p := range targets {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists: %v", p, err)
		}
	}
	if b, err := os.ReadFile(secret); err != nil || !strings.Contains(string(b), "hunter2") {
		t.Errorf("the file outside was changed: %q %v", b, err)
	}
}

// TestSQLConsoleBounded checks that what one query may cost is bounded:
// a query that would run for hours ends at its deadline with the
// context's error (HTTP 504), and a huge series ends either truncated at
// the row limit or at its deadline, soon.
func TestSQLConsoleBounded(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	// Known gap: the row limit does not bound the work. The whole result is
	// made (in memory, then spilled to the temp directory beside the
	// database) before the first max rows are read: 3·10^8 rows asked for
	// 10 cost 2.4 GB. Skipped while so.
	t.Run("row limit bounds memory", func(t *testing.T) {
		hwm := func() int64 {
			b, err := os.ReadFile("/proc/self/status")
			if err != nil {
				t.Skip("no /proc/self/status")
			}
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
					var kb int64
					_, _ = fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
					return kb << 10
				}
			}
			t.Skip("no VmHWM")
			return 0
		}
		// Writing 5 to clear_refs resets the peak to the current size.
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			t.Skipf("cannot reset the peak memory: %v", err)
		}
		start := hwm()
		res, err := s.ReadOnly(ctx, "SELECT * FROM generate_series(1, 100000000)", 10)
		if err != nil || len(res.Rows) != 10 {
			t.Fatalf("%v, %v", res, err)
		}
		if grew := hwm() - start; grew > 256<<20 {
			t.Skipf("KNOWN GAP: 10 rows of a 10^8-row series raised the peak memory by %d MB: the result is made whole before it is cut (wrap the query in a LIMIT of max rows + 1)", grew>>20)
		}
	})
	within := func(what string, deadline time.Duration, run func(ctx context.Context) error) error {
		t.Helper()
		qctx, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- run(qctx) }()
		select {
		case err := <-done:
			return err
		case <-time.After(deadline + time.Minute):
			t.Fatalf("%s did not stop within a minute of its deadline", what)
			return nil
		}
	}
	err := within("an endless aggregate", time.Second, func(ctx context.Context) error {
		_, err := s.ReadOnly(ctx, "SELECT sum(hash(a)) FROM range(1000000000000) t(a)", 10)
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) || IsQueryError(err) {
		t.Fatalf("an endless query ended with %v, want the deadline", err)
	}
	var res *Result
	err = within("a series of 10^10 rows", 500*time.Millisecond, func(ctx context.Context) (err error) {
		res, err = s.ReadOnly(ctx, "SELECT * FROM generate_series(1, 10000000000)", 1000)
		return err
	})
	switch {
	case err == nil && (len(res.Rows) != 1000 || !res.Truncated):
		t.Fatalf("%d rows, truncated %v: want 1000, truncated", len(res.Rows), res.Truncated)
	case err != nil && !errors.Is(err, context.DeadlineExceeded):
		t.Fatalf("a huge series ended with %v, want 1000 rows or the deadline", err)
	}
	// The connection it ran on is usable again.
	if _, err := s.ReadOnly(ctx, "SELECT count(*) FROM events", 1); err != nil {
		t.Fatal(err)
	}

}

// escTree lists the files under roots with their size, mode and time of
// change.
func escTree(t *testing.T, roots ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if d.IsDir() {
				out[p] = "dir"
				return nil
			}
			out[p] = fmt.Sprintf("%d %v %d", fi.Size(), fi.Mode(), fi.ModTime().UnixNano())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func escDiff(before, after map[string]string) string {
	var d []string
	for p, a := range after {
		if b, ok := before[p]; !ok {
			d = append(d, "new "+p)
		} else if a != b {
			d = append(d, "changed "+p+" ("+b+" → "+a+")")
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			d = append(d, "removed "+p)
		}
	}
	return strings.Join(d, "; ")
}
