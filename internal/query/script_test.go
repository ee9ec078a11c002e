package query_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/query"
	"github.com/actlog/actlog/internal/store"
)

// The scripts in testdata/*.txt drive the analyses, in the manner of
// Prometheus's promqltest. Blocks are separated by blank lines; a line
// starting with # is a comment. A block's first line is its command (want
// and error also end the block above them):
//
//	load            one event per line, as JSON (see testRow); ids are given
//	                in order of the lines, and the lines are stored in that
//	                order, so a script can make events arrive out of order
//	<analysis>      funnel, journey, dwell, dropoff, attribution, paths,
//	                retention or events: the request as JSON on the lines below
//	want            the answer expected from the analysis above, as JSON
//	error           a text the analysis's error must contain
//
// Run `ACTLOG_UPDATE_GOLDEN=1 go test ./internal/query -run TestScripts` to
// rewrite the want blocks from the answers (then read the diff before committing).

var update = os.Getenv("ACTLOG_UPDATE_GOLDEN") != ""

// testRow is an event line of a load block.
type testRow struct {
	ID          string          `json:"id"`
	TS          string          `json:"ts"`
	Seq         *int64          `json:"seq"`
	Type        string          `json:"type"`
	Event       string          `json:"event"`
	AnonymousID string          `json:"anonymous_id"`
	UserID      string          `json:"user_id"`
	SessionID   string          `json:"session_id"`
	Source      string          `json:"source"`
	PageURL     string          `json:"page_url"`
	PagePath    string          `json:"page_path"`
	Referrer    string          `json:"referrer"`
	ScreenName  string          `json:"screen_name"`
	Section     string          `json:"section"`
	Banner      string          `json:"banner"`
	UTMSource   string          `json:"utm_source"`
	UTMCampaign string          `json:"utm_campaign"`
	DeviceType  string          `json:"device_type"`
	Properties  json.RawMessage `json:"properties"`
}

func (r testRow) event(id string) (event.Event, error) {
	ts, err := time.Parse(time.RFC3339Nano, r.TS)
	if err != nil {
		return event.Event{}, fmt.Errorf("ts: %w", err)
	}
	typ := event.Type(r.Type)
	if typ == "" {
		switch r.Event {
		case event.PageView:
			typ = event.Page
		case event.ScreenView:
			typ = event.Screen
		case "identify":
			typ = event.Identify
		default:
			typ = event.Track
		}
	}
	if r.ID != "" {
		id = r.ID
	}
	src := r.Source
	if src == "" {
		src = "web"
	}
	props := r.Properties
	if len(props) == 0 {
		props = json.RawMessage(`{}`)
	}
	e := event.Event{
		EventID: id, Source: src, Type: typ, Event: r.Event,
		AnonymousID: r.AnonymousID, UserID: r.UserID, SessionID: r.SessionID,
		TS: ts, ClientTS: ts, ReceivedAt: ts,
		PageURL: r.PageURL, PagePath: r.PagePath, Referrer: r.Referrer, ScreenName: r.ScreenName,
		Section: r.Section, Banner: r.Banner, UTMSource: r.UTMSource, UTMCampaign: r.UTMCampaign,
		DeviceType: r.DeviceType, Properties: props, Context: json.RawMessage(`{}`),
	}
	if r.Seq != nil {
		e.Seq, e.HasSeq = *r.Seq, true
	}
	return e, nil
}

// run answers one analysis request in the form the API serves it.
func run(ctx context.Context, e *query.Engine, name string, req []byte) (any, error) {
	dec := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(req))
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			return fmt.Errorf("request: %w", err)
		}
		return nil
	}
	switch name {
	case "funnel":
		var r query.FunnelRequest
		if err := dec(&r); err != nil {
			return nil, err
		}
		return e.Funnel(ctx, r)
	case "journey":
		var r query.JourneyRequest
		if err := dec(&r); err != nil {
			return nil, err
		}
		return e.Journey(ctx, r)
	case "dwell":
		var r query.DwellRequest
		if err := dec(&r); err != nil {
			return nil, err
		}
		return e.Dwell(ctx, r)
	case "dropoff":
		var r query.DropoffRequest
		if err := dec(&r); err != nil {
			return nil, err
		}
		return e.Dropoff(ctx, r)
	case "attribution":
		var r query.AttributionRequest
		if err := dec(&r); err != nil {
			return nil, err
		}
		return e.Attribution(ctx, r)
	case "paths":
		var r query.PathsRequest
		if err := dec(&r); err != nil {
			return nil, err
		}
		return e.Paths(ctx, r)
	case "retention":
		var r query.RetentionRequest
		if err := dec(&r); err != nil {
			return nil, err
		}
		return e.Retention(ctx, r)
	case "events":
		var r query.EventsRequest
		if err := dec(&r); err != nil {
			return nil, err
		}
		return e.Events(ctx, r)
	}
	return nil, fmt.Errorf("unknown command %q", name)
}

type block struct {
	line  int
	cmd   string
	lines []string
}

func readBlocks(t *testing.T, path string) []block {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []block
	var cur *block
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "#"):
			continue
		case strings.TrimSpace(l) == "":
			cur = nil
		case cur == nil, l == "want", l == "error":
			out = append(out, block{line: n, cmd: strings.TrimSpace(l)})
			cur = &out[len(out)-1]
		default:
			cur.lines = append(cur.lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		// Each script runs twice: with the identity links caught up (the
		// store reopened after each load, and the analyses told so), and
		// with them behind (the views read the newest identifies).
		for _, caughtUp := range []bool{false, true} {
			mode := "links-behind"
			if caughtUp {
				mode = "links-caught-up"
			}
			t.Run(name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				if update && caughtUp {
					t.Skip("wants are rewritten from the other run")
				}
				runScript(t, file, caughtUp)
			})
		}
	}
}

func runScript(t *testing.T, file string, caughtUp bool) {
	ctx := context.Background()
	dir := t.TempDir()
	var st *store.Store
	var eng *query.Engine
	open := func() {
		t.Helper()
		if st != nil {
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		// Links behind: the writer never catches up by itself.
		st, err = store.Open(ctx, store.Options{Dir: dir, LinksInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		eng = query.New(st.DB(), query.Options{
			Now:           func() time.Time { return time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC) },
			LinksCaughtUp: st.LinksCaughtUp,
		})
	}
	open()
	t.Cleanup(func() { st.Close() })
	blocks := readBlocks(t, file)
	var got any
	var gotErr error
	var last string
	rewrite := map[int]string{}
	nLoaded := 0
	for i, b := range blocks {
		at := fmt.Sprintf("%s:%d", file, b.line)
		if b.cmd != "load" && b.cmd != "want" && b.cmd != "error" &&
			(i+1 == len(blocks) || (blocks[i+1].cmd != "want" && blocks[i+1].cmd != "error")) {
			t.Fatalf("%s: %s has no want or error block after it", at, b.cmd)
		}
		switch b.cmd {
		case "load":
			var batch event.Batch
			for _, l := range b.lines {
				var r testRow
				d := json.NewDecoder(strings.NewReader(l))
				d.DisallowUnknownFields()
				if err := d.Decode(&r); err != nil {
					t.Fatalf("%s: event %q: %v", at, l, err)
				}
				nLoaded++
				e, err := r.event(fmt.Sprintf("e%03d", nLoaded))
				if err != nil {
					t.Fatalf("%s: %v", at, err)
				}
				batch.Events = append(batch.Events, e)
			}
			if err := st.Write(ctx, &batch); err != nil {
				t.Fatalf("%s: store: %v", at, err)
			}
			if caughtUp {
				open() // a store catches its links up when it opens
				if !st.LinksCaughtUp() {
					t.Fatalf("%s: links not caught up after reopening", at)
				}
			} else if slices.ContainsFunc(batch.Events, func(e event.Event) bool { return e.Type == event.Identify }) && st.LinksCaughtUp() {
				t.Fatalf("%s: links caught up after storing identifies", at)
			}
		case "want":
			if gotErr != nil {
				t.Fatalf("%s: %s failed: %v", at, last, gotErr)
			}
			have, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			var want any
			if err := json.Unmarshal([]byte(strings.Join(b.lines, "\n")), &want); err != nil && !update {
				t.Fatalf("%s: want: %v", at, err)
			}
			var haveAny any
			_ = json.Unmarshal(have, &haveAny)
			if update {
				rewrite[b.line] = string(have)
				continue
			}
			if !jsonEqual(haveAny, want) {
				t.Errorf("%s: %s answered\n%s\nwant\n%s", at, last, have, strings.Join(b.lines, "\n"))
			}
		case "error":
			if gotErr == nil {
				t.Errorf("%s: %s succeeded, want an error containing %q", at, last, strings.Join(b.lines, " "))
			} else if want := strings.Join(b.lines, " "); !strings.Contains(gotErr.Error(), want) || !query.IsInvalid(gotErr) {
				t.Errorf("%s: %s error %q (invalid %v), want one containing %q", at, last, gotErr, query.IsInvalid(gotErr), want)
			}
		default:
			last = fmt.Sprintf("%s (line %d)", b.cmd, b.line)
			got, gotErr = run(ctx, eng, b.cmd, []byte(strings.Join(b.lines, "\n")))
		}
	}
	if update && len(rewrite) > 0 {
		rewriteWants(t, file, rewrite)
	}
}

// jsonEqual compares decoded JSON, numbers within 1e-9.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		d := x - y
		return ok && d < 1e-9 && d > -1e-9
	}
	return a == b
}

// rewriteWants replaces the want blocks starting at the given lines.
func rewriteWants(t *testing.T, file string, wants map[int]string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		out = append(out, lines[i])
		if w, ok := wants[i+1]; ok {
			out = append(out, w)
			for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
				i++
			}
		}
	}
	if err := os.WriteFile(file, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}
