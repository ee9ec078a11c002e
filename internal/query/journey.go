package query

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// JourneyRequest asks for one member's events A to Z. ID is a user_id or an
// anonymous_id; an anonymous_id linked to a member by identify stands for
// that member.
type JourneyRequest struct {
	Range
	ID    string `json:"id"`
	Limit int    `json:"limit"` // events at most; default and maximum 10,000
}

// JourneyEvent is one step of a journey.
type JourneyEvent struct {
	TS          time.Time `json:"ts"`
	Seq         *int64    `json:"seq"`
	SessionID   string    `json:"session_id,omitempty"`
	Event       string    `json:"event"`
	Type        string    `json:"type"`
	Source      string    `json:"source"`
	AnonymousID string    `json:"anonymous_id,omitempty"`
	UserID      string    `json:"user_id,omitempty"`
	PagePath    string    `json:"page_path,omitempty"`
	ScreenName  string    `json:"screen_name,omitempty"`
	Section     string    `json:"section,omitempty"`
	Banner      string    `json:"banner,omitempty"`
	DeviceType  string    `json:"device_type,omitempty"`
	// DwellMS is the time to the next event of the same session, capped at
	// the session timeout; absent for the last event of a session.
	DwellMS *int64 `json:"dwell_ms"`
}

// JourneyAnswer is a member's journey.
type JourneyAnswer struct {
	Member    string         `json:"member"`
	Events    []JourneyEvent `json:"events"`
	Truncated bool           `json:"truncated"`
}

const maxJourney = 10_000

// Journey answers the member's events in the range across sessions and
// devices, ordered by ts then seq (a missing seq first).
func (e *Engine) Journey(ctx context.Context, r JourneyRequest) (*JourneyAnswer, error) {
	sp, err := e.span(r.Range)
	if err != nil {
		return nil, err
	}
	if r.ID == "" {
		return nil, invalid("id is required: a user_id or an anonymous_id")
	}
	limit := r.Limit
	if limit <= 0 || limit > maxJourney {
		limit = maxJourney
	}
	// The member (the id itself, or the member an anonymous id is linked
	// to first), then the anonymous ids first linked to it — their events
	// before login, which carry no user_id, are the member's.
	// The links come from identity_links (a small table, scanned); when
	// the store has not caught up with the newest identifies, those too,
	// read by rowid (a MATERIALIZED tail: with an id filter pushed in,
	// DuckDB would scan the id column of every event instead).
	l := `WITH l AS (SELECT anonymous_id, user_id, ts FROM identity_links) `
	if e.opts.LinksCaughtUp == nil || !e.opts.LinksCaughtUp() {
		l = `WITH tail AS MATERIALIZED (SELECT anonymous_id, user_id, ts FROM events
			WHERE commit_seq > (SELECT through FROM identity_state) AND type = 'identify' AND user_id IS NOT NULL AND anonymous_id IS NOT NULL),
		l AS (SELECT anonymous_id, user_id, ts FROM identity_links UNION ALL SELECT * FROM tail) `
	}
	member := r.ID
	err = e.query(ctx, l+`SELECT arg_min(user_id, (ts, user_id)) FROM l WHERE anonymous_id = $1 HAVING count(*) > 0`, []any{r.ID}, func(rows *sql.Rows) error {
		return rows.Scan(&member)
	})
	if err != nil {
		return nil, err
	}
	// The anonymous ids ever linked to the member, and of those the ones
	// whose first link is the member.
	firsts := l + `SELECT anonymous_id FROM l WHERE anonymous_id IN (%s) GROUP BY 1 HAVING arg_min(user_id, (ts, user_id)) = $1 ORDER BY 1`
	var cands []any
	err = e.query(ctx, l+`SELECT DISTINCT anonymous_id FROM l WHERE user_id = $1`, []any{member}, func(rows *sql.Rows) error {
		var a string
		if err := rows.Scan(&a); err != nil {
			return err
		}
		cands = append(cands, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Of those, the ones whose first link is the member.
	anons := []any{member}
	if len(cands) > 0 {
		ph := make([]string, len(cands))
		for i := range cands {
			ph[i] = "$" + strconv.Itoa(i+2)
		}
		err = e.query(ctx, fmt.Sprintf(firsts, strings.Join(ph, ", ")),
			append([]any{member}, cands...), func(rows *sql.Rows) error {
				var a string
				if err := rows.Scan(&a); err != nil {
					return err
				}
				anons = append(anons, a)
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	var b builder
	id := b.arg(member)
	ph := make([]string, len(anons))
	for i, a := range anons {
		ph[i] = b.arg(a)
	}
	from, to := b.arg(sp.from), b.arg(sp.to)
	capMS := b.arg(e.opts.SessionTimeout.Milliseconds())
	lim := b.arg(limit + 1)
	// One scan per id, each with its equality pushed into the scan, so
	// that only the matching rows' other columns are read (the events table
	// has no index: see schema versions 9 and 10). An OR of the ids, or an IN list,
	// is applied after the scan instead and reads every column.
	var byAnon strings.Builder
	for _, p := range ph {
		byAnon.WriteString("\n\tUNION ALL SELECT * FROM events WHERE anonymous_id = " + p + " AND user_id IS NULL")
	}
	q := `WITH mine AS (SELECT * FROM events WHERE user_id = ` + id + byAnon.String() + `)
SELECT ts, seq, session_id, coalesce(event, type), type, source, anonymous_id, user_id,
	page_path, screen_name, section, banner, device_type,
	CASE WHEN lead(ts) OVER w IS NOT NULL THEN least(epoch_ms(lead(ts) OVER w) - epoch_ms(ts), ` + capMS + `) END AS dwell_ms
FROM mine
WINDOW w AS (PARTITION BY session_id ORDER BY ts, seq NULLS FIRST)
QUALIFY ts >= ` + from + ` AND ts < ` + to + `
ORDER BY ts, seq NULLS FIRST, event_id
LIMIT ` + lim
	ans := &JourneyAnswer{Member: member, Events: []JourneyEvent{}}
	err = e.query(ctx, q, b.args, func(rows *sql.Rows) error {
		var j JourneyEvent
		var seq, dwell sql.NullInt64
		var sid, anon, uid, path, screen, section, banner, device sql.NullString
		if err := rows.Scan(&j.TS, &seq, &sid, &j.Event, &j.Type, &j.Source, &anon, &uid,
			&path, &screen, &section, &banner, &device, &dwell); err != nil {
			return err
		}
		j.TS = j.TS.UTC()
		if seq.Valid {
			j.Seq = &seq.Int64
		}
		if dwell.Valid {
			j.DwellMS = &dwell.Int64
		}
		j.SessionID, j.AnonymousID, j.UserID = sid.String, anon.String, uid.String
		j.PagePath, j.ScreenName, j.Section, j.Banner, j.DeviceType = path.String, screen.String, section.String, banner.String, device.String
		ans.Events = append(ans.Events, j)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ans.Events) > limit {
		ans.Events, ans.Truncated = ans.Events[:limit], true
	}
	return ans, nil
}
