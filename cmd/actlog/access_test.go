package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/web"
)

// The access-control test lives here, not in internal/web, because it
// walks the routes of the running process: which route groups are mounted
// (analyses, saved reports, erasure, the dashboard, the tracker, metrics)
// is decided by serve.go's wiring, which an internal/web test would have to
// copy and could drift from. The routes are not listed by hand: web.API and
// ingest.Handler log each pattern they register at debug level, the test
// reads them from the child's log, and the few routes serve.go registers
// itself are found in its source (a new one fails the test until it is
// classified below).

const (
	acToken    = "test-admin-token"
	acWriteKey = "test-write-key"
	acAppKey   = "app-write-key"
	acOrigin   = "https://books.example.com" // allowed for source web
	acAppOrig  = "https://app.example.com"   // allowed for source app only
	acEvil     = "https://evil.example"
)

// TestAccessControl walks every route `actlog serve` serves and checks
// who may use it: the API and profiles only with the admin token or a
// dashboard sign-in (a write key, in any form, reads nothing), the
// dashboard pages serve only the static files built into the binary, the
// tracking API takes write keys and answers CORS only for a source's
// allowed origins.
func TestAccessControl(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	dir := t.TempDir()
	port := freePort(t)
	cfg := filepath.Join(dir, "actlog.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `listen: 127.0.0.1:%d
data_dir: %s
admin_token: %s
log:
  level: debug
  format: json
sources:
  - name: web
    write_key: %s
    allowed_origins: ["%s"]
  - name: app
    write_key: %s
    allowed_origins: ["%s"]
tracker:
  alt_path: /t.js
`, port, filepath.Join(dir, "data"), acToken, acWriteKey, acOrigin, acAppKey, acAppOrig), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, cfg, port)
	defer s.stop()
	c := &acClient{t: t, base: s.base, http: &http.Client{
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	defer c.http.CloseIdleConnections()

	routes := acLoggedRoutes(t, s.log.String())
	for _, must := range []string{"POST /api/v1/sql", "GET /api/v1/overview", "DELETE /api/v1/users/{id}", "GET /debug/pprof/", "/v1/batch", "GET /{$}"} {
		if !routes[must] {
			t.Fatalf("route %q was not logged: the route hooks of web or ingest are broken (logged: %v)", must, acSorted(routes))
		}
	}

	// Sign in twice: one session stays, the other signs out.
	cookie := c.signIn()
	gone := c.signIn()
	if code, _, _ := c.do("DELETE", "/api/v1/session", nil, "", "Cookie", gone); code != http.StatusNoContent {
		t.Fatalf("sign-out answered %d", code)
	}

	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(acWriteKey+":"))
	adminBasic := "Basic " + base64.StdEncoding.EncodeToString([]byte(acToken+":"+acToken))
	refusals := []struct {
		name    string
		headers []string // pairs
		query   string
		body    string // for requests with a body
	}{
		{name: "no credentials"},
		{name: "write key as Bearer", headers: []string{"Authorization", "Bearer " + acWriteKey}},
		{name: "write key as Basic", headers: []string{"Authorization", basic}},
		{name: "write key as X-Write-Key", headers: []string{"X-Write-Key", acWriteKey}},
		{name: "write key in the body", body: `{"writeKey":"` + acWriteKey + `"}`},
		{name: "wrong admin token", headers: []string{"Authorization", "Bearer test-admin-tokem"}},
		{name: "prefix of the admin token", headers: []string{"Authorization", "Bearer test-admin-toke"}},
		{name: "admin token and more", headers: []string{"Authorization", "Bearer " + acToken + "x"}},
		{name: "admin token without Bearer", headers: []string{"Authorization", acToken}},
		{name: "admin token as Basic", headers: []string{"Authorization", adminBasic}},
		{name: "admin token in X-Write-Key", headers: []string{"X-Write-Key", acToken}},
		{name: "admin token in the query", query: "token=" + acToken + "&access_token=" + acToken},
		{name: "forged session cookie", headers: []string{"Cookie", "actlog_session=" + strings.Repeat("ab", 32)}},
		{name: "signed-out session cookie", headers: []string{"Cookie", gone}},
	}

	classes := map[string][]string{}
	for _, pattern := range acSorted(routes) {
		method, path := acRequest(pattern)
		class := acClass(pattern)
		classes[class] = append(classes[class], pattern)
		t.Run(pattern, func(t *testing.T) {
			c.t = t
			switch class {
			case "api":
				methods := []string{method}
				if method == http.MethodGet {
					methods = append(methods, http.MethodHead)
				}
				for _, m := range methods {
					for _, r := range refusals {
						url := path
						if r.query != "" {
							url += map[bool]string{false: "?", true: "&"}[strings.Contains(url, "?")] + r.query
						}
						code, h, body := c.do(m, url, nil, r.body, r.headers...)
						if code != http.StatusUnauthorized {
							t.Fatalf("%s %s with %s: %d %.200s, want 401", m, url, r.name, code, body)
						}
						if m != http.MethodHead && !bytes.Contains(body, []byte("admin token required")) {
							t.Fatalf("%s %s with %s: body %.200s, want only the error", m, url, r.name, body)
						}
						if h.Get("WWW-Authenticate") == "" {
							t.Fatalf("%s %s with %s: no WWW-Authenticate", m, url, r.name)
						}
					}
				}
				if method != http.MethodGet {
					// A page of another site can make the browser send the
					// cookie, never a custom header: refused.
					code, _, body := c.do(method, path, nil, "{}", "Cookie", cookie)
					if code != http.StatusUnauthorized && code != http.StatusForbidden {
						t.Fatalf("%s %s with the sign-in cookie but no X-Actlog: %d %.200s, want 401 or 403", method, path, code, body)
					}
				}
				// The route exists and the right credentials pass.
				c.allowed(method, path, "Authorization", "Bearer "+acToken)
				c.allowed(method, path, "Cookie", cookie, "X-Actlog", "1")
				if method == http.MethodGet {
					c.allowed(method, path, "Cookie", cookie)
				}
				// No CORS on the API, whatever the origin.
				for _, o := range []string{acEvil, acOrigin} {
					_, h, _ := c.do(method, path, nil, "{}", "Authorization", "Bearer "+acToken, "Origin", o)
					_, ph, _ := c.do(http.MethodOptions, path, nil, "", "Origin", o, "Access-Control-Request-Method", method,
						"Access-Control-Request-Headers", "authorization")
					if v := h.Get("Access-Control-Allow-Origin") + ph.Get("Access-Control-Allow-Origin"); v != "" {
						t.Fatalf("%s %s from %s: Access-Control-Allow-Origin %q", method, path, o, v)
					}
				}
			case "session":
				c.sessionRoute(method, path)
			case "health":
				for _, r := range refusals[:4] {
					code, _, body := c.do(method, path, nil, "", r.headers...)
					if code != http.StatusOK || !regexp.MustCompile(`^\{"status":"(ok|ready)"\}\s*$`).Match(body) {
						t.Fatalf("%s %s: %d %.200s, want 200 and only a status", method, path, code, body)
					}
				}
			case "dashboard":
				c.staticPage(pattern, method, path)
			case "tracking":
				c.trackingRoute(method, path)
			default:
				t.Fatalf("route %q is in no class: decide who may use it and add it to TestAccessControl", pattern)
			}
		})
	}
	c.t = t
	for class, list := range classes {
		t.Logf("%-9s %d routes: %s", class, len(list), strings.Join(list, ", "))
	}

	// The routes serve.go registers itself (not through web or ingest).
	direct := acDirectRoutes(t)
	reviewed := map[string]string{
		`"GET /actlog.js"`: "/actlog.js", // the web tracker: public
		`"GET " + p`:       "/t.js",      // tracker.alt_path: public
		`"/demo"`:          "",           // --demo only: the demo page, public
		`"/demo/"`:         "",           // --demo only: /demo/events answers an anonymous id's events, public
		`"GET /metrics"`:   "/metrics",   // Prometheus: public, docs/api.md says not to expose it
	}
	for _, d := range direct {
		probe, ok := reviewed[d]
		if !ok {
			t.Errorf("serve.go registers %s itself: classify it in TestAccessControl", d)
			continue
		}
		if probe == "" {
			continue
		}
		for _, h := range [][]string{nil, {"Authorization", basic}} {
			code, hd, body := c.do(http.MethodGet, probe, nil, "", h...)
			if code != http.StatusOK {
				t.Errorf("GET %s: %d", probe, code)
			}
			if probe != "/metrics" && !strings.HasPrefix(hd.Get("Content-Type"), "text/javascript") {
				t.Errorf("GET %s: %s %.100s, want the tracker", probe, hd.Get("Content-Type"), body)
			}
		}
	}
	if len(direct) == 0 {
		t.Error("no mux.Handle call found in cmd/actlog: the source scan is broken")
	}
}

type acClient struct {
	t    *testing.T
	base string
	http *http.Client
}

// do sends a request and answers its status, headers and body; headers are
// name, value pairs. A text/event-stream answer is read only to its first
// line.
func (c *acClient) do(method, path string, _ []byte, body string, headers ...string) (int, http.Header, []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b []byte
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		line := make([]byte, 64)
		n, _ := resp.Body.Read(line)
		b = line[:n]
	} else {
		b, _ = io.ReadAll(resp.Body)
	}
	return resp.StatusCode, resp.Header, b
}

// allowed checks that a request with these credentials reaches the route's
// handler: not refused, not unknown to the mux.
func (c *acClient) allowed(method, path string, headers ...string) {
	c.t.Helper()
	body := ""
	if method != http.MethodGet && method != http.MethodDelete {
		body = "{}"
	}
	code, h, b := c.do(method, path, nil, body, headers...)
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		c.t.Fatalf("%s %s with %s: %d %.200s, want it let through", method, path, headers[0], code, b)
	}
	if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) && strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		c.t.Fatalf("%s %s: %d %s: the route is not served", method, path, code, b)
	}
}

// signIn answers the cookie of a new dashboard session.
func (c *acClient) signIn() string {
	c.t.Helper()
	for _, wrong := range []string{`{"token":"` + acWriteKey + `"}`, `{"token":"test-admin-tokem"}`, `{"token":""}`} {
		if code, h, b := c.do(http.MethodPost, "/api/v1/session", nil, wrong); code != http.StatusUnauthorized || h.Get("Set-Cookie") != "" {
			c.t.Fatalf("sign-in with %s: %d %s %s, want 401 and no cookie", wrong, code, h.Get("Set-Cookie"), b)
		}
	}
	code, h, b := c.do(http.MethodPost, "/api/v1/session", nil, `{"token":"`+acToken+`"}`)
	set := h.Get("Set-Cookie")
	if code != http.StatusNoContent || !strings.HasPrefix(set, "actlog_session=") {
		c.t.Fatalf("sign-in: %d %s %s", code, set, b)
	}
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(set, attr) {
			c.t.Fatalf("session cookie %q lacks %s", set, attr)
		}
	}
	cookie, _, _ := strings.Cut(set, ";")
	return cookie
}

// sessionRoute checks /api/v1/session, which must answer without
// credentials (it is how one signs in): it reveals nothing and grants
// nothing without the admin token.
func (c *acClient) sessionRoute(method, path string) {
	c.t.Helper()
	switch method {
	case http.MethodPost:
		// signIn checked the wrong tokens, a write key among them.
		for _, h := range [][]string{{"Authorization", "Bearer " + acWriteKey}, {"X-Write-Key", acWriteKey}} {
			code, hd, b := c.do(method, path, nil, `{"token":"`+acWriteKey+`"}`, h...)
			if code != http.StatusUnauthorized || hd.Get("Set-Cookie") != "" {
				c.t.Fatalf("sign-in with a write key: %d %s", code, b)
			}
		}
	case http.MethodGet:
		// docs/api.md says 401 when signed out; it answers 200 with
		// signed_in false. Either way it tells nothing else.
		for _, h := range [][]string{nil, {"Authorization", "Bearer " + acWriteKey}, {"X-Write-Key", acWriteKey}} {
			code, _, b := c.do(method, path, nil, "", h...)
			if !(code == http.StatusUnauthorized || code == http.StatusOK && bytes.Equal(bytes.TrimSpace(b), []byte(`{"signed_in":false}`))) {
				c.t.Fatalf("GET %s with %v: %d %s, want not signed in", path, h, code, b)
			}
		}
	case http.MethodDelete:
		// Signing out needs no credentials and ends only the caller's own
		// session: checked by the signed-out cookie above.
		if code, _, _ := c.do(method, path, nil, "", "X-Write-Key", acWriteKey); code != http.StatusNoContent {
			c.t.Fatalf("DELETE %s: %d", path, code)
		}
	default:
		c.t.Fatalf("unexpected session route %s %s", method, path)
	}
}

// staticPage checks a dashboard route: without any credentials it serves
// only what is built into the binary (index.html for the pages, the file
// asked for under /ui/), so it cannot hold data.
func (c *acClient) staticPage(pattern, method, path string) {
	c.t.Helper()
	dash := web.DashboardFS()
	index, err := fs.ReadFile(dash, "index.html")
	if err != nil {
		index = nil
	}
	if strings.Contains(pattern, "{file...}") {
		var asset string
		_ = fs.WalkDir(dash, ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && asset == "" && p != "index.html" && !strings.HasPrefix(d.Name(), ".") {
				asset = p
			}
			return nil
		})
		if code, _, _ := c.do(method, "/ui/index.html", nil, ""); code != http.StatusNotFound {
			c.t.Fatalf("GET /ui/index.html: %d, want 404", code)
		}
		if asset == "" {
			return
		}
		want, _ := fs.ReadFile(dash, asset)
		code, _, b := c.do(method, "/ui/"+asset, nil, "")
		if code != http.StatusOK || !bytes.Equal(b, want) {
			c.t.Fatalf("GET /ui/%s: %d, %d bytes, want the embedded file", asset, code, len(b))
		}
		return
	}
	code, h, b := c.do(method, path, nil, "")
	switch {
	case index == nil && code == http.StatusNotFound && bytes.Contains(b, []byte("not built")):
	case index != nil && code == http.StatusOK && bytes.Equal(b, index):
		for _, hd := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
			if h.Get(hd) == "" {
				c.t.Fatalf("GET %s: no %s", path, hd)
			}
		}
	default:
		c.t.Fatalf("GET %s: %d %.200s, want the embedded index.html", path, code, b)
	}
	if h.Get("Set-Cookie") != "" || h.Get("Access-Control-Allow-Origin") != "" {
		c.t.Fatalf("GET %s sets a cookie or CORS headers", path)
	}
}

// trackingRoute checks a route of the tracking API: a write key reads
// nothing through it, and CORS answers only a source's allowed origins.
func (c *acClient) trackingRoute(method, path string) {
	c.t.Helper()
	if method == http.MethodGet {
		// The settings document of Segment's mobile libraries: it names
		// actlog and the key itself, nothing stored.
		code, _, b := c.do(method, strings.Replace(path, "/x/", "/"+acWriteKey+"/", 1), nil, "")
		var doc map[string]any
		if code != http.StatusOK || json.Unmarshal(b, &doc) != nil || len(doc) != 3 || doc["integrations"] == nil {
			c.t.Fatalf("GET %s: %d %.300s", path, code, b)
		}
		if code, _, _ := c.do(method, path, nil, ""); code != http.StatusNotFound {
			c.t.Fatalf("GET %s with an unknown key: %d, want 404", path, code)
		}
		return
	}
	// A write key cannot read: reads are not served.
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		code, h, _ := c.do(m, path, nil, "", "X-Write-Key", acWriteKey)
		if code != http.StatusMethodNotAllowed || h.Get("Allow") != "POST, OPTIONS" {
			c.t.Fatalf("%s %s with a write key: %d, want 405", m, path, code)
		}
	}
	event := `{"type":"track","event":"cors","anonymousId":"ac","messageId":"ac-%s-%s"}`
	if !strings.HasSuffix(path, "/track") && !strings.HasSuffix(path, "/t") {
		return // the origin rules are the same code for every route: checked on the track routes
	}
	slug := strings.ReplaceAll(path, "/", "")
	post := func(origin, key, id string) (int, http.Header, []byte) {
		c.t.Helper()
		return c.do(http.MethodPost, path, nil, fmt.Sprintf(event, slug, id), "Origin", origin, "X-Write-Key", key)
	}
	// The source's own origin: allowed and told so.
	if code, h, b := post(acOrigin, acWriteKey, "own"); code != http.StatusOK || h.Get("Access-Control-Allow-Origin") != acOrigin {
		c.t.Fatalf("POST %s from %s: %d %s, ACAO %q", path, acOrigin, code, b, h.Get("Access-Control-Allow-Origin"))
	}
	// Origins no source allows: refused, no CORS header (the browser cannot
	// even read the refusal).
	for _, o := range []string{acEvil, "null", acOrigin + ".evil.example", acOrigin + ":8443", "http://books.example.com", strings.ToUpper(acOrigin)} {
		code, h, b := post(o, acWriteKey, "evil")
		if code != http.StatusForbidden || h.Get("Access-Control-Allow-Origin") != "" {
			c.t.Fatalf("POST %s from %s: %d %s, ACAO %q: want 403 and none", path, o, code, b, h.Get("Access-Control-Allow-Origin"))
		}
		code, h, _ = c.do(http.MethodOptions, path, nil, "", "Origin", o, "Access-Control-Request-Method", "POST")
		if code != http.StatusForbidden || h.Get("Access-Control-Allow-Origin") != "" {
			c.t.Fatalf("preflight %s from %s: %d, ACAO %q: want 403 and none", path, o, code, h.Get("Access-Control-Allow-Origin"))
		}
	}
	// Another source's origin with this source's key: refused. The
	// answer carries Access-Control-Allow-Origin (documented: any source
	// allows the origin, so the browser may read the refusal).
	code, h, b := post(acAppOrig, acWriteKey, "other")
	if code != http.StatusForbidden || !bytes.Contains(b, []byte("origin not allowed for this source")) {
		c.t.Fatalf("POST %s from another source's origin: %d %s", path, code, b)
	}
	c.t.Logf("POST %s from another source's origin: 403, Access-Control-Allow-Origin %q", path, h.Get("Access-Control-Allow-Origin"))
	if code, h, _ := post(acAppOrig, acAppKey, "app"); code != http.StatusOK || h.Get("Access-Control-Allow-Origin") != acAppOrig {
		c.t.Fatalf("POST %s from the app's origin with its key: %d", path, code)
	}
	// Never credentials: the write key is not a cookie.
	if h.Get("Access-Control-Allow-Credentials") != "" {
		c.t.Fatalf("POST %s: Access-Control-Allow-Credentials set", path)
	}
}

// acLoggedRoutes reads the patterns web and ingest logged as they
// registered them.
func acLoggedRoutes(t *testing.T, log string) map[string]bool {
	t.Helper()
	routes := map[string]bool{}
	for _, line := range strings.Split(log, "\n") {
		var rec struct {
			Msg     string `json:"msg"`
			Pattern string `json:"pattern"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "route" && rec.Pattern != "" {
			if routes[rec.Pattern] {
				t.Fatalf("route %q logged twice: the log holds more than one start", rec.Pattern)
			}
			routes[rec.Pattern] = true
		}
	}
	return routes
}

// acRequest turns a pattern into a method and a concrete path: wildcards
// become "x". A pattern without a method is taken as POST.
func acRequest(pattern string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodPost, pattern
	}
	path = strings.ReplaceAll(path, "{$}", "")
	path = regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(path, "x")
	if strings.HasPrefix(path, "/debug/pprof/") && path != "/debug/pprof/" {
		path += "?seconds=1" // a profile runs 30 s by default
	}
	return method, path
}

// acClass says who may use a route.
func acClass(pattern string) string {
	_, path := acRequest(pattern)
	switch {
	case path == "/api/v1/session":
		return "session"
	case strings.HasPrefix(path, "/api/"), strings.HasPrefix(path, "/debug/"):
		return "api"
	case path == "/healthz", path == "/readyz":
		return "health"
	case strings.HasPrefix(path, "/v1/"):
		return "tracking"
	case strings.HasPrefix(pattern, "GET /"):
		return "dashboard"
	}
	return ""
}

// acDirectRoutes lists the first argument of every Handle and HandleFunc
// call in cmd/actlog's code, as written.
func acDirectRoutes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Handle" || sel.Sel.Name == "HandleFunc") {
				var b bytes.Buffer
				_ = printer.Fprint(&b, fset, call.Args[0])
				// A route pattern is a string (slog's Handle takes a
				// context).
				if strings.Contains(b.String(), `"`) {
					out = append(out, b.String())
				}
			}
			return true
		})
	}
	return out
}

func acSorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestAdminTokenConstantTime reads internal/web's source: the admin token
// (and anything computed from it) is compared only with
// crypto/subtle.ConstantTimeCompare, never with ==, bytes.Equal or a
// string function whose time depends on where the inputs first differ.
func TestAdminTokenConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("../../internal/web/*.go")
	if err != nil {
		t.Fatal(err)
	}
	constant := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			// Names holding the token or something made from it.
			tainted := map[string]bool{}
			mentions := func(n ast.Node) bool {
				found := false
				ast.Inspect(n, func(n ast.Node) bool {
					switch x := n.(type) {
					case *ast.CallExpr:
						// Its answer (1 or 0) is not the token.
						if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "ConstantTimeCompare" {
							return false
						}
					case *ast.SelectorExpr:
						if x.Sel.Name == "AdminToken" {
							found = true
						}
					case *ast.Ident:
						if tainted[x.Name] {
							found = true
						}
					}
					return !found
				})
				return found
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) {
					for i, rhs := range as.Rhs {
						if id, ok := as.Lhs[i].(*ast.Ident); ok && mentions(rhs) {
							tainted[id.Name] = true
						}
					}
				}
				return true
			})
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.BinaryExpr:
					if x.Op != token.EQL && x.Op != token.NEQ {
						return true
					}
					for _, side := range [2]ast.Expr{x.X, x.Y} {
						other := x.Y
						if side == x.Y {
							other = x.X
						}
						if lit, ok := other.(*ast.BasicLit); ok && lit.Value == `""` {
							continue // is it set at all: not secret-dependent
						}
						if mentions(side) {
							t.Errorf("%s: %s compares the admin token with %s", fset.Position(x.Pos()), fn.Name.Name, x.Op)
						}
					}
				case *ast.CallExpr:
					sel, ok := x.Fun.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					pkg, _ := sel.X.(*ast.Ident)
					name := ""
					if pkg != nil {
						name = pkg.Name + "." + sel.Sel.Name
					}
					args := false
					for _, a := range x.Args {
						args = args || mentions(a)
					}
					switch {
					case name == "subtle.ConstantTimeCompare" && args:
						constant++
					case args && (name == "bytes.Equal" || name == "bytes.Compare" || name == "strings.EqualFold" ||
						name == "strings.Compare" || name == "strings.HasPrefix" || name == "strings.Contains" || name == "reflect.DeepEqual"):
						t.Errorf("%s: %s compares the admin token with %s", fset.Position(x.Pos()), fn.Name.Name, name)
					}
				}
				return true
			})
		}
	}
	// The Bearer check and the sign-in.
	if constant < 2 {
		t.Errorf("%d comparisons of the admin token with subtle.ConstantTimeCompare, want at least 2 (Bearer, sign-in)", constant)
	}
}
