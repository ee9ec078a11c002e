package query

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
)

// PathsRequest asks for the paths of sessions after Start or before End.
type PathsRequest struct {
	Range
	Start *Step `json:"start"`
	End   *Step `json:"end"`
	// By is event (every event, by name), page_path (page views) or
	// screen_name (screen views).
	By    string `json:"by"`
	Depth int    `json:"depth"` // steps after (or before) the anchor; default 5, at most 20
	// Limit is how many values each step keeps; the rarer ones are folded
	// into "other". Default 10.
	Limit int `json:"limit"`
}

// PathNode is one value at one step; Step 0 is the anchor, negative steps
// come before it.
type PathNode struct {
	Name     string `json:"name"`
	Step     int    `json:"step"`
	Value    string `json:"value"`
	Sessions int64  `json:"sessions"`
}

// PathLink is the number of sessions going from one node to the next.
type PathLink struct {
	Source string `json:"source"`
	Target string `json:"target"`
	Value  int64  `json:"value"`
}

// PathsAnswer is a Sankey diagram: nodes and links.
type PathsAnswer struct {
	Sessions int64      `json:"sessions"` // sessions with the anchor event
	Nodes    []PathNode `json:"nodes"`
	Links    []PathLink `json:"links"`
}

// Other names the folded values of a step.
const Other = "other"

// Paths follows every session with an event matching Start from its first
// such event (or, with End, back from its first event matching End): the
// next Depth values of By, a value repeated in a row counting once. Node
// names are "<step> <value>", unique per step, so the diagram has no cycles.
func (e *Engine) Paths(ctx context.Context, r PathsRequest) (*PathsAnswer, error) {
	sp, err := e.span(r.Range)
	if err != nil {
		return nil, err
	}
	anchor, dir := r.Start, 1
	if (r.Start == nil) == (r.End == nil) {
		return nil, invalid("give exactly one of start and end")
	}
	if r.End != nil {
		anchor, dir = r.End, -1
	}
	if anchor.Event == "" {
		return nil, invalid("the anchor's event is required")
	}
	var key, views string
	switch r.By {
	case "", "event":
		key, views = "e.event", "TRUE"
	case "page_path":
		key, views = "e.page_path", "e.event = 'page_view' AND e.page_path IS NOT NULL"
	case "screen_name":
		key, views = "e.screen_name", "e.event = 'screen_view' AND e.screen_name IS NOT NULL"
	default:
		return nil, invalid("by: %q: want event, page_path or screen_name", r.By)
	}
	depth := orDefault(r.Depth, 5)
	if depth > 20 {
		return nil, invalid("depth: at most 20")
	}
	limit := orDefault(r.Limit, 10)
	var b builder
	aw, err := b.where("e", "where", anchor.Where)
	if err != nil {
		return nil, err
	}
	ma := "(e.event = " + b.arg(anchor.Event) + " AND " + aw + ")"
	cmp, ord := ">", "ASC"
	if dir < 0 {
		cmp, ord = "<", "DESC"
	}
	// Sessions by a hash of their id, order by orderKey64: fixed-width
	// keys for the joins and windows (see hashed).
	k, _ := sp.orderKey64()
	q := `WITH ev AS (
	SELECT hash(e.session_id) AS sid, ` + k + ` AS k, ` + ma + ` AS ma, ` + views + ` AS mv,
		CASE WHEN ` + views + ` THEN ` + key + ` ELSE e.event END AS v
	FROM events e
	WHERE e.ts >= ` + b.arg(sp.from) + ` AND e.ts < ` + b.arg(sp.to) + ` AND e.session_id IS NOT NULL AND (` + views + ` OR ` + ma + `)),
anchor AS (SELECT sid, min(k) AS k0, arg_min(v, k) AS v0 FROM ev WHERE ma GROUP BY sid),
after AS (SELECT ev.sid, ev.k, ev.v FROM ev JOIN anchor a ON a.sid = ev.sid AND ev.k ` + cmp + ` a.k0 WHERE ev.mv
	UNION ALL SELECT sid, k0, v0 FROM anchor),
runs AS (SELECT sid, k, v, lag(v) OVER (PARTITION BY sid ORDER BY k ` + ord + `) AS pv FROM after),
steps AS (SELECT sid, v, row_number() OVER (PARTITION BY sid ORDER BY k ` + ord + `) - 1 AS step
	FROM runs WHERE pv IS NULL OR pv <> v QUALIFY step <= ` + b.arg(depth) + `),
pairs AS (SELECT step, v, lead(v) OVER (PARTITION BY sid ORDER BY step) AS nv FROM steps)
SELECT step, v, nv, count(*) FROM pairs GROUP BY ALL`
	var pairs []pathPair
	err = e.query(ctx, q, b.args, func(rows *sql.Rows) error {
		var p pathPair
		var v, nv sql.NullString
		if err := rows.Scan(&p.step, &v, &nv, &p.n); err != nil {
			return err
		}
		p.v, p.nv, p.next = v.String, nv.String, nv.Valid
		pairs = append(pairs, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return foldPaths(pairs, dir, limit), nil
}

type pathPair struct {
	step  int
	v, nv string
	next  bool
	n     int64
}

// foldPaths keeps the limit most frequent values of each step, folds the
// others into Other, and answers nodes and links.
func foldPaths(pairs []pathPair, dir, limit int) *PathsAnswer {
	count := map[int]map[string]int64{}
	for _, p := range pairs {
		if count[p.step] == nil {
			count[p.step] = map[string]int64{}
		}
		count[p.step][p.v] += p.n
	}
	keep := map[int]map[string]bool{}
	for step, vals := range count {
		type vc struct {
			v string
			n int64
		}
		var all []vc
		for v, n := range vals {
			all = append(all, vc{v, n})
		}
		sort.Slice(all, func(i, j int) bool {
			if all[i].n != all[j].n {
				return all[i].n > all[j].n
			}
			return all[i].v < all[j].v
		})
		keep[step] = map[string]bool{}
		for i, x := range all {
			if i < limit {
				keep[step][x.v] = true
			}
		}
	}
	fold := func(step int, v string) string {
		if keep[step][v] {
			return v
		}
		return Other
	}
	name := func(step int, v string) string { return fmt.Sprintf("%d %s", dir*step, v) }
	ans := &PathsAnswer{Nodes: []PathNode{}, Links: []PathLink{}}
	nodes := map[string]*PathNode{}
	links := map[[2]string]int64{}
	for _, p := range pairs {
		v := fold(p.step, p.v)
		n := name(p.step, v)
		if nodes[n] == nil {
			nodes[n] = &PathNode{Name: n, Step: dir * p.step, Value: v}
		}
		nodes[n].Sessions += p.n
		if p.step == 0 {
			ans.Sessions += p.n
		}
		if p.next {
			l := [2]string{n, name(p.step+1, fold(p.step+1, p.nv))}
			if dir < 0 { // links read forward in time
				l[0], l[1] = l[1], l[0]
			}
			links[l] += p.n
		}
	}
	for _, n := range nodes {
		ans.Nodes = append(ans.Nodes, *n)
	}
	sort.Slice(ans.Nodes, func(i, j int) bool {
		a, b := ans.Nodes[i], ans.Nodes[j]
		if a.Step != b.Step {
			return a.Step < b.Step
		}
		if a.Sessions != b.Sessions {
			return a.Sessions > b.Sessions
		}
		return a.Value < b.Value
	})
	for k, v := range links {
		ans.Links = append(ans.Links, PathLink{Source: k[0], Target: k[1], Value: v})
	}
	sort.Slice(ans.Links, func(i, j int) bool {
		a, b := ans.Links[i], ans.Links[j]
		if a.Value != b.Value {
			return a.Value > b.Value
		}
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.Target < b.Target
	})
	return ans
}
