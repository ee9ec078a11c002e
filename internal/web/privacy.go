package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Eraser erases members (PIPA/GDPR) and lists past erasures.
type Eraser interface {
	// EraseUser removes every event of member userID from the store and
	// the lake and answers what it removed (the audit record).
	EraseUser(ctx context.Context, userID, requestedBy string) (any, error)
	// Erasures lists the audit records, the latest first.
	Erasures(ctx context.Context) (any, error)
}

// PlanInfo describes the tracking plan in force, for the violations
// answer; nil when the process holds no plan.
type PlanInfo func() any

func (a *API) registerPrivacy(mux router) {
	mux.HandleFunc("DELETE /api/v1/users/{id}", a.auth(a.eraseUser))
	mux.HandleFunc("GET /api/v1/erasures", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.answer(w, r, func(ctx context.Context) (any, error) {
			list, err := a.opts.Eraser.Erasures(ctx)
			if err != nil {
				return nil, err
			}
			return map[string]any{"erasures": list}, nil
		})
	}))
}

// eraseUser runs an erasure to its end: it is not bounded by the query
// timeout, and a client that goes away does not stop it.
func (a *API) eraseUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || len(id) > 1024 || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		writeError(w, http.StatusBadRequest, "user id must be 1 to 1024 bytes of text without NUL")
		return
	}
	by := strings.TrimSpace(r.URL.Query().Get("requested_by"))
	if by == "" {
		by = "api"
	}
	if len(by) > 200 || !utf8.ValidString(by) {
		writeError(w, http.StatusBadRequest, "requested_by must be at most 200 bytes of text")
		return
	}
	ans, err := a.opts.Eraser.EraseUser(context.WithoutCancel(r.Context()), id, by)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		a.log.Error("erasure failed", "err", err)
		writeError(w, http.StatusInternalServerError, "erasure failed; it is safe to retry: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, ans)
}
