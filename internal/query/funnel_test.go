package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/query"
)

// refEvent is an event as the reference funnel sees it.
type refEvent struct {
	anon, user, session string
	name, p             string
	ts                  time.Time
	seq                 *int64
	identify            bool
}

func (e refEvent) key() [2]int64 {
	s := int64(-1)
	if e.seq != nil {
		s = *e.seq
	}
	return [2]int64{e.ts.UnixMicro(), s}
}

func less(a, b [2]int64) bool { return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1]) }

// refFunnel is a brute-force funnel: for each actor, every chain of events
// matching the steps in strictly increasing (ts, seq) within the window is
// tried; the actor's level is the longest, its chain the one of the earliest
// start with that level, each later step as early as possible.
func refFunnel(evs []refEvent, steps []query.Step, window time.Duration, by string) (counts []int64, medians []*float64, bdCounts map[string][]int64, ambiguous bool) {
	link := map[string]string{}
	linkTS := map[string]time.Time{}
	for _, e := range evs {
		if e.identify && e.user != "" && e.anon != "" {
			if t, ok := linkTS[e.anon]; !ok || e.ts.Before(t) {
				link[e.anon], linkTS[e.anon] = e.user, e.ts
			}
		}
	}
	actorOf := func(e refEvent) string {
		if by == "session" {
			return e.session
		}
		if e.user != "" {
			return e.user
		}
		if u, ok := link[e.anon]; ok {
			return u
		}
		return e.anon
	}
	matches := func(e refEvent, s query.Step) bool {
		if e.name != s.Event {
			return false
		}
		for _, f := range s.Where {
			if e.p != f.Value {
				return false
			}
		}
		return true
	}
	byActor := map[string][]refEvent{}
	for _, e := range evs {
		if a := actorOf(e); a != "" {
			byActor[a] = append(byActor[a], e)
		}
	}
	n := len(steps)
	counts = make([]int64, n)
	gaps := make([][]float64, n)
	bdCounts = map[string][]int64{}
	// longest answers the longest chain from prev (matching step k-1), and
	// the earliest such chain.
	var longest func(all []refEvent, first, prev refEvent, k int) []refEvent
	longest = func(all []refEvent, first, prev refEvent, k int) []refEvent {
		if k == n {
			return nil
		}
		var best []refEvent
		for _, e := range all {
			if !matches(e, steps[k]) || !less(prev.key(), e.key()) || e.ts.Sub(first.ts) > window {
				continue
			}
			c := append([]refEvent{e}, longest(all, first, e, k+1)...)
			if len(c) > len(best) || (len(c) == len(best) && chainLess(c, best)) {
				best = c
			}
		}
		return best
	}
	for _, all := range byActor {
		var best []refEvent
		for _, e := range all {
			if !matches(e, steps[0]) {
				continue
			}
			c := append([]refEvent{e}, longest(all, e, e, 1)...)
			if len(c) > len(best) || (len(c) == len(best) && chainLess(c, best)) {
				best = c
			}
		}
		if best == nil {
			continue
		}
		for _, e := range all {
			if matches(e, steps[0]) && e.key() == best[0].key() && e.p != best[0].p {
				ambiguous = true
			}
		}
		if bdCounts[best[0].p] == nil {
			bdCounts[best[0].p] = make([]int64, n)
		}
		for k := range best {
			counts[k]++
			bdCounts[best[0].p][k]++
			if k > 0 {
				gaps[k] = append(gaps[k], best[k].ts.Sub(best[k-1].ts).Seconds())
			}
		}
	}
	medians = make([]*float64, n)
	for k, g := range gaps {
		if len(g) == 0 {
			continue
		}
		sort.Float64s(g)
		m := g[len(g)/2]
		if len(g)%2 == 0 {
			m = (g[len(g)/2-1] + g[len(g)/2]) / 2
		}
		medians[k] = &m
	}
	return counts, medians, bdCounts, ambiguous
}

func chainLess(a, b []refEvent) bool {
	for i := range a {
		if a[i].key() != b[i].key() {
			return less(a[i].key(), b[i].key())
		}
	}
	return false
}

// TestFunnelMatchesReference compares Funnel with refFunnel on random small
// data made to hit the edges: equal timestamps, equal (ts, seq), missing
// seq, repeated step events, logins linking devices, the window boundary.
func TestFunnelMatchesReference(t *testing.T) {
	st := openStore(t)
	eng := query.New(st.DB(), query.Options{})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	iterations := 300
	if testing.Short() {
		iterations = 50
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for it := 0; it < iterations; it++ {
		day := base.AddDate(0, 0, it)
		pre := fmt.Sprintf("i%d-", it)
		var evs []refEvent
		var batch event.Batch
		add := func(e refEvent) {
			evs = append(evs, e)
			typ := event.Track
			name := e.name
			if e.identify {
				typ, name = event.Identify, "identify"
			}
			ev := event.Event{
				EventID: fmt.Sprintf("%s%d", pre, len(evs)), Source: "web", Type: typ, Event: name,
				AnonymousID: e.anon, UserID: e.user, SessionID: e.session,
				TS: e.ts, ReceivedAt: e.ts, Properties: json.RawMessage(`{"p":"` + e.p + `"}`), Context: json.RawMessage(`{}`),
			}
			if e.seq != nil {
				ev.Seq, ev.HasSeq = *e.seq, true
			}
			batch.Events = append(batch.Events, ev)
		}
		for a := 0; a < 4; a++ {
			anon := fmt.Sprintf("%sa%d", pre, a)
			if rng.IntN(3) == 0 {
				add(refEvent{anon: anon, user: fmt.Sprintf("%su%d", pre, rng.IntN(2)), session: anon + "-s0",
					ts: day.Add(time.Duration(rng.IntN(6)) * time.Minute), identify: true})
			}
			for i, n := 0, 1+rng.IntN(10); i < n; i++ {
				e := refEvent{
					anon: anon, session: fmt.Sprintf("%s-s%d", anon, rng.IntN(2)),
					name: []string{"A", "B", "C"}[rng.IntN(3)], p: []string{"x", "y"}[rng.IntN(2)],
					ts: day.Add(time.Duration(rng.IntN(6)) * time.Minute),
				}
				if rng.IntN(4) > 0 {
					s := int64(rng.IntN(4))
					e.seq = &s
				}
				if rng.IntN(5) == 0 {
					e.user = fmt.Sprintf("%su%d", pre, rng.IntN(2))
				}
				add(e)
			}
		}
		rng.Shuffle(len(batch.Events), func(i, j int) { batch.Events[i], batch.Events[j] = batch.Events[j], batch.Events[i] })
		if err := st.Write(ctx, &batch); err != nil {
			t.Fatal(err)
		}
		steps := make([]query.Step, 1+rng.IntN(4))
		for i := range steps {
			steps[i].Event = []string{"A", "B", "C"}[rng.IntN(3)]
			if rng.IntN(3) == 0 {
				steps[i].Where = []query.Filter{{Field: "properties.p", Op: "eq", Value: "x"}}
			}
		}
		window := time.Duration(60*(1+rng.IntN(5))) * time.Second
		by := []string{"user", "session"}[rng.IntN(2)]
		req := query.FunnelRequest{
			Range: query.Range{From: day.Format(time.RFC3339), To: day.Add(24 * time.Hour).Format(time.RFC3339)},
			Steps: steps, WindowSeconds: window.Seconds(), By: by, Breakdown: "properties.p",
		}
		got, err := eng.Funnel(ctx, req)
		if err != nil {
			t.Fatalf("iteration %d: %v", it, err)
		}
		counts, medians, bd, ambiguous := refFunnel(evs, steps, window, by)
		desc := func() string { b, _ := json.Marshal(req); return string(b) }
		for k := range steps {
			if got.Steps[k].Actors != counts[k] {
				dump(t, evs)
				t.Fatalf("iteration %d %s: step %d actors %d, reference %d", it, desc(), k+1, got.Steps[k].Actors, counts[k])
			}
			g, w := got.Steps[k].MedianSecondsFromPrev, medians[k]
			if (g == nil) != (w == nil) || (g != nil && math.Abs(*g-*w) > 1e-6) {
				t.Fatalf("iteration %d %s: step %d median %v, reference %v", it, desc(), k+1, fmtp(g), fmtp(w))
			}
		}
		if ambiguous {
			continue
		}
		if len(got.Breakdown) != len(bd) {
			t.Fatalf("iteration %d %s: %d breakdown values, reference %d", it, desc(), len(got.Breakdown), len(bd))
		}
		for _, g := range got.Breakdown {
			want := bd[*g.Value]
			for k := range steps {
				if g.Steps[k].Actors != want[k] {
					t.Fatalf("iteration %d %s: breakdown %s step %d actors %d, reference %d", it, desc(), *g.Value, k+1, g.Steps[k].Actors, want[k])
				}
			}
		}
	}
}

// dump logs the events of a failing iteration.
func dump(t *testing.T, evs []refEvent) {
	t.Helper()
	for _, e := range evs {
		t.Logf("anon %s user %s session %s %s p=%s %s seq %v identify %v", e.anon, e.user, e.session, e.name, e.p, e.ts.Format("15:04"), fmtSeq(e.seq), e.identify)
	}
}

func fmtSeq(s *int64) string {
	if s == nil {
		return "null"
	}
	return fmt.Sprint(*s)
}

func fmtp(f *float64) string {
	if f == nil {
		return "null"
	}
	return fmt.Sprint(*f)
}
