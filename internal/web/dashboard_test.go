package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/query"
	"github.com/actlog/actlog/internal/store"
)

// clock is a settable clock for sessions and the overview.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testDashboard = fstest.MapFS{
	"index.html":     {Data: []byte(`<!doctype html><title>actlog</title><script src="/ui/assets/app.js"></script>`)},
	"assets/app.js":  {Data: []byte(strings.Repeat("console.log('actlog');\n", 200))},
	"assets/app.css": {Data: []byte("body{margin:0}")},
	".gitkeep":       {Data: nil},
}

// newDashboardServer serves the API with everything the dashboard uses
// over a store holding the fixture and two rejected events, on clk.
func newDashboardServer(t *testing.T, clk *clock, ui fstest.MapFS, lag func() map[string]map[int32]int64) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	st := openTestStore(t)
	b := &event.Batch{}
	for _, f := range fixture {
		b.Events = append(b.Events, f.event(t))
	}
	at := time.Date(2026, 11, 10, 10, 2, 0, 0, time.UTC)
	b.Rejected = []event.Rejected{
		{ReceivedAt: at, Source: "web", Index: 3, MessageID: "r1", Reason: "event name is required for track", Raw: []byte(`{"type":"track"}`)},
		{ReceivedAt: at.Add(time.Second), Source: "web", Index: 0, Reason: "event name is required for track", Raw: []byte(`{"type":"track","x":1}`)},
		{ReceivedAt: at, Source: "app", Index: 1, Reason: "unknown type", Raw: []byte(`{"type":"bogus"}`)},
	}
	if err := st.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	opts := Options{
		AdminToken: analysesToken,
		Analyses:   query.New(st.DB(), query.Options{Now: clk.now}),
		Saved:      st,
		Lag:        lag,
		Now:        clk.now,
		SessionTTL: time.Hour,
	}
	if ui != nil {
		opts.Dashboard = ui
	}
	api, err := New(st, slog.New(slog.DiscardHandler), opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// send sends one request with the given cookie and headers and answers
// the status, the response and its body.
func send(t *testing.T, srv *httptest.Server, method, path, body string, cookie *http.Cookie, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	// The transport must not add Accept-Encoding and unzip by itself.
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestDashboardSignIn(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 10, 10, 30, 0, 0, time.UTC)}
	srv := newDashboardServer(t, clk, testDashboard, nil)
	funnel := `{"from":"2026-11-10T00:00:00Z","to":"2026-11-12T00:00:00Z","steps":[{"event":"page_view"}]}`

	signedIn := func(c *http.Cookie) bool {
		t.Helper()
		resp, b := send(t, srv, "GET", "/api/v1/session", "", c)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET session = %d %s", resp.StatusCode, b)
		}
		return strings.Contains(b, `"signed_in":true`)
	}
	if signedIn(nil) {
		t.Fatal("signed in without a cookie")
	}
	for _, body := range []string{`{"token":"wrong"}`, `{"token":""}`} {
		if resp, b := send(t, srv, "POST", "/api/v1/session", body, nil); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
			t.Fatalf("sign in with %s = %d %s, cookies %v; want 401 and no cookie", body, resp.StatusCode, b, resp.Cookies())
		}
	}
	if resp, _ := send(t, srv, "POST", "/api/v1/session", `{"token":"x","extra":1}`, nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("sign in with an unknown key = %d, want 400", resp.StatusCode)
	}
	resp, _ := send(t, srv, "POST", "/api/v1/session", `{"token":"`+analysesToken+`"}`, nil)
	if resp.StatusCode != http.StatusNoContent || len(resp.Cookies()) != 1 {
		t.Fatalf("sign in = %d with cookies %v, want 204 and one cookie", resp.StatusCode, resp.Cookies())
	}
	c := resp.Cookies()[0]
	if c.Name != sessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || len(c.Value) < 32 {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/ and a long random value", c)
	}
	if !signedIn(c) {
		t.Fatal("not signed in with the cookie")
	}
	// Reads with the cookie alone; writes need the CSRF header too.
	if resp, _ := send(t, srv, "GET", "/api/v1/overview", "", c); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET overview with the cookie = %d", resp.StatusCode)
	}
	if resp, _ := send(t, srv, "POST", "/api/v1/funnel", funnel, c); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST funnel with the cookie but no %s header = %d, want 401", csrfHeader, resp.StatusCode)
	}
	if resp, b := send(t, srv, "POST", "/api/v1/funnel", funnel, c, csrfHeader, "1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST funnel with the cookie = %d %s", resp.StatusCode, b)
	}
	forged := &http.Cookie{Name: sessionCookie, Value: strings.Repeat("0", 64)}
	if resp, _ := send(t, srv, "GET", "/api/v1/overview", "", forged); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a made-up session = %d, want 401", resp.StatusCode)
	}

	// Sign out ends the session server-side, not only in the browser.
	resp, _ = send(t, srv, "DELETE", "/api/v1/session", "", c)
	if resp.StatusCode != http.StatusNoContent || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Fatalf("sign out = %d with cookies %v, want 204 and the cookie cleared", resp.StatusCode, resp.Cookies())
	}
	if resp, _ := send(t, srv, "GET", "/api/v1/overview", "", c); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after sign out: GET overview = %d, want 401", resp.StatusCode)
	}

	// Sessions expire.
	resp, _ = send(t, srv, "POST", "/api/v1/session", `{"token":"`+analysesToken+`"}`, nil)
	c = resp.Cookies()[0]
	clk.add(59 * time.Minute)
	if !signedIn(c) {
		t.Fatal("signed out before the session expired")
	}
	clk.add(2 * time.Minute)
	if signedIn(c) {
		t.Fatal("still signed in after the session expired")
	}
}

func TestDashboardFiles(t *testing.T) {
	clk := &clock{t: time.Now()}
	srv := newDashboardServer(t, clk, testDashboard, nil)
	for _, p := range []string{"/", "/funnels", "/sql", "/journey?id=m1"} {
		resp, b := send(t, srv, "GET", p, "", nil)
		if resp.StatusCode != http.StatusOK || b != string(testDashboard["index.html"].Data) {
			t.Fatalf("GET %s = %d %q, want index.html", p, resp.StatusCode, b)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src") && !strings.Contains(csp, "default-src 'self'") {
			t.Fatalf("GET %s: Content-Security-Policy %q", p, csp)
		}
		if resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET %s: Content-Type %q", p, resp.Header.Get("Content-Type"))
		}
	}
	for _, p := range []string{"/nope", "/ui/index.html", "/ui/assets/missing.js", "/ui/.gitkeep"} {
		if resp, _ := send(t, srv, "GET", p, "", nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET %s = %d, want 404", p, resp.StatusCode)
		}
	}
	js := string(testDashboard["assets/app.js"].Data)
	resp, b := send(t, srv, "GET", "/ui/assets/app.js", "", nil)
	if resp.StatusCode != http.StatusOK || b != js || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("GET app.js = %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
	}
	etag := resp.Header.Get("ETag")
	resp, b = send(t, srv, "GET", "/ui/assets/app.js", "", nil, "Accept-Encoding", "gzip, br")
	if resp.Header.Get("Content-Encoding") != "gzip" || len(b) >= len(js) {
		t.Fatalf("gzip: Content-Encoding %q, %d bytes", resp.Header.Get("Content-Encoding"), len(b))
	}
	zr, err := gzip.NewReader(bytes.NewReader([]byte(b)))
	if err != nil {
		t.Fatal(err)
	}
	if unz, _ := io.ReadAll(zr); string(unz) != js {
		t.Fatal("gzipped app.js differs")
	}
	if resp, _ := send(t, srv, "GET", "/ui/assets/app.js", "", nil, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation = %d, want 304", resp.StatusCode)
	}

	// A binary built without the dashboard says how to build it.
	bare := newDashboardServer(t, clk, fstest.MapFS{".gitkeep": {}}, nil)
	if resp, b := send(t, bare, "GET", "/", "", nil); resp.StatusCode != http.StatusNotFound || !strings.Contains(b, "make build") {
		t.Fatalf("GET / without a dashboard = %d %q", resp.StatusCode, b)
	}
}

func TestSavedFunnelsAPI(t *testing.T) {
	srv := newDashboardServer(t, &clock{t: time.Now()}, nil, nil)
	auth := []string{"Authorization", "Bearer " + analysesToken}
	req := `{"steps":[{"event":"page_view","where":[{"field":"page_path","op":"eq","value":"/event/summer"}]},{"event":"payment_success"}],"window_seconds":3600}`
	resp, b := send(t, srv, "POST", "/api/v1/saved/funnels", `{"name":"Summer campaign","request":`+req+`}`, nil, auth...)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create = %d %s", resp.StatusCode, b)
	}
	var saved store.Saved
	if err := json.Unmarshal([]byte(b), &saved); err != nil || saved.ID == "" || saved.Name != "Summer campaign" {
		t.Fatalf("created %s (%v)", b, err)
	}
	var list struct{ Funnels []store.Saved }
	get := func() {
		t.Helper()
		resp, b := send(t, srv, "GET", "/api/v1/saved/funnels", "", nil, auth...)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("list = %d %s", resp.StatusCode, b)
		}
		list.Funnels = nil
		if err := json.Unmarshal([]byte(b), &list); err != nil {
			t.Fatal(err)
		}
	}
	get()
	if len(list.Funnels) != 1 || list.Funnels[0].ID != saved.ID {
		t.Fatalf("list = %+v", list)
	}
	// The saved request runs as the funnel endpoint takes it.
	var got, want query.FunnelRequest
	_ = json.Unmarshal(list.Funnels[0].Request, &got)
	_ = json.Unmarshal([]byte(req), &want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("saved request %+v, want %+v", got, want)
	}

	resp, b = send(t, srv, "PUT", "/api/v1/saved/funnels/"+saved.ID, `{"name":"Summer, by session","request":{"by":"session","steps":[{"event":"page_view"}]}}`, nil, auth...)
	if resp.StatusCode != http.StatusOK || !strings.Contains(b, `"Summer, by session"`) || !strings.Contains(b, `"by":"session"`) {
		t.Fatalf("update = %d %s", resp.StatusCode, b)
	}
	get()
	if len(list.Funnels) != 1 || list.Funnels[0].Name != "Summer, by session" || !list.Funnels[0].UpdatedAt.After(list.Funnels[0].CreatedAt) {
		t.Fatalf("after update: %+v", list)
	}

	bad := []struct{ body, want string }{
		{`{"name":"","request":` + req + `}`, "name"},
		{`{"name":"x","request":{"steps":[]}}`, "steps"},
		{`{"name":"x","request":{"steps":[{"event":""}]}}`, "needs an event"},
		{`{"name":"x","request":{"steps":[{"event":"a","where":[{"field":"nope","op":"eq","value":1}]}]}}`, "unknown field"},
		{`{"name":"x","request":{"steps":[{"event":"a"}],"color":"red"}}`, "unknown field"},
		{`{"name":"x","request":` + req + `,"extra":true}`, "unknown field"},
	}
	for _, c := range bad {
		if resp, b := send(t, srv, "POST", "/api/v1/saved/funnels", c.body, nil, auth...); resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, c.want) {
			t.Errorf("create %s = %d %s, want 400 naming %q", c.body, resp.StatusCode, b, c.want)
		}
	}
	if resp, _ := send(t, srv, "PUT", "/api/v1/saved/funnels/nope", `{"name":"x","request":`+req+`}`, nil, auth...); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("update of a missing funnel = %d, want 404", resp.StatusCode)
	}
	if resp, _ := send(t, srv, "DELETE", "/api/v1/saved/funnels/"+saved.ID, "", nil, auth...); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete = %d", resp.StatusCode)
	}
	if resp, _ := send(t, srv, "DELETE", "/api/v1/saved/funnels/"+saved.ID, "", nil, auth...); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("second delete = %d, want 404", resp.StatusCode)
	}
	get()
	if len(list.Funnels) != 0 {
		t.Fatalf("after delete: %+v", list)
	}
	if resp, _ := send(t, srv, "GET", "/api/v1/saved/funnels", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a token = %d", resp.StatusCode)
	}
}

func TestOverviewCatalogRejectedAPI(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 10, 10, 30, 15, 0, time.UTC)}
	lag := func() map[string]map[int32]int64 {
		return map[string]map[int32]int64{"actlog.events": {1: 5, 0: 2}}
	}
	srv := newDashboardServer(t, clk, nil, lag)
	auth := []string{"Authorization", "Bearer " + analysesToken}
	getJSON := func(path string, dst any) {
		t.Helper()
		resp, b := send(t, srv, "GET", path, "", nil, auth...)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, resp.StatusCode, b)
		}
		dec := json.NewDecoder(strings.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(dst); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, b)
		}
	}

	var ov struct {
		query.OverviewAnswer
		Kafka *kafkaLag `json:"kafka"`
	}
	getJSON("/api/v1/overview?"+fixtureRange, &ov)
	// 10 events of three members (a1 is m1), 3 rejected.
	if ov.Events != 10 || ov.Members != 3 || ov.Rejected != 3 {
		t.Fatalf("overview events %d members %d rejected %d, want 10, 3, 3", ov.Events, ov.Members, ov.Rejected)
	}
	// Today (Nov 10) the same three were active; Nov 11 is not today.
	if ov.ActiveMembersToday != 3 {
		t.Fatalf("active today = %d, want 3", ov.ActiveMembersToday)
	}
	// The last hour, 09:31 to 10:30, minute by minute: 10:00 one event,
	// 10:01 two, 10:05 one.
	if len(ov.PerMinute) != 60 || !ov.PerMinute[0].T.Equal(time.Date(2026, 11, 10, 9, 31, 0, 0, time.UTC)) {
		t.Fatalf("per minute: %d minutes from %v", len(ov.PerMinute), ov.PerMinute[0].T)
	}
	wantMin := map[string]int64{"10:00": 1, "10:01": 2, "10:05": 1}
	for _, m := range ov.PerMinute {
		if m.Events != wantMin[m.T.Format("15:04")] {
			t.Errorf("minute %s: %d events, want %d", m.T.Format("15:04"), m.Events, wantMin[m.T.Format("15:04")])
		}
	}
	if len(ov.TopEvents) != 4 || *ov.TopEvents[0].Value != "page_view" || ov.TopEvents[0].Count != 6 {
		t.Fatalf("top events %s", mustJSON(t, ov.TopEvents))
	}
	if *ov.TopPages[0].Value != "/event/summer" || ov.TopPages[0].Count != 4 || len(ov.TopPages) != 3 {
		t.Fatalf("top pages %s", mustJSON(t, ov.TopPages))
	}
	var minutes struct {
		PerMinute []query.Minute `json:"per_minute"`
	}
	getJSON("/api/v1/overview/minutes", &minutes)
	if fmt.Sprint(minutes.PerMinute) != fmt.Sprint(ov.PerMinute) {
		t.Fatalf("overview/minutes %v, want the overview's %v", minutes.PerMinute, ov.PerMinute)
	}
	if ov.Kafka == nil || ov.Kafka.Lag != 7 || len(ov.Kafka.Partitions) != 2 || ov.Kafka.Partitions[0].Partition != 0 {
		t.Fatalf("kafka %s", mustJSON(t, ov.Kafka))
	}

	var cat query.CatalogAnswer
	getJSON("/api/v1/catalog?"+fixtureRange, &cat)
	if len(cat.Events) != 4 || *cat.Events[0].Value != "page_view" || len(cat.Fields) < 20 {
		t.Fatalf("catalog %s", mustJSON(t, cat))
	}

	var rj query.RejectedAnswer
	getJSON("/api/v1/rejected?"+fixtureRange, &rj)
	if rj.Total != 3 || len(rj.Reasons) != 2 {
		t.Fatalf("rejected %s", mustJSON(t, rj))
	}
	first := rj.Reasons[0]
	if first.Reason != "event name is required for track" || first.Source != "web" || first.Count != 2 || len(first.Samples) != 2 {
		t.Fatalf("first reason %s", mustJSON(t, first))
	}
	// Latest first, raw as received.
	if first.Samples[0].Raw != `{"type":"track","x":1}` || first.Samples[1].MessageID == nil || *first.Samples[1].MessageID != "r1" {
		t.Fatalf("samples %s", mustJSON(t, first.Samples))
	}
	getJSON("/api/v1/rejected?from=2026-11-11T00:00:00Z&to=2026-11-12T00:00:00Z", &rj)
	if rj.Total != 0 || len(rj.Reasons) != 0 {
		t.Fatalf("an empty range: %s", mustJSON(t, rj))
	}
	if resp, b := send(t, srv, "GET", "/api/v1/overview?from=yesterday", "", nil, auth...); resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, "RFC 3339") {
		t.Fatalf("bad range = %d %s", resp.StatusCode, b)
	}
}

// FuzzSavedFunnelBody: any body sent to save a funnel is refused with 400
// and a message, or accepted with a name and a request the funnel endpoint
// decodes — never a panic or a 5xx.
func FuzzSavedFunnelBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"Summer","request":{"steps":[{"event":"page_view","where":[{"field":"page_path","op":"eq","value":"/event/summer"}]},{"event":"payment_success"}],"window_seconds":3600}}`,
		`{"name":"x","request":{"steps":[{"event":"a","where":[{"field":"properties.plan","op":"in","value":["a","b"]}]}],"by":"session","breakdown":"banner"}}`,
		`{"name":"","request":{}}`,
		`{"name":"x","request":{"steps":[]}}`,
		`{"name":"x","request":null}`,
		`{"name":"x","request":"steps"}`,
		`{"name":"x","request":{"steps":[{"event":"a","where":[{"field":"seq","op":"gt","value":"one"}]}]}}`,
		`{"name":1}`,
		`[]`,
		``,
		`{"name":"\u0000","request":{"steps":[{"event":"\ud800"}]}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/saved/funnels", strings.NewReader(body))
		w := httptest.NewRecorder()
		name, raw, ok := decodeSavedFunnel(w, req)
		if !ok {
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"error"`) {
				t.Fatalf("refused %q with %d %s", body, w.Code, w.Body.String())
			}
			return
		}
		var fr query.FunnelRequest
		if name == "" || json.Unmarshal(raw, &fr) != nil || len(fr.Steps) == 0 {
			t.Fatalf("accepted %q as name %q request %s", body, name, raw)
		}
	})
}
