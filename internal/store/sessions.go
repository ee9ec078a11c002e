package store

import (
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/actlog/actlog/internal/event"
)

// derivedPrefix marks session ids that actlog derived itself.
const derivedPrefix = "d-"

type sessionState struct {
	id       string
	last     time.Time
	campaign string
}

// sessionizer derives a session id for events sent without one: a session
// of an actor (anonymous_id, else user_id) ends after timeout without
// events or when the UTM campaign changes (DESIGN §5).
//
// Changes of one transaction are staged and applied only when it commits.
// Not safe for concurrent use: it is owned by the store's writer goroutine.
type sessionizer struct {
	timeout time.Duration
	live    map[string]sessionState
	staged  map[string]sessionState
}

func newSessionizer(timeout time.Duration) *sessionizer {
	return &sessionizer{timeout: timeout, live: map[string]sessionState{}, staged: map[string]sessionState{}}
}

// assign derives e.SessionID, which must be empty.
func (s *sessionizer) assign(e *event.Event) {
	actor := e.AnonymousID
	if actor == "" {
		actor = e.UserID
	}
	st, ok := s.staged[actor]
	if !ok {
		st, ok = s.live[actor]
	}
	switch {
	case !ok,
		e.TS.Sub(st.last) > s.timeout,
		e.UTMCampaign != "" && e.UTMCampaign != st.campaign:
		st = sessionState{id: sessionID(actor, e.TS), campaign: e.UTMCampaign}
	}
	if e.TS.After(st.last) {
		st.last = e.TS
	}
	s.staged[actor] = st
	e.SessionID = st.id
}

func (s *sessionizer) commit() {
	for k, v := range s.staged {
		s.live[k] = v
	}
	clear(s.staged)
}

func (s *sessionizer) rollback() { clear(s.staged) }

// prune forgets actors idle for longer than the timeout.
func (s *sessionizer) prune(now time.Time) {
	for k, v := range s.live {
		if now.Sub(v.last) > s.timeout {
			delete(s.live, k)
		}
	}
}

func sessionID(actor string, start time.Time) string {
	d := xxhash.New()
	_, _ = d.WriteString(actor)
	_, _ = d.WriteString(strconv.FormatInt(start.UnixNano(), 10))
	return derivedPrefix + strconv.FormatUint(d.Sum64(), 36)
}
