package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequestIDs(t *testing.T) {
	var logs bytes.Buffer
	log := newLogger(&logs, LogConfig{Level: "info", Format: "json"})
	h := withRequestIDs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.WarnContext(r.Context(), "something happened")
	}))
	f := func(sent string, keep bool) {
		t.Helper()
		logs.Reset()
		req := httptest.NewRequest(http.MethodPost, "/v1/batch", nil)
		if sent != "" {
			req.Header.Set("X-Request-Id", sent)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		got := w.Header().Get("X-Request-Id")
		if keep && got != sent || !keep && (got == sent || len(got) != 16) {
			t.Errorf("sent %q, answered %q (keep %v)", sent, got, keep)
		}
		if !strings.Contains(logs.String(), `"request_id":"`+got+`"`) {
			t.Errorf("log line %s lacks request_id %q", logs.String(), got)
		}
	}
	f("trace-42.a_B", true)
	f("", false)
	f(strings.Repeat("x", 65), false)
	f("has space", false)
	f("<script>", false)
}
