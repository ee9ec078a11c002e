package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // reads the exported files back
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/lake"
	"github.com/actlog/actlog/internal/store"
)

// exportFixture makes a store in a new data directory with 300 events over
// the 4 closed hours that began 6 to 3 hours ago, and returns the directory.
func exportFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	first := time.Now().UTC().Truncate(time.Hour).Add(-6 * time.Hour)
	b := &event.Batch{}
	for i := range 300 {
		ts := first.Add(time.Duration(i) * 4 * time.Hour / 300)
		b.Events = append(b.Events, event.Event{
			EventID: fmt.Sprintf("e-%d", i), Source: "web", Type: event.Track, Event: "book_view",
			AnonymousID: fmt.Sprintf("anon-%d", i%7), UserID: fmt.Sprintf("member-%d", i%7), TS: ts, ReceivedAt: ts,
			Properties: json.RawMessage(`{"book_id":"b1"}`), Context: json.RawMessage(`{}`),
		})
	}
	if err := st.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// hourCounts answers "hour → rows" of a query returning (hour, count).
func hourCounts(t *testing.T, db *sql.DB, q string, args ...any) map[string]int64 {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var h time.Time
		var n int64
		if err := rows.Scan(&h, &n); err != nil {
			t.Fatal(err)
		}
		out[h.UTC().Format("2006-01-02T15")] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// storeHourCounts reads the store in dataDir: rows per hour.
func storeHourCounts(t *testing.T, dataDir string, exec string) map[string]int64 {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if exec != "" {
		if _, err := st.DB().Exec(exec); err != nil {
			t.Fatal(err)
		}
	}
	return hourCounts(t, st.DB(), `SELECT date_trunc('hour', ts), count(*) FROM events GROUP BY 1`)
}

// lakeHourCounts reads a lake directory with DuckDB: rows per partition.
func lakeHourCounts(t *testing.T, lakeDir string) map[string]int64 {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return hourCounts(t, db, `SELECT dt + to_hours(hour), count(*) FROM read_parquet(?, hive_partitioning = true,
		hive_types = {'dt': DATE, 'hour': INTEGER}) GROUP BY ALL`, filepath.Join(lakeDir, "*", "*", "*.parquet"))
}

func sameCounts(t *testing.T, got, want map[string]int64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lake rows per hour %v, store %v", got, want)
	}
}

func runExport(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"export"}, args...), env, &out, &errOut)
	return out.String(), errOut.String(), code
}

// TestExportCommand runs `actlog export` to a directory: the lake holds
// the store's rows per hour; a second run writes nothing; --hour rewrites
// an hour after rows were deleted; --json prints the summary.
func TestExportCommand(t *testing.T) {
	data := exportFixture(t)
	lakeDir := filepath.Join(t.TempDir(), "lake")
	out, errOut, code := runExport(t, nil, "--data-dir", data, "--dir", lakeDir)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "4 partitions written, 0 unchanged") || !strings.Contains(out, "300 rows") || !strings.Contains(out, "rows/s") {
		t.Fatalf("summary:\n%s", out)
	}
	want := storeHourCounts(t, data, "")
	if len(want) != 4 {
		t.Fatalf("store hours %v", want)
	}
	sameCounts(t, lakeHourCounts(t, lakeDir), want)

	out, errOut, code = runExport(t, nil, "--data-dir", data, "--dir", lakeDir, "--json")
	var sum struct {
		Destination string `json:"destination"`
		lake.Summary
	}
	if err := json.Unmarshal([]byte(out), &sum); code != 0 || err != nil {
		t.Fatalf("exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if sum.Written != 0 || sum.Unchanged != 4 || sum.Destination != lakeDir {
		t.Fatalf("second run: %+v", sum)
	}

	// Delete the first hour's member-3 rows and the whole last hour, then
	// rewrite both.
	first := time.Now().UTC().Truncate(time.Hour).Add(-6 * time.Hour)
	last := first.Add(3 * time.Hour)
	want = storeHourCounts(t, data, fmt.Sprintf(`DELETE FROM events WHERE (user_id = 'member-3' AND ts < TIMESTAMPTZ '%s')
		OR ts >= TIMESTAMPTZ '%s'`, first.Add(time.Hour).Format(time.RFC3339), last.Format(time.RFC3339)))
	out, errOut, code = runExport(t, nil, "--data-dir", data, "--dir", lakeDir,
		"--hour", first.Format("2006-01-02T15"), "--hour", last.Format(time.RFC3339))
	if code != 0 || !strings.Contains(out, "lake rewrite to "+lakeDir+": 1 partitions written, 0 unchanged, 1 deleted") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	sameCounts(t, lakeHourCounts(t, lakeDir), want)
}

// TestExportCommandS3 configures an S3-compatible destination by file and
// environment (endpoint, credentials) and exports to it.
func TestExportCommandS3(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	backend := s3mem.New()
	if err := backend.CreateBucket("lake"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()

	data := exportFixture(t)
	cfg := filepath.Join(t.TempDir(), "actlog.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
lake:
  dir: /would/be/replaced/by/the/flag
  s3:
    prefix: actlog/events
    path_style: true
    access_key_id: from-file
`, data)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"ACTLOG_LAKE_S3_ENDPOINT=" + srv.URL, "ACTLOG_LAKE_S3_SECRET_ACCESS_KEY=from-env"}
	out, errOut, code := runExport(t, env, "--config", cfg, "--s3-bucket", "lake")
	if code != 0 || !strings.Contains(out, "lake export to s3://lake/actlog/events: 4 partitions written") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	dst, err := lake.NewS3(context.Background(), lake.S3Options{Bucket: "lake", Prefix: "actlog/events", Endpoint: srv.URL,
		PathStyle: true, AccessKeyID: "k", SecretAccessKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	files, err := dst.List(context.Background(), "/"+lake.DataFile)
	if err != nil {
		t.Fatal(err)
	}
	manifests, err := dst.List(context.Background(), "/"+lake.ManifestFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 || len(manifests) != 4 {
		t.Fatalf("%d files, %d manifests in the bucket; want 4 and 4", len(files), len(manifests))
	}
	var rows int64
	for _, m := range manifests {
		b, err := dst.Get(context.Background(), m.Key)
		if err != nil {
			t.Fatal(err)
		}
		var man lake.Manifest
		if err := json.Unmarshal(b, &man); err != nil {
			t.Fatal(err)
		}
		rows += man.Rows
	}
	if rows != 300 {
		t.Fatalf("manifests count %d rows, want 300", rows)
	}
}

// TestExportCommandRefuses: what the command refuses, and why.
func TestExportCommandRefuses(t *testing.T) {
	data := exportFixture(t)
	both := filepath.Join(t.TempDir(), "both.yaml")
	if err := os.WriteFile(both, []byte("lake:\n  dir: /tmp/x\n  s3:\n    bucket: b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no destination", []string{"--data-dir", data}, "no lake destination"},
		{"two destinations", []string{"--data-dir", data, "--dir", "/tmp/x", "--s3-bucket", "b"}, "not both"},
		{"two destinations in the file", []string{"--config", both, "--data-dir", data}, "not both"},
		{"bad hour", []string{"--data-dir", data, "--dir", "/tmp/x", "--hour", "yesterday"}, "--hour"},
		{"bad since", []string{"--data-dir", data, "--dir", "/tmp/x", "--since", "11/01"}, "lake.since"},
		{"no store", []string{"--data-dir", filepath.Join(t.TempDir(), "none"), "--dir", "/tmp/x"}, "no actlog store"},
		{"arguments", []string{"--dir", "/tmp/x", "now"}, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runExport(t, nil, tc.args...)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, want 1 and %q\n%s%s", code, tc.want, out, errOut)
			}
		})
	}
}

// TestLakeConfig: the lake section, and newLakeExporter's answer without
// a destination.
func TestLakeConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(`lake:
  s3:
    bucket: my-lake
    prefix: actlog/events
    region: ap-northeast-2
  every: 15m
  close_after: 20m
  since: 2026-11-01
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := loadConfig(path, []string{"ACTLOG_LAKE_S3_PATH_STYLE=true"}, []string{"lake.s3.endpoint=http://127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Lake
	if l.S3.Bucket != "my-lake" || !l.S3.PathStyle || l.S3.Endpoint != "http://127.0.0.1:9" || time.Duration(l.Every) != 15*time.Minute {
		t.Fatalf("lake config %+v", l)
	}
	opts, ok, err := l.lakeOptions()
	if err != nil || !ok || opts.CloseAfter != 20*time.Minute || !opts.Since.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("options %+v, %v, %v", opts, ok, err)
	}
	exp, err := newLakeExporter(LakeConfig{}, nil, nil, nil)
	if exp != nil || err != nil {
		t.Fatalf("no destination: %v, %v; want nil, nil", exp, err)
	}
	if _, err := newLakeExporter(LakeConfig{Dir: t.TempDir(), Since: "soon"}, nil, nil, nil); err == nil {
		t.Fatal("bad since accepted")
	}
	for in, want := range map[string]string{
		"2026-11-24T05":             "2026-11-24T05:00:00Z",
		"2026-11-24":                "2026-11-24T00:00:00Z",
		"2026-11-24T14:30:00+09:00": "2026-11-24T05:00:00Z",
	} {
		got, err := parseHour(in)
		if err != nil || got.Format(time.RFC3339) != want {
			t.Errorf("parseHour(%s) = %s, %v; want %s", in, got.Format(time.RFC3339), err, want)
		}
	}
}
