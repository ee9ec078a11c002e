package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is a saved report that does not exist.
var ErrNotFound = errors.New("not found")

// Saved is a report saved from the dashboard: a named analysis request.
type Saved struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Request   json.RawMessage `json:"request"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// Saved reports are few and small: they are written on pooled connections,
// beside the events writer, each in its own statement.

// ListSaved answers the saved reports of a kind (e.g. "funnel"), by name.
func (s *Store) ListSaved(ctx context.Context, kind string) ([]Saved, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, body::VARCHAR, created_at, updated_at FROM saved_reports
		WHERE kind = ? ORDER BY lower(name), created_at`, kind)
	if err != nil {
		return nil, fmt.Errorf("list saved: %w", err)
	}
	defer rows.Close()
	out := []Saved{}
	for rows.Next() {
		var v Saved
		var body string
		if err := rows.Scan(&v.ID, &v.Name, &body, &v.CreatedAt, &v.UpdatedAt); err != nil {
			return nil, fmt.Errorf("scan saved: %w", err)
		}
		v.Request = json.RawMessage(body)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list saved: %w", err)
	}
	return out, nil
}

// CreateSaved saves a report and answers it with its new id.
func (s *Store) CreateSaved(ctx context.Context, kind, name string, request json.RawMessage) (Saved, error) {
	var b [9]byte
	_, _ = rand.Read(b[:])
	now := time.Now().UTC()
	v := Saved{ID: hex.EncodeToString(b[:]), Name: name, Request: request, CreatedAt: now, UpdatedAt: now}
	_, err := s.db.ExecContext(ctx, `INSERT INTO saved_reports VALUES (?, ?, ?, ?::JSON, ?, ?)`,
		v.ID, kind, name, string(request), now, now)
	if err != nil {
		return Saved{}, fmt.Errorf("save report: %w", err)
	}
	return v, nil
}

// UpdateSaved renames a saved report and replaces its request.
func (s *Store) UpdateSaved(ctx context.Context, kind, id, name string, request json.RawMessage) (Saved, error) {
	now := time.Now().UTC()
	var v Saved
	var body string
	err := s.db.QueryRowContext(ctx, `UPDATE saved_reports SET name = ?, body = ?::JSON, updated_at = ?
		WHERE kind = ? AND id = ? RETURNING id, name, body::VARCHAR, created_at, updated_at`,
		name, string(request), now, kind, id).Scan(&v.ID, &v.Name, &body, &v.CreatedAt, &v.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Saved{}, ErrNotFound
	}
	if err != nil {
		return Saved{}, fmt.Errorf("update saved: %w", err)
	}
	v.Request = json.RawMessage(body)
	return v, nil
}

// DeleteSaved deletes a saved report.
func (s *Store) DeleteSaved(ctx context.Context, kind, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM saved_reports WHERE kind = ? AND id = ?`, kind, id)
	if err != nil {
		return fmt.Errorf("delete saved: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return nil
}
