package query

import (
	"context"
	"database/sql"
)

// AttributionRequest asks which touch (banner, section, campaign, source,
// referrer) brought members to a conversion.
type AttributionRequest struct {
	Range
	Conversion Step `json:"conversion"`
	// Touch is banner, section, utm_campaign, utm_source or referrer.
	Touch string `json:"touch"`
	// Model is first or last (the default) touch.
	Model string `json:"model"`
	// WindowSeconds before a conversion that touches count; default 30 days.
	WindowSeconds float64 `json:"window_seconds"`
	Limit         int     `json:"limit"` // rows at most; default 100
}

// AttributionRow is one touch value.
type AttributionRow struct {
	Touch string `json:"touch"`
	// Actors had an event with this touch in the range.
	Actors int64 `json:"actors"`
	// Conversions are the actors whose conversion this touch is credited
	// with.
	Conversions    int64   `json:"conversions"`
	ConversionRate float64 `json:"conversion_rate"`
}

// AttributionAnswer is the answer to an AttributionRequest.
type AttributionAnswer struct {
	Conversions  int64            `json:"conversions"`  // members who converted
	Unattributed int64            `json:"unattributed"` // of them, with no touch in the window
	Rows         []AttributionRow `json:"rows"`
}

var touches = map[string]bool{"banner": true, "section": true, "utm_campaign": true, "utm_source": true, "referrer": true}

// Attribution credits each member's first conversion in the range to one
// touch: the first or the last event carrying a touch value at or before the
// conversion (in (ts, seq)) and at most WindowSeconds earlier. Members are
// resolved through identify, so a banner clicked before logging in counts.
func (e *Engine) Attribution(ctx context.Context, r AttributionRequest) (*AttributionAnswer, error) {
	sp, err := e.span(r.Range)
	if err != nil {
		return nil, err
	}
	if !touches[r.Touch] {
		return nil, invalid("touch: %q: want banner, section, utm_campaign, utm_source or referrer", r.Touch)
	}
	pick := "arg_max"
	switch r.Model {
	case "", "last":
	case "first":
		pick = "arg_min"
	default:
		return nil, invalid("model: %q: want first or last", r.Model)
	}
	if r.Conversion.Event == "" {
		return nil, invalid("conversion.event is required")
	}
	window, err := windowMicros(r.WindowSeconds, 30*86400)
	if err != nil {
		return nil, err
	}
	limit := orDefault(r.Limit, 100)
	var b builder
	cw, err := b.where("e", "conversion.where", r.Conversion.Where)
	if err != nil {
		return nil, err
	}
	conv := b.arg(r.Conversion.Event)
	k, _ := sp.orderKey64()
	q := `WITH ` + identities + `,
ev AS (
	SELECT ` + hashed(memberExpr) + ` AS actor, ` + k + ` AS k, epoch_us(e.ts) AS t,
		e.` + r.Touch + ` AS touch, (e.event = ` + conv + ` AND ` + cw + `) AS mc
	FROM events e LEFT JOIN ids ON ids.aid = e.anonymous_id
	WHERE e.ts >= ` + b.arg(sp.from) + ` AND e.ts < ` + b.arg(sp.to) + `
		AND (e.` + r.Touch + ` IS NOT NULL OR e.event = ` + conv + `)),
conv AS (SELECT actor, min(k) AS ck, arg_min(t, k) AS ct FROM ev WHERE mc AND actor IS NOT NULL GROUP BY actor),
att AS (SELECT c.actor, ` + pick + `(ev.touch, ev.k) AS touch
	FROM conv c JOIN ev ON ev.actor = c.actor AND ev.touch IS NOT NULL AND ev.k <= c.ck AND c.ct - ev.t <= ` + b.arg(window) + `
	GROUP BY c.actor),
exposed AS (SELECT touch, count(DISTINCT actor) AS actors FROM ev WHERE touch IS NOT NULL AND actor IS NOT NULL GROUP BY touch),
credited AS (SELECT touch, count(*) AS n FROM att GROUP BY touch)
SELECT 0 AS part, NULL, (SELECT count(*) FROM conv), (SELECT count(*) FROM att)
UNION ALL
SELECT * FROM (SELECT 1, x.touch, x.actors, coalesce(c.n, 0) AS n FROM exposed x LEFT JOIN credited c USING (touch)
	ORDER BY n DESC, x.actors DESC, x.touch LIMIT ` + b.arg(limit) + `)
ORDER BY 1`
	ans := &AttributionAnswer{Rows: []AttributionRow{}}
	err = e.query(ctx, q, b.args, func(rows *sql.Rows) error {
		var part int
		var touch sql.NullString
		var a, n int64
		if err := rows.Scan(&part, &touch, &a, &n); err != nil {
			return err
		}
		if part == 0 {
			ans.Conversions, ans.Unattributed = a, a-n
			return nil
		}
		ans.Rows = append(ans.Rows, AttributionRow{Touch: touch.String, Actors: a, Conversions: n, ConversionRate: ratio(n, a)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ans, nil
}
