package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/store"
)

func TestTrackerHandler(t *testing.T) {
	srv := httptest.NewServer(TrackerHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/actlog.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, trackerJS) || len(body) == 0 || etag == "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("status %d, %d bytes, etag %q, type %q", resp.StatusCode, len(body), etag, resp.Header.Get("Content-Type"))
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/actlog.js", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation answered %d, want 304", resp.StatusCode)
	}
}

func TestDemoEvents(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	mk := func(id, anon string, seq int64) event.Event {
		return event.Event{EventID: id, Source: "demo", Type: event.Track, Event: "banner_click", AnonymousID: anon,
			Banner: "summer", TS: now.Add(time.Duration(seq) * time.Second), ReceivedAt: now, Seq: seq, HasSeq: true,
			Properties: []byte(`{}`), Context: []byte(`{}`)}
	}
	if err := st.Write(context.Background(), &event.Batch{Events: []event.Event{mk("1", "me", 1), mk("2", "me", 2), mk("3", "someone-else", 1)}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(DemoHandler("wk_demo", "/actlog.js", st))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/demo")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(page, []byte(`data-write-key="wk_demo"`)) || !bytes.Contains(page, []byte(`src="/actlog.js"`)) {
		t.Fatalf("demo page lacks the tracker tag")
	}
	resp, err = http.Get(srv.URL + "/demo/events?anonymous_id=me")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Events) != 2 || out.Events[0]["seq"] != float64(2) || out.Events[0]["banner"] != "summer" {
		t.Fatalf("events %v", out.Events)
	}
	if resp, err := http.Get(srv.URL + "/demo/events"); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("missing anonymous_id: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
