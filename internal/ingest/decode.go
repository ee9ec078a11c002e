package ingest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/actlog/actlog/internal/event"
)

// DecodeError means a request body could not be decoded at all (HTTP 400).
type DecodeError struct{ msg string }

func (e *DecodeError) Error() string { return e.msg }

func decodeErr(format string, args ...any) error {
	return &DecodeError{msg: fmt.Sprintf(format, args...)}
}

// IsDecode reports whether err means the body as a whole is undecodable.
func IsDecode(err error) bool {
	var d *DecodeError
	return errors.As(err, &d)
}

// Request is a decoded request body: the messages still as parsed JSON,
// plus the batch-level fields. Values point into the parser that made them
// and are valid until the parser is reused.
type Request struct {
	WriteKey string
	SentAt   *fastjson.Value
	Context  *fastjson.Value // batch-level context, applied to messages without one
	Messages []*fastjson.Value
}

// parseBody parses one request body. typ is the message type fixed by the
// route (empty for /v1/batch). The parser p owns the returned values.
func parseBody(p *fastjson.Parser, body []byte, typ event.Type, maxEvents int) (Request, error) {
	var r Request
	if len(body) == 0 {
		return r, decodeErr("empty body")
	}
	root, err := p.ParseBytes(body)
	if err != nil {
		if strings.Contains(err.Error(), "too big depth") {
			return r, decodeErr("JSON nested deeper than %d levels", fastjson.MaxDepth)
		}
		return r, jsonSyntaxErr(body)
	}
	if root.Type() != fastjson.TypeObject {
		return r, decodeErr("body must be a JSON object")
	}
	if wk := root.Get("writeKey"); wk != nil {
		s, err := wk.StringBytes()
		if err != nil {
			return r, decodeErr("writeKey must be a string")
		}
		r.WriteKey = string(s)
	}
	if typ != "" {
		r.Messages = []*fastjson.Value{root}
		return r, nil
	}
	batch := root.Get("batch")
	if batch == nil {
		return r, decodeErr("batch is required")
	}
	msgs, err := batch.Array()
	if err != nil {
		return r, decodeErr("batch must be an array")
	}
	if maxEvents > 0 && len(msgs) > maxEvents {
		return r, decodeErr("batch has %d events, more than the limit of %d", len(msgs), maxEvents)
	}
	r.Messages = msgs
	r.SentAt = root.Get("sentAt")
	if c := root.Get("context"); c != nil && c.Type() == fastjson.TypeObject {
		r.Context = c
	}
	return r, nil
}

// jsonSyntaxErr describes why body is not JSON without quoting it: the
// parser's own messages carry excerpts of the payload, which must never be
// returned to the client or logged. encoding/json, asked only on this error
// path, tells where the syntax breaks.
func jsonSyntaxErr(body []byte) error {
	var se *json.SyntaxError
	if err := json.Unmarshal(body, new(json.RawMessage)); errors.As(err, &se) {
		return decodeErr("invalid JSON at byte %d", se.Offset)
	}
	return decodeErr("invalid JSON")
}

// message reads the fields of one Segment message into e. It does the
// structural checks (types of fields, timestamps); identity and naming rules
// are event.Validate's.
type message struct {
	typ         event.Type
	messageID   string
	anonymousID string
	userID      string
	eventName   string
	name        string // page/screen name
	timestamp   time.Time
	original    time.Time
	sentAt      time.Time
	properties  *fastjson.Value
	context     *fastjson.Value
	traits      *fastjson.Value
	groupID     string
	previousID  string
}

func readMessage(v *fastjson.Value, routeType event.Type) (message, error) {
	var m message
	if v.Type() != fastjson.TypeObject {
		return m, invalidf("event must be a JSON object")
	}
	t := routeType
	if tv := v.Get("type"); tv != nil {
		s, err := tv.StringBytes()
		if err != nil {
			return m, invalidf("type must be a string")
		}
		pt, ok := event.ParseType(string(s))
		if !ok {
			return m, invalidf("unknown type")
		}
		if routeType != "" && pt != routeType {
			return m, invalidf("type does not match the endpoint")
		}
		t = pt
	}
	if t == "" {
		return m, invalidf("type is required")
	}
	m.typ = t
	var err error
	if m.messageID, err = idField(v, "messageId"); err != nil {
		return m, err
	}
	if m.anonymousID, err = idField(v, "anonymousId"); err != nil {
		return m, err
	}
	if m.userID, err = idField(v, "userId"); err != nil {
		return m, err
	}
	if m.eventName, err = stringField(v, "event"); err != nil {
		return m, err
	}
	if m.name, err = stringField(v, "name"); err != nil {
		return m, err
	}
	if m.groupID, err = idField(v, "groupId"); err != nil {
		return m, err
	}
	if m.previousID, err = idField(v, "previousId"); err != nil {
		return m, err
	}
	if m.timestamp, err = timeField(v, "timestamp"); err != nil {
		return m, err
	}
	if m.original, err = timeField(v, "originalTimestamp"); err != nil {
		return m, err
	}
	if m.sentAt, err = timeField(v, "sentAt"); err != nil {
		return m, err
	}
	if m.properties, err = objectField(v, "properties"); err != nil {
		return m, err
	}
	if m.context, err = objectField(v, "context"); err != nil {
		return m, err
	}
	if m.traits, err = objectField(v, "traits"); err != nil {
		return m, err
	}
	return m, nil
}

func invalidf(format string, args ...any) error {
	return &event.ValidationError{Reason: fmt.Sprintf(format, args...)}
}

// stringField returns a string field; absent or null is "".
func stringField(v *fastjson.Value, key string) (string, error) {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return "", nil
	}
	b, err := f.StringBytes()
	if err != nil {
		return "", invalidf("%s must be a string", key)
	}
	if !validText(b) {
		return "", invalidf("%s is not valid UTF-8 text", key)
	}
	return string(b), nil
}

// validText reports whether b is valid UTF-8 without NUL bytes: what a text
// column accepts.
func validText(b []byte) bool {
	return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}

// idField returns an identifier that SDKs send as a string or an integer.
func idField(v *fastjson.Value, key string) (string, error) {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return "", nil
	}
	switch f.Type() {
	case fastjson.TypeString:
		b, _ := f.StringBytes()
		if !validText(b) {
			return "", invalidf("%s is not valid UTF-8 text", key)
		}
		return string(b), nil
	case fastjson.TypeNumber:
		if s, ok := integerText(f); ok {
			return s, nil
		}
	}
	return "", invalidf("%s must be a string or an integer", key)
}

// integerText returns the decimal text of an integer JSON number, also one
// too large for int64 (numeric ids of some back ends are), and false for
// anything else: fractions, exponents, NaN, the parser's lenient forms.
func integerText(v *fastjson.Value) (string, bool) {
	var buf [24]byte
	raw := v.MarshalTo(buf[:0]) // a number marshals as its raw text
	if len(raw) > 64 || !validNumber(raw) || bytes.ContainsAny(raw, ".eE") {
		return "", false
	}
	return string(raw), true
}

// objectField returns a field that must be a JSON object; absent or null is nil.
func objectField(v *fastjson.Value, key string) (*fastjson.Value, error) {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return nil, nil
	}
	if f.Type() != fastjson.TypeObject {
		return nil, invalidf("%s must be an object", key)
	}
	return f, nil
}

// timeField parses an RFC 3339 timestamp or a number of Unix milliseconds.
func timeField(v *fastjson.Value, key string) (time.Time, error) {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return time.Time{}, nil
	}
	t, err := parseTime(f)
	if err != nil {
		return time.Time{}, invalidf("%s: %v", key, err)
	}
	return t, nil
}

// The range of timestamps (Unix seconds, 1970-01-01 to 9999-12-31 23:59:59)
// that can be parsed at all; clamping to a sane window happens in enrichment.
const (
	minParsable = 0
	maxParsable = 253402300799
)

func parseTime(f *fastjson.Value) (time.Time, error) {
	var t time.Time
	switch f.Type() {
	case fastjson.TypeString:
		b, _ := f.StringBytes()
		var err error
		t, err = time.Parse(time.RFC3339Nano, string(b))
		if err != nil {
			return t, errors.New("not an RFC 3339 timestamp")
		}
	case fastjson.TypeNumber:
		ms, err := f.Int64()
		if err != nil {
			return t, errors.New("not an integer of Unix milliseconds")
		}
		t = time.UnixMilli(ms)
	default:
		return t, errors.New("must be a string or a number")
	}
	if u := t.Unix(); u < minParsable || u > maxParsable {
		return time.Time{}, errors.New("out of range")
	}
	return t.UTC(), nil
}

// newMessageID makes an id for an event sent without one.
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
