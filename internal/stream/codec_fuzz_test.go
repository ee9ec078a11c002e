package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actlog/actlog/internal/event"
)

// fuzzSeedEvents are events as ingest makes them: every field set, the
// least an event needs, unicode and HTML-sensitive text, time zones.
func fuzzSeedEvents() []event.Event {
	ts := time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)
	kst := time.FixedZone("KST", 9*3600)
	return []event.Event{
		{
			EventID: "m-1", Source: "web", Type: event.Track, Event: "book_view",
			AnonymousID: "a-1", UserID: "u-1", SessionID: "s-1", Seq: 7, HasSeq: true,
			TS: ts, ClientTS: ts.Add(-time.Second), SentAt: ts.Add(-500 * time.Millisecond), ReceivedAt: ts.Add(time.Millisecond),
			PageURL: "https://books.example/b/1?utm_source=mail", PagePath: "/b/1", PageTitle: "Book", Referrer: "https://search.example/",
			Section: "new", Banner: "home_top",
			UTMSource: "mail", UTMMedium: "email", UTMCampaign: "spring", UTMTerm: "novel", UTMContent: "hero",
			DeviceType: "mobile", OS: "iOS", Browser: "Safari", IP: "203.0.113.0",
			Properties: json.RawMessage(`{"book_id":"b1","price":9.99,"tags":["a","b"],"nested":{"x":null}}`),
			Context:    json.RawMessage(`{"locale":"ko-KR","page":{"path":"/b/1"}}`),
			Violations: []event.Violation{{Rule: "type", Path: "/price", Message: "got number, want string"}, {Rule: "required", Message: "missing property 'book_title'"}},
		},
		{EventID: "m-2", Source: "app", Type: event.Page, Event: event.PageView, AnonymousID: "a-2", TS: ts, ReceivedAt: ts},
		{EventID: "m-3", Source: "srv", Type: event.Identify, Event: "identify", UserID: "u-3", TS: ts.In(kst), ReceivedAt: ts, Seq: 0, HasSeq: true,
			Properties: json.RawMessage(`{"plan":"premium"}`)},
		{EventID: "m-4", Source: "web", Type: event.Screen, Event: event.ScreenView, AnonymousID: "기기-4", ScreenName: "서재 <main> & \u2028",
			TS: ts, ReceivedAt: ts, Properties: json.RawMessage(`{"title":"책 <b>&</b>","emoji":"📚","esc":"\u0000\t\"\\"}`), Context: json.RawMessage(`{}`)},
		{EventID: "m-5", Source: "web", Type: event.Alias, Event: "alias", UserID: "u-5", AnonymousID: "a-5", TS: ts, ReceivedAt: ts,
			Properties: json.RawMessage(`{"previous_id":"a-5"}`)},
		{EventID: "m-6", Source: "web", Type: event.Group, Event: "group", UserID: "u-6", TS: ts, ReceivedAt: ts,
			Properties: json.RawMessage(`{"group_id":"g-1","big":123456789012345678901234567890,"neg":-0.0e+0}`)},
	}
}

func fuzzSeedRejected() []event.Rejected {
	ts := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	return []event.Rejected{
		{ReceivedAt: ts, Source: "web", Index: 3, MessageID: "m-9", Reason: "event name is required for track", Raw: []byte(`{"type":"track"}`)},
		{ReceivedAt: ts, Source: "kafka:actlog.events", Index: 2, MessageID: "17", Reason: "undecodable record: decode event: EOF", Raw: []byte(`"\xff\x00"`)},
		{ReceivedAt: ts, Reason: "r", Raw: nil},
		{ReceivedAt: ts, Source: "ios", Index: 0, Reason: "violates the tracking plan: /plan: value must be one of \"monthly\", \"yearly\"", Raw: []byte(`{"type":"track","event":"subscribe","properties":{"plan":"daily"}}`),
			Event: "subscribe", Violations: []event.Violation{{Rule: "enum", Path: "/plan", Message: "value must be one of \"monthly\", \"yearly\""}}},
	}
}

func fuzzRecord(value []byte, format, kind string) *kgo.Record {
	return &kgo.Record{Topic: "actlog.events", Key: []byte("k"), Value: value, Headers: []kgo.RecordHeader{
		{Key: headerFormat, Value: []byte(format)}, {Key: headerKind, Value: []byte(kind)},
	}}
}

// FuzzDecodeRecord feeds decodeRecord arbitrary record values and header
// values. Properties: it never panics; it adds exactly one event or one
// rejected event on success and nothing on failure, leaving what the batch
// held untouched; a decoded event passes event.Validate (with the limits
// the processor uses) and its properties and context are JSON objects of
// valid UTF-8; and re-encoding it with eventRecord decodes to the same event
// (JSON columns compared as JSON: eventRecord compacts them), after which
// encoding is a fixed point (byte-equal JSON). Rejected events round-trip
// through rejectedRecord the same way.
func FuzzDecodeRecord(f *testing.F) {
	for _, e := range fuzzSeedEvents() {
		r, err := eventRecord("actlog.events", &e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(r.Value, header(r, headerFormat), header(r, headerKind))
	}
	for _, x := range fuzzSeedRejected() {
		r, err := rejectedRecord("actlog.rejected", &x)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(r.Value, header(r, headerFormat), header(r, headerKind))
	}
	valid := `{"event_id":"m","source":"web","type":"track","event":"e","anonymous_id":"a","ts":"2026-03-01T09:30:00Z","received_at":"2026-03-01T09:30:00Z","properties":{},"context":{}}`
	for _, m := range []struct{ value, format, kind string }{
		{"not json", "1", "event"},
		{"", "1", "event"},
		{"null", "1", "event"},
		{`{"event_id":"x"}`, "1", "event"},
		{valid, "2", "event"},
		{valid, "", ""},
		{valid, "1", "Event"},
		{valid + "trailing", "1", "event"},
		{`{"event_id":"m","source":"web","type":"track","event":"e","anonymous_id":"a","ts":"2026-03-01T09:30:00Z","received_at":"2026-03-01T09:30:00Z","properties":[],"context":{}}`, "1", "event"},
		{`{"event_id":"m","source":"web","type":"track","event":"e","anonymous_id":"a","seq":-1,"ts":"2026-03-01T09:30:00Z","received_at":"2026-03-01T09:30:00Z","properties":{},"context":{}}`, "1", "event"},
		{`{"event_id":"m","source":"web","type":"track","event":"e","anonymous_id":"a","ts":"0001-01-01T00:00:00Z","received_at":"2026-03-01T09:30:00Z","properties":{},"context":{}}`, "1", "event"},
		{`{"event_id":"m","source":"web","type":"track","event":"e","anonymous_id":"a","ts":"2026-03-01T09:30:00Z","received_at":"2026-03-01T09:30:00Z","properties":{},"context":{},"extra":1}`, "1", "event"},
		{`{"event_id":"m","source":"web","type":"track","event":"e","anonymous_id":"a\u0000","ts":"2026-03-01T09:30:00Z","received_at":"2026-03-01T09:30:00Z","properties":{ "a" : 1 },"context":{}}`, "1", "event"},
		{`{"event_id":"m","source":"web","type":"track","event":"e","anonymous_id":"a","ts":"2026-03-01T09:30:00Z","received_at":"2026-03-01T09:30:00Z","properties":{"a":"\ud800"},"context":{}}`, "1", "event"},
		{`{"event_id":"m","source":"web","type":"track","event":"e","anonymous_id":"a","ts":"2026-03-01T09:30:00Z","received_at":"2026-03-01T09:30:00Z","properties":{"a":"\ud83d\udcda \\udc00"},"context":{"b":"\udbff\udfff"}}`, "1", "event"},
		{`{"received_at":"2026-03-01T09:30:00Z","reason":"","raw":""}`, "1", "rejected"},
		{`{"received_at":"2026-03-01T09:30:00Z","reason":"r","index":1e3}`, "1", "rejected"},
	} {
		f.Add([]byte(m.value), m.format, m.kind)
	}

	f.Fuzz(func(t *testing.T, value []byte, format, kind string) {
		before := event.Batch{
			Events:   []event.Event{{EventID: "already-there"}},
			Rejected: []event.Rejected{{Reason: "already-there"}},
		}
		b := before
		err := decodeRecord(fuzzRecord(value, format, kind), &b, event.Limits{})
		if b.Events[0].EventID != "already-there" || b.Rejected[0].Reason != "already-there" || len(b.Offsets) != 0 {
			t.Fatalf("decodeRecord changed what the batch held")
		}
		added := len(b.Events) - 1 + len(b.Rejected) - 1
		if err != nil {
			if added != 0 {
				t.Fatalf("failed (%v) but added %d items", err, added)
			}
			return
		}
		if added != 1 {
			t.Fatalf("succeeded but added %d events and %d rejected", len(b.Events)-1, len(b.Rejected)-1)
		}
		if len(b.Events) == 2 {
			checkEvent(t, b.Events[1])
		} else {
			checkRejected(t, b.Rejected[1])
		}
	})
}

func checkEvent(t *testing.T, e event.Event) {
	t.Helper()
	if err := e.Validate(event.Limits{}); err != nil {
		t.Fatalf("decoded event fails Validate: %v", err)
	}
	for name, j := range map[string]json.RawMessage{"properties": e.Properties, "context": e.Context} {
		var obj map[string]json.RawMessage
		if !json.Valid(j) || !utf8.Valid(j) || json.Unmarshal(j, &obj) != nil || obj == nil {
			t.Fatalf("decoded %s %q is not a JSON object of valid UTF-8", name, j)
		}
		if unpairedSurrogate(j) {
			t.Fatalf("decoded %s %q escapes an unpaired UTF-16 surrogate: the store's JSON cast refuses it and the processor would retry its write forever", name, j)
		}
	}
	if e.Source == "" || e.TS.IsZero() || e.ReceivedAt.IsZero() {
		t.Fatalf("decoded event without source, ts or received_at: %+v", e)
	}
	again := func(in event.Event) event.Event {
		t.Helper()
		r, err := eventRecord("actlog.events", &in)
		if err != nil {
			t.Fatalf("re-encode decoded event: %v", err)
		}
		if len(r.Key) == 0 {
			t.Fatalf("re-encoded event has no key")
		}
		var b event.Batch
		if err := decodeRecord(r, &b, event.Limits{}); err != nil {
			t.Fatalf("decode re-encoded event: %v\nvalue %s", err, r.Value)
		}
		if len(b.Events) != 1 || len(b.Rejected) != 0 {
			t.Fatalf("re-encoded event decoded to %d events, %d rejected", len(b.Events), len(b.Rejected))
		}
		return b.Events[0]
	}
	e2 := again(e)
	if d := eventDiff(e, e2, false); d != "" {
		t.Fatalf("round trip changed the event: %s", d)
	}
	if d := eventDiff(e2, again(e2), true); d != "" {
		t.Fatalf("second round trip changed the event: %s", d)
	}
}

// eventDiff describes how a and b differ: times by instant, JSON columns
// byte for byte when exact, else as compacted, HTML-escaped JSON (what
// json.Marshal makes of a json.RawMessage).
func eventDiff(a, b event.Event, exact bool) string {
	for _, p := range [][2]time.Time{{a.TS, b.TS}, {a.ClientTS, b.ClientTS}, {a.SentAt, b.SentAt}, {a.ReceivedAt, b.ReceivedAt}} {
		if !p[0].Equal(p[1]) {
			return "time " + p[0].String() + " became " + p[1].String()
		}
	}
	norm := func(j []byte) []byte {
		if exact {
			return j
		}
		var c, h bytes.Buffer
		if err := json.Compact(&c, j); err != nil {
			return j
		}
		json.HTMLEscape(&h, c.Bytes())
		return h.Bytes()
	}
	if !bytes.Equal(norm(a.Properties), norm(b.Properties)) {
		return "properties " + string(a.Properties) + " became " + string(b.Properties)
	}
	if !bytes.Equal(norm(a.Context), norm(b.Context)) {
		return "context " + string(a.Context) + " became " + string(b.Context)
	}
	a.TS, a.ClientTS, a.SentAt, a.ReceivedAt, a.Properties, a.Context = time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil, nil
	b.TS, b.ClientTS, b.SentAt, b.ReceivedAt, b.Properties, b.Context = time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil, nil
	if !reflect.DeepEqual(a, b) {
		return "fields differ: " + spew(a) + " became " + spew(b)
	}
	return ""
}

// unpairedSurrogate reports whether valid JSON text j has a run of \u
// escapes holding a UTF-16 surrogate that is not a high-low pair.
func unpairedSurrogate(j []byte) bool {
	for i := 0; i < len(j); i++ {
		if j[i] != '\\' {
			continue
		}
		if i+1 >= len(j) || j[i+1] != 'u' {
			i++ // an escaped character such as \\ or \"
			continue
		}
		var units []uint16
		for i+6 <= len(j) && j[i] == '\\' && j[i+1] == 'u' {
			v, err := strconv.ParseUint(string(j[i+2:i+6]), 16, 16)
			if err != nil {
				break
			}
			units = append(units, uint16(v))
			i += 6
		}
		if len(units) == 0 {
			i++
			continue
		}
		i--
		for k := 0; k < len(units); k++ {
			r := rune(units[k])
			if !utf16.IsSurrogate(r) {
				continue
			}
			if k+1 < len(units) && utf16.DecodeRune(r, rune(units[k+1])) != utf8.RuneError {
				k++
				continue
			}
			return true
		}
	}
	return false
}

func spew(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func checkRejected(t *testing.T, x event.Rejected) {
	t.Helper()
	if x.Reason == "" || x.ReceivedAt.IsZero() {
		t.Fatalf("decoded rejected without reason or time: %+v", x)
	}
	r, err := rejectedRecord("actlog.rejected", &x)
	if err != nil {
		t.Fatalf("re-encode rejected: %v", err)
	}
	var b event.Batch
	if err := decodeRecord(r, &b, event.Limits{}); err != nil || len(b.Rejected) != 1 || len(b.Events) != 0 {
		t.Fatalf("decode re-encoded rejected: %v (%d rejected, %d events)", err, len(b.Rejected), len(b.Events))
	}
	y := b.Rejected[0]
	if !x.ReceivedAt.Equal(y.ReceivedAt) || x.Source != y.Source || x.Index != y.Index || x.MessageID != y.MessageID ||
		x.Reason != y.Reason || !bytes.Equal(x.Raw, y.Raw) {
		t.Fatalf("rejected round trip: %+v became %+v", x, y)
	}
}

// TestUnstorableJSONDoesNotStall produces an event record whose properties
// hold an unpaired UTF-16 surrogate escape ("\ud800": valid JSON syntax for
// encoding/json, but DuckDB's JSON cast refuses it), then a good event on
// the same partition. decodeRecord promises that a record it cannot read
// becomes a rejected row "so that it never stalls its partition": the good
// event must be stored and the bad record kept as rejected, rather than the
// processor retrying a store write that can never commit.
func TestUnstorableJSONDoesNotStall(t *testing.T) {
	c := newCluster(t)
	opts := testOptions(c)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	b := events("sur", 2)
	b.Events[0].Properties = json.RawMessage(`{"title":"\ud800"}`)
	b.Events[1].AnonymousID = b.Events[0].AnonymousID // same partition, after the bad one
	var recs []*kgo.Record
	for i := range b.Events {
		r, err := eventRecord("actlog.events", &b.Events[i])
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	var probe event.Batch
	if err := decodeRecord(recs[0], &probe, event.Limits{}); err != nil {
		t.Logf("decodeRecord refuses the bad record: %v", err)
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	stop := runProcessor(t, opts, st)
	defer stop()
	deadline := time.Now().Add(15 * time.Second)
	for count(t, st, "SELECT count(*) FROM events WHERE event_id = 'sur-1'") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the good event behind the bad record was not stored within 15 s: the partition is stalled")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := count(t, st, "SELECT count(*) FROM rejected WHERE starts_with(reason, 'undecodable record')"); n != 1 {
		t.Errorf("%d rejected rows for the bad record, want 1", n)
	}
}
