package query

import (
	"context"
	"database/sql"
)

// DropoffRequest asks where sessions that reached a page (or event) left
// without converting.
type DropoffRequest struct {
	Range
	Page       Step `json:"page"`       // e.g. page_view where page_path eq /payment
	Conversion Step `json:"conversion"` // e.g. payment_success
	// WindowSeconds after reaching the page that a conversion counts; default
	// the session timeout.
	WindowSeconds float64 `json:"window_seconds"`
	Limit         int     `json:"limit"` // rows at most; default 20
}

// DropoffRow is one last event before leaving and its share of the sessions
// that left.
type DropoffRow struct {
	Event    string  `json:"event"`
	PagePath *string `json:"page_path"`
	Sessions int64   `json:"sessions"`
	Share    float64 `json:"share"`
}

// DropoffAnswer is the answer to a DropoffRequest.
type DropoffAnswer struct {
	Reached   int64        `json:"reached"`   // sessions that reached the page
	Converted int64        `json:"converted"` // of them, converted within the window
	Dropped   int64        `json:"dropped"`   // of them, did not
	Rows      []DropoffRow `json:"rows"`
}

// Dropoff follows each session from its first event matching Page: it
// converted when an event matching Conversion follows (strictly, in (ts,
// seq)) within the window; otherwise its last event — the last of the
// session in the range, page_leave aside, as that is the leaving itself — is
// where it dropped off (of events with equal (ts, seq), the greatest name).
func (e *Engine) Dropoff(ctx context.Context, r DropoffRequest) (*DropoffAnswer, error) {
	sp, err := e.span(r.Range)
	if err != nil {
		return nil, err
	}
	if r.Page.Event == "" || r.Conversion.Event == "" {
		return nil, invalid("page.event and conversion.event are required")
	}
	window, err := windowMicros(r.WindowSeconds, e.opts.SessionTimeout.Seconds())
	if err != nil {
		return nil, err
	}
	limit := orDefault(r.Limit, 20)
	var b builder
	pw, err := b.where("e", "page.where", r.Page.Where)
	if err != nil {
		return nil, err
	}
	cw, err := b.where("e", "conversion.where", r.Conversion.Where)
	if err != nil {
		return nil, err
	}
	q := `WITH ev AS (
	SELECT e.session_id AS sid, ` + orderKey + ` AS k, epoch_us(e.ts) AS t, e.event, e.page_path,
		(e.event = ` + b.arg(r.Page.Event) + ` AND ` + pw + `) AS mp,
		(e.event = ` + b.arg(r.Conversion.Event) + ` AND ` + cw + `) AS mc
	FROM events e
	WHERE e.ts >= ` + b.arg(sp.from) + ` AND e.ts < ` + b.arg(sp.to) + ` AND e.session_id IS NOT NULL),
reach AS (SELECT sid, min(k) AS k0, arg_min(t, k) AS t0 FROM ev WHERE mp GROUP BY sid),
conv AS (SELECT DISTINCT r.sid FROM reach r JOIN ev ON ev.sid = r.sid AND ev.mc AND ev.k > r.k0 AND ev.t - r.t0 <= ` + b.arg(window) + `),
dropped AS (SELECT r.sid FROM reach r WHERE NOT EXISTS (SELECT 1 FROM conv c WHERE c.sid = r.sid)),
last AS (SELECT ev.sid, ev.event, ev.page_path
	FROM ev JOIN dropped USING (sid) WHERE ev.event IS DISTINCT FROM 'page_leave'
	QUALIFY row_number() OVER (PARTITION BY ev.sid ORDER BY ev.k DESC, ev.event DESC, ev.page_path DESC NULLS LAST) = 1)
SELECT 0 AS part, NULL, NULL, (SELECT count(*) FROM reach), (SELECT count(*) FROM conv)
UNION ALL
SELECT * FROM (SELECT 1, event, page_path, count(*) AS n, 0 FROM last GROUP BY ALL ORDER BY n DESC, event, page_path NULLS LAST LIMIT ` + b.arg(limit) + `)
ORDER BY 1`
	ans := &DropoffAnswer{Rows: []DropoffRow{}}
	err = e.query(ctx, q, b.args, func(rows *sql.Rows) error {
		var part int
		var ev, path sql.NullString
		var n, m int64
		if err := rows.Scan(&part, &ev, &path, &n, &m); err != nil {
			return err
		}
		if part == 0 {
			ans.Reached, ans.Converted, ans.Dropped = n, m, n-m
			return nil
		}
		ans.Rows = append(ans.Rows, DropoffRow{Event: ev.String, PagePath: nullStr(path), Sessions: n, Share: ratio(n, ans.Dropped)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ans, nil
}
