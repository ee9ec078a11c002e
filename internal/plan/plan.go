package plan

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/actlog/actlog/internal/event"
)

// Mode is how a source is held to the plan.
type Mode string

// The enforcement modes.
const (
	// Off checks nothing.
	Off Mode = "off"
	// Flag stores an event that breaks the plan, with the rules it breaks
	// in its violations column.
	Flag Mode = "flag"
	// Reject refuses it: the collector answers it by index and keeps it in
	// the rejected table.
	Reject Mode = "reject"
)

func parseMode(s string) (Mode, bool) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case Off, Flag, Reject:
		return m, true
	case "":
		return Off, true
	}
	return "", false
}

// RuleUnplanned is the rule an event breaks when the plan does not list it
// and the plan says unplanned events are violations.
const RuleUnplanned = "unplanned"

// File is the tracking plan as written in YAML.
type File struct {
	// Enforcement is how strictly each source is held to the plan:
	// default for every source, and per source by name.
	Enforcement struct {
		Default string            `yaml:"default"`
		Sources map[string]string `yaml:"sources"`
	} `yaml:"enforcement"`
	// Unplanned says what an event the plan does not list is: "allow"
	// (the default: no violation) or "violation".
	Unplanned string      `yaml:"unplanned"`
	Events    []EventSpec `yaml:"events"`
}

// EventSpec is one planned event.
type EventSpec struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Owner       string `yaml:"owner"`
	// Properties is a JSON Schema (draft 2020-12 unless it says otherwise
	// with $schema) for the event's properties (traits for identify and
	// group). Absent: any properties.
	Properties yaml.Node `yaml:"properties"`
}

// Plan is a parsed, compiled tracking plan.
type Plan struct {
	defaultMode     Mode
	sources         map[string]Mode
	unplannedIsRule bool
	events          map[string]*planned
	names           []string
}

type planned struct {
	spec   EventSpec
	schema *jsonschema.Schema // nil: any properties
}

// Error is a problem in a plan file, with the line it is on when known.
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// Errors are all the problems found in a plan file.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Parse reads and compiles a plan. It reports every problem it finds, each
// with its line, not only the first.
func Parse(data []byte) (*Plan, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{Msg: "the plan is empty"}}
		}
		return nil, Errors{{Msg: "not a valid plan: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var errs Errors
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &Error{Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	p := &Plan{sources: map[string]Mode{}, events: map[string]*planned{}}
	var ok bool
	if p.defaultMode, ok = parseMode(f.Enforcement.Default); !ok {
		bad(0, "enforcement.default is %q: use off, flag or reject", f.Enforcement.Default)
	}
	for src, m := range f.Enforcement.Sources {
		if p.sources[src], ok = parseMode(m); !ok {
			bad(0, "enforcement of source %q is %q: use off, flag or reject", src, m)
		}
	}
	switch strings.ToLower(f.Unplanned) {
	case "", "allow":
	case "violation":
		p.unplannedIsRule = true
	default:
		bad(0, "unplanned is %q: use allow or violation", f.Unplanned)
	}
	for i, ev := range f.Events {
		line := ev.Properties.Line
		if ev.Name == "" {
			bad(line, "event %d has no name", i+1)
			continue
		}
		if p.events[ev.Name] != nil {
			bad(line, "event %q is listed twice", ev.Name)
			continue
		}
		pe := &planned{spec: ev}
		p.events[ev.Name] = pe
		if !ev.Properties.IsZero() {
			s, err := compile(ev.Name, &ev.Properties)
			if err != nil {
				bad(line, "event %q: %v", ev.Name, err)
				continue
			}
			pe.schema = s
		}
		p.names = append(p.names, ev.Name)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	slices.Sort(p.names)
	return p, nil
}

// compile turns the YAML of one JSON Schema into a compiled schema. Only
// references inside the schema itself are resolved: a plan never loads
// files or URLs.
func compile(name string, n *yaml.Node) (*jsonschema.Schema, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, fmt.Errorf("properties: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("properties cannot be JSON: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("properties: %w", err)
	}
	if m, ok := doc.(map[string]any); ok {
		if t, ok := m["type"]; ok && t != "object" {
			return nil, fmt.Errorf("properties schema must have type object, not %v", t)
		}
	} else if _, ok := doc.(bool); !ok {
		return nil, errors.New("properties must be a JSON Schema (a mapping)")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	url := "plan:///events/" + strings.ReplaceAll(name, "/", "%2F") + ".json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("properties: %w", err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("properties is not a valid JSON Schema: %s", schemaErr(err))
	}
	return s, nil
}

// schemaErr shortens the compiler's error to its message: for a schema
// the metaschema refuses, where and why.
func schemaErr(err error) string {
	var sve *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if errors.As(err, &sve) && errors.As(sve.Err, &ve) {
		var first *jsonschema.ValidationError
		leaves(ve, func(e *jsonschema.ValidationError) {
			if first == nil {
				first = e
			}
		})
		v := violationOf(first)
		if v.Path == "" {
			return v.Message
		}
		return "at " + v.Path + ": " + v.Message
	}
	s := err.Error()
	s = strings.ReplaceAll(s, "plan:///events/", "")
	return strings.Join(strings.Fields(s), " ")
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("a plan cannot load %s: keep $ref inside the event's schema ($defs)", url)
}

// Mode is the enforcement of source.
func (p *Plan) Mode(source string) Mode {
	if m, ok := p.sources[source]; ok {
		return m
	}
	return p.defaultMode
}

// Sources are the sources the plan names under enforcement, sorted.
func (p *Plan) Sources() []string {
	out := make([]string, 0, len(p.sources))
	for s := range p.sources {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Events are the planned event names, sorted.
func (p *Plan) Events() []string { return p.names }

// Event is the plan of one event, and whether it is planned.
func (p *Plan) Event(name string) (EventSpec, bool) {
	pe := p.events[name]
	if pe == nil {
		return EventSpec{}, false
	}
	return pe.spec, true
}

// MaxViolations bounds the violations kept for one event.
const MaxViolations = 10

var printer = message.NewPrinter(language.English)

// Check holds one event of source to the plan. It answers the rules the
// event breaks (nil when none, or when the source's mode is off) and
// whether they reject it (mode reject). properties is the event's
// properties column, a JSON object.
func (p *Plan) Check(source, name string, properties []byte) ([]event.Violation, bool) {
	mode := p.Mode(source)
	if mode == Off {
		return nil, false
	}
	pe := p.events[name]
	if pe == nil {
		if !p.unplannedIsRule {
			return nil, false
		}
		return []event.Violation{{Rule: RuleUnplanned, Message: fmt.Sprintf("event %q is not in the tracking plan", name)}}, mode == Reject
	}
	if pe.schema == nil {
		return nil, false
	}
	if len(properties) == 0 {
		properties = []byte("{}")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(properties))
	if err != nil {
		return []event.Violation{{Rule: "json", Message: "properties are not JSON"}}, mode == Reject
	}
	err = pe.schema.Validate(doc)
	if err == nil {
		return nil, false
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []event.Violation{{Rule: "schema", Message: err.Error()}}, mode == Reject
	}
	var out []event.Violation
	leaves(ve, func(e *jsonschema.ValidationError) {
		out = append(out, violationOf(e))
	})
	if len(out) == 0 {
		out = append(out, violationOf(ve))
	}
	// The validator walks properties in map order: sort for stable rows.
	slices.SortFunc(out, func(a, b event.Violation) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(a.Rule, b.Rule), strings.Compare(a.Message, b.Message))
	})
	if len(out) > MaxViolations {
		out = out[:MaxViolations]
	}
	return out, mode == Reject
}

// leaves calls f with the innermost errors of e: the rules themselves, not
// the schemas that hold them.
func leaves(e *jsonschema.ValidationError, f func(*jsonschema.ValidationError)) {
	if len(e.Causes) == 0 {
		f(e)
		return
	}
	for _, c := range e.Causes {
		leaves(c, f)
	}
}

func violationOf(e *jsonschema.ValidationError) event.Violation {
	v := event.Violation{Rule: "schema", Message: e.ErrorKind.LocalizedString(printer)}
	if kp := e.ErrorKind.KeywordPath(); len(kp) > 0 {
		v.Rule = kp[0]
	}
	if len(e.InstanceLocation) > 0 {
		var sb strings.Builder
		for _, tok := range e.InstanceLocation {
			sb.WriteByte('/')
			sb.WriteString(strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1"))
		}
		v.Path = sb.String()
	}
	return v
}
