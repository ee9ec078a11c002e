package ingest

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/actlog/actlog/internal/event"
)

func TestParseBody(t *testing.T) {
	type want struct {
		err      string // substring of the DecodeError; "" for success
		writeKey string
		messages int
		sentAt   bool
		context  bool
	}
	for _, tc := range []struct {
		name  string
		body  string
		route event.Type
		want  want
	}{
		{"empty", "", "", want{err: "empty body"}},
		{"whitespace", "  \n", "", want{err: "invalid JSON"}},
		{"not JSON", "hello", "", want{err: "invalid JSON at byte 1"}},
		{"truncated", `{"batch":[{"type":"track"`, "", want{err: "invalid JSON"}},
		{"trailing garbage", `{"batch":[]} x`, "", want{err: "invalid JSON"}},
		{"array", `[{"type":"track"}]`, "", want{err: "body must be a JSON object"}},
		{"string", `"batch"`, "", want{err: "body must be a JSON object"}},
		{"null", `null`, "", want{err: "body must be a JSON object"}},
		{"batch missing", `{"type":"track"}`, "", want{err: "batch is required"}},
		{"batch object", `{"batch":{"type":"track"}}`, "", want{err: "batch must be an array"}},
		{"batch null", `{"batch":null}`, "", want{err: "batch must be an array"}},
		{"too many events", `{"batch":[{},{},{}]}`, "", want{err: "batch has 3 events, more than the limit of 2"}},
		{"writeKey not string", `{"writeKey":7,"batch":[]}`, "", want{err: "writeKey must be a string"}},
		{"empty batch", `{"batch":[]}`, "", want{}},
		{"at the limit", `{"batch":[{},{}]}`, "", want{messages: 2}},
		{"writeKey in body", `{"writeKey":"wk_1","batch":[{}]}`, "", want{writeKey: "wk_1", messages: 1}},
		{"batch sentAt and context", `{"sentAt":"2024-05-01T12:00:00Z","context":{"ip":"192.0.2.1"},"batch":[{}]}`, "", want{messages: 1, sentAt: true, context: true}},
		{"batch context not object", `{"context":[1],"batch":[{}]}`, "", want{messages: 1}},
		{"single message", `{"type":"track","event":"e","writeKey":"wk_2"}`, event.Track, want{writeKey: "wk_2", messages: 1}},
		{"single message has no batch context", `{"context":{"a":1},"sentAt":"2024-05-01T12:00:00Z"}`, event.Track, want{messages: 1}},
		{"single message not object", `[]`, event.Track, want{err: "body must be a JSON object"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p fastjson.Parser
			r, err := parseBody(&p, []byte(tc.body), tc.route, 2)
			if tc.want.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want.err) {
					t.Fatalf("parseBody = %v, want error containing %q", err, tc.want.err)
				}
				if !IsDecode(err) {
					t.Fatalf("IsDecode(%v) = false", err)
				}
				checkReason(t, err.Error())
				return
			}
			if err != nil {
				t.Fatalf("parseBody: %v", err)
			}
			got := want{writeKey: r.WriteKey, messages: len(r.Messages), sentAt: r.SentAt != nil, context: r.Context != nil}
			if got != tc.want {
				t.Fatalf("parseBody = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// The JSON parser's own error messages quote the payload; a decode error
// must not.
func TestParseBodyErrorHasNoPayload(t *testing.T) {
	const secret = "hunter2-secret"
	for _, body := range []string{
		`{"batch":[{"password":` + secret + `}]}`,
		`{"batch":[{"password":"` + secret + `"}]`,
		`{"batch":[{"password":"` + secret + `"};]}`,
		`{"batch":[tru` + secret + `]}`,
		`{"batch":[n` + secret + `]}`,
		`{"batch":[-` + secret + `]}`,
		secret,
		strings.Repeat("[", 400) + secret,
	} {
		var p fastjson.Parser
		_, err := parseBody(&p, []byte(body), "", 0)
		if err == nil {
			t.Fatalf("parseBody(%q) succeeded", body)
		}
		if strings.Contains(err.Error(), "hunter") || strings.Contains(err.Error(), "secret") {
			t.Fatalf("decode error %q quotes the payload", err)
		}
		checkReason(t, err.Error())
	}
}

// buildCase is one message through parseBody and build.
type buildCase struct {
	name  string
	body  string     // a whole request body
	route event.Type // "" for /v1/batch
	opts  EnrichOptions
	peer  string // connection address
	ua    string // User-Agent header
	err   string // substring of the rejection reason; "" if accepted
	check func(t *testing.T, e event.Event)
}

func runBuildCases(t *testing.T, cases []buildCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			md := testMeta(t, tc.opts, tc.route, tc.peer, tc.ua)
			out, err := decode(t, md, tc.body)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(out) != 1 {
				t.Fatalf("decoded %d messages, want 1", len(out))
			}
			e, err := out[0].e, out[0].err
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("build = %v, want error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

// batchOf wraps one message into a batch body.
func batchOf(msg string) string { return `{"batch":[` + msg + `]}` }

// track is a valid track message with extra members appended.
func track(extra string) string {
	s := `{"type":"track","event":"book_view","anonymousId":"anon-1","messageId":"m-1"`
	if extra != "" {
		s += "," + extra
	}
	return batchOf(s + "}")
}

func wantString(t *testing.T, field, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %q, want %q", field, got, want)
	}
}

func wantTime(t *testing.T, field string, got time.Time, want string) {
	t.Helper()
	w, err := time.Parse(time.RFC3339Nano, want)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(w) {
		t.Fatalf("%s = %s, want %s", field, got.Format(time.RFC3339Nano), want)
	}
}

// jsonField decodes raw (a JSON object) and returns the value at path.
func jsonField(t *testing.T, raw []byte, path ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("unmarshal %q: %v", raw, err)
	}
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func wantJSON(t *testing.T, field string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s %q: %v", field, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("%s = %s, want %s", field, gb, wb)
	}
}

func TestBuildTypes(t *testing.T) {
	runBuildCases(t, []buildCase{
		{name: "track", body: track(`"properties":{"book_id":"b1"}`), check: func(t *testing.T, e event.Event) {
			if e.Type != event.Track {
				t.Fatalf("type = %q", e.Type)
			}
			wantString(t, "event", e.Event, "book_view")
			wantString(t, "event id", e.EventID, "m-1")
			wantString(t, "source", e.Source, "web")
			wantString(t, "anonymous id", e.AnonymousID, "anon-1")
			wantJSON(t, "properties", e.Properties, `{"book_id":"b1"}`)
			wantJSON(t, "context", e.Context, `{}`)
		}},
		{name: "page", body: batchOf(`{"type":"page","name":"Home","anonymousId":"a"}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "event", e.Event, event.PageView)
			wantString(t, "title", e.PageTitle, "Home")
		}},
		{name: "page title from properties wins over name", body: batchOf(`{"type":"page","name":"Home","anonymousId":"a","properties":{"title":"Welcome"}}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "title", e.PageTitle, "Welcome")
		}},
		{name: "screen", body: batchOf(`{"type":"screen","name":"Library","userId":"u"}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "event", e.Event, event.ScreenView)
			wantString(t, "screen", e.ScreenName, "Library")
		}},
		{name: "screen name from properties", body: batchOf(`{"type":"screen","userId":"u","properties":{"name":"Viewer"}}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "screen", e.ScreenName, "Viewer")
		}},
		{name: "identify properties are traits", body: batchOf(`{"type":"identify","userId":"u1","anonymousId":"a1","traits":{"plan":"premium"},"properties":{"ignored":true}}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "event", e.Event, "identify")
			wantJSON(t, "properties", e.Properties, `{"plan":"premium"}`)
		}},
		{name: "identify traits fill no page or banner column", body: batchOf(`{"type":"identify","userId":"u1","traits":{"title":"CEO","url":"https://x.example","banner":"b","section":"s"}}`), check: func(t *testing.T, e event.Event) {
			if e.PageTitle != "" || e.PageURL != "" || e.Banner != "" || e.Section != "" {
				t.Fatalf("traits leaked into columns: title %q url %q banner %q section %q", e.PageTitle, e.PageURL, e.Banner, e.Section)
			}
		}},
		{name: "track url property is not the page", body: track(`"properties":{"url":"https://books.example/b/1","banner":"summer"}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "page url", e.PageURL, "")
			wantString(t, "banner", e.Banner, "summer")
		}},
		{name: "identify traits from context", body: batchOf(`{"type":"identify","userId":"u1","context":{"traits":{"age":30}}}`), check: func(t *testing.T, e event.Event) {
			wantJSON(t, "properties", e.Properties, `{"age":30}`)
		}},
		{name: "group adds group_id", body: batchOf(`{"type":"group","userId":"u1","groupId":"g-9","traits":{"name":"Acme"}}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "event", e.Event, "group")
			wantJSON(t, "properties", e.Properties, `{"name":"Acme","group_id":"g-9"}`)
		}},
		{name: "group id replaces a group_id trait", body: batchOf(`{"type":"group","userId":"u1","groupId":42,"traits":{"group_id":"old"}}`), check: func(t *testing.T, e event.Event) {
			wantJSON(t, "properties", e.Properties, `{"group_id":"42"}`)
		}},
		{name: "group needs groupId", body: batchOf(`{"type":"group","userId":"u1"}`), err: "groupId is required for group"},
		{name: "alias adds previous_id", body: batchOf(`{"type":"alias","userId":"u1","previousId":"anon-1"}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "event", e.Event, "alias")
			wantJSON(t, "properties", e.Properties, `{"previous_id":"anon-1"}`)
		}},
		{name: "alias needs previousId", body: batchOf(`{"type":"alias","userId":"u1"}`), err: "previousId is required for alias"},
		{name: "alias needs userId", body: batchOf(`{"type":"alias","anonymousId":"a","previousId":"p"}`), err: "alias needs userId"},
		{name: "unknown type", body: batchOf(`{"type":"click","anonymousId":"a"}`), err: "unknown type"},
		{name: "type not a string", body: batchOf(`{"type":1,"anonymousId":"a"}`), err: "type must be a string"},
		{name: "type missing in batch", body: batchOf(`{"event":"e","anonymousId":"a"}`), err: "type is required"},
		{name: "type from the route", route: event.Page, body: `{"anonymousId":"a"}`, check: func(t *testing.T, e event.Event) {
			wantString(t, "event", e.Event, event.PageView)
		}},
		{name: "type agreeing with the route", route: event.Track, body: `{"type":"track","event":"e","anonymousId":"a"}`},
		{name: "type contradicting the route", route: event.Page, body: `{"type":"track","event":"e","anonymousId":"a"}`, err: "type does not match the endpoint"},
		{name: "message not an object", body: `{"batch":["track"]}`, err: "event must be a JSON object"},
		{name: "no ids", body: batchOf(`{"type":"track","event":"e"}`), err: "anonymousId or userId is required"},
		{name: "null ids", body: batchOf(`{"type":"track","event":"e","anonymousId":null,"userId":null}`), err: "anonymousId or userId is required"},
		{name: "empty ids", body: batchOf(`{"type":"track","event":"e","anonymousId":"","userId":""}`), err: "anonymousId or userId is required"},
		{name: "user id only", body: batchOf(`{"type":"track","event":"e","userId":"u"}`)},
		{name: "track needs event", body: batchOf(`{"type":"track","anonymousId":"a"}`), err: "event name is required for track"},
		{name: "event not a string", body: batchOf(`{"type":"track","event":5,"anonymousId":"a"}`), err: "event must be a string"},
		{name: "name not a string", body: batchOf(`{"type":"page","name":{},"anonymousId":"a"}`), err: "name must be a string"},
		{name: "event name too long", body: batchOf(`{"type":"track","anonymousId":"a","event":"` + strings.Repeat("e", 201) + `"}`), err: "event name longer than 200 bytes"},
		{name: "event name custom limit", opts: EnrichOptions{Limits: event.Limits{MaxEventName: 3}}, body: batchOf(`{"type":"track","anonymousId":"a","event":"abcd"}`), err: "event name longer than 3 bytes"},
	})
}

func TestBuildIDs(t *testing.T) {
	runBuildCases(t, []buildCase{
		{name: "integer ids", body: batchOf(`{"type":"track","event":"e","userId":12345,"anonymousId":-7,"messageId":0}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "user id", e.UserID, "12345")
			wantString(t, "anonymous id", e.AnonymousID, "-7")
			wantString(t, "event id", e.EventID, "0")
		}},
		{name: "integer beyond int64", body: batchOf(`{"type":"track","event":"e","userId":123456789012345678901234567890}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "user id", e.UserID, "123456789012345678901234567890")
		}},
		{name: "fraction id", body: batchOf(`{"type":"track","event":"e","userId":1.5}`), err: "userId must be a string or an integer"},
		{name: "exponent id", body: batchOf(`{"type":"track","event":"e","userId":1e3}`), err: "userId must be a string or an integer"},
		{name: "NaN id", body: batchOf(`{"type":"track","event":"e","userId":NaN}`), err: "userId must be a string or an integer"},
		{name: "lenient number id", body: batchOf(`{"type":"track","event":"e","userId":007}`), err: "userId must be a string or an integer"},
		{name: "bool id", body: batchOf(`{"type":"track","event":"e","anonymousId":true}`), err: "anonymousId must be a string or an integer"},
		{name: "object id", body: batchOf(`{"type":"track","event":"e","messageId":{},"anonymousId":"a"}`), err: "messageId must be a string or an integer"},
		{name: "generated message id", body: batchOf(`{"type":"track","event":"e","anonymousId":"a"}`), check: func(t *testing.T, e event.Event) {
			if len(e.EventID) != 36 || e.EventID[14] != '4' || strings.Count(e.EventID, "-") != 4 {
				t.Fatalf("generated id %q is not a UUIDv4", e.EventID)
			}
		}},
		{name: "unicode id", body: batchOf(`{"type":"track","event":"책_조회","anonymousId":"회원\u00e9"}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "anonymous id", e.AnonymousID, "회원é")
			wantString(t, "event", e.Event, "책_조회")
		}},
		{name: "NUL in anonymousId", body: batchOf(`{"type":"track","event":"e","anonymousId":"a\u0000b"}`), err: "anonymousId is not valid UTF-8 text"},
		{name: "raw NUL in userId", body: batchOf("{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\x00\"}"), err: "userId is not valid UTF-8 text"},
		{name: "NUL in messageId", body: batchOf(`{"type":"track","event":"e","anonymousId":"a","messageId":"\u0000"}`), err: "messageId is not valid UTF-8 text"},
		{name: "NUL in groupId", body: batchOf(`{"type":"group","userId":"u","groupId":"g\u0000"}`), err: "groupId is not valid UTF-8 text"},
		{name: "NUL in event", body: batchOf(`{"type":"track","event":"e\u0000","anonymousId":"a"}`), err: "event is not valid UTF-8 text"},
		{name: "NUL in name", body: batchOf(`{"type":"screen","name":"s\u0000","anonymousId":"a"}`), err: "name is not valid UTF-8 text"},
		{name: "invalid UTF-8 userId", body: batchOf("{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\xff\"}"), err: "userId is not valid UTF-8 text"},
		{name: "invalid UTF-8 event", body: batchOf("{\"type\":\"track\",\"event\":\"\xc3\",\"userId\":\"u\"}"), err: "event is not valid UTF-8 text"},
		{name: "encoded surrogate", body: batchOf("{\"type\":\"track\",\"event\":\"e\",\"userId\":\"\xed\xa0\x80\"}"), err: "userId is not valid UTF-8 text"},
		{name: "id too long", body: batchOf(`{"type":"track","event":"e","anonymousId":"` + strings.Repeat("a", 201) + `"}`), err: "anonymousId longer than 200 bytes"},
	})
}

func TestBuildTime(t *testing.T) {
	runBuildCases(t, []buildCase{
		{name: "no timestamp", body: track(""), check: func(t *testing.T, e event.Event) {
			wantTime(t, "ts", e.TS, "2024-05-01T12:00:00Z")
			if !e.ClientTS.IsZero() || !e.SentAt.IsZero() {
				t.Fatalf("client_ts %v, sent_at %v, want zero", e.ClientTS, e.SentAt)
			}
			wantTime(t, "received_at", e.ReceivedAt, "2024-05-01T12:00:00Z")
		}},
		{name: "RFC 3339 without sentAt", body: track(`"timestamp":"2024-05-01T11:59:00.123Z"`), check: func(t *testing.T, e event.Event) {
			wantTime(t, "ts", e.TS, "2024-05-01T11:59:00.123Z")
			wantTime(t, "client_ts", e.ClientTS, "2024-05-01T11:59:00.123Z")
		}},
		{name: "RFC 3339 with offset", body: track(`"timestamp":"2024-05-01T20:59:00+09:00"`), check: func(t *testing.T, e event.Event) {
			wantTime(t, "ts", e.TS, "2024-05-01T11:59:00Z")
			if e.TS.Location() != time.UTC {
				t.Fatalf("ts location %v, want UTC", e.TS.Location())
			}
		}},
		{name: "Unix ms", body: track(`"timestamp":1714564740500`), check: func(t *testing.T, e event.Event) {
			wantTime(t, "ts", e.TS, "2024-05-01T11:59:00.5Z")
		}},
		{name: "clock skew, message sentAt", body: track(`"timestamp":"2024-05-01T10:00:00Z","sentAt":"2024-05-01T10:00:05Z"`), check: func(t *testing.T, e event.Event) {
			// The client clock is two hours slow: ts = received - (sentAt - timestamp).
			wantTime(t, "ts", e.TS, "2024-05-01T11:59:55Z")
			wantTime(t, "client_ts", e.ClientTS, "2024-05-01T10:00:00Z")
			wantTime(t, "sent_at", e.SentAt, "2024-05-01T10:00:05Z")
		}},
		{name: "clock skew, Unix ms", body: track(`"timestamp":1714557600000,"sentAt":1714557605000`), check: func(t *testing.T, e event.Event) {
			wantTime(t, "ts", e.TS, "2024-05-01T11:59:55Z")
		}},
		{name: "clock skew, batch sentAt", body: `{"sentAt":"2024-05-01T14:00:03Z","batch":[{"type":"track","event":"e","anonymousId":"a","timestamp":"2024-05-01T14:00:00Z"}]}`, check: func(t *testing.T, e event.Event) {
			// The client clock is two hours fast.
			wantTime(t, "ts", e.TS, "2024-05-01T11:59:57Z")
			wantTime(t, "sent_at", e.SentAt, "2024-05-01T14:00:03Z")
		}},
		{name: "message sentAt wins over batch sentAt", body: `{"sentAt":"2024-05-01T14:00:03Z","batch":[{"type":"track","event":"e","anonymousId":"a","timestamp":"2024-05-01T14:00:00Z","sentAt":"2024-05-01T14:00:01Z"}]}`, check: func(t *testing.T, e event.Event) {
			wantTime(t, "ts", e.TS, "2024-05-01T11:59:59Z")
		}},
		{name: "unparsable batch sentAt is ignored", body: `{"sentAt":"soon","batch":[{"type":"track","event":"e","anonymousId":"a","timestamp":"2024-05-01T11:00:00Z"}]}`, check: func(t *testing.T, e event.Event) {
			wantTime(t, "ts", e.TS, "2024-05-01T11:00:00Z")
		}},
		{name: "originalTimestamp wins over timestamp", body: track(`"originalTimestamp":"2024-05-01T10:00:00Z","timestamp":"2024-05-01T11:00:00Z","sentAt":"2024-05-01T10:00:10Z"`), check: func(t *testing.T, e event.Event) {
			wantTime(t, "client_ts", e.ClientTS, "2024-05-01T10:00:00Z")
			wantTime(t, "ts", e.TS, "2024-05-01T11:59:50Z")
		}},
		{name: "sentAt without timestamp", body: track(`"sentAt":"2024-05-01T10:00:10Z"`), check: func(t *testing.T, e event.Event) {
			wantTime(t, "ts", e.TS, "2024-05-01T12:00:00Z")
		}},
		{name: "future is clamped", body: track(`"timestamp":"2024-05-01T13:00:00Z","context":{"locale":"ko-KR"}`), check: func(t *testing.T, e event.Event) {
			wantTime(t, "ts", e.TS, "2024-05-01T12:00:00Z")
			wantTime(t, "client_ts", e.ClientTS, "2024-05-01T13:00:00Z")
			wantJSON(t, "context", e.Context, `{"actlog":{"ts_clamped":"future"},"locale":"ko-KR"}`)
		}},
		{name: "near future is kept", body: track(`"timestamp":"2024-05-01T12:09:00Z"`), check: func(t *testing.T, e event.Event) {
			wantTime(t, "ts", e.TS, "2024-05-01T12:09:00Z")
			wantJSON(t, "context", e.Context, `{}`)
		}},
		{name: "ancient is clamped", body: track(`"timestamp":"2024-03-01T12:00:00Z"`), check: func(t *testing.T, e event.Event) {
			wantTime(t, "ts", e.TS, "2024-05-01T12:00:00Z")
			wantJSON(t, "context", e.Context, `{"actlog":{"ts_clamped":"ancient"}}`)
		}},
		{name: "skew-corrected into the past is clamped", body: track(`"timestamp":"2000-01-01T00:00:00Z","sentAt":"2024-05-01T12:00:00Z"`), check: func(t *testing.T, e event.Event) {
			wantJSON(t, "context", e.Context, `{"actlog":{"ts_clamped":"ancient"}}`)
		}},
		{name: "custom bounds", opts: EnrichOptions{MaxPast: time.Hour}, body: track(`"timestamp":"2024-05-01T10:00:00Z"`), check: func(t *testing.T, e event.Event) {
			wantString(t, "flag", jsonField(t, e.Context, "actlog", "ts_clamped").(string), "ancient")
		}},
		{name: "client actlog context is dropped", body: track(`"context":{"actlog":{"ts_clamped":"no"},"app":"x"}`), check: func(t *testing.T, e event.Event) {
			wantJSON(t, "context", e.Context, `{"app":"x"}`)
		}},
		{name: "year 9999", body: track(`"timestamp":"9999-12-31T23:59:59Z"`), check: func(t *testing.T, e event.Event) {
			wantTime(t, "ts", e.TS, "2024-05-01T12:00:00Z")
		}},
		{name: "not a timestamp", body: track(`"timestamp":"yesterday"`), err: "timestamp: not an RFC 3339 timestamp"},
		{name: "no zone", body: track(`"timestamp":"2024-05-01T11:00:00"`), err: "timestamp: not an RFC 3339 timestamp"},
		{name: "fractional ms", body: track(`"timestamp":1714564740000.5`), err: "timestamp: not an integer of Unix milliseconds"},
		{name: "bool timestamp", body: track(`"timestamp":true`), err: "timestamp: must be a string or a number"},
		{name: "before 1970", body: track(`"timestamp":-1000`), err: "timestamp: out of range"},
		{name: "after 9999", body: track(`"timestamp":"9999-12-31T23:59:59Z","sentAt":253402300800000`), err: "sentAt: out of range"},
		{name: "far future ms", body: track(`"originalTimestamp":9223372036854775807`), err: "originalTimestamp: out of range"},
		{name: "bad sentAt", body: track(`"sentAt":"x"`), err: "sentAt: not an RFC 3339 timestamp"},
	})
}

func TestBuildPage(t *testing.T) {
	runBuildCases(t, []buildCase{
		{name: "context.page", body: track(`"context":{"page":{"url":"https://shop.example/books/42?ref=x","path":"/books/42","title":"Book 42","referrer":"https://search.example/"}}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "url", e.PageURL, "https://shop.example/books/42?ref=x")
			wantString(t, "path", e.PagePath, "/books/42")
			wantString(t, "title", e.PageTitle, "Book 42")
			wantString(t, "referrer", e.Referrer, "https://search.example/")
		}},
		{name: "page properties", body: batchOf(`{"type":"page","anonymousId":"a","properties":{"url":"https://shop.example/pay","path":"/pay","title":"Payment","referrer":"https://shop.example/cart"}}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "url", e.PageURL, "https://shop.example/pay")
			wantString(t, "path", e.PagePath, "/pay")
			wantString(t, "title", e.PageTitle, "Payment")
			wantString(t, "referrer", e.Referrer, "https://shop.example/cart")
		}},
		{name: "context.page wins, properties fill", body: batchOf(`{"type":"page","anonymousId":"a","context":{"page":{"url":"https://shop.example/a"}},"properties":{"url":"https://shop.example/b","title":"B"}}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "url", e.PageURL, "https://shop.example/a")
			wantString(t, "title", e.PageTitle, "B")
			wantString(t, "path", e.PagePath, "/a")
		}},
		{name: "path from URL", body: track(`"context":{"page":{"url":"https://shop.example/books/7?x=1#top"}}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "path", e.PagePath, "/books/7")
		}},
		{name: "escaped path from URL", body: track(`"context":{"page":{"url":"https://shop.example/%EC%B1%85/%FF%00x"}}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "path", e.PagePath, "/책/\uFFFDx")
		}},
		{name: "unparsable URL", body: track(`"context":{"page":{"url":"http://[::1"}}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "url", e.PageURL, "http://[::1")
			wantString(t, "path", e.PagePath, "")
		}},
		{name: "page fields of the wrong type are ignored", body: track(`"context":{"page":{"url":7,"title":["t"]}}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "url", e.PageURL, "")
			wantString(t, "title", e.PageTitle, "")
		}},
		{name: "section and banner", body: track(`"properties":{"section":"home_top","banner":"summer_sale","book_id":"b1"}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "section", e.Section, "home_top")
			wantString(t, "banner", e.Banner, "summer_sale")
			wantJSON(t, "properties", e.Properties, `{"section":"home_top","banner":"summer_sale","book_id":"b1"}`)
		}},
		{name: "UTM from context.campaign", body: track(`"context":{"campaign":{"source":"newsletter","medium":"email","name":"may","term":"sf","content":"hero"},"page":{"url":"https://shop.example/?utm_source=other"}}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "source", e.UTMSource, "newsletter")
			wantString(t, "medium", e.UTMMedium, "email")
			wantString(t, "campaign", e.UTMCampaign, "may")
			wantString(t, "term", e.UTMTerm, "sf")
			wantString(t, "content", e.UTMContent, "hero")
		}},
		{name: "UTM from the URL", body: track(`"context":{"page":{"url":"https://shop.example/l?utm_source=kakao&utm_medium=social&utm_campaign=%EB%B4%84&utm_term=t&utm_content=c","path":"/l"}}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "source", e.UTMSource, "kakao")
			wantString(t, "medium", e.UTMMedium, "social")
			wantString(t, "campaign", e.UTMCampaign, "봄")
			wantString(t, "term", e.UTMTerm, "t")
			wantString(t, "content", e.UTMContent, "c")
			wantString(t, "path", e.PagePath, "/l")
		}},
		{name: "UTM from the page properties URL", body: batchOf(`{"type":"page","anonymousId":"a","properties":{"url":"https://shop.example/?utm_source=ad&utm_campaign=x%FF%00"}}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "source", e.UTMSource, "ad")
			wantString(t, "campaign", e.UTMCampaign, "x\uFFFD")
		}},
	})
}

func TestBuildDevice(t *testing.T) {
	const (
		chrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
		iphone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
		android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"
		ipad    = "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
		tablet  = "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
		mac     = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"
		bot     = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	)
	device := func(typ, os, browser string) func(t *testing.T, e event.Event) {
		return func(t *testing.T, e event.Event) {
			t.Helper()
			wantString(t, "device_type", e.DeviceType, typ)
			wantString(t, "os", e.OS, os)
			wantString(t, "browser", e.Browser, browser)
		}
	}
	runBuildCases(t, []buildCase{
		{name: "desktop Chrome", ua: chrome, body: track(""), check: device("desktop", "Windows", "Chrome")},
		{name: "macOS Safari", ua: mac, body: track(""), check: device("desktop", "macOS", "Safari")},
		{name: "iPhone Safari", ua: iphone, body: track(""), check: device("mobile", "iOS", "Safari")},
		{name: "Android phone", ua: android, body: track(""), check: device("mobile", "Android", "Chrome")},
		{name: "iPad", ua: ipad, body: track(""), check: device("tablet", "iOS", "Safari")},
		{name: "Android tablet", ua: tablet, body: track(""), check: device("tablet", "Android", "Chrome")},
		{name: "bot", ua: bot, body: track(""), check: func(t *testing.T, e event.Event) {
			wantString(t, "device_type", e.DeviceType, "bot")
		}},
		{name: "context.userAgent wins over the header", ua: chrome, body: track(`"context":{"userAgent":"` + iphone + `"}`), check: device("mobile", "iOS", "Safari")},
		{name: "no user agent", body: track(""), check: device("", "", "")},
		{name: "a mobile library declares its device", ua: "analytics-kotlin/1.16.0", body: track(`"context":{"os":{"name":"Android","version":"14"},"device":{"type":"android","model":"Pixel 8"}}`), check: device("mobile", "Android", "analytics-kotlin")},
		{name: "an iPad app", ua: "analytics-swift/1.5.0", body: track(`"context":{"os":{"name":"iPadOS"},"device":{"type":"ios","model":"iPad14,1"}}`), check: device("tablet", "iPadOS", "analytics-swift")},
	})
}

func TestBuildIP(t *testing.T) {
	runBuildCases(t, []buildCase{
		{name: "IPv4 anonymised", peer: "203.0.113.77", body: track(""), check: func(t *testing.T, e event.Event) {
			wantString(t, "ip", e.IP, "203.0.113.0")
		}},
		{name: "IPv6 anonymised to /48", peer: "2001:db8:1234:5678:9abc::1", body: track(""), check: func(t *testing.T, e event.Event) {
			wantString(t, "ip", e.IP, "2001:db8:1234::")
		}},
		{name: "IPv4-mapped IPv6", peer: "::ffff:192.0.2.9", body: track(""), check: func(t *testing.T, e event.Event) {
			wantString(t, "ip", e.IP, "192.0.2.0")
		}},
		{name: "kept", peer: "203.0.113.77", opts: EnrichOptions{IP: IPKeep}, body: track(""), check: func(t *testing.T, e event.Event) {
			wantString(t, "ip", e.IP, "203.0.113.77")
		}},
		{name: "context.ip anonymised and removed", peer: "203.0.113.77", body: track(`"context":{"ip":"198.51.100.23","locale":"en"}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "ip", e.IP, "198.51.100.0")
			wantJSON(t, "context", e.Context, `{"locale":"en"}`)
		}},
		{name: "context.ip kept", peer: "203.0.113.77", opts: EnrichOptions{IP: IPKeep}, body: track(`"context":{"ip":"198.51.100.23"}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "ip", e.IP, "198.51.100.23")
			wantJSON(t, "context", e.Context, `{"ip":"198.51.100.23"}`)
		}},
		{name: "invalid context.ip removed, peer used", peer: "203.0.113.77", body: track(`"context":{"ip":"not-an-ip"}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "ip", e.IP, "203.0.113.0")
			wantJSON(t, "context", e.Context, `{}`)
		}},
		{name: "non-string context.ip removed", peer: "203.0.113.77", body: track(`"context":{"ip":12}`), check: func(t *testing.T, e event.Event) {
			wantJSON(t, "context", e.Context, `{}`)
		}},
		{name: "zone dropped", opts: EnrichOptions{IP: IPKeep}, body: track(`"context":{"ip":"fe80::1%eth0"}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "ip", e.IP, "fe80::1")
		}},
		{name: "no address", body: track(""), check: func(t *testing.T, e event.Event) {
			wantString(t, "ip", e.IP, "")
		}},
		{name: "dropped", peer: "203.0.113.77", opts: EnrichOptions{IP: IPDrop}, body: track(`"context":{"ip":"198.51.100.23","locale":"en"}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "ip", e.IP, "")
			wantJSON(t, "context", e.Context, `{"locale":"en"}`)
		}},
		{name: "hashed", peer: "203.0.113.77", opts: EnrichOptions{IP: IPHash, Salt: NewSalt([]byte("secret"), 0)}, body: track(`"context":{"ip":"198.51.100.23"}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "ip", e.IP, NewSalt([]byte("secret"), 0).Hash(netip.MustParseAddr("198.51.100.23"), received()))
			wantJSON(t, "context", e.Context, `{}`)
		}},
	})
}

func TestSalt(t *testing.T) {
	a, b := netip.MustParseAddr("198.51.100.23"), netip.MustParseAddr("198.51.100.24")
	day := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	s := NewSalt([]byte("secret"), 0)
	h := s.Hash(a, day)
	if len(h) != 18 || h[:2] != "h:" {
		t.Fatalf("hash %q: want h: and 16 hex digits", h)
	}
	for _, c := range []struct {
		name string
		got  string
		same bool
	}{
		{"same address, same day", s.Hash(a, day.Add(13*time.Hour)), true},
		{"same address, same day, another replica with the secret", NewSalt([]byte("secret"), 0).Hash(a, day), true},
		{"another address", s.Hash(b, day), false},
		{"same address, next day", s.Hash(a, day.Add(24*time.Hour)), false},
		{"same address, another secret", NewSalt([]byte("other"), 0).Hash(a, day), false},
		{"same address, random key", NewSalt(nil, 0).Hash(a, day), false},
		{"same address, back to the first day", s.Hash(a, day), true},
	} {
		if (c.got == h) != c.same {
			t.Errorf("%s: %q vs %q, want same=%v", c.name, c.got, h, c.same)
		}
	}
	r := NewSalt(nil, time.Hour)
	if r.Hash(a, day) != r.Hash(a, day.Add(time.Minute)) {
		t.Error("a random key changed within its period")
	}
	// Requests at a boundary come in any order: the key of a recent
	// period stays the same.
	first := r.Hash(a, day)
	r.Hash(a, day.Add(time.Hour))
	if r.Hash(a, day) != first {
		t.Error("a random key changed when its period came back")
	}
}

func TestBuildSession(t *testing.T) {
	runBuildCases(t, []buildCase{
		{name: "context.sessionId", body: track(`"context":{"sessionId":"s-1","seq":7}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "session", e.SessionID, "s-1")
			if e.Seq != 7 {
				t.Fatalf("seq = %d, want 7", e.Seq)
			}
		}},
		{name: "integer sessionId", body: track(`"context":{"sessionId":1714564740000}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "session", e.SessionID, "1714564740000")
		}},
		{name: "properties.session_id", body: track(`"properties":{"session_id":"s-2"}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "session", e.SessionID, "s-2")
		}},
		{name: "context wins over properties", body: track(`"context":{"sessionId":"s-1"},"properties":{"session_id":"s-2"}`), check: func(t *testing.T, e event.Event) {
			wantString(t, "session", e.SessionID, "s-1")
		}},
		{name: "no session", body: track(""), check: func(t *testing.T, e event.Event) {
			wantString(t, "session", e.SessionID, "")
			if e.Seq != 0 || e.HasSeq {
				t.Fatalf("seq = %d (sent %v), want none", e.Seq, e.HasSeq)
			}
		}},
		{name: "seq 0 is a sequence number", body: track(`"context":{"seq":0}`), check: func(t *testing.T, e event.Event) {
			if e.Seq != 0 || !e.HasSeq {
				t.Fatalf("seq = %d (sent %v), want 0 sent", e.Seq, e.HasSeq)
			}
		}},
		{name: "null seq", body: track(`"context":{"seq":null}`)},
		{name: "seq as string", body: track(`"context":{"seq":"7"}`), err: "context.seq must be an integer"},
		{name: "fractional seq", body: track(`"context":{"seq":1.5}`), err: "context.seq must be an integer"},
		{name: "NaN seq", body: track(`"context":{"seq":NaN}`), err: "context.seq must be an integer"},
		{name: "negative seq", body: track(`"context":{"seq":-1}`), err: "seq must not be negative"},
		{name: "session id too long", body: track(`"context":{"sessionId":"` + strings.Repeat("s", 201) + `"}`), err: "sessionId longer than 200 bytes"},
	})
}

func TestBuildJSON(t *testing.T) {
	runBuildCases(t, []buildCase{
		{name: "properties not an object", body: track(`"properties":[1]`), err: "properties must be an object"},
		{name: "properties a string", body: track(`"properties":"{}"`), err: "properties must be an object"},
		{name: "context not an object", body: track(`"context":true`), err: "context must be an object"},
		{name: "traits not an object", body: batchOf(`{"type":"identify","userId":"u","traits":1}`), err: "traits must be an object"},
		{name: "null properties", body: track(`"properties":null,"context":null`), check: func(t *testing.T, e event.Event) {
			wantJSON(t, "properties", e.Properties, `{}`)
			wantJSON(t, "context", e.Context, `{}`)
		}},
		{name: "NaN", body: track(`"properties":{"price":NaN}`), err: "properties holds NaN or Infinity"},
		{name: "Infinity", body: track(`"properties":{"a":[1,{"b":-Inf}]}`), err: "properties holds NaN or Infinity"},
		{name: "NaN in context", body: track(`"context":{"screen":{"density":nan}}`), err: "context holds NaN or Infinity"},
		{name: "lenient number", body: track(`"properties":{"v":1.2.3}`), err: "properties holds a number that is not valid JSON"},
		{name: "plus sign", body: track(`"properties":{"v":+1}`), err: "properties holds a number that is not valid JSON"},
		{name: "leading zero", body: track(`"properties":{"v":01}`), err: "properties holds a number that is not valid JSON"},
		{name: "invalid UTF-8 value", body: track("\"properties\":{\"title\":\"caf\xe9\"}"), err: "properties is not valid UTF-8"},
		{name: "invalid UTF-8 key", body: track("\"properties\":{\"\xff\":1}"), err: "properties is not valid UTF-8"},
		{name: "invalid UTF-8 in context", body: track("\"context\":{\"page\":{\"url\":\"https://x/\xc0\"}}"), err: "context is not valid UTF-8"},
		{name: "control characters are escaped", body: track("\"properties\":{\"q\":\"\\\"a\\\"\\u0007\\u0000\x01\\t\\u2028\",\"\\u000b\":\"\\u007f\"}"), check: func(t *testing.T, e event.Event) {
			wantString(t, "q", jsonField(t, e.Properties, "q").(string), "\"a\"\a\x00\x01\t\u2028")
			wantString(t, "vt", jsonField(t, e.Properties, "\v").(string), "\x7f")
		}},
		{name: "unknown escapes kept as text", body: track(`"properties":{"p":"\\x41 \q \ud800 \u12"}`), check: func(t *testing.T, e event.Event) {
			if _, ok := jsonField(t, e.Properties, "p").(string); !ok {
				t.Fatalf("properties %s", e.Properties)
			}
		}},
		{name: "nested values", body: track(`"properties":{"a":[1,-2.5e-3,true,false,null,"s",{"b":{}}],"c":{"d":[]}}`), check: func(t *testing.T, e event.Event) {
			wantJSON(t, "properties", e.Properties, `{"a":[1,-2.5e-3,true,false,null,"s",{"b":{}}],"c":{"d":[]}}`)
		}},
		{name: "big numbers kept as written", body: track(`"properties":{"n":123456789012345678901234567890,"f":1e400}`), check: func(t *testing.T, e event.Event) {
			if !strings.Contains(string(e.Properties), "123456789012345678901234567890") || !strings.Contains(string(e.Properties), "1e400") {
				t.Fatalf("properties %s", e.Properties)
			}
		}},
		{name: "batch context applies", body: `{"context":{"locale":"ko"},"batch":[{"type":"track","event":"e","anonymousId":"a"}]}`, check: func(t *testing.T, e event.Event) {
			wantJSON(t, "context", e.Context, `{"locale":"ko"}`)
		}},
		{name: "message context replaces batch context", body: `{"context":{"locale":"ko"},"batch":[{"type":"track","event":"e","anonymousId":"a","context":{"app":"x"}}]}`, check: func(t *testing.T, e event.Event) {
			wantJSON(t, "context", e.Context, `{"app":"x"}`)
		}},
		{name: "event at the size limit", opts: EnrichOptions{MaxEventBytes: 1024}, body: track(`"properties":{"p":"` + strings.Repeat("x", 800) + `"}`)},
		{name: "properties above the size limit", opts: EnrichOptions{MaxEventBytes: 1024}, body: track(`"properties":{"p":"` + strings.Repeat("x", 1024) + `"}`), err: "event larger than 1024 bytes"},
		{name: "context above the size limit", opts: EnrichOptions{MaxEventBytes: 1024}, body: track(`"context":{"p":"` + strings.Repeat("x", 1024) + `"}`), err: "event larger than 1024 bytes"},
		{name: "name above the size limit", opts: EnrichOptions{MaxEventBytes: 1024}, body: batchOf(`{"type":"screen","anonymousId":"a","name":"` + strings.Repeat("x", 1100) + `"}`), err: "event larger than 1024 bytes"},
		{name: "default size limit", body: track(`"properties":{"p":"` + strings.Repeat("x", 32<<10) + `"}`), err: "event larger than 32768 bytes"},
	})
}

// A batch-level context is shared by the messages of the batch: building
// one must not change what the next one sees.
func TestBuildBatchContextShared(t *testing.T) {
	md := testMeta(t, EnrichOptions{}, "", "203.0.113.77", "")
	out, err := decode(t, md, `{"context":{"ip":"198.51.100.23","actlog":{"x":1},"locale":"ko"},"batch":[
		{"type":"track","event":"a","anonymousId":"a","timestamp":"2020-01-01T00:00:00Z"},
		{"type":"track","event":"b","anonymousId":"a"},
		{"type":"track","event":"c","anonymousId":"a"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if o.err != nil {
			t.Fatalf("message %d: %v", i, o.err)
		}
		wantString(t, "ip", o.e.IP, "198.51.100.0")
		want := `{"locale":"ko"}`
		if i == 0 {
			want = `{"actlog":{"ts_clamped":"ancient"},"locale":"ko"}`
		}
		wantJSON(t, "context", o.e.Context, want)
	}
}

// A mixed batch: bad messages are rejected one by one, good ones kept.
func TestBuildMixedBatch(t *testing.T) {
	md := testMeta(t, EnrichOptions{}, "", "", "")
	out, err := decode(t, md, `{"batch":[
		{"type":"track","event":"ok","anonymousId":"a"},
		{"type":"track","anonymousId":"a"},
		7,
		{"type":"page","userId":"u"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	for _, o := range out {
		if o.err != nil {
			errs = append(errs, o.err.Error())
		} else {
			errs = append(errs, "")
		}
	}
	want := []string{"", "event name is required for track", "event must be a JSON object", ""}
	if strings.Join(errs, "|") != strings.Join(want, "|") {
		t.Fatalf("outcomes %q, want %q", errs, want)
	}
}

func TestRejectedOf(t *testing.T) {
	var p fastjson.Parser
	var w jsonWriter
	for _, tc := range []struct {
		name, msg string
		max       int
		raw, id   string
	}{
		{"object", `{"messageId":"m1","type":"x"}`, 1024, `{"messageId":"m1","type":"x"}`, "m1"},
		{"write key left out", `{"writeKey":"secret-key","type":"track"}`, 1024, `{"type":"track"}`, ""},
		{"integer id", `{"messageId":12}`, 1024, `{"messageId":12}`, "12"},
		{"not an object", `[1,2]`, 1024, `[1,2]`, ""},
		{"NaN and bad text sanitised", "{\"v\":NaN,\"s\":\"a\xffb\\u0001\"}", 1024, `{"v":"NaN","s":"a\ufffdb\u0001"}`, ""},
		{"truncated on a rune boundary", `{"s":"한국어"}`, 10, `{"s":"한`, ""},
		{"NUL id dropped", `{"messageId":"a\u0000"}`, 1024, `{"messageId":"a\u0000"}`, ""},
		{"long id cut", `{"messageId":"` + strings.Repeat("가", 100) + `"}`, 1024, `{"messageId":"` + strings.Repeat("가", 100) + `"}`, strings.Repeat("가", 66)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := p.Parse(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			rj := rejectedOf(&w, "web", received(), 3, v, errors.New("why"), tc.max)
			wantString(t, "raw", string(rj.Raw), tc.raw)
			wantString(t, "message id", rj.MessageID, tc.id)
			if rj.Index != 3 || rj.Reason != "why" || rj.Source != "web" || !rj.ReceivedAt.Equal(received()) {
				t.Fatalf("rejected = %+v", rj)
			}
		})
	}
}

func TestValidNumber(t *testing.T) {
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"0", true}, {"-0", true}, {"12", true}, {"1.5", true}, {"-1.5e10", true}, {"1E+2", true}, {"1e-2", true}, {"0.0", true},
		{"", false}, {"-", false}, {"+1", false}, {"01", false}, {"1.", false}, {".5", false}, {"1e", false}, {"1e+", false},
		{"1.2.3", false}, {"1-2", false}, {"NaN", false}, {"inf", false}, {"-Inf", false}, {"0x10", false}, {"1ee2", false},
	} {
		if got := validNumber([]byte(tc.s)); got != tc.ok {
			t.Errorf("validNumber(%q) = %v, want %v", tc.s, got, tc.ok)
		}
	}
}

// jsonWriter must agree with encoding/json on every strict JSON document.
func TestJSONWriterRoundTrip(t *testing.T) {
	var p fastjson.Parser
	var w jsonWriter
	for _, doc := range []string{
		`{}`, `[]`, `{"a":1}`, `{"a":"b\"c\\d\/e\b\f\n\r\t"}`, `{"k\u00e9y":"\ud83d\ude00 😀 \u00a0 \u0000 \u001f"}`,
		`[1,-1,0.5,1e10,-2E-5,true,false,null,"",{"":[]}]`, `{"a":{"b":{"c":[[[{}]]]}}}`, `{"dup":1,"dup":2}`,
		`{"s":"\u2028\u2029"}`, `"x"`, `12`, `null`,
	} {
		v, err := p.Parse(doc)
		if err != nil {
			t.Fatalf("parse %s: %v", doc, err)
		}
		w.reset(true, 1<<20)
		w.value(v)
		if w.failed() {
			t.Fatalf("write %s: fault %d", doc, w.fault)
		}
		if !json.Valid(w.buf) {
			t.Fatalf("write %s = %s, not JSON", doc, w.buf)
		}
		var a, b any
		if err := json.Unmarshal([]byte(doc), &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(w.buf, &b); err != nil {
			t.Fatal(err)
		}
		ab, _ := json.Marshal(a)
		bb, _ := json.Marshal(b)
		if string(ab) != string(bb) {
			t.Fatalf("write %s = %s", doc, w.buf)
		}
	}
}

func TestTruncateText(t *testing.T) {
	for _, tc := range []struct {
		s    string
		max  int
		want string
	}{
		{"abc", 5, "abc"}, {"abc", 3, "abc"}, {"abc", 2, "ab"}, {"abc", 0, ""},
		{"a한b", 1, "a"}, {"a한b", 2, "a"}, {"a한b", 3, "a"}, {"a한b", 4, "a한"},
		{"😀😀", 5, "😀"}, {"\xff\xff\xff", 2, "\xff\xff"},
	} {
		if got := string(truncateText([]byte(tc.s), tc.max)); got != tc.want {
			t.Errorf("truncateText(%q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
		}
	}
}
