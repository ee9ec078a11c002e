package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// sessionCookie names the dashboard's sign-in cookie.
const sessionCookie = "actlog_session"

// csrfHeader must come with every cookie-authenticated request that is not
// a GET: a page of another site can send the cookie-less forms and simple
// requests that SameSite=Strict already stops, never a custom header.
const csrfHeader = "X-Actlog"

// sessions are the dashboard's signed-in browsers: random ids that expire.
// They live in memory, so a restart signs everyone out.
type sessions struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	ids map[string]time.Time // id → expiry
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, ids: map[string]time.Time{}}
}

// open starts a session and answers its id.
func (s *sessions) open() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, exp := range s.ids { // forget expired sessions as new ones come
		if !now.Before(exp) {
			delete(s.ids, k)
		}
	}
	s.ids[id] = now.Add(s.ttl)
	return id
}

// valid reports whether id is a live session.
func (s *sessions) valid(id string) bool {
	if id == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.ids[id]
	return ok && s.now().Before(exp)
}

func (s *sessions) close(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, id)
}

// authorized reports whether r carries the admin token, or the cookie of a
// live session (with the CSRF header unless it only reads).
func (a *API) authorized(r *http.Request) bool {
	want := []byte("Bearer " + a.opts.AdminToken)
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) == 1 {
		return true
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || !a.sessions.valid(c.Value) {
		return false
	}
	return r.Method == http.MethodGet || r.Method == http.MethodHead || r.Header.Get(csrfHeader) != ""
}

func (a *API) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="actlog"`)
			writeError(w, http.StatusUnauthorized, "admin token required: Authorization: Bearer <token>, or sign in")
			return
		}
		next(w, r)
	}
}

// registerSessions serves sign-in (POST, the admin token in the body),
// whether signed in (GET, always 200) and sign-out (DELETE) at
// /api/v1/session.
func (a *API) registerSessions(mux router) {
	mux.HandleFunc("POST /api/v1/session", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token string `json:"token"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, `body must be {"token": "<admin token>"}`)
			return
		}
		if subtle.ConstantTimeCompare([]byte(req.Token), []byte(a.opts.AdminToken)) != 1 {
			writeError(w, http.StatusUnauthorized, "wrong admin token")
			return
		}
		http.SetCookie(w, a.cookie(r, a.sessions.open(), int(a.sessions.ttl.Seconds())))
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /api/v1/session", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"signed_in": a.authorized(r)})
	})
	mux.HandleFunc("DELETE /api/v1/session", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil {
			a.sessions.close(c.Value)
		}
		http.SetCookie(w, a.cookie(r, "", -1))
		w.WriteHeader(http.StatusNoContent)
	})
}

func (a *API) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	}
}
