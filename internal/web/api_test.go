package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newServer(t *testing.T, ready func() error) (*httptest.Server, *API) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Now().UTC()
	err = st.Write(context.Background(), &event.Batch{Events: []event.Event{{
		EventID: "e1", Source: "web", Type: event.Track, Event: "payment_success", AnonymousID: "a1",
		TS: now, ReceivedAt: now, Properties: []byte(`{"plan":"monthly"}`), Context: []byte(`{}`),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if ready == nil {
		ready = st.Ready
	}
	api, err := New(st, slog.New(slog.DiscardHandler), Options{AdminToken: "secret-token", MaxRows: 100, Ready: ready})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, api
}

func TestSQLAPI(t *testing.T) {
	srv, _ := newServer(t, nil)
	post := func(token, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/sql", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	tests := []struct {
		name, token, body string
		code              int
	}{
		{"no token", "", `{"sql":"SELECT 1"}`, http.StatusUnauthorized},
		{"wrong token", "secret-tokem", `{"sql":"SELECT 1"}`, http.StatusUnauthorized},
		{"select", "secret-token", `{"sql":"SELECT event, properties->>'plan' AS plan FROM events"}`, http.StatusOK},
		{"delete refused", "secret-token", `{"sql":"DELETE FROM events"}`, http.StatusBadRequest},
		{"two statements refused", "secret-token", `{"sql":"SELECT 1; SELECT 2"}`, http.StatusBadRequest},
		{"bad column", "secret-token", `{"sql":"SELECT nope FROM events"}`, http.StatusBadRequest},
		{"not JSON", "secret-token", `SELECT 1`, http.StatusBadRequest},
		{"unknown field", "secret-token", `{"query":"SELECT 1"}`, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := post(tc.token, tc.body)
			if code != tc.code {
				t.Fatalf("status %d, want %d (%v)", code, tc.code, out)
			}
			if code != http.StatusOK {
				if msg, _ := out["error"].(string); msg == "" {
					t.Fatalf("error answer without a message: %v", out)
				}
			}
		})
	}
	code, out := post("secret-token", `{"sql":"SELECT event, properties->>'plan' AS plan FROM events"}`)
	rows, _ := out["rows"].([]any)
	if code != http.StatusOK || len(rows) != 1 {
		t.Fatalf("rows %v", out)
	}
	if r := rows[0].([]any); r[0] != "payment_success" || r[1] != "monthly" {
		t.Fatalf("row %v", r)
	}
	code, out = post("secret-token", `{"sql":"SELECT * FROM range(1000)","max_rows":5}`)
	if rows, _ := out["rows"].([]any); code != http.StatusOK || len(rows) != 5 || out["truncated"] != true {
		t.Fatalf("max_rows: %d %v", code, out["truncated"])
	}
}

func TestHealth(t *testing.T) {
	var failing atomic.Pointer[error]
	srv, api := newServer(t, func() error {
		if p := failing.Load(); p != nil {
			return *p
		}
		return nil
	})
	get := func(path string) int {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if get("/healthz") != http.StatusOK || get("/readyz") != http.StatusOK {
		t.Fatal("healthy server not ready")
	}
	diskFull := errors.New("disk full")
	failing.Store(&diskFull)
	if get("/readyz") != http.StatusServiceUnavailable {
		t.Fatal("readyz ignores a failing store")
	}
	failing.Store(nil)
	api.Drain()
	if get("/readyz") != http.StatusServiceUnavailable || get("/healthz") != http.StatusOK {
		t.Fatal("draining: readyz must fail, healthz must not")
	}
	if get("/debug/pprof/") != http.StatusUnauthorized {
		t.Fatal("profiles reachable without the admin token")
	}
}
