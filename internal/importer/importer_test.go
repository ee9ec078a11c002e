package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestImportNDJSON(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "segment.ndjson", strings.Join([]string{
		// An archived Segment message: corrected against its own receipt.
		`{"type":"track","event":"banner_click","messageId":"m1","anonymousId":"a1","timestamp":"2021-03-01T10:00:01Z","sentAt":"2021-03-01T10:00:05Z","receivedAt":"2021-03-01T10:00:03Z","properties":{"banner":"spring"}}`,
		// No messageId: one is derived from the content.
		`{"type":"page","anonymousId":"a1","name":"Home","timestamp":"2021-03-01T10:00:00Z","properties":{"url":"https://books.example/"}}`,
		// A whole /v1/batch body on one line: its sentAt and context apply.
		`{"batch":[{"type":"track","event":"open","messageId":"m3","anonymousId":"a2","timestamp":"2021-03-01T09:59:00Z"},{"type":"identify","messageId":"m4","anonymousId":"a2","userId":"u2"}],"sentAt":"2021-03-01T10:00:00Z","context":{"userAgent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)"}}`,
		// An array of messages.
		`[{"type":"track","event":"e5","messageId":"m5","userId":"u5","timestamp":1614592800000}]`,
	}, "\n")+"\n")
	sink := &memSink{}
	sum := run(t, opts(sink, p))
	if sum.Files != 1 || sum.Records != 4 || sum.Events != 5 || sum.Rejected != 0 {
		t.Fatalf("summary %+v", sum)
	}
	ev := sink.byID()
	at := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm }
	for id, want := range map[string]time.Time{
		"m1": at("2021-03-01T09:59:59Z"), // 10:00:03 − (10:00:05 − 10:00:01)
		"m3": at("2021-03-01T09:59:00Z"), // sentAt without receivedAt: no correction
		"m4": at("2021-03-01T10:00:00Z"), // no timestamp: the batch's sentAt
		"m5": at("2021-03-01T10:00:00Z"),
	} {
		e, ok := ev[id]
		if !ok || !e.TS.Equal(want) {
			t.Errorf("%s: ts %v, want %v (event %+v)", id, e.TS, want, e)
		}
	}
	for _, e := range ev {
		if !e.ReceivedAt.Equal(importTime) || e.Source != "legacy" {
			t.Errorf("%s: received_at %v source %s", e.EventID, e.ReceivedAt, e.Source)
		}
	}
	if e := ev["m3"]; e.DeviceType == "" {
		t.Errorf("m3: the batch's context (user agent) was not applied: %+v", e)
	}
	var derived string
	for id, e := range ev {
		if strings.HasPrefix(id, DerivedIDPrefix) {
			derived = id
			if e.Type != "page" || !e.TS.Equal(at("2021-03-01T10:00:00Z")) {
				t.Errorf("derived-id event %+v", e)
			}
		}
	}
	if derived == "" {
		t.Fatalf("no derived messageId among %v", slices.Collect(func(yield func(string) bool) {
			for id := range ev {
				yield(id)
			}
		}))
	}
	// The same input gives the same derived id.
	again := &memSink{}
	o := opts(again, p)
	o.Now = func() time.Time { return importTime.Add(time.Hour) }
	run(t, o)
	if _, ok := again.byID()[derived]; !ok {
		t.Fatalf("a second import derived other ids: %v", again.ids())
	}
}

func TestImportCSV(t *testing.T) {
	dir := t.TempDir()
	csv, _ := os.ReadFile("testdata/banner_clicks.csv")
	p := writeFile(t, dir, "banner_clicks.csv", string(csv))
	m, err := LoadMapping("testdata/banner_clicks.mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	o := opts(sink, p)
	o.Mapping = m
	rejects := filepath.Join(dir, "rejects.ndjson")
	o.RejectsFile = rejects
	sum := run(t, o)
	if sum.Records != 5 || sum.Events != 3 || sum.Rejected != 2 {
		t.Fatalf("summary %+v", sum)
	}
	ev := sink.byID()
	e := ev["1001"]
	if e.Event != "banner_click" || e.UserID != "58211" || e.Banner != "spring_sale_2021" || e.Section != "home_top" ||
		e.UTMCampaign != "spring" || e.DeviceType == "" || !e.TS.Equal(time.Date(2021, 3, 1, 10, 2, 11, 0, time.UTC)) {
		t.Fatalf("1001: %+v", e)
	}
	if _, ok := ev["1005"]; !ok {
		t.Fatalf("1005 missing: %v", sink.ids())
	}
	want := []string{
		p + `:4: column "position": "one" is not an integer`,
		p + ":5: the row has 10 fields, the header 12",
	}
	if got := sink.reasons(); !slices.Equal(got, want) {
		t.Fatalf("rejected %q, want %q", got, want)
	}
	b, _ := os.ReadFile(rejects)
	wantFile := fmt.Sprintf(`{"file":%q,"line":4,"reason":"column \"position\": \"one\" is not an integer","message_id":"1003"}`+"\n"+
		`{"file":%q,"line":5,"reason":"the row has 10 fields, the header 12"}`+"\n", p, p)
	if string(b) != wantFile {
		t.Fatalf("rejects file:\n%s\nwant\n%s", b, wantFile)
	}
}

func TestImportFirehoseGzip(t *testing.T) {
	dir := t.TempDir()
	rec := func(i int) string {
		return fmt.Sprintf(`{"type":"track","event":"now_view","anonymousId":"a%d","timestamp":"2020-07-0%dT00:00:00Z","properties":{"i":%d}}`, i, 1+i%9, i)
	}
	var concat, lines strings.Builder
	for i := range 50 {
		concat.WriteString(rec(i)) // Firehose: no separator at all
		lines.WriteString(rec(100+i) + "\n")
	}
	// Kinesis Firehose names its S3 objects without an extension.
	a := writeGzip(t, dir, "actlog-stream-1-2020-07-01-00-00-00-1b2c3d4e", concat.String())
	b := writeGzip(t, dir, "now-2020-07-02.json.gz", lines.String())
	c := writeGzip(t, dir, "clicks.csv.gz", "id,who\n1,u1\n2,u2\n")
	m, err := ParseMapping([]byte("event: click\nmessageId: {column: id}\nuserId: {column: who}\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	o := opts(sink, a, b, c)
	o.Mapping = m
	sum := run(t, o)
	if sum.Records != 102 || sum.Events != 102 || sum.Rejected != 0 {
		t.Fatalf("summary %+v, rejected %q", sum, sink.reasons())
	}
	seen := map[string]bool{}
	for _, e := range sink.events {
		seen[e.AnonymousID+e.UserID] = true
	}
	for _, want := range []string{"a0", "a49", "a100", "a149", "u1", "u2"} {
		if !seen[want] {
			t.Fatalf("%s missing", want)
		}
	}
}

func TestImportDirectory(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	writeFile(t, logs, "a.ndjson", `{"type":"track","event":"a","anonymousId":"x","messageId":"a1"}`+"\n")
	writeFile(t, logs, "b.csv", "id,who\nb1,u1\n")
	writeFile(t, logs, "b.mapping.yaml", "event: b\nmessageId: {column: id}\nuserId: {column: who}\n")
	writeGzip(t, logs, "firehose/2020/07/01/stream-1-2020-07-01-00", `{"type":"track","event":"c","anonymousId":"x","messageId":"c1"}{"type":"track","event":"c","anonymousId":"x","messageId":"c2"}`)
	writeFile(t, logs, "notes.txt", "not a log\n")
	writeFile(t, logs, ".hidden.ndjson", `{"type":"track","event":"h","anonymousId":"x","messageId":"h1"}`+"\n")
	writeFile(t, logs, ".git/x.ndjson", `{"type":"track","event":"h","anonymousId":"x","messageId":"h2"}`+"\n")
	m, err := LoadMapping(filepath.Join(logs, "b.mapping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	var stderr bytes.Buffer
	o := opts(sink, logs)
	o.Mapping = m
	o.Stderr = &stderr
	o.Checkpoint = filepath.Join(logs, "import.checkpoint") // inside the walked directory: left out
	sum := run(t, o)
	if sum.Files != 3 || sum.Events != 4 || sum.Rejected != 0 {
		t.Fatalf("summary %+v %q\n%s", sum, sink.reasons(), stderr.String())
	}
	ids := sink.ids()
	for _, id := range []string{"a1", "b1", "c1", "c2"} {
		if ids[id] != 1 {
			t.Fatalf("ids %v", ids)
		}
	}
	for _, note := range []string{"skipped " + filepath.Join(logs, "b.mapping.yaml"), "skipped " + filepath.Join(logs, "notes.txt")} {
		if !strings.Contains(stderr.String(), note) {
			t.Fatalf("stderr lacks %q:\n%s", note, stderr.String())
		}
	}
	// Again: the checkpoint says everything is done.
	stderr.Reset()
	sum = run(t, o)
	if sum.Files != 0 || sum.SkippedFiles != 3 || len(sink.events) != 4 || !strings.Contains(stderr.String(), "nothing to do") {
		t.Fatalf("second run: %+v, %d events\n%s", sum, len(sink.events), stderr.String())
	}
}

func TestImportStdin(t *testing.T) {
	var in bytes.Buffer
	for i := range 10 {
		fmt.Fprintf(&in, `{"type":"track","event":"stdin","anonymousId":"a","timestamp":"2019-01-01T00:00:%02dZ"}`+"\n", i)
	}
	in.WriteString("oops\n")
	sink := &memSink{}
	o := opts(sink, "-")
	o.Stdin = bytes.NewReader(in.Bytes())
	sum := run(t, o)
	if sum.Events != 10 || sum.Rejected != 1 || !sum.Stdin {
		t.Fatalf("summary %+v", sum)
	}
	if got := sink.reasons(); len(got) != 1 || got[0] != StdinName+":11: not a JSON object" {
		t.Fatalf("rejected %q", got)
	}
	// gzip on stdin is recognised too, and re-running derives the same ids.
	var gz bytes.Buffer
	zw := gzipWriter(&gz)
	_, _ = zw.Write(in.Bytes())
	_ = zw.Close()
	again := &memSink{}
	o = opts(again, "-")
	o.Stdin = &gz
	run(t, o)
	if !maps2Equal(sink.ids(), again.ids()) {
		t.Fatalf("ids differ: %v %v", sink.ids(), again.ids())
	}
}

func maps2Equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestImportMalformed imports a file with every kind of bad line: the good
// lines are events, each bad one is kept as rejected with its exact line.
func TestImportMalformed(t *testing.T) {
	dir := t.TempDir()
	good := func(id string) string {
		return `{"type":"track","event":"ok","anonymousId":"a","messageId":"` + id + `","timestamp":"2021-01-01T00:00:00Z"}`
	}
	lines := []string{
		good("g1"),                           // 1
		`this is not json`,                   // 2
		good("g2"),                           // 3
		`{"type":"track","event":"cut",`,     // 4
		`42`,                                 // 5
		`{"type":"track","anonymousId":"a"}`, // 6: no event name
		``,                                   // 7: blank, nothing
		`{"type":"track","event":"x","anonymousId":"a"} junk`,             // 8: an event, then junk
		`{"batch":[` + good("g3") + `,{"type":"nope"}]}`,                  // 9
		`{"type":"track","event":"x","anonymousId":"a","properties":[1]}`, // 10
		"{\"a\":\"\x00\"} \x00\x00",                                       // 11: NUL bytes
		`{"batch":{}}`,                                                    // 12
		`{"a":1,}`,                                                        // 13: invalid JSON
		good("g4"),                                                        // 14
	}
	p := writeFile(t, dir, "mixed.ndjson", strings.Join(lines, "\n")+"\n")
	sink := &memSink{}
	var stderr bytes.Buffer
	o := opts(sink, p)
	o.PrintRejects = 3
	o.Stderr = &stderr
	o.RejectsFile = filepath.Join(dir, "rejects.ndjson")
	sum := run(t, o)
	wantReasons := []string{
		":2: not a JSON object",
		":4: the line ends inside a JSON value (a truncated record?)",
		":5: not a JSON object",
		":6: event name is required for track",
		":8: not a JSON object",
		":9: batch[1]: unknown type",
		":10: properties must be an object",
		":11: not a JSON object",
		":11: type is required",
		":12: batch must be an array",
		":13: invalid JSON at byte 8",
	}
	var got []string
	for _, r := range sink.reasons() {
		got = append(got, strings.TrimPrefix(r, p))
	}
	slices.SortFunc(got, func(a, b string) int {
		var la, lb int
		fmt.Sscanf(a, ":%d:", &la)
		fmt.Sscanf(b, ":%d:", &lb)
		if la != lb {
			return la - lb
		}
		return strings.Compare(a, b)
	})
	if !slices.Equal(got, wantReasons) {
		t.Fatalf("rejected:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantReasons, "\n"))
	}
	if sum.Rejected != int64(len(wantReasons)) || sum.Events != 5 {
		t.Fatalf("summary %+v", sum)
	}
	ids := sink.ids()
	for _, id := range []string{"g1", "g2", "g3", "g4"} {
		if ids[id] != 1 {
			t.Fatalf("good event %s: %v", id, ids)
		}
	}
	for _, r := range sink.rejected {
		if r.Index < 2 || r.Index > 13 || !r.ReceivedAt.Equal(importTime) || r.Source != "legacy" || bytes.IndexByte(r.Raw, 0) >= 0 {
			t.Fatalf("rejected row %+v", r)
		}
	}
	// The first three on stderr, then a pointer to the rest.
	out := stderr.String()
	if !strings.HasPrefix(out, p+":2: not a JSON object\n"+p+":4: ") || !strings.Contains(out, "only the first 3 rejected records are shown here: all are in "+o.RejectsFile) {
		t.Fatalf("stderr:\n%s", out)
	}
	// The report has them all, in input order.
	b, _ := os.ReadFile(o.RejectsFile)
	var reported []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r Reject
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		reported = append(reported, fmt.Sprintf(":%d: %s", r.Line, r.Reason))
	}
	if len(reported) != len(wantReasons) || reported[0] != wantReasons[0] || reported[len(reported)-1] != wantReasons[len(wantReasons)-1] {
		t.Fatalf("rejects file:\n%s", b)
	}
}

// interruptAt returns a sink hook that cancels the import when write n
// begins; the write itself completes (it was in flight).
func interruptAt(n int, cancel context.CancelFunc) func(int) error {
	return func(w int) error {
		if w == n {
			cancel()
		}
		return nil
	}
}

// TestImportResumeAfterCancel interrupts imports (as Ctrl-C does) of an
// NDJSON file (resumed by seeking), a gzip file (resumed by skipping
// records) and a CSV file (its header read again), then resumes them:
// every record reaches the sink exactly once over both runs.
func TestImportResumeAfterCancel(t *testing.T) {
	dir := t.TempDir()
	var nd, csv strings.Builder
	csv.WriteString("id,who,at\n")
	for i := range 3000 {
		if i%500 == 7 {
			nd.WriteString("bad line\n")
		}
		fmt.Fprintf(&nd, `{"type":"track","event":"r","anonymousId":"a%d","timestamp":"2021-01-01T00:00:00Z"}`+"\n", i)
		fmt.Fprintf(&csv, "c%d,u%d,%d\n", i, i, 1600000000+i)
	}
	m, err := ParseMapping([]byte("event: r\nmessageId: {column: id}\nuserId: {column: who}\ntimestamp: {column: at, epoch: s}\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, file string }{
		{"ndjson", writeFile(t, dir, "r.ndjson", nd.String())},
		{"gzip", writeGzip(t, dir, "r.ndjson.gz", nd.String())},
		{"csv", writeFile(t, dir, "r.csv", csv.String())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &memSink{}
			cp := filepath.Join(dir, tc.name+".checkpoint.json")
			rejects := filepath.Join(dir, tc.name+".rejects.ndjson")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			o := opts(sink, tc.file)
			o.Mapping, o.Checkpoint, o.RejectsFile, o.BatchRecords, o.Workers = m, cp, rejects, 100, 2
			sink.hook = interruptAt(5, cancel)
			sum, err := Run(ctx, o)
			if !errors.Is(err, ErrInterrupted) || !sum.Interrupted {
				t.Fatalf("first run: %v %+v", err, sum)
			}
			first := len(sink.events)
			if first == 0 || first >= 3000 {
				t.Fatalf("first run wrote %d events", first)
			}
			var state Checkpoint
			b, _ := os.ReadFile(cp)
			if err := json.Unmarshal(b, &state); err != nil {
				t.Fatal(err)
			}
			for _, fs := range state.Files {
				if fs.Done || fs.Events != int64(first) {
					t.Fatalf("checkpoint %s after %d events", b, first)
				}
			}
			sink.hook = nil
			sum = run(t, o)
			if sum.Interrupted || sum.Events+int64(first) != 3000 {
				t.Fatalf("second run %+v after %d", sum, first)
			}
			ids := sink.ids()
			if len(ids) != 3000 {
				t.Fatalf("%d distinct events, want 3000", len(ids))
			}
			for id, n := range ids {
				if n != 1 {
					t.Fatalf("%s written %d times", id, n)
				}
			}
			wantBad := 0
			if tc.name != "csv" {
				wantBad = 6
			}
			if len(sink.rejected) != wantBad {
				t.Fatalf("%d rejected, want %d", len(sink.rejected), wantBad)
			}
			b, _ = os.ReadFile(rejects)
			if n := strings.Count(string(b), "\n"); n != wantBad {
				t.Fatalf("rejects file has %d lines, want %d:\n%s", n, wantBad, b)
			}
		})
	}
}

// TestImportRerunAddsNothing: a second run with the checkpoint writes
// nothing; with Restart it writes the same messageIds again, which the
// store's dedupe drops.
func TestImportRerunAddsNothing(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 500 {
		fmt.Fprintf(&b, `{"type":"track","event":"feed_view","anonymousId":"a%d","timestamp":"2022-05-05T05:05:05Z"}`+"\n", i%50)
		fmt.Fprintf(&b, `{"type":"track","event":"feed_view","anonymousId":"a%d","messageId":"id-%d"}`+"\n", i, i)
	}
	p := writeFile(t, dir, "feed.ndjson", b.String())
	sink := &memSink{}
	o := opts(sink, p)
	o.Checkpoint = filepath.Join(dir, "cp.json")
	run(t, o)
	firstIDs := sink.ids()
	writes := sink.writes
	if sum := run(t, o); sum.Events != 0 || sink.writes != writes {
		t.Fatalf("second run wrote: %+v", sum)
	}
	o.Restart = true
	again := &memSink{}
	o.Sink = again
	run(t, o)
	if !maps2Equal(firstIDs, again.ids()) {
		t.Fatal("a restarted import derived other messageIds")
	}
	// Identical lines are one event (50 distinct derived ids, each line
	// written 10 times).
	derived := 0
	for id := range firstIDs {
		if strings.HasPrefix(id, DerivedIDPrefix) {
			derived++
		}
	}
	if derived != 50 {
		t.Fatalf("%d derived ids, want 50", derived)
	}
}

func TestImportChangedFileStartsOver(t *testing.T) {
	dir := t.TempDir()
	line := func(i int) string {
		return fmt.Sprintf(`{"type":"track","event":"e","anonymousId":"a","messageId":"m%d"}`+"\n", i)
	}
	p := writeFile(t, dir, "grow.ndjson", line(1)+line(2))
	sink := &memSink{}
	var stderr bytes.Buffer
	o := opts(sink, p)
	o.Checkpoint, o.Stderr = filepath.Join(dir, "cp.json"), &stderr
	run(t, o)
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString(line(3))
	_ = f.Close()
	run(t, o)
	if ids := sink.ids(); ids["m1"] != 2 || ids["m3"] != 1 || !strings.Contains(stderr.String(), "changed since the checkpoint") {
		t.Fatalf("ids %v\n%s", ids, stderr.String())
	}
}

// TestImportSinkFailure: a sink that keeps failing stops the import with
// an error; the checkpoint holds what was durable, and the next run goes on
// from there without losing a record.
func TestImportSinkFailure(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, `{"type":"track","event":"e","anonymousId":"a","messageId":"m%d"}`+"\n", i)
	}
	p := writeFile(t, dir, "f.ndjson", b.String())
	sink := &memSink{hook: func(n int) error {
		if n >= 3 {
			return errors.New("disk full")
		}
		return nil
	}}
	o := opts(sink, p)
	o.Checkpoint, o.BatchRecords, o.Workers, o.WriteRetries = filepath.Join(dir, "cp.json"), 100, 1, 1
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err %v", err)
	}
	if len(sink.events) != 200 {
		t.Fatalf("%d events durable, want 200", len(sink.events))
	}
	sink.hook = nil
	sum := run(t, o)
	if sum.Events != 800 || len(sink.ids()) != 1000 {
		t.Fatalf("resumed: %+v, %d ids", sum, len(sink.ids()))
	}
}

func TestImportDamagedGzip(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, `{"type":"track","event":"e","anonymousId":"a%d","messageId":"m%d"}`+"\n", i, i)
	}
	full := writeGzip(t, dir, "a.ndjson.gz", b.String())
	data, _ := os.ReadFile(full)
	cut := writeFile(t, dir, "cut.ndjson.gz", string(data[:len(data)/2]))
	good := writeFile(t, dir, "good.ndjson", `{"type":"track","event":"e","anonymousId":"a","messageId":"good"}`+"\n")
	sink := &memSink{}
	o := opts(sink, cut, good)
	o.Checkpoint = filepath.Join(dir, "cp.json")
	sum, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "cut.ndjson.gz: read error after line") || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("err %v", err)
	}
	if len(sum.Failed) != 1 || sink.ids()["good"] != 1 || len(sink.events) < 100 {
		t.Fatalf("summary %+v, %d events", sum, len(sink.events))
	}
}

func TestImportRefuses(t *testing.T) {
	dir := t.TempDir()
	csv := writeFile(t, dir, "a.csv", "x\n1\n")
	odd := writeFile(t, dir, "a.log", "plain text\n")
	nd := writeFile(t, dir, "a.ndjson", "{}\n")
	other := filepath.Join(dir, "other.json")
	_ = (&Checkpoint{Version: checkpointVersion, Source: "web", Files: map[string]*FileState{}}).save(other, time.Now())
	for _, tc := range []struct {
		o   func(o *Options)
		err string
	}{
		{func(o *Options) { o.Inputs = nil }, "no input"},
		{func(o *Options) { o.Inputs = []string{csv} }, "a.csv is CSV: pass --mapping FILE"},
		{func(o *Options) { o.Inputs = []string{odd} }, "a.log: cannot tell its format"},
		{func(o *Options) { o.Inputs = []string{filepath.Join(dir, "missing.ndjson")} }, "no such file"},
		{func(o *Options) { o.Checkpoint = other }, `is of an import into source "web", not "legacy"`},
		{func(o *Options) { o.Inputs = []string{"-", "-"}; o.Stdin = strings.NewReader("") }, "stdin (-) given twice"},
	} {
		o := opts(&memSink{}, nd)
		tc.o(&o)
		if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("err %v, want %q", err, tc.err)
		}
	}
	// --format forces a format whatever the name.
	o := opts(&memSink{}, odd)
	o.Format = FormatNDJSON
	if sum, err := Run(context.Background(), o); err != nil || sum.Rejected != 1 {
		t.Fatalf("forced ndjson: %+v %v", sum, err)
	}
}

func TestProgressRendering(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &progress{mode: ProgressBar, start: start, total: 1000, baseBytes: 100}
	now := start.Add(10 * time.Second)
	s := stats{bytes: 550, records: 4000, events: 3990, rejected: 10}
	// 450 bytes in 10 s: 450 left take 10 s more.
	if got, want := p.bar(now, s), "[#############...........]  55.0%  3,990 events  399/s  ETA 0:10  10 rejected"; got != want {
		t.Fatalf("bar\n%q\nwant\n%q", got, want)
	}
	if got, want := p.line(now, s), "55.0% of 1000 B, 4,000 records, 3,990 events (399/s), 10 rejected, ETA 10s"; got != want {
		t.Fatalf("line\n%q\nwant\n%q", got, want)
	}
	p.total = -1 // stdin
	if got, want := p.line(now, s), "550 B read, 4,000 records, 3,990 events (399/s), 10 rejected"; got != want {
		t.Fatalf("line\n%q\nwant\n%q", got, want)
	}
	var out bytes.Buffer
	p = &progress{w: &out, mode: ProgressBar, start: start, total: 10}
	p.tick(now, s)
	p.println("f:1: bad")
	p.tick(now, s)
	if got := out.String(); !strings.HasPrefix(got, "\r[") || !strings.Contains(got, "\r\x1b[Kf:1: bad\n\r[") {
		t.Fatalf("bar output %q", got)
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %s", n, got)
		}
	}
}
