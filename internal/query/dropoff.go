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
	from, to := b.arg(sp.from), b.arg(sp.to)
	inRange := "e.ts >= " + from + " AND e.ts < " + to + " AND e.session_id IS NOT NULL"
	// Each part reads only the events it needs: the page's, the
	// conversion's, then the events of the sessions that dropped, whose last
	// one an aggregate finds (a window over them all cost more than the rest
	// of the query and grew faster than the data).
	q := `WITH reach AS (
	SELECT e.session_id AS sid, min(` + orderKey + `) AS k0, arg_min(epoch_us(e.ts), ` + orderKey + `) AS t0
	FROM events e WHERE ` + inRange + ` AND e.event = ` + b.arg(r.Page.Event) + ` AND ` + pw + `
	GROUP BY 1),
conv AS (SELECT DISTINCT r.sid FROM reach r JOIN (
		SELECT e.session_id AS sid, ` + orderKey + ` AS k, epoch_us(e.ts) AS t
		FROM events e WHERE ` + inRange + ` AND e.event = ` + b.arg(r.Conversion.Event) + ` AND ` + cw + `) c
	ON c.sid = r.sid AND c.k > r.k0 AND c.t - r.t0 <= ` + b.arg(window) + `),
dropped AS (SELECT sid FROM reach ANTI JOIN conv USING (sid)),
last AS (SELECT arg_max(row(e.event, e.page_path), row(` + orderKey + `, e.event, e.page_path IS NOT NULL, coalesce(e.page_path, ''))) AS l
	FROM events e SEMI JOIN dropped d ON d.sid = e.session_id
	WHERE ` + inRange + ` AND e.event IS DISTINCT FROM 'page_leave'
	GROUP BY e.session_id)
SELECT 0 AS part, NULL, NULL, (SELECT count(*) FROM reach), (SELECT count(*) FROM conv)
UNION ALL
SELECT * FROM (SELECT 1, l[1] AS event, l[2] AS page_path, count(*) AS n, 0 FROM last GROUP BY ALL ORDER BY n DESC, event, page_path NULLS LAST LIMIT ` + b.arg(limit) + `)
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
