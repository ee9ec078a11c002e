package query

import (
	"context"
	"database/sql"
	"strconv"
)

// DwellRequest asks how long members stay on each page, screen or event.
type DwellRequest struct {
	Range
	// By is page_path (page views), screen_name (screen views) or event
	// (every event, by name).
	By    string   `json:"by"`
	Where []Filter `json:"where"` // on the views
	// Until is next_event (DESIGN §5, the default): a view lasts until the
	// next event of its session; or next_view: until the next page or screen
	// view, so that clicks and impressions on a page do not end its time.
	Until string `json:"until"`
	Limit int    `json:"limit"` // rows at most, most viewed first; default 100
}

// DwellRow is the dwell time of one page, screen or event.
type DwellRow struct {
	Key   *string  `json:"key"`
	Views int64    `json:"views"`
	P50MS *float64 `json:"p50_ms"`
	P90MS *float64 `json:"p90_ms"`
	// AvgEngagedMS is the mean engaged_ms of the page's page_leave events
	// (the web tracker's measured visible, active time); by page_path only.
	AvgEngagedMS *float64 `json:"avg_engaged_ms"`
	// Buckets counts the views with a dwell time by DwellBucketsMS: bucket
	// i those below bound i (and at or above bound i-1), the last those at
	// or above the last bound. Views without one (a session's last) are in
	// none.
	Buckets []int64 `json:"buckets"`
}

// DwellBucketsMS are the bounds of a dwell row's buckets, in milliseconds.
var DwellBucketsMS = [...]int64{1_000, 5_000, 15_000, 30_000, 60_000, 180_000, 600_000}

// DwellAnswer is the answer to a DwellRequest.
type DwellAnswer struct {
	BucketBoundsMS []int64    `json:"bucket_bounds_ms"`
	Rows           []DwellRow `json:"rows"`
}

// Dwell answers, per key, the views in the range and the quantiles of their
// dwell time: the time to the next event (or view) of the same session,
// capped at the session timeout. The last event of a session has no dwell
// time; it still counts as a view.
func (e *Engine) Dwell(ctx context.Context, r DwellRequest) (*DwellAnswer, error) {
	sp, err := e.span(r.Range)
	if err != nil {
		return nil, err
	}
	var key, views string
	switch r.By {
	case "page_path":
		key, views = "e.page_path", "e.event = 'page_view'"
	case "screen_name":
		key, views = "e.screen_name", "e.event = 'screen_view'"
	case "event":
		key, views = "e.event", "TRUE"
	default:
		return nil, invalid("by: %q: want page_path, screen_name or event", r.By)
	}
	within := "TRUE"
	switch r.Until {
	case "", "next_event":
	case "next_view":
		within = "e.event IN ('page_view', 'screen_view')"
		if r.By == "event" {
			within = "TRUE"
		}
	default:
		return nil, invalid("until: %q: want next_event or next_view", r.Until)
	}
	limit := orDefault(r.Limit, 100)
	var b builder
	w, err := b.where("e", "where", r.Where)
	if err != nil {
		return nil, err
	}
	from, to := b.arg(sp.from), b.arg(sp.to)
	capMS := b.arg(e.opts.SessionTimeout.Milliseconds())
	engaged := "NULL::DOUBLE"
	join := ""
	if r.By == "page_path" {
		engaged = "g.eng"
		join = `LEFT JOIN (
	SELECT coalesce(json_extract_string(properties, '$.path'), page_path) AS key,
		avg(TRY_CAST(json_extract_string(properties, '$.engaged_ms') AS DOUBLE)) AS eng
	FROM events e WHERE event = 'page_leave' AND ts >= ` + from + ` AND ts < ` + to + ` AND ` + w + ` GROUP BY 1) g ON g.key = agg.key`
	}
	// least() skips NULLs: the last event of a session keeps its NULL gap.
	// Each view finds the next event of its session with an ASOF join on
	// fixed-width keys (a hash of the session id — two of a million sessions
	// share one with a chance of about 1e-8 — and the (ts, seq) order in one
	// BIGINT, orderKey64), which sorts far faster than a window over the
	// session ids.
	var buckets, bcols string
	lo := "0"
	for i, hi := range DwellBucketsMS {
		h := strconv.FormatInt(hi, 10)
		buckets += ", count(*) FILTER (WHERE d >= " + lo + " AND d < " + h + ") AS b" + strconv.Itoa(i)
		bcols += ", b" + strconv.Itoa(i)
		lo = h
	}
	buckets += ", count(*) FILTER (WHERE d >= " + lo + ") AS bl"
	bcols += ", bl"
	rng := `e.ts >= ` + from + ` AND e.ts < ` + to + ` AND e.session_id IS NOT NULL`
	k, m := sp.orderKey64()
	us := func(k string) string { return k + " // " + strconv.FormatInt(m, 10) }
	q := `WITH a AS (SELECT hash(e.session_id) AS s, ` + k + ` AS k FROM events e WHERE ` + rng + ` AND ` + within + `),
v AS (SELECT hash(e.session_id) AS s, ` + k + ` AS k, ` + key + ` AS key FROM events e WHERE ` + rng + ` AND ` + views + ` AND ` + w + `),
d AS (SELECT v.key, CASE WHEN a.k IS NOT NULL THEN least((` + us("a.k") + ` - ` + us("v.k") + `) // 1000, ` + capMS + `) END AS d
	FROM v ASOF LEFT JOIN a ON v.s = a.s AND a.k > v.k),
agg AS (SELECT key, count(*) AS n, quantile_cont(d, 0.5) AS p50, quantile_cont(d, 0.9) AS p90` + buckets + `
	FROM d GROUP BY key ORDER BY n DESC, key NULLS LAST LIMIT ` + b.arg(limit) + `)
SELECT agg.key, n, p50, p90, ` + engaged + bcols + `
FROM agg ` + join + `
ORDER BY n DESC, agg.key NULLS LAST`
	ans := &DwellAnswer{BucketBoundsMS: DwellBucketsMS[:], Rows: []DwellRow{}}
	err = e.query(ctx, q, b.args, func(rows *sql.Rows) error {
		var k sql.NullString
		var p50, p90, eng sql.NullFloat64
		row := DwellRow{Buckets: make([]int64, len(DwellBucketsMS)+1)}
		dst := []any{&k, &row.Views, &p50, &p90, &eng}
		for i := range row.Buckets {
			dst = append(dst, &row.Buckets[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return err
		}
		row.Key, row.P50MS, row.P90MS, row.AvgEngagedMS = nullStr(k), nullF(p50), nullF(p90), nullF(eng)
		ans.Rows = append(ans.Rows, row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ans, nil
}

func nullStr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

func nullF(f sql.NullFloat64) *float64 {
	if !f.Valid {
		return nil
	}
	return &f.Float64
}
