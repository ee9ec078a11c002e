package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// biCase is one class of bad input sent to a running `actlog serve`.
type biCase struct {
	name   string
	method string // default POST
	path   string // default /v1/batch
	// events are batch elements: the body is {"batch":[events…]} plus,
	// with sibling, a valid event that must be stored whatever happens to
	// the others. body, when set, is the whole body instead.
	events  []string
	sibling bool
	body    []byte
	header  map[string]string // on top of the write key and Content-Type: application/json; "" removes one
	noKey   bool              // send no write key header
	chunked bool              // send the body without a Content-Length
	raw     string            // a whole HTTP request sent as is over TCP (the Host header is added)

	status int
	// err is a substring of the error of a refused request, or of every
	// rejection reason of a 200 answer.
	err      string
	accepted int // 200: events accepted, the sibling included
	rejected int // 200: events rejected
	// plain marks answers written by net/http itself (plain text, not
	// actlog's JSON error).
	plain bool
	// check reads what was stored, for the classes accepted with a
	// normalisation.
	check func(t *testing.T, s *server)
	// memory bounds the growth of the server's peak memory (bytes).
	memory int64
}

// TestBadInputCorpus sends each class of malformed, hostile or merely odd
// input to a real `actlog serve` over real sockets and checks the answer:
// a clear 4xx for a request that cannot be read, a rejection by index with
// a reason for a bad event (its valid sibling stored), or acceptance with a
// documented normalisation (checked through the SQL API). After every
// class the server is healthy: /readyz answers 200 and a known-good batch
// is accepted. The table is the reference for docs/reliability.md.
func TestBadInputCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	dir := t.TempDir()
	port := freePort(t)
	s := startServer(t, writeConfig(t, dir, port, ""), port)
	defer s.stop()

	const (
		maxEvent   = 32 << 10
		maxRequest = 512 << 10
	)
	tooLarge := "request body larger than 524288 bytes"
	track := func(fields string) string {
		return `{"type":"track","event":"bad_input","anonymousId":"bi-anon"` + fields + `}`
	}
	// ok builds an accepted event whose stored row a check reads by id.
	ok := func(id, fields string) string { return track(`,"messageId":"` + id + `"` + fields) }
	long := func(n int) string { return strings.Repeat("x", n) }
	nested := func(depth int) string {
		return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	}
	manyProps := func(n int) string {
		var b strings.Builder
		b.WriteString(`{`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"p%d":%d`, i, i%10)
		}
		b.WriteString(`}`)
		return b.String()
	}
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = `{"type":"track","event":"e","anonymousId":"bi-many"}`
		}
		return out
	}
	plainBatch := func(id string) []byte {
		return []byte(`{"batch":[` + ok(id, "") + `]}`)
	}
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	}
	fullGzip := gz(plainBatch("bi-never"))
	// A gzip bomb: size bytes of zeros, one deflate stream.
	bomb := func(size int, level int) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, level)
		zero := make([]byte, 1<<20)
		for n := 0; n < size; n += len(zero) {
			_, _ = zw.Write(zero)
		}
		_ = zw.Close()
		return buf.Bytes()
	}
	bomb1G := bomb(1<<30, gzip.BestSpeed)
	bomb100M := bomb(100<<20, gzip.BestCompression)
	if len(bomb1G) <= maxRequest || len(bomb100M) >= maxRequest {
		t.Fatalf("bombs of %d and %d bytes: want one over the wire limit and one under it", len(bomb1G), len(bomb100M))
	}

	// stored answers the one row of a column list for an event id.
	stored := func(t *testing.T, s *server, id, cols string) []any {
		t.Helper()
		rows := s.sql("SELECT " + cols + " FROM events WHERE event_id = " + biQuote(id))
		if len(rows) != 1 {
			t.Fatalf("event %s: %d rows stored, want 1", id, len(rows))
		}
		return rows[0]
	}
	equal := func(id, cols string, want ...any) func(t *testing.T, s *server) {
		return func(t *testing.T, s *server) {
			t.Helper()
			got := stored(t, s, id, cols)
			for i, w := range want {
				if n, ok := w.(int); ok {
					want[i] = float64(n) // numbers come back from JSON as float64
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("event %s: %s = %#v, want %#v", id, cols, got, want)
			}
		}
	}
	future := time.Now().UTC().AddDate(5, 0, 0).Format(time.RFC3339)

	corpus := []biCase{
		// HTTP framing, methods and headers.
		{name: "GET on /v1/batch", method: http.MethodGet, status: 405, err: "use POST"},
		{name: "PUT on /v1/track", method: http.MethodPut, path: "/v1/track", body: []byte(ok("bi-put", "")), status: 405, err: "use POST"},
		{name: "oversized headers (100 KB > max_header_bytes)", raw: "POST /v1/batch HTTP/1.1\r\nContent-Type: application/json\r\nX-Pad: " + long(100<<10) + "\r\nContent-Length: 2\r\n\r\n{}",
			status: 431, err: "Request Header Fields Too Large", plain: true},
		{name: "URL of 100 KB", raw: "POST /v1/batch?x=" + long(100<<10) + " HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
			status: 431, err: "Request Header Fields Too Large", plain: true},
		{name: "NUL byte in a header", raw: "POST /v1/batch HTTP/1.1\r\nContent-Type: application/json\r\nX-Write-Key: test-write-key\x00\r\nContent-Length: 2\r\n\r\n{}",
			status: 400, err: "Bad Request", plain: true},
		{name: "Content-Length over the limit with Expect: 100-continue: refused before the body", raw: "POST /v1/batch HTTP/1.1\r\nContent-Type: application/json\r\nAuthorization: Basic dGVzdC13cml0ZS1rZXk6\r\nExpect: 100-continue\r\nContent-Length: 100000000\r\n\r\n",
			status: 413, err: tooLarge},
		// net/http takes Transfer-Encoding over Content-Length (RFC 9112
		// §6.3) and closes the connection after the answer.
		{name: "Content-Length and chunked together", raw: "POST /v1/batch HTTP/1.1\r\nContent-Type: application/json\r\nAuthorization: Basic dGVzdC13cml0ZS1rZXk6\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			status: 400, err: "empty body"},
		{name: "two different Content-Lengths", raw: "POST /v1/batch HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
			status: 400, plain: true},
		{name: "Content-Type form", body: plainBatch("bi-form"), header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			status: 415, err: "content type must be application/json or text/plain"},
		{name: "Content-Type multipart", body: plainBatch("bi-multipart"), header: map[string]string{"Content-Type": "multipart/form-data; boundary=x"},
			status: 415, err: "content type must be application/json or text/plain"},
		{name: "Content-Type unparsable", body: plainBatch("bi-ctbad"), header: map[string]string{"Content-Type": "application/json; ="},
			status: 415, err: "content type must be application/json or text/plain"},
		{name: "Content-Type text/plain with the key in the body (sendBeacon)", noKey: true, header: map[string]string{"Content-Type": "text/plain;charset=UTF-8"},
			body: []byte(`{"writeKey":"test-write-key","batch":[` + ok("bi-beacon", "") + `]}`), status: 200, accepted: 1,
			check: equal("bi-beacon", "source", "web")},
		{name: "Content-Type absent", body: plainBatch("bi-noct"), header: map[string]string{"Content-Type": ""}, status: 200, accepted: 1,
			check: equal("bi-noct", "count(*)", 1)},

		// Compression and size.
		{name: "Content-Encoding br", body: plainBatch("bi-br"), header: map[string]string{"Content-Encoding": "br"},
			status: 415, err: "content encoding must be gzip or none"},
		{name: "Content-Encoding gzip, gzip", body: gz(gz(plainBatch("bi-gzgz"))), header: map[string]string{"Content-Encoding": "gzip, gzip"},
			status: 415, err: "content encoding must be gzip or none"},
		{name: "gzip declared, body not gzip", body: plainBatch("bi-notgz"), header: map[string]string{"Content-Encoding": "gzip"},
			status: 400, err: "invalid gzip body"},
		{name: "truncated gzip", body: fullGzip[:len(fullGzip)-12], header: map[string]string{"Content-Encoding": "gzip"},
			status: 400, err: "invalid or truncated gzip body"},
		{name: "truncated gzip header", body: fullGzip[:5], header: map[string]string{"Content-Encoding": "gzip"},
			status: 400, err: "invalid gzip body"},
		{name: "gzip followed by garbage", body: append(gz(plainBatch("bi-gztail")), "garbage"...), header: map[string]string{"Content-Encoding": "gzip"},
			status: 400, err: "invalid or truncated gzip body"},
		{name: "gzip bomb: 1 GB of zeros (1.3 MB on the wire)", body: bomb1G, header: map[string]string{"Content-Encoding": "gzip"},
			status: 413, err: tooLarge, memory: 64 << 20},
		{name: "gzip bomb: 100 MB of zeros (100 KB on the wire)", body: bomb100M, header: map[string]string{"Content-Encoding": "gzip"},
			status: 413, err: tooLarge, memory: 64 << 20},
		{name: "gzip bomb, chunked", body: bomb100M, chunked: true, header: map[string]string{"Content-Encoding": "gzip"},
			status: 413, err: tooLarge, memory: 64 << 20},
		{name: "body over the limit", body: []byte(`{"batch":[` + ok("bi-big", `,"properties":{"p":"`+long(maxRequest)+`"}`) + `]}`),
			status: 413, err: tooLarge},
		{name: "body over the limit, chunked", chunked: true, body: []byte(`{"batch":[` + ok("bi-bigc", `,"properties":{"p":"`+long(maxRequest)+`"}`) + `]}`),
			status: 413, err: tooLarge},

		// Write keys.
		{name: "no write key", noKey: true, body: plainBatch("bi-nokey"), status: 401, err: "write key required"},
		{name: "unknown write key in a header", noKey: true, header: map[string]string{"X-Write-Key": "wk_nope"}, body: plainBatch("bi-unk"),
			status: 401, err: "unknown write key"},
		{name: "unknown write key in the body", noKey: true, body: []byte(`{"writeKey":"wk_nope","batch":[` + ok("bi-unkb", "") + `]}`),
			status: 401, err: "unknown write key"},
		{name: "malformed Basic auth", noKey: true, header: map[string]string{"Authorization": "Basic %%%"}, body: plainBatch("bi-badbasic"),
			status: 401, err: "write key required"},
		{name: "writeKey not a string", noKey: true, body: []byte(`{"writeKey":42,"batch":[` + ok("bi-wknum", "") + `]}`),
			status: 400, err: "writeKey must be a string"},
		{name: "write key in the body, not kept with a rejected event", noKey: true, path: "/v1/track",
			body:   []byte(`{"writeKey":"test-write-key","anonymousId":"bi-wkraw","messageId":"bi-wkraw"}`),
			status: 200, rejected: 1, err: "event name is required for track",
			check: func(t *testing.T, s *server) {
				rows := s.sql("SELECT raw FROM rejected WHERE message_id = 'bi-wkraw'")
				if len(rows) != 1 || strings.Contains(fmt.Sprint(rows[0][0]), "test-write-key") || !strings.Contains(fmt.Sprint(rows[0][0]), "bi-wkraw") {
					t.Fatalf("rejected raw %v: want the event without its writeKey", rows)
				}
			}},

		// The body as a whole.
		{name: "empty body", body: []byte{}, status: 400, err: "empty body"},
		{name: "truncated JSON", body: []byte(`{"batch":[{"type":"track","event":"e","anonymousId":"a"`), status: 400, err: "invalid JSON at byte"},
		{name: "not JSON", body: []byte(`type=track&event=e`), status: 400, err: "invalid JSON at byte"},
		{name: "JSON array at the top level", body: []byte(`[` + ok("bi-array", "") + `]`), status: 400, err: "body must be a JSON object"},
		{name: "JSON string at the top level", body: []byte(`"batch"`), status: 400, err: "body must be a JSON object"},
		{name: "trailing garbage", body: append(plainBatch("bi-tail"), " xyz"...), status: 400, err: "invalid JSON at byte"},
		{name: "two JSON documents", body: append(plainBatch("bi-two1"), plainBatch("bi-two2")...), status: 400, err: "invalid JSON at byte"},
		{name: "UTF-8 byte order mark", body: append([]byte("\xef\xbb\xbf"), plainBatch("bi-bom")...), status: 400, err: "invalid JSON at byte"},
		{name: "batch missing", body: []byte(`{"events":[` + ok("bi-nobatch", "") + `]}`), status: 400, err: "batch is required"},
		{name: "batch an object", body: []byte(`{"batch":` + ok("bi-batchobj", "") + `}`), status: 400, err: "batch must be an array"},
		{name: "batch null", body: []byte(`{"batch":null}`), status: 400, err: "batch must be an array"},
		{name: "empty batch", body: []byte(`{"batch":[]}`), status: 200, accepted: 0},
		{name: "batch of max_batch_events (2,500)", events: many(2500), status: 200, accepted: 2500},
		{name: "batch of more than max_batch_events (2,501)", events: many(2501), status: 400, err: "batch has 2501 events, more than the limit of 2500"},
		{name: "deep nesting: 10,000 levels", events: []string{ok("bi-deep", `,"properties":`+nested(10000))}, sibling: true,
			status: 400, err: "JSON nested deeper than 300 levels"},
		{name: "deep nesting: 301 levels", events: []string{ok("bi-deep301", `,"properties":`+nested(297))}, sibling: true,
			status: 400, err: "JSON nested deeper than 300 levels"},
		{name: "nesting of 250 levels", events: []string{ok("bi-deep250", `,"properties":`+nested(250))}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-deep250", "json_extract(properties, '$"+strings.Repeat(".a", 250)+"')", 1)},

		// Sizes of one event.
		{name: "event over 32 KB", events: []string{track(`,"properties":{"p":"` + long(maxEvent) + `"}`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "event larger than 32768 bytes"},
		{name: "batch context over 32 KB with each event", body: []byte(`{"context":{"p":"` + long(maxEvent) + `"},"batch":[` + track("") + `,` + track("") + `]}`),
			status: 200, rejected: 2, err: "event larger than 32768 bytes"},
		{name: "5,000 properties", events: []string{track(`,"properties":` + manyProps(5000))}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "event larger than 32768 bytes"},
		{name: "2,000 properties", events: []string{ok("bi-2000", `,"properties":`+manyProps(2000))}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-2000", "json_array_length(json_keys(properties))", 2000)},
		{name: "property of 30 KB", events: []string{ok("bi-30k", `,"properties":{"p":"`+long(30<<10)+`"}`)}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-30k", "length(properties->>'p')", 30<<10)},
		{name: "over-long messageId", events: []string{track(`,"messageId":"` + long(201) + `"`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "messageId longer than 200 bytes"},
		{name: "over-long anonymousId", events: []string{`{"type":"track","event":"e","anonymousId":"` + long(201) + `"}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "anonymousId longer than 200 bytes"},
		{name: "over-long userId", events: []string{track(`,"userId":"` + long(201) + `"`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "userId longer than 200 bytes"},
		{name: "over-long sessionId", events: []string{track(`,"context":{"sessionId":"` + long(201) + `"}`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "sessionId longer than 200 bytes"},
		{name: "over-long event name", events: []string{`{"type":"track","anonymousId":"a","event":"` + long(201) + `"}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "event name longer than 200 bytes"},
		{name: "ids and event name of exactly 200 bytes", events: []string{`{"type":"track","messageId":"bi-200` + long(194) + `","anonymousId":"` + long(200) + `","userId":"` + long(200) + `","event":"` + long(200) + `"}`}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-200"+long(194), "length(anonymous_id), length(user_id), length(event)", 200, 200, 200)},

		// Text: UTF-8, surrogates, NUL and control characters.
		{name: "invalid UTF-8 in a property value", events: []string{track(`,"properties":{"p":"a` + "\xff\xfe" + `b"}`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "properties is not valid UTF-8"},
		{name: "invalid UTF-8 in a property key", events: []string{track(`,"properties":{"` + "\xc3\x28" + `":1}`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "properties is not valid UTF-8"},
		{name: "invalid UTF-8 in context", events: []string{track(`,"context":{"page":{"title":"` + "\xed\xa0\x80" + `"}}`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "context is not valid UTF-8"},
		{name: "invalid UTF-8 in anonymousId", events: []string{`{"type":"track","event":"e","anonymousId":"` + "a\x80" + `"}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "anonymousId is not valid UTF-8 text"},
		{name: "invalid UTF-8 in the event name", events: []string{`{"type":"track","anonymousId":"a","event":"` + "e\xc0" + `"}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "event is not valid UTF-8 text"},
		{name: "NUL escape in anonymousId", events: []string{`{"type":"track","event":"e","anonymousId":"a\u0000b"}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "anonymousId is not valid UTF-8 text"},
		{name: "raw NUL byte in userId", events: []string{track(`,"userId":"u` + "\x00" + `"`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "userId is not valid UTF-8 text"},
		{name: "NUL in messageId", events: []string{track(`,"messageId":"m\u0000"`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "messageId is not valid UTF-8 text"},
		{name: "NUL in the event name", events: []string{`{"type":"track","anonymousId":"a","event":"e\u0000"}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "event is not valid UTF-8 text"},
		{name: "NUL in a property key and value: kept, escaped", events: []string{ok("bi-nul", `,"properties":{"k\u0000":"a\u0000b"}`)}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-nul", "properties::VARCHAR", `{"k\u0000":"a\u0000b"}`)},
		{name: "raw control characters in a string: kept, escaped", events: []string{ok("bi-ctl", `,"properties":{"p":"a`+"\t\n\x01"+`b"}`)}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-ctl", "properties::VARCHAR", `{"p":"a\t\n\u0001b"}`)},
		{name: "surrogate pair escape", events: []string{ok("bi-pair", `,"properties":{"p":"\ud83d\ude00"}`)}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-pair", "properties->>'p'", "😀")},
		{name: "lone surrogate escape in a property: kept as its text", events: []string{ok("bi-lone", `,"properties":{"p":"a\ud800b"}`)}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-lone", "properties->>'p'", `a\ud800b`)},
		{name: "lone surrogate escape in anonymousId: kept as its text", events: []string{`{"type":"track","event":"e","messageId":"bi-lone-id","anonymousId":"\udc00"}`}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-lone-id", "anonymous_id", `\udc00`)},
		{name: "high surrogate before another escape", events: []string{ok("bi-hi", `,"properties":{"p":"\ud800\u0041"}`)}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-hi", "properties->>'p'", "\ufffd")},
		{name: "invalid escape: kept as its text", events: []string{ok("bi-esc", `,"properties":{"p":"\x41\q"}`)}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-esc", "properties->>'p'", `\x41\q`)},

		// Numbers.
		{name: "NaN in properties", events: []string{track(`,"properties":{"p":NaN}`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "properties holds NaN or Infinity, which JSON does not allow"},
		{name: "Inf in properties", events: []string{track(`,"properties":{"p":Inf}`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "properties holds NaN or Infinity, which JSON does not allow"},
		{name: "Infinity in properties (Python's json.dumps)", events: []string{track(`,"properties":{"p":Infinity}`)}, sibling: true,
			status: 400, err: "invalid JSON at byte"},
		{name: "-Inf in context", events: []string{track(`,"context":{"p":-Inf}`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "context holds NaN or Infinity, which JSON does not allow"},
		{name: "malformed number +1", events: []string{track(`,"properties":{"p":+1}`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "properties holds a number that is not valid JSON"},
		{name: "malformed number 01", events: []string{track(`,"properties":{"p":01}`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "properties holds a number that is not valid JSON"},
		{name: "huge numbers: kept as sent", events: []string{ok("bi-huge", `,"properties":{"e":1e400,"i":123456789012345678901234567890}`)}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-huge", "properties::VARCHAR", `{"e":1e400,"i":123456789012345678901234567890}`)},
		{name: "NaN as timestamp", events: []string{track(`,"timestamp":NaN`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "timestamp: not an integer of Unix milliseconds"},
		{name: "integer ids: stored as their decimal text", events: []string{`{"type":"track","event":"e","messageId":1234567890123456789012,"anonymousId":-7,"userId":0}`}, sibling: true,
			status: 200, accepted: 2, check: equal("1234567890123456789012", "anonymous_id, user_id", "-7", "0")},
		{name: "userId a fraction", events: []string{track(`,"userId":1.5`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "userId must be a string or an integer"},
		{name: "userId with an exponent", events: []string{track(`,"userId":1e3`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "userId must be a string or an integer"},

		// Wrong types.
		{name: "event a number", events: []string{`{"type":"track","anonymousId":"a","event":42}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "event must be a string"},
		{name: "properties an array", events: []string{track(`,"properties":[1,2]`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "properties must be an object"},
		{name: "properties a string", events: []string{track(`,"properties":"{}"`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "properties must be an object"},
		{name: "context a string", events: []string{track(`,"context":"x"`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "context must be an object"},
		{name: "traits a number", events: []string{`{"type":"identify","userId":"u","traits":1}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "traits must be an object"},
		{name: "timestamp an object", events: []string{track(`,"timestamp":{"t":1}`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "timestamp: must be a string or a number"},
		{name: "type a number", events: []string{`{"type":1,"event":"e","anonymousId":"a"}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "type must be a string"},
		{name: "anonymousId an object", events: []string{`{"type":"track","event":"e","anonymousId":{"id":1}}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "anonymousId must be a string or an integer"},
		{name: "batch elements not objects", events: []string{`42`, `"track"`, `null`, `[]`}, sibling: true,
			status: 200, accepted: 1, rejected: 4, err: "event must be a JSON object"},
		{name: "context.seq a string", events: []string{track(`,"context":{"seq":"1"}`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "context.seq must be an integer"},
		{name: "context.seq negative", events: []string{track(`,"context":{"seq":-1}`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "seq must not be negative"},
		{name: "properties null: absent", events: []string{ok("bi-propnull", `,"properties":null`)}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-propnull", "properties::VARCHAR", "{}")},

		// Missing or unknown fields.
		{name: "missing anonymousId and userId", events: []string{`{"type":"track","event":"e","messageId":"bi-noid"}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "anonymousId or userId is required"},
		{name: "empty anonymousId and userId", events: []string{`{"type":"track","event":"e","anonymousId":"","userId":null}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "anonymousId or userId is required"},
		{name: "missing type", events: []string{`{"event":"e","anonymousId":"a"}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "type is required"},
		{name: "unknown type", events: []string{`{"type":"purchase","event":"e","anonymousId":"a"}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "unknown type"},
		{name: "type in upper case", events: []string{`{"type":"Track","event":"e","anonymousId":"a"}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "unknown type"},
		{name: "track without an event name", events: []string{`{"type":"track","anonymousId":"a"}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "event name is required for track"},
		{name: "group without groupId", events: []string{`{"type":"group","userId":"u"}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "groupId is required for group"},
		{name: "alias without previousId", events: []string{`{"type":"alias","userId":"u"}`}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "previousId is required for alias"},
		{name: "type not the endpoint's", path: "/v1/track", body: []byte(`{"type":"page","anonymousId":"a","messageId":"bi-contra"}`),
			status: 200, rejected: 1, err: "type does not match the endpoint"},
		{name: "empty messageId: one is generated", events: []string{`{"type":"track","event":"bi_empty_id","anonymousId":"bi-empty-id","messageId":""}`}, sibling: true,
			status: 200, accepted: 2, check: func(t *testing.T, s *server) {
				rows := s.sql("SELECT event_id FROM events WHERE anonymous_id = 'bi-empty-id'")
				if len(rows) != 1 || len(fmt.Sprint(rows[0][0])) != 36 {
					t.Fatalf("event ids %v: want one generated UUID", rows)
				}
			}},

		// Time.
		{name: "future timestamp: clamped and flagged", events: []string{ok("bi-future", `,"timestamp":"`+future+`"`)}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-future", "ts = received_at, client_ts, context->'actlog'->>'ts_clamped'", true, future, "future")},
		{name: "ancient timestamp: clamped and flagged", events: []string{ok("bi-ancient", `,"timestamp":"2001-02-03T04:05:06Z"`)}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-ancient", "ts = received_at, client_ts, context->'actlog'->>'ts_clamped'", true, "2001-02-03T04:05:06Z", "ancient")},
		{name: "clock skew into the future: clamped", events: []string{ok("bi-skew", `,"timestamp":"2030-01-01T00:00:00Z","sentAt":"2020-01-01T00:00:00Z"`)}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-skew", "ts = received_at, context->'actlog'->>'ts_clamped'", true, "future")},
		{name: "client-sent context.actlog: dropped", events: []string{ok("bi-spoof", `,"context":{"actlog":{"ts_clamped":"future"},"k":1}`)}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-spoof", "context::VARCHAR", `{"k":1}`)},
		{name: "timestamp without a zone", events: []string{track(`,"timestamp":"2026-01-01T00:00:00"`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "timestamp: not an RFC 3339 timestamp"},
		{name: "timestamp before 1970", events: []string{track(`,"timestamp":-1`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "timestamp: out of range"},
		{name: "timestamp after 9999", events: []string{track(`,"originalTimestamp":253402300800000`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "originalTimestamp: out of range"},
		{name: "timestamp in fractional milliseconds", events: []string{track(`,"timestamp":1.7e12`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "timestamp: not an integer of Unix milliseconds"},
		{name: "sentAt not a time", events: []string{track(`,"sentAt":"yesterday"`)}, sibling: true,
			status: 200, accepted: 1, rejected: 1, err: "sentAt: not an RFC 3339 timestamp"},
		{name: "batch sentAt not a time: ignored", body: []byte(`{"sentAt":"yesterday","batch":[` + ok("bi-bsent", `,"timestamp":"`+time.Now().UTC().Format(time.RFC3339)+`"`) + `]}`),
			status: 200, accepted: 1, check: equal("bi-bsent", "sent_at IS NULL, ts = client_ts", true, true)},

		// Duplicates.
		{name: "duplicate keys in an event: the first wins", events: []string{`{"type":"track","messageId":"bi-dup","event":"first","event":"second","anonymousId":"a1","anonymousId":"a2"}`}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-dup", "event, anonymous_id", "first", "a1")},
		{name: "duplicate keys in properties: both kept, readers take the first", events: []string{ok("bi-dupp", `,"properties":{"k":1,"k":2}`)}, sibling: true,
			status: 200, accepted: 2, check: equal("bi-dupp", "properties::VARCHAR, properties->>'k'", `{"k":1,"k":2}`, "1")},
		{name: "duplicate messageId in one batch: stored once, the first", events: []string{ok("bi-twice", `,"properties":{"n":1}`), ok("bi-twice", `,"properties":{"n":2}`)}, sibling: true,
			status: 200, accepted: 3, check: equal("bi-twice", "properties->>'n'", "1")},
	}
	if len(corpus) < 30 {
		t.Fatalf("%d classes, want at least 30", len(corpus))
	}

	count := func(table string) int64 {
		t.Helper()
		n, _ := s.sql("SELECT count(*) FROM " + table)[0][0].(float64)
		return int64(n)
	}
	client := &http.Client{Timeout: 60 * time.Second}
	defer client.CloseIdleConnections()
	var healthIDs []string
	for i, tc := range corpus {
		t.Run(tc.name, func(t *testing.T) {
			events, rejected := count("events"), count("rejected")
			var peak int64
			if tc.memory > 0 {
				peak = biResetPeak(t, s)
			}
			code, body, err := biSend(client, s.base, tc)
			if err != nil {
				t.Fatalf("request failed: %v", err)
			}
			t.Logf("answer %d %.200q", code, body)
			if code != tc.status {
				t.Fatalf("status %d, want %d: %.300s", code, tc.status, body)
			}
			var ans struct {
				Error    string `json:"error"`
				Accepted *int   `json:"accepted"`
				Rejected []struct {
					Index int    `json:"index"`
					Error string `json:"error"`
				} `json:"rejected"`
			}
			if !tc.plain {
				if err := json.Unmarshal(body, &ans); err != nil {
					t.Fatalf("answer is not JSON: %v: %.300s", err, body)
				}
			}
			if code == http.StatusOK {
				if ans.Accepted == nil || *ans.Accepted != tc.accepted || len(ans.Rejected) != tc.rejected {
					t.Fatalf("answer %s: want %d accepted, %d rejected", body, tc.accepted, tc.rejected)
				}
				for _, r := range ans.Rejected {
					if !strings.Contains(r.Error, tc.err) {
						t.Fatalf("rejection %q, want %q", r.Error, tc.err)
					}
				}
				if got := count("rejected") - rejected; got != int64(tc.rejected) {
					t.Fatalf("%d rows added to the rejected table, want %d", got, tc.rejected)
				}
			} else {
				text := ans.Error
				if tc.plain {
					text = string(body)
				}
				if !strings.Contains(text, tc.err) {
					t.Fatalf("error %q, want %q", text, tc.err)
				}
				if e, r := count("events"), count("rejected"); e != events || r != rejected {
					t.Fatalf("a refused request stored %d events and %d rejected", e-events, r-rejected)
				}
			}
			if tc.sibling && code == http.StatusOK {
				rows := s.sql("SELECT count(*) FROM events WHERE event_id = " + biQuote(biSiblingID(tc.name)))
				if rows[0][0] != float64(1) {
					t.Fatalf("the valid sibling was not stored")
				}
			}
			if tc.check != nil {
				tc.check(t, s)
			}
			if tc.memory > 0 {
				if grew := biPeak(t, s) - peak; grew > tc.memory {
					t.Fatalf("the server's peak memory grew by %d MB", grew>>20)
				}
			}
		})
		// The server is healthy after every class.
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("actlog serve exited after %q: %v\n%s", tc.name, err, s.log)
		default:
		}
		resp, err := client.Get(s.base + "/readyz")
		if err != nil {
			t.Fatalf("after %q: /readyz: %v", tc.name, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("after %q: /readyz answered %d", tc.name, resp.StatusCode)
		}
		id := fmt.Sprintf("bi-health-%d", i)
		healthIDs = append(healthIDs, id)
		code, body, err := biSend(client, s.base, biCase{body: plainBatch(id)})
		if err != nil || code != http.StatusOK || !bytes.Contains(body, []byte(`"accepted":1,"rejected":[]`)) {
			t.Fatalf("after %q: a good batch was answered %d %s (%v)", tc.name, code, body, err)
		}
	}
	rows := s.sql("SELECT count(*) FROM events WHERE event_id LIKE 'bi-health-%'")
	if rows[0][0] != float64(len(healthIDs)) {
		t.Fatalf("%v of %d known-good events stored", rows[0][0], len(healthIDs))
	}
	if strings.Contains(s.log.String(), "panic") {
		t.Fatalf("the server log mentions a panic:\n%s", s.log)
	}
}

// biSiblingID is the id of the valid event that follows the bad ones of a
// class.
func biSiblingID(name string) string {
	return "bi-sibling-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
}

func biQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// biSend sends one class's request and answers the status and body.
func biSend(client *http.Client, base string, tc biCase) (int, []byte, error) {
	if tc.raw != "" {
		return biRaw(base, tc.raw)
	}
	body := tc.body
	if body == nil {
		elems := tc.events
		if tc.sibling {
			elems = append(elems[:len(elems):len(elems)], `{"type":"track","event":"sibling","anonymousId":"bi-sibling","messageId":"`+biSiblingID(tc.name)+`"}`)
		}
		body = []byte(`{"batch":[` + strings.Join(elems, ",") + `]}`)
	}
	method, path := tc.method, tc.path
	if method == "" {
		method = http.MethodPost
	}
	if path == "" {
		path = "/v1/batch"
	}
	var r io.Reader = bytes.NewReader(body)
	if tc.chunked {
		r = struct{ io.Reader }{r} // an unknown length: chunked
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if !tc.noKey {
		req.SetBasicAuth("test-write-key", "")
	}
	for k, v := range tc.header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// biRaw writes a request as is on a new connection and reads the answer,
// also when the server answers before it read the whole request.
func biRaw(base, raw string) (int, []byte, error) {
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	line, rest, _ := strings.Cut(raw, "\r\n")
	go func() { _, _ = io.WriteString(conn, line+"\r\nHost: "+host+"\r\n"+rest) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

// biResetPeak resets the peak resident memory (VmHWM) of the server
// process to its current size, and answers that size.
func biResetPeak(t *testing.T, s *server) int64 {
	t.Helper()
	path := "/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/clear_refs"
	if err := os.WriteFile(path, []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak memory of the server: %v", err)
	}
	return biPeak(t, s)
}

// biPeak answers the server's peak resident memory (VmHWM).
func biPeak(t *testing.T, s *server) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
