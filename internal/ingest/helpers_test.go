package ingest

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
	"go.uber.org/goleak"

	"github.com/actlog/actlog/internal/event"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// received is the receive time of every event built by the decoder tests.
func received() time.Time {
	return time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
}

// testMeta returns the per-request state the handler would set up for a
// request from peer (may be empty) with the given User-Agent header.
func testMeta(tb testing.TB, opts EnrichOptions, route event.Type, peer, userAgent string) *meta {
	tb.Helper()
	opts.setDefaults()
	md := &meta{
		source:     "web",
		receivedAt: received(),
		userAgent:  userAgent,
		routeType:  route,
		uaCache:    newUACache(64),
		opts:       &opts,
	}
	if peer != "" {
		md.ip = netip.MustParseAddr(peer)
	}
	return md
}

// outcome is what the decoder made of one message.
type outcome struct {
	e   event.Event
	err error
}

// decode runs body through parseBody and build, as the handler does, and
// checks the invariants every outcome must meet.
func decode(tb testing.TB, md *meta, body string) ([]outcome, error) {
	tb.Helper()
	var p fastjson.Parser
	req, err := parseBody(&p, []byte(body), md.routeType, 100)
	if err != nil {
		if !IsDecode(err) {
			tb.Fatalf("parseBody error %v is not a DecodeError", err)
		}
		checkReason(tb, err.Error())
		return nil, err
	}
	md.begin(&req)
	out := make([]outcome, len(req.Messages))
	for i, m := range req.Messages {
		out[i].e, out[i].err = md.build(m)
		checkOutcome(tb, out[i].e, out[i].err)
		var w jsonWriter
		rj := rejectedOf(&w, md.source, md.receivedAt, i, m, errString("reason"), md.opts.MaxEventBytes)
		full := rejectedOf(&w, md.source, md.receivedAt, i, m, errString("reason"), 1<<30)
		checkRejected(tb, rj, full, md.opts.MaxEventBytes)
	}
	return out, nil
}

type errString string

func (e errString) Error() string { return string(e) }

// checkOutcome checks that a built event is storable, or that a rejection
// has a reason safe to return to the client.
func checkOutcome(tb testing.TB, e event.Event, err error) {
	tb.Helper()
	if err != nil {
		if !event.IsValidation(err) {
			tb.Fatalf("build error %v is not a ValidationError", err)
		}
		checkReason(tb, err.Error())
		return
	}
	if verr := e.Validate(event.Limits{}); verr != nil {
		tb.Fatalf("built event does not validate: %v", verr)
	}
	for name, raw := range map[string][]byte{"properties": e.Properties, "context": e.Context} {
		if !json.Valid(raw) || len(raw) == 0 || raw[0] != '{' {
			tb.Fatalf("%s is not a JSON object: %q", name, raw)
		}
		if !utf8.Valid(raw) {
			tb.Fatalf("%s is not valid UTF-8: %q", name, raw)
		}
	}
	for i, s := range textFields(&e) {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			tb.Fatalf("text field %d is not valid text: %q", i, s)
		}
	}
	if e.TS.IsZero() || e.ReceivedAt.IsZero() || e.EventID == "" || e.Source == "" {
		tb.Fatalf("event lacks a required column: %+v", e)
	}
}

func textFields(e *event.Event) []string {
	return []string{
		e.EventID, e.Source, string(e.Type), e.Event, e.AnonymousID, e.UserID, e.SessionID,
		e.PageURL, e.PagePath, e.PageTitle, e.Referrer, e.ScreenName, e.Section, e.Banner,
		e.UTMSource, e.UTMMedium, e.UTMCampaign, e.UTMTerm, e.UTMContent,
		e.DeviceType, e.OS, e.Browser, e.IP,
	}
}

// checkRejected checks a rejected-table row: its raw JSON is the whole
// message re-encoded as valid JSON (full), cut to max bytes of valid UTF-8.
func checkRejected(tb testing.TB, rj, full event.Rejected, max int) {
	tb.Helper()
	if len(rj.Raw) > max {
		tb.Fatalf("raw is %d bytes, more than the limit %d", len(rj.Raw), max)
	}
	if !utf8.Valid(rj.Raw) {
		tb.Fatalf("raw is not valid UTF-8: %q", rj.Raw)
	}
	if !json.Valid(full.Raw) {
		tb.Fatalf("raw is not JSON: %q", full.Raw)
	}
	cut := len(full.Raw) > max
	if !bytes.HasPrefix(full.Raw, rj.Raw) || (!cut && len(rj.Raw) != len(full.Raw)) || (cut && len(rj.Raw) <= max-utf8.UTFMax) {
		tb.Fatalf("raw (%d bytes) is not the message (%d bytes) cut to %d bytes", len(rj.Raw), len(full.Raw), max)
	}
	if !utf8.ValidString(rj.MessageID) || strings.IndexByte(rj.MessageID, 0) >= 0 || len(rj.MessageID) > event.DefaultMaxID {
		tb.Fatalf("bad message id %q", rj.MessageID)
	}
}

// safeReason matches every reason the decoder may give. A reason names
// fields and limits, never a value from the payload; anything else is a
// leak.
var safeReason = regexp.MustCompile(`^(?:` + strings.Join([]string{
	`empty body`,
	`invalid JSON(?: at byte \d+)?`,
	`JSON nested deeper than \d+ levels`,
	`body must be a JSON object`,
	`writeKey must be a string`,
	`batch is required`,
	`batch must be an array`,
	`batch has \d+ events, more than the limit of \d+`,
	`event must be a JSON object`,
	`type must be a string`,
	`unknown type`,
	`type does not match the endpoint`,
	`type is required`,
	`(?:event|name) must be a string`,
	`(?:messageId|anonymousId|userId|groupId|previousId|event|name) is not valid UTF-8 text`,
	`(?:messageId|anonymousId|userId|groupId|previousId) must be a string or an integer`,
	`(?:properties|context|traits) must be an object`,
	`(?:timestamp|originalTimestamp|sentAt): (?:not an RFC 3339 timestamp|not an integer of Unix milliseconds|must be a string or a number|out of range)`,
	`groupId is required for group`,
	`previousId is required for alias`,
	`context\.seq must be an integer`,
	`anonymousId or userId is required`,
	`messageId is required`,
	`(?:messageId|anonymousId|userId|sessionId) longer than \d+ bytes`,
	`(?:messageId|anonymousId|userId|sessionId) is not valid UTF-8 text`,
	`event name is required for track`,
	`alias needs userId`,
	`event name longer than \d+ bytes`,
	`event name is not valid UTF-8 text`,
	`seq must not be negative`,
	`event larger than \d+ bytes`,
	`(?:properties|context) is not valid UTF-8`,
	`(?:properties|context) holds NaN or Infinity, which JSON does not allow`,
	`(?:properties|context) holds a number that is not valid JSON`,
}, "|") + `)$`)

func checkReason(tb testing.TB, reason string) {
	tb.Helper()
	if reason == "" {
		tb.Fatal("empty rejection reason")
	}
	if !safeReason.MatchString(reason) {
		tb.Fatalf("reason %q is not a known, payload-free reason", reason)
	}
}
