package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/actlog/actlog/internal/query"
	"github.com/actlog/actlog/internal/store"
)

// SavedReports keeps the dashboard's saved reports.
type SavedReports interface {
	ListSaved(ctx context.Context, kind string) ([]store.Saved, error)
	CreateSaved(ctx context.Context, kind, name string, request json.RawMessage) (store.Saved, error)
	UpdateSaved(ctx context.Context, kind, id, name string, request json.RawMessage) (store.Saved, error)
	DeleteSaved(ctx context.Context, kind, id string) error
}

var _ SavedReports = (*store.Store)(nil)

// registerSaved serves the saved funnels at /api/v1/saved/funnels.
func (a *API) registerSaved(mux router) {
	const kind = "funnel"
	s := a.opts.Saved
	mux.HandleFunc("GET /api/v1/saved/funnels", a.auth(func(w http.ResponseWriter, r *http.Request) {
		list, err := s.ListSaved(r.Context(), kind)
		if err != nil {
			a.savedFailed(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"funnels": list})
	}))
	mux.HandleFunc("POST /api/v1/saved/funnels", a.auth(func(w http.ResponseWriter, r *http.Request) {
		name, req, ok := decodeSavedFunnel(w, r)
		if !ok {
			return
		}
		v, err := s.CreateSaved(r.Context(), kind, name, req)
		if err != nil {
			a.savedFailed(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, v)
	}))
	mux.HandleFunc("PUT /api/v1/saved/funnels/{id}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		name, req, ok := decodeSavedFunnel(w, r)
		if !ok {
			return
		}
		v, err := s.UpdateSaved(r.Context(), kind, r.PathValue("id"), name, req)
		if err != nil {
			a.savedFailed(w, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}))
	mux.HandleFunc("DELETE /api/v1/saved/funnels/{id}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		if err := s.DeleteSaved(r.Context(), kind, r.PathValue("id")); err != nil {
			a.savedFailed(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
}

// decodeSavedFunnel reads {"name", "request"}: a name of 1 to 200
// characters and a funnel request as the funnel endpoint takes it, with at
// least one step. It answers 400 itself when they are not.
func decodeSavedFunnel(w http.ResponseWriter, r *http.Request) (string, json.RawMessage, bool) {
	var body struct {
		Name    string          `json:"name"`
		Request json.RawMessage `json:"request"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, `body must be {"name": "…", "request": {…funnel…}}: `+err.Error())
		return "", nil, false
	}
	name := strings.TrimSpace(body.Name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		writeError(w, http.StatusBadRequest, "name: want 1 to 200 characters")
		return "", nil, false
	}
	var f query.FunnelRequest
	fd := json.NewDecoder(bytes.NewReader(body.Request))
	fd.DisallowUnknownFields()
	if err := fd.Decode(&f); err != nil {
		writeError(w, http.StatusBadRequest, "request: "+err.Error())
		return "", nil, false
	}
	if len(f.Steps) == 0 || len(f.Steps) > query.MaxFunnelSteps {
		writeError(w, http.StatusBadRequest, "request.steps: want 1 to 20 steps")
		return "", nil, false
	}
	for _, s := range f.Steps {
		if s.Event == "" {
			writeError(w, http.StatusBadRequest, "request.steps: every step needs an event")
			return "", nil, false
		}
		if err := query.CheckFilters(s.Where); err != nil {
			writeError(w, http.StatusBadRequest, "request.steps: "+err.Error())
			return "", nil, false
		}
	}
	return name, body.Request, true
}

func (a *API) savedFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such saved funnel")
		return
	}
	a.log.Error("saved reports", "err", err)
	writeError(w, http.StatusInternalServerError, "saved reports unavailable")
}
