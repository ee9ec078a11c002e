package query

import (
	"context"
	"database/sql"
	"time"
)

// RetentionRequest asks how many members who did StartEvent come back to do
// ReturnEvent in the following periods.
type RetentionRequest struct {
	Range
	StartEvent  string   `json:"start_event"`
	StartWhere  []Filter `json:"start_where"`
	ReturnEvent string   `json:"return_event"`
	ReturnWhere []Filter `json:"return_where"`
	Period      string   `json:"period"`  // day (the default) or week (weeks start on Monday), in UTC
	Periods     int      `json:"periods"` // columns of the grid; default 8, at most 100
}

// Cohort is one row of the grid: the members whose first start event fell
// in period Start.
type Cohort struct {
	Start  string `json:"start"` // the period's first day, YYYY-MM-DD
	Actors int64  `json:"actors"`
	// Values[i] counts the members with a return event in period Start+i (at
	// or after their start event); nil for a period that begins after the
	// range ends.
	Values []*int64   `json:"values"`
	Rates  []*float64 `json:"rates"`
}

// RetentionAnswer is the cohort grid.
type RetentionAnswer struct {
	Period  string   `json:"period"`
	Cohorts []Cohort `json:"cohorts"`
}

// Retention builds the grid: members (resolved through identify) by the
// period of their first start event in the range; for each later period,
// those with a return event in it. Return events count up to the range's
// end; periods that begin after it are nil.
func (e *Engine) Retention(ctx context.Context, r RetentionRequest) (*RetentionAnswer, error) {
	sp, err := e.span(r.Range)
	if err != nil {
		return nil, err
	}
	if r.StartEvent == "" || r.ReturnEvent == "" {
		return nil, invalid("start_event and return_event are required")
	}
	step := 24 * time.Hour
	switch r.Period {
	case "", "day":
		r.Period = "day"
	case "week":
		step = 7 * step
	default:
		return nil, invalid("period: %q: want day or week", r.Period)
	}
	periods := orDefault(r.Periods, 8)
	if periods > 100 {
		return nil, invalid("periods: at most 100")
	}
	var b builder
	sw, err := b.where("e", "start_where", r.StartWhere)
	if err != nil {
		return nil, err
	}
	rw, err := b.where("e", "return_where", r.ReturnWhere)
	if err != nil {
		return nil, err
	}
	period := b.arg(r.Period)
	k, _ := sp.orderKey64()
	start, ret := b.arg(r.StartEvent), b.arg(r.ReturnEvent)
	q := `WITH ` + identities + `,
ev AS (
	SELECT ` + hashed(memberExpr) + ` AS actor, ` + k + ` AS k,
		date_trunc(` + period + `, e.ts AT TIME ZONE 'UTC') AS p,
		(e.event = ` + start + ` AND ` + sw + `) AS ms,
		(e.event = ` + ret + ` AND ` + rw + `) AS mr
	FROM events e LEFT JOIN ids ON ids.aid = e.anonymous_id
	WHERE e.ts >= ` + b.arg(sp.from) + ` AND e.ts < ` + b.arg(sp.to) + ` AND e.event IN (` + start + `, ` + ret + `)),
first AS (SELECT actor, min(k) AS k0, arg_min(p, k) AS p0 FROM ev WHERE ms AND actor IS NOT NULL GROUP BY actor),
back AS (SELECT DISTINCT f.actor, f.p0, ev.p FROM first f JOIN ev ON ev.actor = f.actor AND ev.mr AND ev.k >= f.k0),
sizes AS (SELECT p0, count(*) AS n FROM first GROUP BY p0),
grid AS (SELECT p0, p, count(*) AS n FROM back GROUP BY p0, p)
SELECT s.p0, s.n, g.p, g.n FROM sizes s LEFT JOIN grid g USING (p0) ORDER BY s.p0, g.p NULLS FIRST`
	ans := &RetentionAnswer{Period: r.Period, Cohorts: []Cohort{}}
	type cell struct {
		start time.Time
		size  int64
		at    map[int]int64
	}
	var cells []*cell
	err = e.query(ctx, q, b.args, func(rows *sql.Rows) error {
		var p0 time.Time
		var p sql.NullTime
		var size int64
		var n sql.NullInt64
		if err := rows.Scan(&p0, &size, &p, &n); err != nil {
			return err
		}
		p0 = p0.UTC()
		if len(cells) == 0 || !cells[len(cells)-1].start.Equal(p0) {
			cells = append(cells, &cell{start: p0, size: size, at: map[int]int64{}})
		}
		if p.Valid {
			cells[len(cells)-1].at[int(p.Time.UTC().Sub(p0)/step)] = n.Int64
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, c := range cells {
		co := Cohort{Start: c.start.Format(time.DateOnly), Actors: c.size, Values: make([]*int64, periods), Rates: make([]*float64, periods)}
		for i := 0; i < periods; i++ {
			if !c.start.Add(time.Duration(i) * step).Before(sp.to) {
				continue
			}
			v := c.at[i]
			rate := ratio(v, c.size)
			co.Values[i], co.Rates[i] = &v, &rate
		}
		ans.Cohorts = append(ans.Cohorts, co)
	}
	return ans, nil
}
