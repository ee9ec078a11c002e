package ingest

import (
	"strings"
	"testing"
)

// fuzzSeeds are valid Segment batches, single messages and edge cases.
func fuzzSeeds() []string {
	return []string{
		realisticBatch(2),
		`{"batch":[{"type":"track","event":"e","anonymousId":"a"}]}`,
		`{"writeKey":"wk","sentAt":"2024-05-01T12:00:00Z","context":{"ip":"198.51.100.1","userAgent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)"},"batch":[{"type":"page","userId":42,"timestamp":1714564740000,"properties":{"url":"https://x.example/a%FF?utm_source=%00"}}]}`,
		`{"batch":[{"type":"identify","userId":"u","traits":{"plan":"pro"}},{"type":"group","userId":"u","groupId":9},{"type":"alias","userId":"u","previousId":"a"},{"type":"screen","anonymousId":"a","name":"S"}]}`,
		`{"batch":[{"type":"track","event":"e","anonymousId":"a","properties":{"x":NaN,"y":-Inf,"z":1.2.3}}]}`,
		`{"batch":[{"type":"track","event":"e\u0000","anonymousId":"a\ud800","context":{"seq":"1","sessionId":1.5}}]}`,
		"{\"batch\":[{\"type\":\"track\",\"event\":\"\xff\",\"anonymousId\":\"a\",\"properties\":{\"\x01\":\"\\\"\x7f\"}}]}",
		`{"batch":[1,"s",null,[],{}]}`,
		`{"batch":[{"type":"track","event":"e","anonymousId":"a","timestamp":"9999-12-31T23:59:59Z","sentAt":"1970-01-01T00:00:00Z"}]}`,
		`{"batch":[{"type":"track","event":"e","anonymousId":"a","context":{"ip":"fe80::1%eth0","actlog":1,"page":{"url":"http://[::1"}}}]}`,
		`{"batch":{}}`,
		`{}`,
		`[]`,
		``,
		`{"batch":[` + strings.Repeat(`{"a":`, 20) + `1` + strings.Repeat(`}`, 20) + `]}`,
	}
}

// FuzzDecodeBatch drives a request body through the decoder and enrichment
// exactly as the handler does. Every message must become either an event
// that is storable as it is, or a rejection whose reason is safe to return.
func FuzzDecodeBatch(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		md := testMeta(t, EnrichOptions{MaxEventBytes: 4 << 10}, "", "203.0.113.7", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0.0.0")
		// decode checks every outcome: a Validate-clean event with JSON
		// object columns and valid text, or a safe, non-empty reason; and
		// a rejected-table row that is valid UTF-8 within the size limit.
		_, _ = decode(t, md, string(body))
		// The same body as one message of a single-message endpoint.
		md.routeType = "track"
		_, _ = decode(t, md, string(body))
	})
}
