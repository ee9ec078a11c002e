package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/importer"
	"github.com/actlog/actlog/internal/store"
)

// The tests of `actlog import` run the command as the binary does (run,
// or the test binary re-executed as actlog for the kill test), into a
// real store in a temporary directory, and read the store back.

// runImport runs `actlog import args…` in this process and answers its
// exit code and output.
func runImport(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"import"}, args...), nil, &out, &errb)
	return code, out.String(), errb.String()
}

// mustImport runs an import that must succeed.
func mustImport(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := runImport(t, args...)
	if code != 0 {
		t.Fatalf("actlog import %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout, stderr
}

// storeRows opens the store in dir, runs q and answers its rows.
func storeRows(t *testing.T, dir, q string, args ...any) [][]any {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: dir})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer st.Close()
	rows, err := st.DB().Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
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
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// count answers a single count(*) over the store in dir.
func count(t *testing.T, dir, q string, args ...any) int64 {
	t.Helper()
	rows := storeRows(t, dir, q, args...)
	n, ok := rows[0][0].(int64)
	if !ok {
		t.Fatalf("%s: %T %v", q, rows[0][0], rows[0][0])
	}
	return n
}

func writeTestFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

const bannerTestdata = "../../internal/importer/testdata/"

// TestImportFormats imports each format into a store: Segment NDJSON
// (with legacy timestamps, a batch line, lines without messageId), CSV
// through a mapping, gzip Firehose objects (records concatenated without
// newlines, and with), a directory of mixed files, and stdin.
func TestImportFormats(t *testing.T) {
	csvData, err := os.ReadFile(bannerTestdata + "banner_clicks.csv")
	if err != nil {
		t.Fatal(err)
	}
	mapping, _ := filepath.Abs(bannerTestdata + "banner_clicks.mapping.yaml")
	firehose := func(from, n int, sep string) string {
		var b strings.Builder
		for i := from; i < from+n; i++ {
			fmt.Fprintf(&b, `{"type":"track","event":"now_view","anonymousId":"fh-%d","timestamp":"2020-07-01T00:%02d:00Z"}%s`, i, i%60, sep)
		}
		return b.String()
	}
	segment := strings.Join([]string{
		`{"type":"track","event":"book_view","messageId":"s1","anonymousId":"a1","timestamp":"2019-06-01T12:00:00Z","properties":{"book_id":"b-7"}}`,
		`{"type":"page","anonymousId":"a1","name":"Home","timestamp":"2019-06-01T11:59:00Z","properties":{"url":"https://books.example/?utm_source=mail"}}`,
		`{"batch":[{"type":"identify","messageId":"s3","anonymousId":"a1","userId":"u1","timestamp":"2019-06-01T12:01:00Z"}],"sentAt":"2019-06-01T12:01:00Z"}`,
	}, "\n") + "\n"

	for _, tc := range []struct {
		name   string
		files  map[string]string // relative to the test's input directory
		args   func(in string) []string
		stdin  string
		events int64
		reject int64
		check  func(t *testing.T, data string)
	}{
		{
			name:   "ndjson",
			files:  map[string]string{"segment.ndjson": segment},
			args:   func(in string) []string { return []string{filepath.Join(in, "segment.ndjson")} },
			events: 3,
			check: func(t *testing.T, data string) {
				// 2019 is years before the import: not clamped.
				rows := storeRows(t, data, `SELECT event_id, type, strftime(ts, '%Y-%m-%dT%H:%M:%S'), utm_source, received_at > now() - INTERVAL 1 HOUR FROM events ORDER BY ts`)
				got := fmt.Sprint(rows)
				if !strings.Contains(got, "page 2019-06-01T11:59:00 mail true") || !strings.Contains(got, "[s1 track 2019-06-01T12:00:00 <nil> true]") ||
					!strings.Contains(got, "[s3 identify 2019-06-01T12:01:00 <nil> true]") || !strings.Contains(got, "[imp-") {
					t.Fatalf("rows %v", rows)
				}
			},
		},
		{
			name:  "csv",
			files: map[string]string{"banner_clicks.csv": string(csvData)},
			args: func(in string) []string {
				return []string{"--mapping", mapping, filepath.Join(in, "banner_clicks.csv")}
			},
			events: 3, reject: 2,
			check: func(t *testing.T, data string) {
				rows := storeRows(t, data, `SELECT event_id, user_id, banner, section, strftime(ts, '%Y-%m-%dT%H:%M:%S'), properties->>'position', properties->>'is_ad', page_url FROM events ORDER BY event_id`)
				if got := fmt.Sprint(rows[0]); got != "[1001 58211 spring_sale_2021 home_top 2021-03-01T10:02:11 1 true https://books.example/?utm_source=app&utm_campaign=spring]" {
					t.Fatalf("row %s", got)
				}
			},
		},
		{
			name: "firehose gzip",
			files: map[string]string{
				"firehose/2020/07/01/00/actlog-stream-1-2020-07-01-00-00-00-6d1f": gzipped(t, firehose(0, 40, "")),
				"firehose/2020/07/01/01/actlog-stream-1-2020-07-01-01-00-00-77aa": gzipped(t, firehose(40, 40, "\n")),
			},
			args: func(in string) []string {
				return []string{filepath.Join(in, "firehose/2020/07/01/00/actlog-stream-1-2020-07-01-00-00-00-6d1f"), filepath.Join(in, "firehose/2020/07/01/01/actlog-stream-1-2020-07-01-01-00-00-77aa")}
			},
			events: 80,
			check: func(t *testing.T, data string) {
				if n := count(t, data, "SELECT count(DISTINCT anonymous_id) FROM events WHERE event = 'now_view'"); n != 80 {
					t.Fatalf("%d members", n)
				}
			},
		},
		{
			name: "directory of mixed files",
			files: map[string]string{
				"logs/segment/2019-06-01.jsonl":                    segment,
				"logs/banner/banner_clicks.csv":                    string(csvData),
				"logs/firehose/2020/07/01/actlog-stream-1-2020-07": gzipped(t, firehose(0, 40, "")),
				"logs/firehose/2020/07/01/now.json.gz":             gzipped(t, firehose(40, 10, "\n")),
				"logs/.DS_Store":                                   "\x00\x01binary",
				"logs/README.md":                                   "# exports\n",
			},
			args:   func(in string) []string { return []string{"--mapping", mapping, filepath.Join(in, "logs")} },
			events: 3 + 3 + 50, reject: 2,
		},
		{
			name:   "stdin",
			stdin:  gzipped(t, segment),
			args:   func(string) []string { return []string{"-"} },
			events: 3,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in, data := filepath.Join(dir, "in"), filepath.Join(dir, "data")
			for name, content := range tc.files {
				writeTestFile(t, filepath.Join(in, name), content)
			}
			args := append([]string{"--data-dir", data, "--source", "legacy", "--progress", "0"}, tc.args(in)...)
			var stdout, stderr bytes.Buffer
			err := importCmd(context.Background(), args, nil, strings.NewReader(tc.stdin), &stdout, &stderr)
			if err != nil {
				t.Fatalf("import: %v\n%s%s", err, stdout.String(), stderr.String())
			}
			if n := count(t, data, "SELECT count(*) FROM events WHERE source = 'legacy'"); n != tc.events {
				t.Fatalf("%d events stored, want %d\n%s%s", n, tc.events, stdout.String(), stderr.String())
			}
			if n := count(t, data, "SELECT count(*) FROM rejected WHERE source = 'legacy'"); n != tc.reject {
				t.Fatalf("%d rejected, want %d\n%s", n, tc.reject, stderr.String())
			}
			if !strings.Contains(stdout.String(), fmt.Sprintf("the store has %d new events", tc.events)) {
				t.Fatalf("stdout:\n%s", stdout.String())
			}
			if tc.check != nil {
				tc.check(t, data)
			}
		})
	}
}

// TestImportMalformedLines: the good lines of a file with bad ones are
// stored; each bad line is reported with its exact file and line (stderr
// and --rejects) and kept in the rejected table; the exit status is 0.
func TestImportMalformedLines(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var b strings.Builder
	bad := map[int]string{ // line → reason
		3:  "not a JSON object",
		10: "the line ends inside a JSON value (a truncated record?)",
		11: "event name is required for track",
		17: "invalid JSON at byte 17",
		25: "not a JSON object",
	}
	good := 0
	for line := 1; line <= 30; line++ {
		switch line {
		case 3:
			b.WriteString("2021-03-01 10:00:00 INFO banner click member=58211\n")
		case 10:
			b.WriteString(`{"type":"track","event":"feed_view","anonymousId":` + "\n")
		case 11:
			b.WriteString(`{"type":"track","anonymousId":"a11","messageId":"no-name"}` + "\n")
		case 17:
			b.WriteString(`{"type":"track" "event":"x"}` + "\n")
		case 25:
			b.WriteString("\"just a string\"\n")
		default:
			good++
			fmt.Fprintf(&b, `{"type":"track","event":"feed_view","anonymousId":"a%d","messageId":"ok-%d","timestamp":"2021-03-01T10:%02d:00Z"}`+"\n", line, line, line)
		}
	}
	file := writeTestFile(t, filepath.Join(dir, "feed.ndjson"), b.String())
	rejects := filepath.Join(dir, "rejects.ndjson")
	code, stdout, stderr := runImport(t, "--data-dir", data, "--source", "feed", "--progress", "0", "--rejects", rejects, file)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for line, reason := range bad {
		if want := fmt.Sprintf("%s:%d: %s\n", file, line, reason); !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "25 events written, 5 rejected") || !strings.Contains(stdout, "5 records were rejected: they are in the rejected table") {
		t.Fatalf("stdout:\n%s", stdout)
	}
	if n := count(t, data, "SELECT count(*) FROM events WHERE source = 'feed'"); n != int64(good) {
		t.Fatalf("%d events, want %d", n, good)
	}
	rows := storeRows(t, data, "SELECT idx, reason, raw FROM rejected WHERE source = 'feed' ORDER BY idx")
	if len(rows) != len(bad) {
		t.Fatalf("rejected rows %v", rows)
	}
	for _, r := range rows {
		line := int(r[0].(int32))
		if want := fmt.Sprintf("%s:%d: %s", file, line, bad[line]); r[1] != want || r[2] == nil {
			t.Fatalf("rejected row %v, want reason %q", r, want)
		}
	}
	rb, err := os.ReadFile(rejects)
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, l := range strings.Split(strings.TrimSpace(string(rb)), "\n") {
		var r importer.Reject
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.File != file || bad[int(r.Line)] != r.Reason {
			t.Fatalf("rejects line %q: %v", l, err)
		}
		lines = append(lines, int(r.Line))
	}
	if !slices.Equal(lines, []int{3, 10, 11, 17, 25}) {
		t.Fatalf("rejects file lines %v", lines)
	}
}

// TestImportRerunAddsNothing imports the same files twice (the checkpoint
// skips them), then again with --restart (everything is read and written
// again; the store's dedupe drops it all, lines without messageId
// included): the same rows every time.
func TestImportRerunAddsNothing(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var b strings.Builder
	for i := range 300 {
		if i%3 == 0 { // a legacy line without messageId
			fmt.Fprintf(&b, `{"type":"track","event":"event_banner_view","userId":"m%d","timestamp":"2020-01-01T00:00:%02dZ"}`+"\n", i, i%60)
		} else {
			fmt.Fprintf(&b, `{"type":"track","event":"event_banner_view","userId":"m%d","messageId":"r-%d"}`+"\n", i, i)
		}
	}
	file := writeTestFile(t, filepath.Join(dir, "banner.ndjson"), b.String())
	csv := writeTestFile(t, filepath.Join(dir, "clicks.csv"), "member,at\nm1,2020-01-01 09:00:00\nm2,2020-01-01 09:00:01\n")
	mapping := writeTestFile(t, filepath.Join(dir, "clicks.yaml"), "event: click\nuserId: {column: member}\ntimestamp: {column: at, timezone: Asia/Seoul}\n")
	args := []string{"--data-dir", data, "--progress", "0", "--mapping", mapping, file, csv}
	mustImport(t, args...)
	if n := count(t, data, "SELECT count(*) FROM events"); n != 302 {
		t.Fatalf("%d events after the first import", n)
	}
	_, stderr := mustImport(t, args...)
	if !strings.Contains(stderr, "nothing to do") {
		t.Fatalf("second run:\n%s", stderr)
	}
	stdout, _ := mustImport(t, append([]string{"--restart"}, args...)...)
	if !strings.Contains(stdout, "302 events written") || !strings.Contains(stdout, "the store has 0 new events (302 were there already)") {
		t.Fatalf("restarted run:\n%s", stdout)
	}
	if n := count(t, data, "SELECT count(*) FROM events"); n != 302 {
		t.Fatalf("%d events after a re-run, want 302", n)
	}
}

// TestImportResumeAfterKill runs `actlog import` as a real process on a
// large file, kills it with SIGKILL twice mid-stream, interrupts it once
// with SIGINT (it stops after its batches in flight, checkpointed, and says
// how to resume), then runs it to the end: every line is stored exactly
// once (no loss, no doubles), and the rejects report lists every bad line
// once.
func TestImportResumeAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs subprocesses")
	}
	dir := t.TempDir()
	const lines = 60_000
	var b strings.Builder
	bad := 0
	for i := range lines {
		switch {
		case i%5000 == 17:
			fmt.Fprintf(&b, "corrupt record %d\n", i)
			bad++
		case i%7 == 0: // no messageId: derived
			fmt.Fprintf(&b, `{"type":"track","event":"book_view","anonymousId":"a%d","timestamp":"2021-05-01T00:00:00Z","properties":{"n":%d}}`+"\n", i%500, i)
		default:
			fmt.Fprintf(&b, `{"type":"track","event":"book_view","anonymousId":"a%d","messageId":"k-%d","timestamp":"2021-05-01T00:00:00Z","context":{"page":{"url":"https://books.example/b/%d"}}}`+"\n", i%500, i, i)
		}
	}
	file := writeTestFile(t, filepath.Join(dir, "big.ndjson"), b.String())
	data, cp, rejects := filepath.Join(dir, "data"), filepath.Join(dir, "cp.json"), filepath.Join(dir, "rejects.ndjson")
	args := fmt.Sprintf("import --data-dir %s --source legacy --checkpoint %s --rejects %s --batch 200 --progress 0 %s", data, cp, rejects, file)

	progress := func() (records int64, done bool) {
		var c importer.Checkpoint
		raw, err := os.ReadFile(cp)
		if err != nil || json.Unmarshal(raw, &c) != nil {
			return 0, false
		}
		for _, f := range c.Files {
			return f.Records, f.Done
		}
		return 0, false
	}
	var last int64
	for round, sig := range []os.Signal{os.Kill, os.Kill, os.Interrupt} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+args)
		log := &lockedWriter{w: &bytes.Buffer{}}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			n, done := progress()
			if done {
				_ = cmd.Process.Kill()
				<-exited
				t.Fatalf("round %d: the import finished before it was killed (make the input larger)\n%s", round, log)
			}
			if n > last+2000 {
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("round %d: import exited by itself: %v\n%s", round, err, log)
			default:
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				<-exited
				t.Fatalf("round %d: no progress\n%s", round, log)
			}
			time.Sleep(2 * time.Millisecond)
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		err := <-exited
		n, done := progress()
		t.Logf("round %d: %v after %d of %d records were checkpointed: %v", round, sig, n, lines, err)
		if sig == os.Interrupt {
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || done ||
				!strings.Contains(log.String(), "interrupted: what is imported so far is durable; run the same command again to resume (checkpoint "+cp+")") {
				t.Fatalf("after SIGINT: %v\n%s", err, log)
			}
		}
		last = n
	}
	stdout, stderr := mustImport(t, strings.Fields(args)[1:]...)
	if !strings.Contains(stderr, "resuming "+file+" at line") {
		t.Fatalf("the last run did not resume:\n%s", stderr)
	}
	t.Logf("last run: %s", strings.TrimSpace(stdout))
	rows := storeRows(t, data, "SELECT count(*), count(DISTINCT event_id), count(*) FILTER (WHERE event_id LIKE 'imp-%') FROM events WHERE source = 'legacy'")
	total, distinct, derived := rows[0][0].(int64), rows[0][1].(int64), rows[0][2].(int64)
	if total != lines-int64(bad) || distinct != total {
		t.Fatalf("%d events stored, %d distinct: want %d, each once", total, distinct, lines-bad)
	}
	if derived == 0 {
		t.Fatal("no event with a derived messageId")
	}
	// Rejected rows: each bad line at least once (a batch written but not
	// yet checkpointed when the process was killed is written again).
	if n := count(t, data, "SELECT count(DISTINCT idx) FROM rejected WHERE source = 'legacy'"); n != int64(bad) {
		t.Fatalf("%d distinct rejected lines, want %d", n, bad)
	}
	rb, _ := os.ReadFile(rejects)
	if n := strings.Count(string(rb), "\n"); n != bad {
		t.Fatalf("the rejects report has %d lines, want %d:\n%s", n, bad, rb)
	}
}

// TestImportSource: with sources configured, --source must name one.
func TestImportSource(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, freePort(t), "")
	file := writeTestFile(t, filepath.Join(dir, "a.ndjson"), `{"type":"track","event":"e","anonymousId":"a"}`+"\n")
	code, _, stderr := runImport(t, "--config", cfg, "--source", "legacy", file)
	if code == 0 || !strings.Contains(stderr, `source "legacy" is not configured: --source is one of web`) {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	code, _, stderr = runImport(t, "--config", cfg, file)
	if code == 0 || !strings.Contains(stderr, `source "import" is not configured`) {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	mustImport(t, "--config", cfg, "--source", "web", "--progress", "0", file)
	code, _, stderr = runImport(t, "--config", cfg, "--source", "web", filepath.Join(dir, "nope.csv"))
	if code != 1 || !strings.Contains(stderr, "no such file") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
}

// TestImportThroughKafka imports into the Kafka tier: the events and the
// rejected records reach the process tier's store.
func TestImportThroughKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Kafka and a subprocess")
	}
	c := ktCluster(t)
	dir := t.TempDir()
	kcfg := ktKafkaYAML(c.ListenAddrs(), "import")
	proc := ktStart(t, "process", "process", dir, kcfg)
	defer proc.stop()
	var b strings.Builder
	for i := range 500 {
		fmt.Fprintf(&b, `{"type":"track","event":"now_view","anonymousId":"a%d","messageId":"kf-%d","timestamp":"2020-02-02T02:02:02Z"}`+"\n", i%20, i)
	}
	b.WriteString("broken\n")
	file := writeTestFile(t, filepath.Join(dir, "now.ndjson"), b.String())
	importCfg := writeConfigAs(t, dir, "import.yaml", freePort(t), kcfg)
	stdout, _ := mustImport(t, "--config", importCfg, "--source", "web", "--checkpoint", filepath.Join(dir, "cp.json"), "--progress", "0", file)
	if !strings.Contains(stdout, "500 events written, 1 rejected") {
		t.Fatalf("stdout:\n%s", stdout)
	}
	ktWait(t, time.Minute, "500 events in the process tier's store", func() bool { return len(proc.eventCounts()) == 500 })
	ktWait(t, time.Minute, "the rejected line in the store", func() bool {
		rows := proc.sql("SELECT reason FROM rejected WHERE source = 'web'")
		return len(rows) == 1 && rows[0][0] == file+":501: not a JSON object"
	})
	for id, n := range proc.eventCounts() {
		if n != 1 || !strings.HasPrefix(id, "kf-") {
			t.Fatalf("%s stored %d times", id, n)
		}
	}
}

// TestImportTrackingPlan: imported events are held to the tracking plan
// like the collector's: flagged on the row or rejected with their line.
func TestImportTrackingPlan(t *testing.T) {
	dir := t.TempDir()
	planFile := writeTestFile(t, filepath.Join(dir, "plan.yaml"), "enforcement:\n  default: flag\n  sources: {web: reject}\n"+
		"events:\n  - name: purchase\n    properties: {type: object, required: [plan]}\n")
	cfg := writeConfig(t, dir, freePort(t), "tracking_plan:\n  file: "+planFile+"\n")
	file := writeTestFile(t, filepath.Join(dir, "a.ndjson"),
		`{"type":"track","event":"purchase","anonymousId":"a","messageId":"ok","properties":{"plan":"yearly"}}`+"\n"+
			`{"type":"track","event":"purchase","anonymousId":"a","messageId":"bad","properties":{}}`+"\n")
	code, _, stderr := runImport(t, "--config", cfg, "--source", "web", "--progress", "0", file)
	if code != 0 || !strings.Contains(stderr, "a.ndjson:2: violates the tracking plan: missing property 'plan' (required)") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	data := filepath.Join(dir, "data-actlog")
	if got := storeRows(t, data, `SELECT event_id FROM events`); len(got) != 1 || got[0][0] != "ok" {
		t.Fatalf("events %v", got)
	}
	if got := storeRows(t, data, `SELECT event, violations->>'$[0].rule' FROM rejected`); len(got) != 1 || got[0][0] != "purchase" || got[0][1] != "required" {
		t.Fatalf("rejected %v", got)
	}
}
