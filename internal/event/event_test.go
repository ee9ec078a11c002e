package event

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestParseType(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Type
		ok   bool
	}{
		{"track", Track, true},
		{"page", Page, true},
		{"screen", Screen, true},
		{"identify", Identify, true},
		{"group", Group, true},
		{"alias", Alias, true},
		{"", "", false},
		{"Track", "", false},
		{"TRACK", "", false},
		{" track", "", false},
		{"track\x00", "", false},
		{"t", "", false},
		{"batch", "", false},
		{"page_view", "", false},
	} {
		got, ok := ParseType(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseType(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestValidate(t *testing.T) {
	valid := func() Event {
		return Event{EventID: "m1", Type: Track, Event: "book_view", AnonymousID: "a1"}
	}
	long := strings.Repeat("x", DefaultMaxID+1)
	for _, tc := range []struct {
		name   string
		edit   func(e *Event)
		limits Limits
		want   string // "" means valid; else a substring of the reason
	}{
		{"track", func(*Event) {}, Limits{}, ""},
		{"user id only", func(e *Event) { e.AnonymousID, e.UserID = "", "u1" }, Limits{}, ""},
		{"both ids", func(e *Event) { e.UserID = "u1" }, Limits{}, ""},
		{"page", func(e *Event) { e.Type, e.Event = Page, PageView }, Limits{}, ""},
		{"screen", func(e *Event) { e.Type, e.Event = Screen, ScreenView }, Limits{}, ""},
		{"identify", func(e *Event) { e.Type, e.Event, e.UserID = Identify, "identify", "u1" }, Limits{}, ""},
		{"identify anonymous", func(e *Event) { e.Type, e.Event = Identify, "identify" }, Limits{}, ""},
		{"group", func(e *Event) { e.Type, e.Event = Group, "group" }, Limits{}, ""},
		{"alias", func(e *Event) { e.Type, e.Event, e.UserID = Alias, "alias", "u1" }, Limits{}, ""},
		{"unicode", func(e *Event) { e.Event, e.UserID = "책_조회 📚", "회원-1" }, Limits{}, ""},
		{"seq", func(e *Event) { e.Seq = 42 }, Limits{}, ""},
		{"id at limit", func(e *Event) { e.AnonymousID = long[:DefaultMaxID] }, Limits{}, ""},
		{"name at custom limit", func(e *Event) { e.Event = "abcde" }, Limits{MaxEventName: 5}, ""},

		{"no type", func(e *Event) { e.Type = "" }, Limits{}, "unknown type"},
		{"unknown type", func(e *Event) { e.Type = "click" }, Limits{}, "unknown type"},
		{"no ids", func(e *Event) { e.AnonymousID = "" }, Limits{}, "anonymousId or userId is required"},
		{"no message id", func(e *Event) { e.EventID = "" }, Limits{}, "messageId is required"},
		{"track without name", func(e *Event) { e.Event = "" }, Limits{}, "event name is required"},
		{"alias without user", func(e *Event) { e.Type, e.Event = Alias, "alias" }, Limits{}, "alias needs userId"},
		{"long message id", func(e *Event) { e.EventID = long }, Limits{}, "messageId longer than 200 bytes"},
		{"long anonymous id", func(e *Event) { e.AnonymousID = long }, Limits{}, "anonymousId longer than"},
		{"long user id", func(e *Event) { e.UserID = long }, Limits{}, "userId longer than"},
		{"long session id", func(e *Event) { e.SessionID = long }, Limits{}, "sessionId longer than"},
		{"custom id limit", func(e *Event) { e.UserID = "123456" }, Limits{MaxID: 5}, "userId longer than 5 bytes"},
		{"long name", func(e *Event) { e.Event = strings.Repeat("e", DefaultMaxEventName+1) }, Limits{}, "event name longer than 200 bytes"},
		{"custom name limit", func(e *Event) { e.Event = "abcdef" }, Limits{MaxEventName: 5}, "event name longer than 5 bytes"},
		{"invalid utf-8 id", func(e *Event) { e.AnonymousID = "a\xff" }, Limits{}, "anonymousId is not valid UTF-8 text"},
		{"nul in user id", func(e *Event) { e.UserID = "u\x001" }, Limits{}, "userId is not valid UTF-8 text"},
		{"nul in message id", func(e *Event) { e.EventID = "m\x00" }, Limits{}, "messageId is not valid UTF-8 text"},
		{"invalid session id", func(e *Event) { e.SessionID = "\xc3" }, Limits{}, "sessionId is not valid UTF-8 text"},
		{"invalid utf-8 name", func(e *Event) { e.Event = "view\xfe" }, Limits{}, "event name is not valid UTF-8 text"},
		{"nul in name", func(e *Event) { e.Event = "view\x00" }, Limits{}, "event name is not valid UTF-8 text"},
		{"negative seq", func(e *Event) { e.Seq = -1 }, Limits{}, "seq must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := valid()
			tc.edit(&e)
			err := e.Validate(tc.limits)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %q, want it to contain %q", err, tc.want)
			}
			if !IsValidation(err) {
				t.Fatalf("IsValidation(%v) = false", err)
			}
		})
	}
}

// A rejection reason is returned to the client: it must never echo the
// payload.
func TestValidateReasonHasNoPayload(t *testing.T) {
	const secret = "s3cr3t-payload"
	for _, e := range []Event{
		{EventID: "m", Type: Type(secret)},
		{EventID: "m", Type: Track, Event: secret + "\xff", AnonymousID: "a"},
		{EventID: "m", Type: Track, Event: "e", AnonymousID: secret + "\x00"},
		{EventID: strings.Repeat(secret, 20), Type: Track, Event: "e", AnonymousID: "a"},
	} {
		err := e.Validate(Limits{})
		if err == nil {
			t.Fatalf("Validate(%+v) = nil", e)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("reason %q holds the payload", err)
		}
	}
}

func TestIsValidation(t *testing.T) {
	if IsValidation(nil) {
		t.Fatal("IsValidation(nil) = true")
	}
	if IsValidation(errString("other")) {
		t.Fatal("IsValidation(other) = true")
	}
	err := error(&ValidationError{Reason: "r"})
	if !IsValidation(wrap{err}) {
		t.Fatal("IsValidation(wrapped) = false")
	}
	if err.Error() != "r" {
		t.Fatalf("Error() = %q", err.Error())
	}
}

type errString string

func (e errString) Error() string { return string(e) }

type wrap struct{ err error }

func (w wrap) Error() string { return "wrapped: " + w.err.Error() }
func (w wrap) Unwrap() error { return w.err }
