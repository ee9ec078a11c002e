package query

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// FunnelRequest asks how many actors went through Steps in order.
type FunnelRequest struct {
	Range
	Steps []Step `json:"steps"`
	// WindowSeconds bounds the time from step 1 to the last step reached;
	// default a day.
	WindowSeconds float64 `json:"window_seconds"`
	// By is user (the resolved member, the default) or session.
	By string `json:"by"`
	// Breakdown, optional, is a field whose value on each actor's step-1
	// event groups the actors.
	Breakdown string `json:"breakdown"`
}

// FunnelStep is one step of a funnel answer.
type FunnelStep struct {
	Event                  string   `json:"event"`
	Actors                 int64    `json:"actors"`
	ConversionFromStart    float64  `json:"conversion_from_start"`
	ConversionFromPrevious float64  `json:"conversion_from_previous"`
	MedianSecondsFromPrev  *float64 `json:"median_seconds_from_previous"`
}

// FunnelGroup is the funnel of the actors with one breakdown value.
type FunnelGroup struct {
	Value *string      `json:"value"`
	Steps []FunnelStep `json:"steps"`
}

// FunnelAnswer is the answer to a FunnelRequest.
type FunnelAnswer struct {
	Steps     []FunnelStep  `json:"steps"`
	Breakdown []FunnelGroup `json:"breakdown,omitempty"`
}

// MaxFunnelSteps bounds the steps of one funnel.
const MaxFunnelSteps = 20

// maxBreakdownValues bounds the groups of a breakdown (the largest first).
const maxBreakdownValues = 100

// Funnel answers r with ClickHouse windowFunnel semantics: an actor reaches
// step k when events matching steps 1..k occur in that order, strictly
// increasing in (ts, seq), with step k at most WindowSeconds after step 1;
// other events may come between. Each actor counts once, for the longest
// chain it made, taken from the earliest step-1 event that makes it (the
// greedy chain: each step the earliest matching event after the previous).
// Its times give the medians, its step-1 event the breakdown value. Every
// step happens within the range.
func (e *Engine) Funnel(ctx context.Context, r FunnelRequest) (*FunnelAnswer, error) {
	sp, err := e.span(r.Range)
	if err != nil {
		return nil, err
	}
	n := len(r.Steps)
	if n == 0 || n > MaxFunnelSteps {
		return nil, invalid("steps: want 1 to %d steps, got %d", MaxFunnelSteps, n)
	}
	window, err := windowMicros(r.WindowSeconds, 86400)
	if err != nil {
		return nil, err
	}
	if err := checkBy(r.By); err != nil {
		return nil, err
	}
	var b builder
	names := make([]string, n)
	marks := make([]string, n)
	seen := map[string]string{}
	var in []string
	for i, s := range r.Steps {
		if s.Event == "" {
			return nil, invalid("steps[%d].event is required", i)
		}
		w, err := b.where("e", fmt.Sprintf("steps[%d].where", i), s.Where)
		if err != nil {
			return nil, err
		}
		ph, ok := seen[s.Event]
		if !ok {
			ph = b.arg(s.Event)
			seen[s.Event] = ph
			in = append(in, ph)
		}
		names[i] = s.Event
		marks[i] = fmt.Sprintf("(e.event = %s AND %s) AS m%d", ph, w, i+1)
	}
	bd := "NULL::VARCHAR"
	if r.Breakdown != "" {
		x, _, err := b.field("e", r.Breakdown)
		if err != nil {
			return nil, invalid("breakdown: %s", err.Error())
		}
		bd = "CAST(" + x + " AS VARCHAR)"
	}
	from, to, win := b.arg(sp.from), b.arg(sp.to), b.arg(window)

	// base: the range's events of the steps' names; ev: those matching a
	// step, with their actor (resolving members after this filter keeps the
	// identity join small).
	var q strings.Builder
	q.WriteString("WITH ")
	actor, join := "e.sid", ""
	if r.By != "session" {
		q.WriteString(identities + ",\n")
		actor, join = "coalesce(e.uid, ids.uid, e.aid)", "LEFT JOIN ids ON ids.aid = e.aid"
	}
	actor = hashed(actor)
	key, _ := sp.orderKey64()
	ms := make([]string, n)
	for i := range ms {
		ms[i] = fmt.Sprintf("m%d", i+1)
	}
	fmt.Fprintf(&q, `base AS (
	SELECT e.anonymous_id AS aid, e.user_id AS uid, e.session_id AS sid, e.ts, e.seq, %s AS bd, %s
	FROM events e
	WHERE e.ts >= %s AND e.ts < %s AND e.event IN (%s)),
ev AS (SELECT %s AS actor, %s AS k, epoch_us(e.ts) AS t, bd, %s FROM base e %s WHERE %s),
c1 AS (SELECT actor, bd, k AS k1, t AS t1 FROM ev WHERE m1 AND actor IS NOT NULL)`,
		bd, strings.Join(marks, ", "), from, to, strings.Join(in, ", "),
		actor, key, strings.Join(ms, ", "), join, strings.Join(ms, " OR "))
	for i := 2; i <= n; i++ {
		fmt.Fprintf(&q, `,
c%[1]d AS (SELECT c.*, CASE WHEN c.k%[2]d IS NOT NULL AND s.t - c.t1 <= %[3]s THEN s.k END AS k%[1]d,
		CASE WHEN c.k%[2]d IS NOT NULL AND s.t - c.t1 <= %[3]s THEN s.t END AS t%[1]d
	FROM c%[2]d c ASOF LEFT JOIN (SELECT actor, k, t FROM ev WHERE m%[1]d) s ON c.actor = s.actor AND s.k > c.k%[2]d)`, i, i-1, win)
	}
	level := "1"
	for i := 2; i <= n; i++ {
		level += fmt.Sprintf(" + (k%d IS NOT NULL)::INT", i)
	}
	// A NULL k of an unreached step still finds a row in the ASOF join
	// (NULL orders first), hence the IS NOT NULL of the step before.
	g := "1"
	if r.Breakdown != "" {
		g = "grouping(bd)"
	}
	fmt.Fprintf(&q, `,
lv AS (SELECT *, %s AS level FROM c%d),
best AS (SELECT * FROM lv QUALIFY row_number() OVER (PARTITION BY actor ORDER BY level DESC, k1) = 1)
SELECT %s AS g, any_value(bd)`, level, n, g)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&q, ", count(*) FILTER (WHERE level >= %d)", i)
	}
	for i := 2; i <= n; i++ {
		fmt.Fprintf(&q, ", median((t%d - t%d) / 1e6) FILTER (WHERE level >= %d)", i, i-1, i)
	}
	if r.Breakdown != "" {
		q.WriteString("\nFROM best GROUP BY GROUPING SETS ((), (bd))")
	} else {
		q.WriteString("\nFROM best")
	}

	ans := &FunnelAnswer{Steps: funnelSteps(names, nil, nil)}
	var groups []FunnelGroup
	err = e.query(ctx, q.String(), b.args, func(rows *sql.Rows) error {
		var g int
		var v sql.NullString
		counts := make([]int64, n)
		medians := make([]sql.NullFloat64, n)
		dst := []any{&g, &v}
		for i := range counts {
			dst = append(dst, &counts[i])
		}
		for i := 1; i < n; i++ {
			dst = append(dst, &medians[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return err
		}
		steps := funnelSteps(names, counts, medians)
		if g != 0 {
			ans.Steps = steps
			return nil
		}
		if r.Breakdown != "" {
			fg := FunnelGroup{Steps: steps}
			if v.Valid {
				fg.Value = &v.String
			}
			groups = append(groups, fg)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.Breakdown != "" {
		sort.SliceStable(groups, func(i, j int) bool {
			a, b := groups[i], groups[j]
			if a.Steps[0].Actors != b.Steps[0].Actors {
				return a.Steps[0].Actors > b.Steps[0].Actors
			}
			return strOr(a.Value) < strOr(b.Value)
		})
		if len(groups) > maxBreakdownValues {
			groups = groups[:maxBreakdownValues]
		}
		ans.Breakdown = groups
		if ans.Breakdown == nil {
			ans.Breakdown = []FunnelGroup{}
		}
	}
	return ans, nil
}

func strOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func funnelSteps(names []string, counts []int64, medians []sql.NullFloat64) []FunnelStep {
	steps := make([]FunnelStep, len(names))
	for i, name := range names {
		s := FunnelStep{Event: name}
		if counts != nil {
			s.Actors = counts[i]
			s.ConversionFromStart = ratio(counts[i], counts[0])
			s.ConversionFromPrevious = 1
			if i > 0 {
				s.ConversionFromPrevious = ratio(counts[i], counts[i-1])
				if medians[i].Valid {
					m := medians[i].Float64
					s.MedianSecondsFromPrev = &m
				}
			}
		}
		if counts == nil || counts[0] == 0 {
			s.ConversionFromStart, s.ConversionFromPrevious = 0, 0
		}
		steps[i] = s
	}
	return steps
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
