package plan

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// InferOptions bound what Infer reads.
type InferOptions struct {
	Since  time.Time // events at or after; zero: all
	Source string    // one source; "": every source
	// PerEvent is how many of each event's most recent occurrences are
	// read for its properties; default 100,000.
	PerEvent int
	Examples int // examples kept per property; default 3
}

// Observed is what Infer saw of one event.
type Observed struct {
	Name       string
	Count      int64 // occurrences in the range
	Sampled    int64 // occurrences read for properties
	First      time.Time
	Last       time.Time
	Sources    []string
	Properties []ObservedProperty
}

// ObservedProperty is one top-level property of an event.
type ObservedProperty struct {
	Name     string
	Present  int64    // sampled occurrences that have it
	Types    []string // JSON Schema types seen, sorted
	Examples []any
}

// Infer reads the events table of db (actlog's store) and reports every
// event name with its properties, their observed types and examples.
func Infer(ctx context.Context, db *sql.DB, o InferOptions) ([]Observed, error) {
	if o.PerEvent <= 0 {
		o.PerEvent = 100_000
	}
	if o.Examples <= 0 {
		o.Examples = 3
	}
	since := o.Since
	if since.IsZero() {
		since = time.Unix(0, 0)
	}
	rows, err := db.QueryContext(ctx, `
		SELECT event, count(*), min(ts), max(ts), list(DISTINCT source ORDER BY source)
		FROM events WHERE ts >= ? AND (? = '' OR source = ?) AND event IS NOT NULL
		GROUP BY event ORDER BY event`, since, o.Source, o.Source)
	if err != nil {
		return nil, fmt.Errorf("read event names: %w", err)
	}
	var out []Observed
	index := map[string]int{}
	for rows.Next() {
		var ob Observed
		var sources []any
		if err := rows.Scan(&ob.Name, &ob.Count, &ob.First, &ob.Last, &sources); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan event names: %w", err)
		}
		for _, s := range sources {
			if s, ok := s.(string); ok {
				ob.Sources = append(ob.Sources, s)
			}
		}
		index[ob.Name] = len(out)
		out = append(out, ob)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read event names: %w", err)
	}
	rows, err = db.QueryContext(ctx, `
		WITH s AS (
			SELECT event, properties FROM events
			WHERE ts >= ? AND (? = '' OR source = ?) AND event IS NOT NULL
			QUALIFY row_number() OVER (PARTITION BY event ORDER BY ts DESC) <= ?
		), n AS (
			SELECT event, count(*) AS n FROM s GROUP BY event
		), kv AS (
			SELECT event, key, json_extract(properties, '/' || replace(replace(key, '~', '~0'), '/', '~1')) AS v
			FROM (SELECT event, properties, unnest(json_keys(properties)) AS key FROM s)
		)
		SELECT kv.event, n.n, kv.key, count(*),
			list(DISTINCT json_type(v)),
			list(DISTINCT v::VARCHAR ORDER BY v::VARCHAR) FILTER (WHERE json_type(v) IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN'))
		FROM kv JOIN n USING (event)
		GROUP BY kv.event, n.n, kv.key
		ORDER BY kv.event, kv.key`, since, o.Source, o.Source, o.PerEvent)
	if err != nil {
		return nil, fmt.Errorf("read properties: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, key string
		var n, present int64
		var types, examples []any
		if err := rows.Scan(&name, &n, &key, &present, &types, &examples); err != nil {
			return nil, fmt.Errorf("scan properties: %w", err)
		}
		i, ok := index[name]
		if !ok {
			continue
		}
		out[i].Sampled = n
		p := ObservedProperty{Name: key, Present: present, Types: schemaTypes(types)}
		for _, e := range examples {
			if len(p.Examples) >= o.Examples {
				break
			}
			s, ok := e.(string)
			if !ok {
				continue
			}
			var v any
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			if dec.Decode(&v) != nil {
				continue
			}
			switch x := v.(type) {
			case string:
				if utf8.RuneCountInString(x) > 60 {
					continue // long text makes a poor example
				}
			case json.Number:
				if n, err := x.Int64(); err == nil {
					v = n
				} else if f, err := x.Float64(); err == nil {
					v = f
				} else {
					continue
				}
			}
			p.Examples = append(p.Examples, v)
		}
		out[i].Properties = append(out[i].Properties, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read properties: %w", err)
	}
	return out, nil
}

// schemaTypes maps DuckDB's json_type names to JSON Schema types. integer
// and number together are number.
func schemaTypes(types []any) []string {
	seen := map[string]bool{}
	for _, t := range types {
		s, _ := t.(string)
		switch s {
		case "VARCHAR":
			seen["string"] = true
		case "BIGINT", "UBIGINT":
			seen["integer"] = true
		case "DOUBLE":
			seen["number"] = true
		case "BOOLEAN":
			seen["boolean"] = true
		case "OBJECT":
			seen["object"] = true
		case "ARRAY":
			seen["array"] = true
		case "NULL":
			seen["null"] = true
		}
	}
	if seen["number"] {
		delete(seen, "integer")
	}
	var out []string
	for t := range seen {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Draft writes a tracking plan from what Infer observed: every event, its
// properties with their types and examples, and as required the
// properties every sampled occurrence had. Enforcement is off: a team
// reviews the draft, fills in descriptions and owners, then turns it on.
func Draft(obs []Observed, o InferOptions) ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Tracking plan drafted by `actlog plan infer` on %s from the events stored", time.Now().UTC().Format(time.DateOnly))
	if !o.Since.IsZero() {
		fmt.Fprintf(&buf, " since %s", o.Since.UTC().Format(time.DateOnly))
	}
	if o.Source != "" {
		fmt.Fprintf(&buf, " by source %s", o.Source)
	}
	buf.WriteString(".\n# Review it: describe each event, name its owner, tighten the schemas\n# (enum, minimum, pattern, required), then set enforcement.\n# Reference: docs/tracking-plan.md\n")
	root := &yaml.Node{Kind: yaml.MappingNode}
	add := func(m *yaml.Node, k string, v *yaml.Node) {
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, v)
	}
	scalar := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
	enf := &yaml.Node{Kind: yaml.MappingNode}
	add(enf, "default", scalar("off"))
	enf.Content[1].LineComment = "off, flag or reject; per source under sources:"
	add(root, "enforcement", enf)
	add(root, "unplanned", scalar("allow"))
	root.Content[len(root.Content)-1].LineComment = "or violation"
	events := &yaml.Node{Kind: yaml.SequenceNode}
	for _, ob := range obs {
		ev := &yaml.Node{Kind: yaml.MappingNode}
		add(ev, "name", scalar(ob.Name))
		add(ev, "description", &yaml.Node{Kind: yaml.ScalarNode, Value: "", Style: yaml.DoubleQuotedStyle})
		add(ev, "owner", &yaml.Node{Kind: yaml.ScalarNode, Value: "", Style: yaml.DoubleQuotedStyle})
		ev.HeadComment = fmt.Sprintf("%d events from %s to %s (%s)", ob.Count,
			ob.First.UTC().Format(time.DateOnly), ob.Last.UTC().Format(time.DateOnly), strings.Join(ob.Sources, ", "))
		schema := map[string]any{"type": "object"}
		props := map[string]any{}
		var required []string
		for _, p := range ob.Properties {
			ps := map[string]any{}
			switch len(p.Types) {
			case 0:
			case 1:
				ps["type"] = p.Types[0]
			default:
				ps["type"] = p.Types
			}
			if len(p.Examples) > 0 {
				ps["examples"] = p.Examples
			}
			props[p.Name] = ps
			if p.Present == ob.Sampled {
				required = append(required, p.Name)
			}
		}
		if len(props) > 0 {
			schema["properties"] = props
		}
		if len(required) > 0 {
			schema["required"] = required
		}
		var sn yaml.Node
		if err := sn.Encode(schema); err != nil {
			return nil, fmt.Errorf("encode schema of %s: %w", ob.Name, err)
		}
		add(ev, "properties", &sn)
		events.Content = append(events.Content, ev)
	}
	add(root, "events", events)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	return buf.Bytes(), nil
}
