package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/query"
	"github.com/actlog/actlog/internal/store"
)

const analysesToken = "analyses-token"

// The range that holds every fixture event.
const fixtureRange = "from=2026-11-10T00:00:00Z&to=2026-11-12T00:00:00Z"

// fixtureEvent is one stored event of the analyses tests.
type fixtureEvent struct {
	id, ts     string
	seq        int64
	name       string // event name
	anon, user string
	session    string
	path       string
	banner     string
}

func (f fixtureEvent) event(t *testing.T) event.Event {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, f.ts)
	if err != nil {
		t.Fatal(err)
	}
	typ := event.Track
	switch f.name {
	case event.PageView:
		typ = event.Page
	case "identify":
		typ = event.Identify
	}
	return event.Event{
		EventID: f.id, Source: "web", Type: typ, Event: f.name,
		AnonymousID: f.anon, UserID: f.user, SessionID: f.session,
		Seq: f.seq, HasSeq: true, TS: ts, ClientTS: ts, ReceivedAt: ts,
		PagePath: f.path, Banner: f.banner,
		Properties: json.RawMessage(`{}`), Context: json.RawMessage(`{}`),
	}
}

// fixture is three members:
//
//   - m1 browses anonymously as a1 (the campaign page, a click), logs in
//     (identify a1 → m1) and pays; the next day, logged in, a new session
//     with two page views. The identify has the click's ts and a higher seq.
//   - a2 sees the campaign page, clicks, goes to /payment and leaves.
//   - a3 sees the campaign page and leaves.
var fixture = []fixtureEvent{
	{"e01", "2026-11-10T10:00:00Z", 1, "page_view", "a1", "", "s1", "/event/summer", "summer_banner"},
	{"e02", "2026-11-10T10:01:00Z", 3, "identify", "a1", "m1", "s1", "", ""},
	{"e03", "2026-11-10T10:01:00Z", 2, "subscribe_click", "a1", "", "s1", "", ""},
	{"e04", "2026-11-10T10:05:00Z", 4, "payment_success", "a1", "m1", "s1", "", ""},
	{"e05", "2026-11-11T09:00:00Z", 1, "page_view", "a1", "m1", "s1b", "/home", ""},
	{"e06", "2026-11-11T09:00:20Z", 2, "page_view", "a1", "m1", "s1b", "/event/summer", ""},
	{"e07", "2026-11-10T11:00:00Z", 1, "page_view", "a2", "", "s2", "/event/summer", "spring_banner"},
	{"e08", "2026-11-10T11:00:30Z", 2, "subscribe_click", "a2", "", "s2", "", ""},
	{"e09", "2026-11-10T11:01:00Z", 3, "page_view", "a2", "", "s2", "/payment", ""},
	{"e10", "2026-11-10T12:00:00Z", 1, "page_view", "a3", "", "s3", "/event/summer", "summer_banner"},
}

// newAnalysesServer serves the API with the analyses over a fresh store
// holding evs, stored in reverse so that arrival order is not (ts, seq)
// order.
func newAnalysesServer(t *testing.T, evs []fixtureEvent) (*httptest.Server, *API, *store.Store) {
	t.Helper()
	ctx := context.Background()
	st := openTestStore(t)
	if len(evs) > 0 {
		b := &event.Batch{}
		for i := len(evs) - 1; i >= 0; i-- {
			b.Events = append(b.Events, evs[i].event(t))
		}
		if err := st.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	api, err := New(st, slog.New(slog.DiscardHandler), Options{
		AdminToken: analysesToken,
		Analyses:   query.New(st.DB(), query.Options{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, api, st
}

// openTestStore opens a store in a temporary folder, closed at the end of
// the test.
func openTestStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// call sends one request and answers the response (its body read) and the
// body.
func call(t *testing.T, srv *httptest.Server, method, path, body string, token bool) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token {
		req.Header.Set("Authorization", "Bearer "+analysesToken)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// callOK is call that must answer 200 with JSON, decoded into dst.
func callOK(t *testing.T, srv *httptest.Server, method, path, body string, dst any) *http.Response {
	t.Helper()
	resp, b := call(t, srv, method, path, body, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d: %s", method, path, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
	}
	return resp
}

func TestAnalysesNeedToken(t *testing.T) {
	srv, _, _ := newAnalysesServer(t, nil)
	tests := []struct{ method, path, body string }{
		{http.MethodPost, "/api/v1/funnel", `{"steps":[{"event":"page_view"}]}`},
		{http.MethodPost, "/api/v1/paths", `{"start":{"event":"page_view"}}`},
		{http.MethodPost, "/api/v1/attribution", `{"conversion":{"event":"payment_success"},"touch":"banner"}`},
		{http.MethodPost, "/api/v1/dwell", `{"by":"page_path"}`},
		{http.MethodPost, "/api/v1/dropoff", `{"page":{"event":"page_view"},"conversion":{"event":"payment_success"}}`},
		{http.MethodPost, "/api/v1/retention", `{"start_event":"page_view","return_event":"page_view"}`},
		{http.MethodGet, "/api/v1/users/m1/journey", ""},
		{http.MethodGet, "/api/v1/events", ""},
		{http.MethodGet, "/api/v1/events/stream", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := call(t, srv, tc.method, tc.path, tc.body, false)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", resp.StatusCode, body)
			}
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if strings.Contains(string(body), "actlog live tail") {
				t.Fatal("the stream began without the token")
			}
		})
	}
}

func TestFunnelAPI(t *testing.T) {
	srv, _, _ := newAnalysesServer(t, fixture)
	ptr := func(f float64) *float64 { return &f }
	type step struct {
		actors   int64
		fromPrev float64
		median   *float64
	}
	f := func(name, body string, want []step) {
		t.Helper()
		var ans query.FunnelAnswer
		resp := callOK(t, srv, http.MethodPost, "/api/v1/funnel", body, &ans)
		if !strings.HasPrefix(resp.Header.Get("Server-Timing"), "query;dur=") {
			t.Errorf("%s: Server-Timing %q", name, resp.Header.Get("Server-Timing"))
		}
		if len(ans.Steps) != len(want) {
			t.Fatalf("%s: %d steps, want %d: %+v", name, len(ans.Steps), len(want), ans.Steps)
		}
		for i, w := range want {
			got := ans.Steps[i]
			fromStart := float64(w.actors) / float64(want[0].actors)
			if got.Actors != w.actors || got.ConversionFromStart != fromStart || got.ConversionFromPrevious != w.fromPrev {
				t.Errorf("%s: step %d (%s): actors %d from start %v from previous %v; want %d %v %v",
					name, i+1, got.Event, got.Actors, got.ConversionFromStart, got.ConversionFromPrevious, w.actors, fromStart, w.fromPrev)
			}
			if g, w := mustJSON(t, got.MedianSecondsFromPrev), mustJSON(t, w.median); g != w {
				t.Errorf("%s: step %d: median_seconds_from_previous %s, want %s", name, i+1, g, w)
			}
		}
	}
	steps := `"steps":[{"event":"page_view"},{"event":"subscribe_click"},{"event":"payment_success"}]`
	// By member: m1's anonymous page view and click join its payment
	// through the identify (3 → 2 → 1); the clicks came 60 s (m1) and 30 s
	// (a2) after the page view, the payment 240 s after m1's click.
	f("by user", `{"from":"2026-11-10T00:00:00Z","to":"2026-11-12T00:00:00Z",`+steps+`}`,
		[]step{{3, 1, nil}, {2, 2.0 / 3, ptr(45)}, {1, 0.5, ptr(240)}})
	// By session: s1, s1b, s2, s3 saw a page; s1 and s2 clicked; s1 paid.
	f("by session", `{"from":"2026-11-10T00:00:00Z","to":"2026-11-12T00:00:00Z","by":"session",`+steps+`}`,
		[]step{{4, 1, nil}, {2, 0.5, ptr(45)}, {1, 0.5, ptr(240)}})
	// A one-minute window: a2's click (30 s) counts, m1's (60 s) too, m1's
	// payment (5 min after the page view) does not.
	f("window", `{"from":"2026-11-10T00:00:00Z","to":"2026-11-12T00:00:00Z","window_seconds":60,`+steps+`}`,
		[]step{{3, 1, nil}, {2, 2.0 / 3, ptr(45)}, {0, 0, nil}})
	// A step filter: only the campaign page starts the funnel (m1, a2, a3).
	f("step where", `{"from":"2026-11-10T00:00:00Z","to":"2026-11-12T00:00:00Z","by":"session","steps":[
		{"event":"page_view","where":[{"field":"page_path","op":"eq","value":"/event/summer"}]},{"event":"subscribe_click"}]}`,
		[]step{{4, 1, nil}, {2, 0.5, ptr(45)}})
}

func TestAnalysesBadRequests(t *testing.T) {
	srv, _, _ := newAnalysesServer(t, fixture)
	whereQ := func(s string) string { return "where=" + url.QueryEscape(s) }
	tests := []struct {
		name, method, path, body string
		msg                      string // the error must contain it
	}{
		{"unknown field in where", http.MethodPost, "/api/v1/funnel",
			`{"steps":[{"event":"page_view","where":[{"field":"nope","op":"eq","value":"x"}]}]}`, `unknown field "nope"`},
		{"where error names its step", http.MethodPost, "/api/v1/funnel",
			`{"steps":[{"event":"page_view"},{"event":"x","where":[{"field":"nope","op":"eq","value":"x"}]}]}`, `steps[1].where[0]`},
		{"bad op", http.MethodPost, "/api/v1/funnel",
			`{"steps":[{"event":"page_view","where":[{"field":"event","op":"like","value":"x"}]}]}`, `unknown op "like"`},
		{"from after to", http.MethodPost, "/api/v1/funnel",
			`{"from":"2026-11-12T00:00:00Z","to":"2026-11-10T00:00:00Z","steps":[{"event":"page_view"}]}`, "must be before to"},
		{"bad from", http.MethodPost, "/api/v1/retention",
			`{"from":"yesterday","start_event":"a","return_event":"b"}`, `from: "yesterday" is not an RFC 3339 time`},
		{"unknown key in body", http.MethodPost, "/api/v1/funnel",
			`{"stepz":[{"event":"page_view"}]}`, `unknown field "stepz"`},
		{"unknown key in dwell body", http.MethodPost, "/api/v1/dwell",
			`{"by":"page_path","until":"next_event","group":"x"}`, `unknown field "group"`},
		{"body not JSON", http.MethodPost, "/api/v1/paths", `start=page_view`, "body: "},
		{"no steps", http.MethodPost, "/api/v1/funnel", `{"steps":[]}`, "want 1 to 20 steps"},
		{"bad dwell by", http.MethodPost, "/api/v1/dwell", `{"by":"colour"}`, `by: "colour"`},
		{"bad where JSON on events", http.MethodGet, "/api/v1/events?" + whereQ(`{"field":"event"`), "", "where: want a JSON list"},
		{"where not a list on events", http.MethodGet, "/api/v1/events?" + whereQ(`{"field":"event","op":"eq","value":"x"}`), "", "where: want a JSON list"},
		{"bad op on events", http.MethodGet, "/api/v1/events?" + whereQ(`[{"field":"event","op":"like","value":"x"}]`), "", `unknown op "like"`},
		{"bad limit on events", http.MethodGet, "/api/v1/events?limit=ten", "", "limit: not a number"},
		{"bad cursor on events", http.MethodGet, "/api/v1/events?cursor=xyz", "", "cursor: not one this API gave"},
		{"journey from after to", http.MethodGet, "/api/v1/users/m1/journey?from=2026-11-12T00:00:00Z&to=2026-11-10T00:00:00Z", "", "must be before to"},
		{"journey bad limit", http.MethodGet, "/api/v1/users/m1/journey?limit=-x", "", "limit: not a number"},
		{"bad where JSON on stream", http.MethodGet, "/api/v1/events/stream?" + whereQ(`[{`), "", "where: want a JSON list"},
		{"bad filter on stream", http.MethodGet, "/api/v1/events/stream?" + whereQ(`[{"field":"nope","op":"eq","value":"x"}]`), "", `unknown field "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, srv, tc.method, tc.path, tc.body, true)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q (a stream began?): %s", ct, body)
			}
			var out struct{ Error string }
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			if !strings.Contains(out.Error, tc.msg) {
				t.Fatalf("error %q does not contain %q", out.Error, tc.msg)
			}
		})
	}
}

func TestJourneyAPI(t *testing.T) {
	srv, _, _ := newAnalysesServer(t, fixture)
	ms := func(n int64) *int64 { return &n }
	type step struct {
		event string
		seq   int64
		dwell *int64
	}
	// m1 in (ts, seq) order: the click and the identify share a ts, the
	// click's seq is lower. Dwell is the gap to the next event of the same
	// session; the last event of s1 and of s1b has none.
	all := []step{
		{"page_view", 1, ms(60_000)},
		{"subscribe_click", 2, ms(0)},
		{"identify", 3, ms(240_000)},
		{"payment_success", 4, nil},
		{"page_view", 1, ms(20_000)},
		{"page_view", 2, nil},
	}
	tests := []struct {
		name, id, rng string
		member        string
		want          []step
	}{
		{"by user id", "m1", fixtureRange, "m1", all},
		{"by linked anonymous id", "a1", fixtureRange, "m1", all},
		{"first day", "a1", "from=2026-11-10T00:00:00Z&to=2026-11-11T00:00:00Z", "m1", all[:4]},
		{"anonymous only", "a2", fixtureRange, "a2", []step{{"page_view", 1, ms(30_000)}, {"subscribe_click", 2, ms(30_000)}, {"page_view", 3, nil}}},
		{"nobody", "zz", fixtureRange, "zz", []step{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ans query.JourneyAnswer
			callOK(t, srv, http.MethodGet, "/api/v1/users/"+tc.id+"/journey?"+tc.rng, "", &ans)
			if ans.Member != tc.member || ans.Truncated {
				t.Fatalf("member %q truncated %v, want %q", ans.Member, ans.Truncated, tc.member)
			}
			if len(ans.Events) != len(tc.want) {
				t.Fatalf("%d events, want %d: %s", len(ans.Events), len(tc.want), mustJSON(t, ans.Events))
			}
			for i, w := range tc.want {
				got := ans.Events[i]
				if got.Event != w.event || mustJSON(t, got.Seq) != mustJSON(t, w.seq) {
					t.Errorf("event %d: %s seq %s, want %s seq %d", i, got.Event, mustJSON(t, got.Seq), w.event, w.seq)
				}
				if g, w := mustJSON(t, got.DwellMS), mustJSON(t, w.dwell); g != w {
					t.Errorf("event %d (%s): dwell_ms %s, want %s", i, got.Event, g, w)
				}
				if i > 0 && got.TS.Before(ans.Events[i-1].TS) {
					t.Errorf("event %d before event %d", i, i-1)
				}
			}
			if tc.member == "m1" {
				// The anonymous events before login are m1's too.
				if first := ans.Events[0]; first.UserID != "" || first.AnonymousID != "a1" || first.SessionID != "s1" {
					t.Errorf("first event: user %q anonymous %q session %q", first.UserID, first.AnonymousID, first.SessionID)
				}
			}
		})
	}
	// dwell_ms is null, not absent or 0, for a session's last event.
	_, body := call(t, srv, http.MethodGet, "/api/v1/users/m1/journey?"+fixtureRange, "", true)
	var raw struct{ Events []map[string]json.RawMessage }
	if err := json.Unmarshal(body, &raw); err != nil || len(raw.Events) != len(all) {
		t.Fatalf("%s: %v", body, err)
	}
	if d, ok := raw.Events[3]["dwell_ms"]; !ok || string(d) != "null" {
		t.Fatalf("dwell_ms of the session's last event: %s (present %v)", d, ok)
	}
}

func TestEventsAPI(t *testing.T) {
	srv, _, _ := newAnalysesServer(t, fixture)
	// Newest first; e02 and e03 share a ts and split across pages of two,
	// ordered by event_id descending.
	newest := []string{"e06", "e05", "e10", "e09", "e08", "e07", "e04", "e03", "e02", "e01"}
	f := func(name, params string, limit int, want []string) {
		t.Helper()
		var got []string
		cursor := ""
		for page := 0; ; page++ {
			if page > len(want) {
				t.Fatalf("%s: more than %d pages: %v", name, page, got)
			}
			path := "/api/v1/events?" + params + "&limit=" + itoa(limit)
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			var ans query.EventsAnswer
			callOK(t, srv, http.MethodGet, path, "", &ans)
			if len(ans.Events) > limit {
				t.Fatalf("%s: page of %d events, limit %d", name, len(ans.Events), limit)
			}
			for _, ev := range ans.Events {
				got = append(got, ev.EventID)
			}
			if ans.Next == "" {
				break
			}
			cursor = ans.Next
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: events %v, want %v", name, got, want)
		}
	}
	f("all, pages of 2", fixtureRange, 2, newest)
	f("all, pages of 3", fixtureRange, 3, newest)
	f("all in one page", fixtureRange, 10, newest)
	f("payment_success", fixtureRange+"&where="+url.QueryEscape(`[{"field":"event","op":"eq","value":"payment_success"}]`), 2, []string{"e04"})
	f("page views of a2", fixtureRange+"&where="+url.QueryEscape(
		`[{"field":"event","op":"eq","value":"page_view"},{"field":"anonymous_id","op":"in","value":["a2"]}]`), 1, []string{"e09", "e07"})
	f("first day", "from=2026-11-10T00:00:00Z&to=2026-11-11T00:00:00Z", 2, newest[2:])
	f("none", "from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z", 2, nil)

	// The stored fields come back.
	var ans query.EventsAnswer
	callOK(t, srv, http.MethodGet, "/api/v1/events?"+fixtureRange+"&limit=1&where="+url.QueryEscape(`[{"field":"event_id","op":"eq","value":"e01"}]`), "", &ans)
	if len(ans.Events) != 1 {
		t.Fatalf("%+v", ans)
	}
	if ev := ans.Events[0]; ev.Event != "page_view" || ev.Type != "page" || ev.AnonymousID != "a1" || ev.SessionID != "s1" ||
		ev.PagePath != "/event/summer" || ev.Banner != "summer_banner" || ev.Seq == nil || *ev.Seq != 1 ||
		!ev.TS.Equal(time.Date(2026, 11, 10, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("e01: %s", mustJSON(t, ev))
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestOtherAnalysesAPI(t *testing.T) {
	srv, _, _ := newAnalysesServer(t, fixture)
	rng := `"from":"2026-11-10T00:00:00Z","to":"2026-11-12T00:00:00Z"`
	t.Run("dwell", func(t *testing.T) {
		var ans query.DwellAnswer
		callOK(t, srv, http.MethodPost, "/api/v1/dwell", `{`+rng+`,"by":"page_path"}`, &ans)
		// /event/summer: 4 views (e01, e06, e07, e10); e01 lasted 60 s, e07
		// 30 s, e06 and e10 end their sessions. Then /home and /payment,
		// one view each.
		if len(ans.Rows) != 3 {
			t.Fatalf("%d rows: %+v", len(ans.Rows), ans.Rows)
		}
		r := ans.Rows[0]
		if r.Key == nil || *r.Key != "/event/summer" || r.Views != 4 || r.P50MS == nil || *r.P50MS != 45_000 {
			t.Fatalf("first row %s", mustJSON(t, r))
		}
		for _, r := range ans.Rows[1:] {
			switch {
			case r.Key == nil || r.Views != 1:
				t.Fatalf("row %s", mustJSON(t, r))
			case *r.Key == "/home" && (r.P50MS == nil || *r.P50MS != 20_000):
				t.Fatalf("/home: %s", mustJSON(t, r))
			case *r.Key == "/payment" && r.P50MS != nil:
				t.Fatalf("/payment ends its session: %s", mustJSON(t, r))
			}
		}
	})
	t.Run("paths", func(t *testing.T) {
		var ans query.PathsAnswer
		callOK(t, srv, http.MethodPost, "/api/v1/paths", `{`+rng+`,"start":{"event":"page_view"},"by":"event","depth":3}`, &ans)
		// Sessions s1, s1b, s2, s3 saw a page; s1 and s2 clicked next.
		if ans.Sessions != 4 {
			t.Fatalf("sessions %d: %s", ans.Sessions, mustJSON(t, ans))
		}
		link := pathLinkValue(ans.Links, "0 page_view", "1 subscribe_click")
		if link != 2 {
			t.Fatalf("link page_view → subscribe_click %d, want 2: %s", link, mustJSON(t, ans.Links))
		}
		if len(ans.Nodes) == 0 || ans.Nodes[0].Name != "0 page_view" || ans.Nodes[0].Sessions != 4 {
			t.Fatalf("nodes %s", mustJSON(t, ans.Nodes))
		}
	})
	t.Run("attribution", func(t *testing.T) {
		var ans query.AttributionAnswer
		callOK(t, srv, http.MethodPost, "/api/v1/attribution", `{`+rng+`,"conversion":{"event":"payment_success"},"touch":"banner"}`, &ans)
		// m1 converted; its banner (summer_banner) was seen anonymously as
		// a1 before login. a3 saw summer_banner too, a2 spring_banner.
		want := query.AttributionAnswer{Conversions: 1, Unattributed: 0, Rows: []query.AttributionRow{
			{Touch: "summer_banner", Actors: 2, Conversions: 1, ConversionRate: 0.5},
			{Touch: "spring_banner", Actors: 1, Conversions: 0, ConversionRate: 0},
		}}
		if mustJSON(t, ans) != mustJSON(t, want) {
			t.Fatalf("got %s\nwant %s", mustJSON(t, ans), mustJSON(t, want))
		}
	})
	t.Run("dropoff", func(t *testing.T) {
		var ans query.DropoffAnswer
		callOK(t, srv, http.MethodPost, "/api/v1/dropoff", `{`+rng+`,"page":{"event":"subscribe_click"},"conversion":{"event":"payment_success"}}`, &ans)
		// s1 and s2 clicked; s1 paid; s2 left on /payment.
		payment := "/payment"
		want := query.DropoffAnswer{Reached: 2, Converted: 1, Dropped: 1, Rows: []query.DropoffRow{
			{Event: "page_view", PagePath: &payment, Sessions: 1, Share: 1},
		}}
		if mustJSON(t, ans) != mustJSON(t, want) {
			t.Fatalf("got %s\nwant %s", mustJSON(t, ans), mustJSON(t, want))
		}
	})
	t.Run("retention", func(t *testing.T) {
		var ans query.RetentionAnswer
		callOK(t, srv, http.MethodPost, "/api/v1/retention", `{`+rng+`,"start_event":"page_view","return_event":"page_view","periods":3}`, &ans)
		// All three members first saw a page on 11-10 (m1 anonymously);
		// m1 came back on 11-11; 11-12 is after the range.
		if len(ans.Cohorts) != 1 || ans.Period != "day" {
			t.Fatalf("%s", mustJSON(t, ans))
		}
		c := ans.Cohorts[0]
		if got := mustJSON(t, c.Values); c.Start != "2026-11-10" || c.Actors != 3 || got != "[3,1,null]" {
			t.Fatalf("cohort %s: actors %d values %s", c.Start, c.Actors, got)
		}
		if c.Rates[1] == nil || *c.Rates[1] != 1.0/3 {
			t.Fatalf("rates %s", mustJSON(t, c.Rates))
		}
	})
}

// pathLinkValue answers the value of the link from source to target, 0 if
// there is none.
func pathLinkValue(links []query.PathLink, source, target string) int64 {
	for _, l := range links {
		if l.Source == source && l.Target == target {
			return l.Value
		}
	}
	return 0
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sseReader reads the lines of a server-sent event stream.
type sseReader struct{ br *bufio.Reader }

// next answers the next non-empty line, or the read error (io.EOF at the
// end of the stream).
func (r sseReader) next() (string, error) {
	for {
		l, err := r.br.ReadString('\n')
		if err != nil {
			return l, err
		}
		if l = strings.TrimRight(l, "\n"); l != "" {
			return l, nil
		}
	}
}

func TestEventsStreamAPI(t *testing.T) {
	srv, api, st := newAnalysesServer(t, fixture)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	where := url.QueryEscape(`[{"field":"event","op":"eq","value":"payment_success"}]`)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/events/stream?where="+where, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+analysesToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sse := sseReader{bufio.NewReader(resp.Body)}
	if l, err := sse.next(); err != nil || l != ": actlog live tail" {
		t.Fatalf("first line %q, %v", l, err)
	}
	// The comment is the client's sign that the tail is live. (The handler
	// sends it before Tail notes the last stored row, so an event stored in
	// between would be missed and this test would fail by its deadline.)

	write := func(f fixtureEvent) {
		t.Helper()
		if err := st.Write(ctx, &event.Batch{Events: []event.Event{f.event(t)}}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	write(fixtureEvent{"live-miss", now, 5, "page_view", "a9", "", "s9", "/home", ""})
	write(fixtureEvent{"live-hit", now, 6, "payment_success", "a9", "", "s9", "", ""})
	{
		l, err := sse.next()
		if err != nil {
			t.Fatalf("stream ended before the matching event: %v", err)
		}
		data, ok := strings.CutPrefix(l, "data: ")
		if !ok {
			t.Fatalf("line %q", l)
		}
		var ev query.StoredEvent
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("data %q: %v", data, err)
		}
		if ev.EventID != "live-hit" {
			// Neither the fixture (stored before the stream began) nor
			// the page view may come.
			t.Fatalf("unexpected event %s (%s)", ev.EventID, ev.Event)
		}
		if ev.Event != "payment_success" || ev.AnonymousID != "a9" || ev.SessionID != "s9" {
			t.Fatalf("event %+v", ev)
		}
	}

	// Drain ends the stream: the body ends cleanly, with no more events.
	api.Drain()
	l, err := sse.next()
	switch {
	case errors.Is(err, io.EOF):
	case err != nil:
		t.Fatalf("stream did not end after Drain: %v", err)
	default:
		t.Fatalf("line after Drain: %q", l)
	}
}
