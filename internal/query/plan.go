package query

import (
	"context"
	"database/sql"
	"time"
)

// ViolationsAnswer summarises the tracking-plan violations of a range:
// events stored with violations (sources in flag mode) and events the plan
// rejected (reject mode), by event, rule and property path.
type ViolationsAnswer struct {
	FlaggedEvents  int64            `json:"flagged_events"`
	RejectedEvents int64            `json:"rejected_events"`
	Rules          []ViolationCount `json:"rules"`
}

// ViolationCount is one event's violations of one rule at one path.
type ViolationCount struct {
	Event    string    `json:"event"`
	Rule     string    `json:"rule"`
	Path     string    `json:"path"`
	Flagged  int64     `json:"flagged"`
	Rejected int64     `json:"rejected"`
	Sources  []string  `json:"sources"`
	LastSeen time.Time `json:"last_seen"`
	Example  string    `json:"example"` // the latest message
}

// Violations answers the range's tracking-plan violations (by received_at,
// as the rejected events), the most frequent first (at most 500 rows).
func (e *Engine) Violations(ctx context.Context, r Range) (*ViolationsAnswer, error) {
	sp, err := e.span(r)
	if err != nil {
		return nil, err
	}
	ans := &ViolationsAnswer{Rules: []ViolationCount{}}
	err = e.query(ctx, `
		SELECT
			(SELECT count(*) FROM events WHERE violations IS NOT NULL AND received_at >= $1 AND received_at < $2),
			(SELECT count(*) FROM rejected WHERE violations IS NOT NULL AND received_at >= $1 AND received_at < $2)`,
		[]any{sp.from, sp.to}, func(rows *sql.Rows) error { return rows.Scan(&ans.FlaggedEvents, &ans.RejectedEvents) })
	if err != nil {
		return nil, err
	}
	err = e.query(ctx, `
		WITH v AS (
			SELECT event, source, true AS flagged, received_at, unnest(from_json(violations, '["json"]')) AS j
			FROM events WHERE violations IS NOT NULL AND received_at >= $1 AND received_at < $2
			UNION ALL
			SELECT event, source, false, received_at, unnest(from_json(violations, '["json"]'))
			FROM rejected WHERE violations IS NOT NULL AND received_at >= $1 AND received_at < $2
		), r AS (
			SELECT coalesce(event, '') AS event, coalesce(j->>'rule', '') AS rule, coalesce(j->>'path', '') AS path,
				coalesce(j->>'message', '') AS message, coalesce(source, '') AS source, flagged, received_at
			FROM v
		)
		SELECT event, rule, path, count(*) FILTER (WHERE flagged), count(*) FILTER (WHERE NOT flagged),
			list(DISTINCT source ORDER BY source), max(received_at), arg_max(message, received_at)
		FROM r GROUP BY event, rule, path
		ORDER BY count(*) DESC, event, rule, path LIMIT 500`, []any{sp.from, sp.to}, func(rows *sql.Rows) error {
		var c ViolationCount
		var sources []any
		if err := rows.Scan(&c.Event, &c.Rule, &c.Path, &c.Flagged, &c.Rejected, &sources, &c.LastSeen, &c.Example); err != nil {
			return err
		}
		c.Sources = []string{}
		for _, s := range sources {
			if s, ok := s.(string); ok {
				c.Sources = append(c.Sources, s)
			}
		}
		c.LastSeen = c.LastSeen.UTC()
		ans.Rules = append(ans.Rules, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ans, nil
}
