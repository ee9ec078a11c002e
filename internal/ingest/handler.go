package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fastjson"
	"golang.org/x/time/rate"

	"github.com/actlog/actlog/internal/event"
)

// Sink makes a batch durable. Write returns nil only once every event and
// rejected event of b is durable (committed to the store, or acknowledged
// by all in-sync Kafka replicas). It must honour ctx's deadline.
type Sink interface {
	Write(ctx context.Context, b *event.Batch) error
}

// Plan holds events to the tracking plan. Check answers the rules an event
// of source breaks (nil when none or when the source is not checked) and
// whether they reject it; properties is the event's properties column.
// It is called concurrently.
type Plan interface {
	Check(source, event string, properties []byte) (violations []event.Violation, reject bool)
}

// Source is a named producer of events with its own write key.
type Source struct {
	Name           string
	WriteKey       string
	AllowedOrigins []string // empty or "*" allows every origin
	RateLimit      float64  // events per second; 0 means unlimited
	RateBurst      int      // events; default 2 s worth of RateLimit
}

// Options configure the ingest handler. Zero values take the defaults.
type Options struct {
	Sources         []Source
	MaxRequestBytes int64         // body, after decompression; default 512 KiB
	MaxBatchEvents  int           // default 2500
	CommitTimeout   time.Duration // how long a request waits for durability; default 2 s
	// MaxInFlight bounds the requests decoded and waiting for the sink at
	// once (default 1024): beyond it a request is answered 503 as soon as
	// its body is read, so that a burst cannot grow memory without bound.
	MaxInFlight    int
	RetryAfter     time.Duration // advertised on 429/503; default 1 s
	TrustedProxies []netip.Prefix
	Enrich         EnrichOptions
	Plan           Plan // nil: no tracking plan
}

func (o *Options) setDefaults() {
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = 512 << 10
	}
	if o.MaxBatchEvents <= 0 {
		o.MaxBatchEvents = 2500
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = 2 * time.Second
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 1024
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	o.Enrich.setDefaults()
}

type source struct {
	Source
	anyOrigin bool
	origins   map[string]bool
	limiter   *rate.Limiter
}

func (s *source) allows(origin string) bool {
	return s.anyOrigin || s.origins[origin]
}

// Handler serves the Segment-compatible tracking API.
type Handler struct {
	sink       Sink
	log        *slog.Logger
	opts       Options
	byKey      map[string]*source
	anyOrigin  bool
	origins    map[string]bool
	uaCache    *uaCache
	states     sync.Pool
	gzipReader sync.Pool
	metrics    *metrics
	inFlight   atomic.Int64
}

// New returns the ingest handler. log and reg may be nil.
func New(sink Sink, log *slog.Logger, reg prometheus.Registerer, opts Options) (*Handler, error) {
	opts.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		sink:    sink,
		log:     log,
		opts:    opts,
		byKey:   make(map[string]*source, len(opts.Sources)),
		origins: map[string]bool{},
		uaCache: newUACache(4096),
		metrics: newMetrics(reg),
	}
	for _, s := range opts.Sources {
		if s.Name == "" || s.WriteKey == "" {
			return nil, errors.New("source needs a name and a write key")
		}
		if _, dup := h.byKey[s.WriteKey]; dup {
			return nil, errors.New("two sources share a write key")
		}
		src := &source{Source: s, origins: map[string]bool{}, anyOrigin: len(s.AllowedOrigins) == 0}
		for _, o := range s.AllowedOrigins {
			if o == "*" {
				src.anyOrigin = true
				continue
			}
			o = strings.TrimRight(o, "/")
			src.origins[o] = true
			h.origins[o] = true
		}
		h.anyOrigin = h.anyOrigin || src.anyOrigin
		if s.RateLimit > 0 {
			burst := s.RateBurst
			if burst <= 0 {
				burst = int(math.Max(2*s.RateLimit, 1))
			}
			src.limiter = rate.NewLimiter(rate.Limit(s.RateLimit), burst)
		}
		h.byKey[s.WriteKey] = src
	}
	h.states.New = func() any {
		return &reqState{}
	}
	return h, nil
}

// Register adds the tracking routes to mux. Each pattern is logged at debug
// level, so that the routes a process serves can be listed.
func (h *Handler) Register(mux *http.ServeMux) {
	handle := func(pattern string, handler http.Handler) {
		mux.Handle(pattern, handler)
		h.log.Debug("route", "pattern", pattern)
	}
	handle("/v1/batch", h.route(""))
	// Segment's mobile libraries (analytics-swift, analytics-kotlin) post
	// batches to <apiHost>/b and read their settings from
	// <cdnHost>/projects/<writeKey>/settings.
	handle("/v1/b", h.route(""))
	handle("GET /v1/projects/{key}/settings", http.HandlerFunc(h.settings))
	handle("/v1/import", h.route(""))
	for _, t := range []event.Type{event.Track, event.Page, event.Screen, event.Identify, event.Group, event.Alias} {
		handle("/v1/"+string(t), h.route(t))
		// analytics.js and some SDKs use the one-letter paths.
		handle("/v1/"+string(t[0]), h.route(t))
	}
}

// settings answers the settings document Segment's mobile libraries fetch
// before they send: it names actlog (the host of this request) as the
// destination of the source whose write key is in the path.
func (h *Handler) settings(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if h.byKey[key] == nil {
		writeError(w, http.StatusNotFound, "unknown write key")
		return
	}
	body, err := json.Marshal(map[string]any{
		"integrations": map[string]any{
			"Segment.io": map[string]any{"apiKey": key, "apiHost": r.Host + "/v1"},
		},
		"plan":         map[string]any{"track": map[string]any{}, "identify": map[string]any{}, "group": map[string]any{}},
		"edgeFunction": map[string]any{},
	})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode settings")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write(body)
}

type reqState struct {
	body   bytes.Buffer
	parser fastjson.Parser
	meta   meta
}

func (h *Handler) route(t event.Type) http.Handler {
	name := "batch"
	if t != "" {
		name = string(t)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.metrics.inFlight.Inc()
		defer h.metrics.inFlight.Dec()
		code := h.serve(w, r, t)
		h.metrics.observe(name, code, time.Since(start))
	})
}

type apiError struct {
	code int
	msg  string
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, t event.Type) int {
	if r.Method == http.MethodOptions {
		return h.preflight(w, r)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		return writeError(w, http.StatusMethodNotAllowed, "use POST")
	}
	origin := r.Header.Get("Origin")
	if origin != "" && (h.anyOrigin || h.origins[origin]) {
		// Let the browser read even an error answer; the source's own list
		// is checked once the write key is known.
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Vary", "Origin")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "text/plain") {
			return writeError(w, http.StatusUnsupportedMediaType, "content type must be application/json or text/plain")
		}
	}
	key := headerWriteKey(r)
	var src *source
	if key != "" {
		if src = h.byKey[key]; src == nil {
			return writeError(w, http.StatusUnauthorized, "unknown write key")
		}
	}

	st := h.states.Get().(*reqState)
	defer h.states.Put(st)
	if err := h.readBody(r, &st.body); err != nil {
		if err.code == http.StatusRequestTimeout {
			w.Header().Set("Retry-After", retryAfter(h.opts.RetryAfter))
		}
		return writeError(w, err.code, err.msg)
	}
	// The bound on requests past this point: their decoded events wait
	// for the sink. Counted after the body is read, so that clients
	// trickling bodies (bounded by http.read_timeout) cannot take the
	// places of the others.
	if n := h.inFlight.Add(1); n > int64(h.opts.MaxInFlight) {
		h.inFlight.Add(-1)
		h.metrics.shed.Inc()
		w.Header().Set("Retry-After", retryAfter(h.opts.RetryAfter))
		return writeError(w, http.StatusServiceUnavailable, "too many requests in flight; retry")
	}
	defer h.inFlight.Add(-1)
	req, err := parseBody(&st.parser, st.body.Bytes(), t, h.opts.MaxBatchEvents)
	if err != nil {
		return writeError(w, http.StatusBadRequest, err.Error())
	}
	if src == nil {
		if req.WriteKey == "" {
			return writeError(w, http.StatusUnauthorized, "write key required: HTTP Basic username, X-Write-Key or writeKey")
		}
		if src = h.byKey[req.WriteKey]; src == nil {
			return writeError(w, http.StatusUnauthorized, "unknown write key")
		}
	}
	if origin != "" && !src.allows(origin) {
		return writeError(w, http.StatusForbidden, "origin not allowed for this source")
	}
	if src.limiter != nil && len(req.Messages) > 0 {
		now := time.Now()
		res := src.limiter.ReserveN(now, len(req.Messages))
		if !res.OK() {
			return writeError(w, http.StatusRequestEntityTooLarge, "batch larger than the source's rate burst")
		}
		if d := res.DelayFrom(now); d > 0 {
			res.CancelAt(now)
			h.metrics.limited.WithLabelValues(src.Name).Inc()
			w.Header().Set("Retry-After", retryAfter(d))
			return writeError(w, http.StatusTooManyRequests, "rate limit exceeded for this source")
		}
	}

	md := &st.meta
	md.source = src.Name
	md.receivedAt = time.Now().UTC()
	md.begin(&req)
	md.ip = h.clientIP(r)
	md.userAgent = r.Header.Get("User-Agent")
	md.routeType = t
	md.uaCache = h.uaCache
	md.opts = &h.opts.Enrich
	md.plan = h.opts.Plan

	batch := md.batch(req.Messages, h.opts.Enrich.MaxEventBytes, func(err error) {
		h.log.Error("build event", "source", src.Name, "err", err)
	})

	ctx, cancel := context.WithTimeout(r.Context(), h.opts.CommitTimeout)
	defer cancel()
	if len(batch.Events)+len(batch.Rejected) > 0 {
		if err := h.sink.Write(ctx, batch); err != nil {
			h.metrics.sinkErrors.Inc()
			if r.Context().Err() == nil {
				h.log.WarnContext(r.Context(), "sink write failed", "source", src.Name, "events", len(batch.Events), "err", err)
			}
			w.Header().Set("Retry-After", retryAfter(h.opts.RetryAfter))
			return writeError(w, http.StatusServiceUnavailable, "events could not be made durable in time; retry")
		}
	}
	h.metrics.events.WithLabelValues(src.Name, "accepted").Add(float64(len(batch.Events)))
	if len(batch.Rejected) > 0 {
		h.metrics.events.WithLabelValues(src.Name, "rejected").Add(float64(len(batch.Rejected)))
		for _, x := range batch.Rejected {
			h.metrics.rejected.WithLabelValues(src.Name, reasonClass(x.Reason)).Inc()
		}
	}
	return writeAccepted(w, batch)
}

func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) int {
	origin := r.Header.Get("Origin")
	w.Header().Set("Vary", "Origin")
	if origin == "" || !(h.anyOrigin || h.origins[origin]) {
		return writeError(w, http.StatusForbidden, "origin not allowed")
	}
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", origin)
	hd.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	hd.Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, Authorization, X-Write-Key")
	hd.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent
}

// readBody reads the (possibly gzip-compressed) body into buf, enforcing
// the request size limit on both the wire and the decompressed bytes.
func (h *Handler) readBody(r *http.Request, buf *bytes.Buffer) *apiError {
	buf.Reset()
	max := h.opts.MaxRequestBytes
	tooLarge := func() *apiError {
		return &apiError{http.StatusRequestEntityTooLarge, "request body larger than " + strconv.FormatInt(max, 10) + " bytes"}
	}
	if r.ContentLength > max {
		return tooLarge()
	}
	wire := &io.LimitedReader{R: r.Body, N: max + 1}
	var body io.Reader = wire
	enc := strings.ToLower(r.Header.Get("Content-Encoding"))
	switch enc {
	case "", "identity":
		enc = ""
	case "gzip":
		zr, _ := h.gzipReader.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(body)
		} else {
			err = zr.Reset(body)
		}
		if err != nil {
			if wire.N <= 0 {
				return tooLarge()
			}
			return &apiError{http.StatusBadRequest, "invalid gzip body"}
		}
		defer h.gzipReader.Put(zr)
		body = zr
	default:
		return &apiError{http.StatusUnsupportedMediaType, "content encoding must be gzip or none"}
	}
	n, err := buf.ReadFrom(io.LimitReader(body, max+1))
	h.metrics.bytes.Add(float64(max + 1 - wire.N))
	if n > max || wire.N <= 0 {
		// Decompressed or compressed, the body is over the limit (a
		// compressed body cut at the limit fails as truncated gzip).
		return tooLarge()
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// http.read_timeout cut a slow body: the client may retry.
			return &apiError{http.StatusRequestTimeout, "body not received in time; retry"}
		}
		if enc == "gzip" {
			return &apiError{http.StatusBadRequest, "invalid or truncated gzip body"}
		}
		return &apiError{http.StatusBadRequest, "cannot read body"}
	}
	if buf.Cap() > 4*int(max) {
		// Do not keep oversized buffers in the pool.
		*buf = bytes.Buffer{}
	}
	return nil
}

// headerWriteKey finds the write key in HTTP Basic auth or X-Write-Key.
func headerWriteKey(r *http.Request) string {
	if k := r.Header.Get("X-Write-Key"); k != "" {
		return k
	}
	auth := r.Header.Get("Authorization")
	const prefix = "Basic "
	if len(auth) > len(prefix) && strings.EqualFold(auth[:len(prefix)], prefix) {
		dec, err := base64.StdEncoding.DecodeString(auth[len(prefix):])
		if err != nil {
			return ""
		}
		user, _, _ := strings.Cut(string(dec), ":")
		return user
	}
	return ""
}

// clientIP is the connection's peer address, or the nearest untrusted hop of
// X-Forwarded-For when the peer is a trusted proxy.
func (h *Handler) clientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !h.trusted(peer) {
		return peer
	}
	// Proxies may add their hop as a header line of its own: all lines
	// together are the list, and only its trusted tail can be believed.
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer
		}
		a = a.Unmap()
		if !h.trusted(a) {
			return a
		}
		peer = a
	}
	return peer
}

func (h *Handler) trusted(a netip.Addr) bool {
	for _, p := range h.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// rejectedOf is the rejected-table row of message v. Its raw JSON is
// re-encoded by w (sanitised, never failing) and cut to max bytes.
func rejectedOf(w *jsonWriter, src string, at time.Time, i int, v *fastjson.Value, err error, max int) event.Rejected {
	w.reset(false, max)
	if o, err := v.Object(); err == nil {
		// A write key sent in the body is a credential: never keep it.
		w.buf = append(w.buf, '{')
		w.members(o, func(k []byte) bool { return string(k) == "writeKey" }, false)
		w.buf = append(w.buf, '}')
	} else {
		w.value(v)
	}
	raw := bytes.Clone(truncateText(w.buf, max))
	rj := event.Rejected{ReceivedAt: at, Source: src, Index: i, Reason: err.Error(), Raw: raw}
	if v.Type() == fastjson.TypeObject {
		rj.MessageID = string(truncateText([]byte(idString(v.Get("messageId"))), event.DefaultMaxID))
	}
	return rj
}

// truncateText cuts b to at most max bytes without splitting a UTF-8
// sequence.
func truncateText(b []byte, max int) []byte {
	if len(b) <= max {
		return b
	}
	b = b[:max]
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				b = b[:i]
			}
			break
		}
	}
	return b
}

func retryAfter(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

func writeError(w http.ResponseWriter, code int, msg string) int {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
	return code
}

type rejection struct {
	Index     int    `json:"index"`
	MessageID string `json:"messageId,omitempty"`
	Error     string `json:"error"`
}

func writeAccepted(w http.ResponseWriter, b *event.Batch) int {
	w.Header().Set("Content-Type", "application/json")
	if len(b.Rejected) == 0 {
		out := make([]byte, 0, 40)
		out = append(out, `{"accepted":`...)
		out = strconv.AppendInt(out, int64(len(b.Events)), 10)
		out = append(out, ",\"rejected\":[]}\n"...)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
		return http.StatusOK
	}
	rj := make([]rejection, len(b.Rejected))
	for i, r := range b.Rejected {
		rj[i] = rejection{Index: r.Index, MessageID: r.MessageID, Error: r.Reason}
	}
	out, _ := json.Marshal(struct {
		Accepted int         `json:"accepted"`
		Rejected []rejection `json:"rejected"`
	}{len(b.Events), rj})
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(out, '\n'))
	return http.StatusOK
}
