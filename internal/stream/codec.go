package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actlog/actlog/internal/event"
)

// Record format: the value is JSON of the canonical event (or of a rejected
// event); headers say which and in which format version, so that a future
// format can be read beside this one.
const (
	headerFormat = "actlog-format"
	headerKind   = "actlog-kind"
	formatV1     = "1"
	kindEvent    = "event"
	kindRejected = "rejected"
)

// wireEvent is event.Event on the wire. Field names are the column names.
type wireEvent struct {
	EventID     string            `json:"event_id"`
	Source      string            `json:"source"`
	Type        string            `json:"type"`
	Event       string            `json:"event,omitempty"`
	AnonymousID string            `json:"anonymous_id,omitempty"`
	UserID      string            `json:"user_id,omitempty"`
	SessionID   string            `json:"session_id,omitempty"`
	Seq         *int64            `json:"seq,omitempty"`
	TS          time.Time         `json:"ts"`
	ClientTS    *time.Time        `json:"client_ts,omitempty"`
	SentAt      *time.Time        `json:"sent_at,omitempty"`
	ReceivedAt  time.Time         `json:"received_at"`
	PageURL     string            `json:"page_url,omitempty"`
	PagePath    string            `json:"page_path,omitempty"`
	PageTitle   string            `json:"page_title,omitempty"`
	Referrer    string            `json:"referrer,omitempty"`
	ScreenName  string            `json:"screen_name,omitempty"`
	Section     string            `json:"section,omitempty"`
	Banner      string            `json:"banner,omitempty"`
	UTMSource   string            `json:"utm_source,omitempty"`
	UTMMedium   string            `json:"utm_medium,omitempty"`
	UTMCampaign string            `json:"utm_campaign,omitempty"`
	UTMTerm     string            `json:"utm_term,omitempty"`
	UTMContent  string            `json:"utm_content,omitempty"`
	DeviceType  string            `json:"device_type,omitempty"`
	OS          string            `json:"os,omitempty"`
	Browser     string            `json:"browser,omitempty"`
	IP          string            `json:"ip,omitempty"`
	Properties  json.RawMessage   `json:"properties"`
	Context     json.RawMessage   `json:"context"`
	Violations  []event.Violation `json:"violations,omitempty"`
}

type wireRejected struct {
	ReceivedAt time.Time         `json:"received_at"`
	Source     string            `json:"source"`
	Index      int               `json:"index"`
	MessageID  string            `json:"message_id,omitempty"`
	Reason     string            `json:"reason"`
	Raw        string            `json:"raw"`
	Event      string            `json:"event,omitempty"`
	Violations []event.Violation `json:"violations,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// eventRecord encodes e as a record of topic, keyed by the actor so that
// one member's events stay in one partition, in order.
func eventRecord(topic string, e *event.Event) (*kgo.Record, error) {
	w := wireEvent{
		EventID: e.EventID, Source: e.Source, Type: string(e.Type), Event: e.Event,
		AnonymousID: e.AnonymousID, UserID: e.UserID, SessionID: e.SessionID,
		TS: e.TS, ClientTS: timePtr(e.ClientTS), SentAt: timePtr(e.SentAt), ReceivedAt: e.ReceivedAt,
		PageURL: e.PageURL, PagePath: e.PagePath, PageTitle: e.PageTitle, Referrer: e.Referrer, ScreenName: e.ScreenName,
		Section: e.Section, Banner: e.Banner,
		UTMSource: e.UTMSource, UTMMedium: e.UTMMedium, UTMCampaign: e.UTMCampaign, UTMTerm: e.UTMTerm, UTMContent: e.UTMContent,
		DeviceType: e.DeviceType, OS: e.OS, Browser: e.Browser, IP: e.IP,
		Properties: e.Properties, Context: e.Context, Violations: e.Violations,
	}
	if e.HasSeq {
		w.Seq = &e.Seq
	}
	if len(w.Properties) == 0 {
		w.Properties = json.RawMessage("{}")
	}
	if len(w.Context) == 0 {
		w.Context = json.RawMessage("{}")
	}
	v, err := json.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	key := e.AnonymousID
	if key == "" {
		key = e.UserID
	}
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: v, Headers: []kgo.RecordHeader{
		{Key: headerFormat, Value: []byte(formatV1)}, {Key: headerKind, Value: []byte(kindEvent)},
	}}, nil
}

func rejectedRecord(topic string, r *event.Rejected) (*kgo.Record, error) {
	v, err := json.Marshal(wireRejected{ReceivedAt: r.ReceivedAt, Source: r.Source, Index: r.Index, MessageID: r.MessageID, Reason: r.Reason, Raw: string(r.Raw),
		Event: r.Event, Violations: r.Violations})
	if err != nil {
		return nil, fmt.Errorf("encode rejected: %w", err)
	}
	return &kgo.Record{Topic: topic, Key: []byte(r.Source), Value: v, Headers: []kgo.RecordHeader{
		{Key: headerFormat, Value: []byte(formatV1)}, {Key: headerKind, Value: []byte(kindRejected)},
	}}, nil
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// decodeRecord reads a record into b: an event, or a rejected event. A
// record it cannot read returns an error saying why; the caller keeps it as
// rejected so that it never stalls its partition.
func decodeRecord(r *kgo.Record, b *event.Batch, limits event.Limits) error {
	if f := header(r, headerFormat); f != formatV1 {
		return fmt.Errorf("unknown record format %q", f)
	}
	dec := json.NewDecoder(bytes.NewReader(r.Value))
	dec.DisallowUnknownFields()
	switch k := header(r, headerKind); k {
	case kindEvent:
		var w wireEvent
		if err := dec.Decode(&w); err != nil {
			return fmt.Errorf("decode event: %w", err)
		}
		if dec.More() || dec.InputOffset() != int64(len(bytes.TrimRight(r.Value, " \t\r\n"))) {
			return errors.New("decode event: bytes after the JSON value")
		}
		e, err := w.event()
		if err != nil {
			return err
		}
		if err := e.Validate(limits); err != nil {
			return fmt.Errorf("invalid event: %w", err)
		}
		b.Events = append(b.Events, e)
	case kindRejected:
		var w wireRejected
		if err := dec.Decode(&w); err != nil {
			return fmt.Errorf("decode rejected: %w", err)
		}
		if dec.More() || dec.InputOffset() != int64(len(bytes.TrimRight(r.Value, " \t\r\n"))) {
			return errors.New("decode rejected: bytes after the JSON value")
		}
		if w.Reason == "" || w.ReceivedAt.IsZero() {
			return errors.New("rejected record without reason or time")
		}
		b.Rejected = append(b.Rejected, event.Rejected{ReceivedAt: w.ReceivedAt, Source: w.Source, Index: w.Index, MessageID: w.MessageID, Reason: w.Reason, Raw: []byte(w.Raw),
			Event: w.Event, Violations: w.Violations})
	default:
		return fmt.Errorf("unknown record kind %q", k)
	}
	return nil
}

func (w *wireEvent) event() (event.Event, error) {
	t, ok := event.ParseType(w.Type)
	if !ok {
		return event.Event{}, fmt.Errorf("unknown event type %q", w.Type)
	}
	if w.Source == "" || w.TS.IsZero() || w.ReceivedAt.IsZero() {
		return event.Event{}, errors.New("event without source, ts or received_at")
	}
	for _, j := range []json.RawMessage{w.Properties, w.Context} {
		if len(j) == 0 || j[0] != '{' || !json.Valid(j) || !utf8.Valid(j) || loneSurrogate(j) {
			return event.Event{}, errors.New("properties and context must be JSON objects of valid Unicode text")
		}
	}
	e := event.Event{
		EventID: w.EventID, Source: w.Source, Type: t, Event: w.Event,
		AnonymousID: w.AnonymousID, UserID: w.UserID, SessionID: w.SessionID,
		TS: w.TS, ReceivedAt: w.ReceivedAt,
		PageURL: w.PageURL, PagePath: w.PagePath, PageTitle: w.PageTitle, Referrer: w.Referrer, ScreenName: w.ScreenName,
		Section: w.Section, Banner: w.Banner,
		UTMSource: w.UTMSource, UTMMedium: w.UTMMedium, UTMCampaign: w.UTMCampaign, UTMTerm: w.UTMTerm, UTMContent: w.UTMContent,
		DeviceType: w.DeviceType, OS: w.OS, Browser: w.Browser, IP: w.IP,
		Properties: []byte(w.Properties), Context: []byte(w.Context), Violations: w.Violations,
	}
	if w.Seq != nil {
		e.Seq, e.HasSeq = *w.Seq, true
	}
	if w.ClientTS != nil {
		e.ClientTS = *w.ClientTS
	}
	if w.SentAt != nil {
		e.SentAt = *w.SentAt
	}
	return e, nil
}

// loneSurrogate reports whether valid JSON text j escapes a UTF-16 surrogate
// that is not part of a pair ("\ud800"): encoding/json accepts it, the
// store's JSON type does not, so such a record must be rejected here rather
// than fail its store write forever.
func loneSurrogate(j []byte) bool {
	inString := false
	for i := 0; i < len(j); i++ {
		c := j[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 < len(j) && j[i+1] == 'u' && i+5 < len(j) {
				r := hex4(j[i+2 : i+6])
				switch {
				case r >= 0xD800 && r <= 0xDBFF: // high: a low must follow
					if i+11 < len(j) && j[i+6] == '\\' && j[i+7] == 'u' {
						if lo := hex4(j[i+8 : i+12]); lo >= 0xDC00 && lo <= 0xDFFF {
							i += 11
							continue
						}
					}
					return true
				case r >= 0xDC00 && r <= 0xDFFF: // a low without a high
					return true
				}
				i += 5
				continue
			}
			i++ // skip the escaped character
		}
	}
	return false
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return -1
		}
	}
	return r
}
