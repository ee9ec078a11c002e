package web

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"html/template"
	"net/http"
	"strconv"
	"time"
)

// trackerJS is tracker/dist/actlog.js, copied here by `make tracker`; a
// tracker test fails when the copy is not the current build.
//
//go:embed assets/actlog.js
var trackerJS []byte

// TrackerHandler serves the web tracker with an ETag, so browsers
// revalidate cheaply and pick up a new version within minutes.
func TrackerHandler() http.Handler {
	sum := sha256.Sum256(trackerJS)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("ETag", etag)
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(trackerJS)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(trackerJS)
	})
}

// Recent reads the latest events of one anonymous id, for the demo page.
type Recent interface {
	RecentEvents(ctx context.Context, anonymousID string, n int) ([]map[string]any, error)
}

// DemoHandler serves /demo, a page that loads the tracker with writeKey and
// shows its own events as they are stored, and /demo/events, which answers
// the latest events of the anonymous id it is given (unguessable random
// ids; only mounted when the demo is on).
func DemoHandler(writeKey, trackerPath string, recent Recent) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /demo", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = demoPage.Execute(w, struct{ WriteKey, Tracker string }{writeKey, trackerPath})
	})
	mux.HandleFunc("GET /demo/events", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("anonymous_id")
		if id == "" || len(id) > 200 {
			writeError(w, http.StatusBadRequest, "anonymous_id is required")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		evs, err := recent.RecentEvents(ctx, id, 20)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "events unavailable")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"events": evs})
	})
	return mux
}

var demoPage = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>actlog demo — Books</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#222}header,main{max-width:60rem;margin:auto;padding:1rem}
nav button,.banner button{margin:.25rem;padding:.5rem 1rem;cursor:pointer}
.banner{border:1px solid #ccd;border-radius:8px;padding:1rem;margin:.5rem 0;background:#f6f7fb}
table{border-collapse:collapse;width:100%;font-size:14px}td,th{border-bottom:1px solid #eee;padding:.25rem .5rem;text-align:left}
</style>
<script src="{{.Tracker}}" data-write-key="{{.WriteKey}}" data-flush-interval="1000" defer></script>
</head><body>
<header><h1>Books — an actlog demo</h1>
<p>Click around: every page view and click below is sent by <code>actlog.js</code> and appears in the table once it is stored.</p>
<nav>
<button onclick="history.pushState({},'', '/demo?page=feed')">Feed</button>
<button onclick="history.pushState({},'', '/demo?page=books')">Books</button>
<button onclick="history.pushState({},'', '/demo?page=payment')">Payment</button>
<a href="/demo?utm_source=newsletter&utm_medium=email&utm_campaign=summer_sale">open with a campaign link</a>
</nav></header>
<main>
<section data-track-section="feed">
<div class="banner" data-track-banner="summer_sale_2026"><b>Summer sale</b> — 50% off the first month
<button data-track-event="banner_click">See the offer</button></div>
<div class="banner" data-track-banner="new_releases"><b>New releases</b>
<button data-track-event="banner_click"><span>Browse</span></button></div>
</section>
<section data-track-section="payment">
<button data-track-event="subscribe_click" data-track-plan="monthly">Subscribe monthly</button>
<button onclick="actlog.track('payment_success',{plan:'monthly',amount:9900,currency:'KRW'})">Pay (payment_success)</button>
</section>
<h2>Your events</h2>
<table><thead><tr><th>time</th><th>event</th><th>page</th><th>section</th><th>banner</th><th>session</th><th>seq</th></tr></thead><tbody id="events"></tbody></table>
</main>
<script>
(function(){
  function anon(){try{return JSON.parse(localStorage.getItem('actlog_a'))}catch(e){return null}}
  function cell(v){var td=document.createElement('td');td.textContent=v==null?'':String(v);return td}
  function load(){
    var id=anon(); if(!id){return}
    fetch('/demo/events?anonymous_id='+encodeURIComponent(id)).then(function(r){return r.json()}).then(function(d){
      var tb=document.getElementById('events'); tb.textContent='';
      (d.events||[]).forEach(function(e){var tr=document.createElement('tr');
        [e.ts,e.event,e.page_path,e.section,e.banner,e.session_id,e.seq].forEach(function(v){tr.appendChild(cell(v))});tb.appendChild(tr)});
    }).catch(function(){});
  }
  setInterval(load,1000);
})();
</script>
</body></html>
`))
