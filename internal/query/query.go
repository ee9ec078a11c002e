package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DB runs SQL; *sql.DB is one.
type DB interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

var _ DB = (*sql.DB)(nil)

// Options configure an Engine. Zero values take the defaults.
type Options struct {
	// SessionTimeout caps dwell times (DESIGN §5); default 30 minutes, as
	// the store's session timeout.
	SessionTimeout time.Duration
	// DefaultRange is the time range of a request that names none; default
	// the last 30 days.
	DefaultRange time.Duration
	// LinksCaughtUp reports whether the store's identity_links holds every
	// link, so that the journey may read them alone rather than with the
	// identify events stored since (exact either way; the tail costs a scan
	// by rowid); nil always reads the tail.
	LinksCaughtUp func() bool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 30 * time.Minute
	}
	if o.DefaultRange <= 0 {
		o.DefaultRange = 30 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Engine answers analyses over the events table.
type Engine struct {
	db   DB
	opts Options
}

// New returns an Engine reading through db.
func New(db DB, opts Options) *Engine {
	opts.setDefaults()
	return &Engine{db: db, opts: opts}
}

// Error is a request the engine refuses: an unknown field, a bad operator, a
// bad time range. Its message names the problem; the API answers it 400.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func invalid(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// IsInvalid reports whether err is a refused request.
func IsInvalid(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Range is the half-open time range [From, To) of an analysis, as RFC 3339
// strings in requests.
type Range struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type span struct{ from, to time.Time }

func (e *Engine) span(r Range) (span, error) {
	var s span
	var err error
	s.to = e.opts.Now()
	if r.To != "" {
		if s.to, err = time.Parse(time.RFC3339Nano, r.To); err != nil {
			return s, invalid("to: %q is not an RFC 3339 time", r.To)
		}
	}
	s.from = s.to.Add(-e.opts.DefaultRange)
	if r.From != "" {
		if s.from, err = time.Parse(time.RFC3339Nano, r.From); err != nil {
			return s, invalid("from: %q is not an RFC 3339 time", r.From)
		}
	}
	if !s.from.Before(s.to) {
		return s, invalid("from (%s) must be before to (%s)", s.from.Format(time.RFC3339), s.to.Format(time.RFC3339))
	}
	return s, nil
}

// Filter is one condition on an event: Field is a column of the events table
// (DESIGN §4) or properties.<name>; Op is eq, neq, in, contains, gt or lt.
type Filter struct {
	Field string `json:"field"`
	Op    string `json:"op"`
	Value any    `json:"value"`
}

// Step is an event name and the filters its events must pass.
type Step struct {
	Event string   `json:"event"`
	Where []Filter `json:"where"`
}

type kind int

const (
	text kind = iota
	integer
	timestamp
	property
)

// columns are the filterable columns of the events table.
var columns = map[string]kind{
	"event_id": text, "source": text, "type": text, "event": text,
	"anonymous_id": text, "user_id": text, "session_id": text, "seq": integer,
	"ts": timestamp, "client_ts": timestamp, "sent_at": timestamp, "received_at": timestamp,
	"page_url": text, "page_path": text, "page_title": text, "referrer": text, "screen_name": text,
	"section": text, "banner": text,
	"utm_source": text, "utm_medium": text, "utm_campaign": text, "utm_term": text, "utm_content": text,
	"device_type": text, "os": text, "browser": text, "ip": text,
}

// builder collects the bound parameters of one statement.
type builder struct{ args []any }

// arg binds v and answers its placeholder.
func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// field answers the SQL expression of a field of the events row aliased a,
// and its kind.
func (b *builder) field(a, f string) (string, kind, error) {
	if name, ok := strings.CutPrefix(f, "properties."); ok {
		if name == "" {
			return "", 0, invalid("field %q: name the property, as properties.plan", f)
		}
		path := `$."` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
		return "json_extract_string(" + a + ".properties, " + b.arg(path) + ")", property, nil
	}
	k, ok := columns[f]
	if !ok {
		return "", 0, invalid("unknown field %q: want a column of the events table or properties.<name>", f)
	}
	return a + "." + f, k, nil
}

// where answers the SQL condition of fs on the events row aliased a ("TRUE"
// when there are none). ctx names the filters in errors.
func (b *builder) where(a, ctx string, fs []Filter) (string, error) {
	if len(fs) == 0 {
		return "TRUE", nil
	}
	parts := make([]string, 0, len(fs))
	for i, f := range fs {
		c, err := b.cond(a, f)
		if err != nil {
			return "", invalid("%s[%d]: %s", ctx, i, err.Error())
		}
		parts = append(parts, c)
	}
	return "(" + strings.Join(parts, " AND ") + ")", nil
}

func (b *builder) cond(a string, f Filter) (string, error) {
	expr, k, err := b.field(a, f.Field)
	if err != nil {
		return "", err
	}
	switch f.Op {
	case "eq", "neq", "gt", "lt":
		x, v, err := b.typed(expr, k, f.Value, f.Op)
		if err != nil {
			return "", err
		}
		op := map[string]string{"eq": "=", "neq": "IS DISTINCT FROM", "gt": ">", "lt": "<"}[f.Op]
		return x + " " + op + " " + b.arg(v), nil
	case "in":
		vals, ok := f.Value.([]any)
		if !ok || len(vals) == 0 {
			return "", invalid("field %q: op in needs a non-empty list of values", f.Field)
		}
		var x string
		ph := make([]string, len(vals))
		for i, val := range vals {
			xi, v, err := b.typed(expr, k, val, "in")
			if err != nil {
				return "", err
			}
			x = xi
			ph[i] = b.arg(v)
		}
		return x + " IN (" + strings.Join(ph, ", ") + ")", nil
	case "contains":
		s, ok := f.Value.(string)
		if !ok || (k != text && k != property) {
			return "", invalid("field %q: op contains needs a text field and a string value", f.Field)
		}
		return "contains(" + expr + ", " + b.arg(s) + ")", nil
	}
	return "", invalid("unknown op %q on field %q: want eq, neq, in, contains, gt or lt", f.Op, f.Field)
}

// typed converts a JSON value for comparison with a field of kind k; the
// expression may change (a property compared with a number is cast).
func (b *builder) typed(expr string, k kind, v any, op string) (string, any, error) {
	switch k {
	case text:
		if s, ok := v.(string); ok {
			return expr, s, nil
		}
	case integer:
		if n, ok := v.(float64); ok && n == float64(int64(n)) {
			return expr, int64(n), nil
		}
	case timestamp:
		if s, ok := v.(string); ok {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return "", nil, invalid("%q is not an RFC 3339 time", s)
			}
			return expr, t, nil
		}
	case property:
		switch x := v.(type) {
		case string:
			return expr, x, nil
		case float64:
			return "TRY_CAST(" + expr + " AS DOUBLE)", x, nil
		case bool:
			return expr, strconv.FormatBool(x), nil
		}
	}
	return "", nil, invalid("op %s: value %v does not suit the field (%s)", op, v, [...]string{"text", "integer", "time", "property"}[k])
}

// identities links each identified anonymous_id to its member: the user_id
// of its earliest identify event, from the links the store's writer keeps.
const identities = `ids AS (SELECT anonymous_id AS aid, user_id AS uid FROM identities)`

// memberExpr is the member of an events row aliased e joined with ids.
const memberExpr = "coalesce(e.user_id, ids.uid, e.anonymous_id)"

// hashed is the 64-bit hash of the id x, NULL when x is: analyses join,
// group and sort actors by it, far cheaper than by their text. Two of a
// million actors share a hash with a chance of about 3e-8, of a hundred
// million about 3e-4; sharing one, they would count as one.
func hashed(x string) string {
	return "CASE WHEN " + x + " IS NOT NULL THEN hash(" + x + ") END"
}

// checkBy refuses a by that is neither user nor session.
func checkBy(by string) error {
	if by != "" && by != "user" && by != "session" {
		return invalid("by: %q: want user or session", by)
	}
	return nil
}

// windowMicros answers a request's window_seconds in microseconds: def
// seconds when it is 0, refused when negative.
func windowMicros(seconds, def float64) (int64, error) {
	if seconds == 0 {
		seconds = def
	}
	if seconds < 0 {
		return 0, invalid("window_seconds must be positive")
	}
	return int64(seconds * 1e6), nil
}

// orDefault answers n, or def when n is not positive.
func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// orderKey orders events strictly by (ts, seq), a missing seq first: equal
// keys are events no step may follow one another.
const orderKey = `(epoch_us(e.ts)::HUGEINT * 4294967296 + least(greatest(coalesce(e.seq, -1) + 1, 0), 4294967295))`

// orderKey64 is orderKey in a BIGINT, for joins that must sort many rows,
// for the events of the span: microseconds since its start times m, plus
// seq, where m is as large as the span's length allows (about 5e7 for a day,
// 1.8e6 for 30 days, 1.4e4 for 10 years). It is exact while seq is below
// m - 1; above, events of the same microsecond tie.
// It answers the expression and m: key // m is the microseconds since the
// span's start.
func (sp span) orderKey64() (string, int64) {
	from := sp.from.UnixMicro()
	m := int64(1<<62) / max(sp.to.UnixMicro()-from+1, 1)
	return fmt.Sprintf("((epoch_us(e.ts) - %d) * %d + least(greatest(coalesce(e.seq, -1) + 1, 0), %d))", from, m, m-1), m
}

func (e *Engine) query(ctx context.Context, q string, args []any, scan func(*sql.Rows) error) error {
	rows, err := e.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("run analysis: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("read analysis: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read analysis: %w", err)
	}
	return nil
}
