package ingest

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name    string
		proxies []netip.Prefix
		remote  string
		xff     []string // header lines
		want    string
	}{
		{"direct", nil, "203.0.113.5:4321", nil, "203.0.113.5"},
		{"forwarded header ignored without trusted proxies", nil, "203.0.113.5:4321", []string{"198.51.100.1"}, "203.0.113.5"},
		{"forwarded header ignored from an untrusted peer", trusted, "203.0.113.5:4321", []string{"198.51.100.1"}, "203.0.113.5"},
		{"trusted proxy", trusted, "10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"chain of trusted proxies", trusted, "10.1.2.3:80", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"spoofed hop left of the client", trusted, "10.1.2.3:80", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"spoofed header line before the proxy's", trusted, "10.1.2.3:80", []string{"1.1.1.1", "198.51.100.1"}, "198.51.100.1"},
		{"all hops trusted", trusted, "10.1.2.3:80", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		{"garbage hop", trusted, "10.1.2.3:80", []string{"garbage, 10.0.0.2"}, "10.0.0.2"},
		{"empty header", trusted, "10.1.2.3:80", []string{""}, "10.1.2.3"},
		{"no header", trusted, "10.1.2.3:80", nil, "10.1.2.3"},
		{"IPv6 peer and hop", trusted, "[fd00::1]:80", []string{"2001:db8::7"}, "2001:db8::7"},
		{"mapped IPv4 hop", trusted, "10.1.2.3:80", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"remote without port", nil, "203.0.113.5", nil, "203.0.113.5"},
		{"unparsable remote", nil, "pipe", nil, "invalid IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := New(nil, nil, nil, Options{TrustedProxies: tc.proxies})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/v1/batch", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := h.clientIP(r).String(); got != tc.want {
				t.Fatalf("clientIP = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestHeaderWriteKey(t *testing.T) {
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   string
	}{
		{"none", nil, ""},
		{"basic user", map[string]string{"Authorization": basic("wk_1:")}, "wk_1"},
		{"basic without colon", map[string]string{"Authorization": basic("wk_1")}, "wk_1"},
		{"basic lower case", map[string]string{"Authorization": "basic " + base64.StdEncoding.EncodeToString([]byte("wk_1:"))}, "wk_1"},
		{"basic malformed", map[string]string{"Authorization": "Basic !!!"}, ""},
		{"bearer", map[string]string{"Authorization": "Bearer wk_1"}, ""},
		{"header", map[string]string{"X-Write-Key": "wk_2"}, "wk_2"},
		{"header wins", map[string]string{"X-Write-Key": "wk_2", "Authorization": basic("wk_1:")}, "wk_2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/batch", nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			if got := headerWriteKey(r); got != tc.want {
				t.Fatalf("headerWriteKey = %q, want %q", got, tc.want)
			}
		})
	}
}
