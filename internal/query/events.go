package query

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// EventsRequest asks for stored events, newest first, a page at a time.
type EventsRequest struct {
	Range
	Where []Filter `json:"where"`
	Limit int      `json:"limit"` // events per page; default 100, at most 1,000
	// Cursor is the Next of the previous page.
	Cursor string `json:"cursor"`
}

// StoredEvent is one row of the events table.
type StoredEvent struct {
	EventID     string          `json:"event_id"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	Event       string          `json:"event,omitempty"`
	AnonymousID string          `json:"anonymous_id,omitempty"`
	UserID      string          `json:"user_id,omitempty"`
	SessionID   string          `json:"session_id,omitempty"`
	Seq         *int64          `json:"seq"`
	TS          time.Time       `json:"ts"`
	ReceivedAt  time.Time       `json:"received_at"`
	PageURL     string          `json:"page_url,omitempty"`
	PagePath    string          `json:"page_path,omitempty"`
	Referrer    string          `json:"referrer,omitempty"`
	ScreenName  string          `json:"screen_name,omitempty"`
	Section     string          `json:"section,omitempty"`
	Banner      string          `json:"banner,omitempty"`
	UTMSource   string          `json:"utm_source,omitempty"`
	UTMMedium   string          `json:"utm_medium,omitempty"`
	UTMCampaign string          `json:"utm_campaign,omitempty"`
	DeviceType  string          `json:"device_type,omitempty"`
	OS          string          `json:"os,omitempty"`
	Browser     string          `json:"browser,omitempty"`
	Properties  json.RawMessage `json:"properties"`
	Context     json.RawMessage `json:"context"`
}

// EventsAnswer is one page of events.
type EventsAnswer struct {
	Events []StoredEvent `json:"events"`
	Next   string        `json:"next,omitempty"` // absent on the last page
}

const eventCols = `event_id, source, type, event, anonymous_id, user_id, session_id, seq, ts, received_at,
	page_url, page_path, referrer, screen_name, section, banner, utm_source, utm_medium, utm_campaign,
	device_type, os, browser, properties::VARCHAR, context::VARCHAR`

func scanEvent(rows *sql.Rows) (StoredEvent, error) {
	var ev StoredEvent
	var s [16]sql.NullString
	var seq sql.NullInt64
	var props, ctx string
	dst := []any{&ev.EventID, &ev.Source, &ev.Type, &s[0], &s[1], &s[2], &s[3], &seq, &ev.TS, &ev.ReceivedAt,
		&s[4], &s[5], &s[6], &s[7], &s[8], &s[9], &s[10], &s[11], &s[12], &s[13], &s[14], &s[15], &props, &ctx}
	if err := rows.Scan(dst...); err != nil {
		return ev, err
	}
	ev.Event, ev.AnonymousID, ev.UserID, ev.SessionID = s[0].String, s[1].String, s[2].String, s[3].String
	ev.PageURL, ev.PagePath, ev.Referrer, ev.ScreenName = s[4].String, s[5].String, s[6].String, s[7].String
	ev.Section, ev.Banner, ev.UTMSource, ev.UTMMedium, ev.UTMCampaign = s[8].String, s[9].String, s[10].String, s[11].String, s[12].String
	ev.DeviceType, ev.OS, ev.Browser = s[13].String, s[14].String, s[15].String
	if seq.Valid {
		ev.Seq = &seq.Int64
	}
	ev.TS, ev.ReceivedAt = ev.TS.UTC(), ev.ReceivedAt.UTC()
	ev.Properties, ev.Context = json.RawMessage(props), json.RawMessage(ctx)
	return ev, nil
}

// cursor is the position after the last event of a page: (ts, event_id,
// source), the order of the explorer.
type cursor struct {
	TS     int64  `json:"t"`
	ID     string `json:"i"`
	Source string `json:"s"`
}

func (c cursor) String() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.ID == "" {
		return c, invalid("cursor: not one this API gave")
	}
	return c, nil
}

// Events answers the events in the range that pass the filters, newest
// first (ts, then event_id and source, descending).
func (e *Engine) Events(ctx context.Context, r EventsRequest) (*EventsAnswer, error) {
	sp, err := e.span(r.Range)
	if err != nil {
		return nil, err
	}
	limit := orDefault(r.Limit, 100)
	if limit > 1000 {
		return nil, invalid("limit: at most 1000")
	}
	var b builder
	w, err := b.where("e", "where", r.Where)
	if err != nil {
		return nil, err
	}
	conds := []string{"e.ts >= " + b.arg(sp.from), "e.ts < " + b.arg(sp.to), w}
	if r.Cursor != "" {
		c, err := parseCursor(r.Cursor)
		if err != nil {
			return nil, err
		}
		t := b.arg(time.UnixMicro(c.TS).UTC())
		id, src := b.arg(c.ID), b.arg(c.Source)
		conds = append(conds, "(e.ts < "+t+" OR (e.ts = "+t+" AND (e.event_id < "+id+" OR (e.event_id = "+id+" AND e.source < "+src+"))))")
	}
	q := `SELECT ` + eventCols + ` FROM events e WHERE ` + strings.Join(conds, " AND ") +
		` ORDER BY e.ts DESC, e.event_id DESC, e.source DESC LIMIT ` + b.arg(limit+1)
	ans := &EventsAnswer{Events: []StoredEvent{}}
	err = e.query(ctx, q, b.args, func(rows *sql.Rows) error {
		ev, err := scanEvent(rows)
		if err != nil {
			return err
		}
		ans.Events = append(ans.Events, ev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ans.Events) > limit {
		ans.Events = ans.Events[:limit]
		last := ans.Events[limit-1]
		ans.Next = cursor{TS: last.TS.UnixMicro(), ID: last.EventID, Source: last.Source}.String()
	}
	return ans, nil
}

// CheckFilters reports what is wrong with filters, as Events and Tail
// would.
func CheckFilters(where []Filter) error {
	var b builder
	_, err := b.where("e", "where", where)
	return err
}

// Tail calls fn with the events stored after Tail started that pass the
// filters, in the order they were stored, polling every interval until ctx
// ends or fn fails. It answers ctx's error, or fn's.
// started, if not nil, is called once the starting point is taken: every
// event stored after that call is delivered.
func (e *Engine) Tail(ctx context.Context, where []Filter, interval time.Duration, started func(), fn func([]StoredEvent) error) error {
	var b builder
	w, err := b.where("e", "where", where)
	if err != nil {
		return err
	}
	maxRow := func() (int64, error) {
		var n int64
		// commit_seq, the writer's commit number, rises with every commit
		// and, unlike rowids, survives deletions.
		err := e.query(ctx, `SELECT coalesce(max(commit_seq), 0) FROM events`, nil, func(rows *sql.Rows) error {
			return rows.Scan(&n)
		})
		return n, err
	}
	last, err := maxRow()
	if err != nil {
		return err
	}
	if started != nil {
		started()
	}
	lo, hi := b.arg(int64(0)), b.arg(int64(0))
	q := `SELECT ` + eventCols + ` FROM events e WHERE e.commit_seq > ` + lo + ` AND e.commit_seq <= ` + hi + ` AND ` + w + ` ORDER BY e.commit_seq, e.rowid`
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		top, err := maxRow()
		if err != nil {
			return err
		}
		if top <= last {
			continue
		}
		b.args[len(b.args)-2], b.args[len(b.args)-1] = last, top
		var page []StoredEvent
		err = e.query(ctx, q, b.args, func(rows *sql.Rows) error {
			ev, err := scanEvent(rows)
			page = append(page, ev)
			return err
		})
		if err != nil {
			return err
		}
		last = top
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
	}
}
