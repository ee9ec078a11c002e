package query

import (
	"context"
	"database/sql"
	"sort"
	"strconv"
	"time"
)

// Minute is the events stored in one minute.
type Minute struct {
	T      time.Time `json:"t"`
	Events int64     `json:"events"`
}

// Count is how often a value occurs.
type Count struct {
	Value *string `json:"value"`
	Count int64   `json:"count"`
}

// OverviewAnswer is the morning summary of a range.
type OverviewAnswer struct {
	// PerMinute is the last 60 minutes before now, whatever the range,
	// oldest first, minutes without events included.
	PerMinute          []Minute `json:"per_minute"`
	ActiveMembersToday int64    `json:"active_members_today"` // since 00:00 UTC
	Events             int64    `json:"events"`
	Members            int64    `json:"members"`
	Rejected           int64    `json:"rejected"`
	TopEvents          []Count  `json:"top_events"`
	TopPages           []Count  `json:"top_pages"` // page_path of page_view
}

// Overview answers the range's events, members (resolved through identify),
// rejected events and most frequent events and pages, with the last hour
// minute by minute and the members active today.
func (e *Engine) Overview(ctx context.Context, r Range) (*OverviewAnswer, error) {
	sp, err := e.span(r)
	if err != nil {
		return nil, err
	}
	today := e.opts.Now().UTC().Truncate(24 * time.Hour)
	ans := &OverviewAnswer{TopEvents: []Count{}, TopPages: []Count{}}
	if ans.PerMinute, err = e.PerMinute(ctx); err != nil {
		return nil, err
	}
	// One pass over the range and today (UTC) together, members resolved
	// once for both.
	err = e.query(ctx, `WITH `+identities+`,
	m AS (SELECT e.ts, `+hashed(memberExpr)+` AS actor FROM events e LEFT JOIN ids ON ids.aid = e.anonymous_id
		WHERE (e.ts >= $1 AND e.ts < $2) OR (e.ts >= $3 AND e.ts < $4))
	SELECT count(*) FILTER (WHERE ts >= $1 AND ts < $2),
		count(DISTINCT actor) FILTER (WHERE ts >= $1 AND ts < $2),
		count(DISTINCT actor) FILTER (WHERE ts >= $3 AND ts < $4),
		(SELECT count(*) FROM rejected WHERE received_at >= $1 AND received_at < $2)
	FROM m`,
		[]any{sp.from, sp.to, today, today.Add(24 * time.Hour)}, func(rows *sql.Rows) error {
			return rows.Scan(&ans.Events, &ans.Members, &ans.ActiveMembersToday, &ans.Rejected)
		})
	if err != nil {
		return nil, err
	}
	top := func(q string, dst *[]Count) error {
		return e.query(ctx, q, []any{sp.from, sp.to}, func(rows *sql.Rows) error {
			var v sql.NullString
			var c Count
			if err := rows.Scan(&v, &c.Count); err != nil {
				return err
			}
			c.Value = nullStr(v)
			*dst = append(*dst, c)
			return nil
		})
	}
	if err := top(`SELECT event, count(*) AS n FROM events WHERE ts >= $1 AND ts < $2
		GROUP BY 1 ORDER BY n DESC, 1 LIMIT 10`, &ans.TopEvents); err != nil {
		return nil, err
	}
	if err := top(`SELECT page_path, count(*) AS n FROM events WHERE ts >= $1 AND ts < $2 AND event = 'page_view'
		GROUP BY 1 ORDER BY n DESC, 1 NULLS LAST LIMIT 10`, &ans.TopPages); err != nil {
		return nil, err
	}
	return ans, nil
}

// PerMinute answers the events of the last 60 minutes before now, minute
// by minute, oldest first, minutes without events included.
func (e *Engine) PerMinute(ctx context.Context) ([]Minute, error) {
	now := e.opts.Now().UTC().Truncate(time.Minute)
	hourAgo := now.Add(-59 * time.Minute)
	out := make([]Minute, 60)
	for i := range out {
		out[i].T = hourAgo.Add(time.Duration(i) * time.Minute)
	}
	err := e.query(ctx, `SELECT time_bucket(INTERVAL 1 MINUTE, ts) AS m, count(*) FROM events
		WHERE ts >= $1 AND ts < $2 GROUP BY 1`, []any{hourAgo, now.Add(time.Minute)}, func(rows *sql.Rows) error {
		var m time.Time
		var n int64
		if err := rows.Scan(&m, &n); err != nil {
			return err
		}
		if i := int(m.Sub(hourAgo) / time.Minute); i >= 0 && i < len(out) {
			out[i].Events = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CatalogAnswer is what a range holds, for the dashboard's builders.
type CatalogAnswer struct {
	Events     []Count             `json:"events"`     // names, most frequent first
	Properties map[string][]string `json:"properties"` // event → property names
	Fields     []string            `json:"fields"`     // the columns filters take
}

// catalogSample bounds the rows whose property names the catalog reads.
const catalogSample = 200_000

// Catalog answers the range's event names with their counts (at most 500),
// the property names seen on each (from the range's latest events, at most
// catalogSample of them) and the columns filters take.
func (e *Engine) Catalog(ctx context.Context, r Range) (*CatalogAnswer, error) {
	sp, err := e.span(r)
	if err != nil {
		return nil, err
	}
	ans := &CatalogAnswer{Events: []Count{}, Properties: map[string][]string{}}
	for f := range columns {
		ans.Fields = append(ans.Fields, f)
	}
	sort.Strings(ans.Fields)
	err = e.query(ctx, `SELECT event, count(*) AS n FROM events WHERE ts >= $1 AND ts < $2
		GROUP BY 1 ORDER BY n DESC, 1 LIMIT 500`, []any{sp.from, sp.to}, func(rows *sql.Rows) error {
		var v sql.NullString
		var c Count
		if err := rows.Scan(&v, &c.Count); err != nil {
			return err
		}
		c.Value = nullStr(v)
		ans.Events = append(ans.Events, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = e.query(ctx, `WITH s AS (SELECT event, properties FROM events WHERE ts >= $1 AND ts < $2
			ORDER BY ts DESC LIMIT `+strconv.Itoa(catalogSample)+`)
		SELECT event, list(DISTINCT k ORDER BY k)::VARCHAR[] FROM (SELECT event, unnest(json_keys(properties)) AS k FROM s)
		WHERE event IS NOT NULL GROUP BY 1`, []any{sp.from, sp.to}, func(rows *sql.Rows) error {
		var ev string
		var keys []any
		if err := rows.Scan(&ev, &keys); err != nil {
			return err
		}
		names := make([]string, 0, len(keys))
		for _, k := range keys {
			if s, ok := k.(string); ok {
				names = append(names, s)
			}
		}
		ans.Properties[ev] = names
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ans, nil
}

// RejectedSample is one rejected event as received.
type RejectedSample struct {
	ReceivedAt time.Time `json:"received_at"`
	Index      int64     `json:"index"`
	MessageID  *string   `json:"message_id"`
	Raw        string    `json:"raw"` // as received, cut to the event size limit
}

// RejectedReason is the events rejected for one reason from one source.
type RejectedReason struct {
	Reason  string           `json:"reason"`
	Source  string           `json:"source"`
	Count   int64            `json:"count"`
	Samples []RejectedSample `json:"samples"`
}

// RejectedAnswer summarises the events rejected in a range.
type RejectedAnswer struct {
	Total   int64            `json:"total"`
	Reasons []RejectedReason `json:"reasons"`
}

// Rejected answers the range's rejected events (by received_at) by reason
// and source, the most frequent first (at most 100), each with its 5
// latest samples.
func (e *Engine) Rejected(ctx context.Context, r Range) (*RejectedAnswer, error) {
	sp, err := e.span(r)
	if err != nil {
		return nil, err
	}
	ans := &RejectedAnswer{Reasons: []RejectedReason{}}
	at := map[[2]string]int{}
	err = e.query(ctx, `WITH x AS (SELECT * FROM rejected WHERE received_at >= $1 AND received_at < $2),
		g AS (SELECT reason, source, count(*) AS n FROM x GROUP BY ALL ORDER BY n DESC, reason, source LIMIT 100)
		SELECT g.reason, g.source, g.n, s.received_at, s.idx, s.message_id, s.raw
		FROM g LEFT JOIN (SELECT * FROM x QUALIFY row_number() OVER (PARTITION BY reason, source ORDER BY received_at DESC, idx) <= 5) s
			USING (reason, source)
		ORDER BY g.n DESC, g.reason, g.source, s.received_at DESC, s.idx`, []any{sp.from, sp.to}, func(rows *sql.Rows) error {
		var reason, source string
		var n int64
		var t sql.NullTime
		var idx sql.NullInt64
		var mid, raw sql.NullString
		if err := rows.Scan(&reason, &source, &n, &t, &idx, &mid, &raw); err != nil {
			return err
		}
		k := [2]string{reason, source}
		i, ok := at[k]
		if !ok {
			i = len(ans.Reasons)
			at[k] = i
			ans.Reasons = append(ans.Reasons, RejectedReason{Reason: reason, Source: source, Count: n, Samples: []RejectedSample{}})
		}
		if t.Valid {
			ans.Reasons[i].Samples = append(ans.Reasons[i].Samples, RejectedSample{
				ReceivedAt: t.Time, Index: idx.Int64, MessageID: nullStr(mid), Raw: raw.String,
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Total counts every reason, also those past the first 100.
	err = e.query(ctx, `SELECT count(*) FROM rejected WHERE received_at >= $1 AND received_at < $2`,
		[]any{sp.from, sp.to}, func(rows *sql.Rows) error { return rows.Scan(&ans.Total) })
	if err != nil {
		return nil, err
	}
	return ans, nil
}
