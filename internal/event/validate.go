package event

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits bounds the fields of one event.
type Limits struct {
	MaxEventName int // bytes of a track event name
	MaxID        int // bytes of messageId, anonymousId, userId, sessionId
}

// Defaults used for a zero field of Limits.
const (
	DefaultMaxEventName = 200
	DefaultMaxID        = 200
)

// ValidationError is the reason an event is rejected. Its message is safe to
// return to the client: it never contains payload values.
type ValidationError struct{ Reason string }

func (e *ValidationError) Error() string { return e.Reason }

func invalid(format string, args ...any) error {
	return &ValidationError{Reason: fmt.Sprintf(format, args...)}
}

// IsValidation reports whether err is a per-event validation error.
func IsValidation(err error) bool {
	var v *ValidationError
	return errors.As(err, &v)
}

// Validate checks the identity and naming rules of an event after decoding.
func (e *Event) Validate(l Limits) error {
	if l.MaxEventName <= 0 {
		l.MaxEventName = DefaultMaxEventName
	}
	if l.MaxID <= 0 {
		l.MaxID = DefaultMaxID
	}
	if _, ok := ParseType(string(e.Type)); !ok {
		return invalid("unknown type")
	}
	if e.AnonymousID == "" && e.UserID == "" {
		return invalid("anonymousId or userId is required")
	}
	if e.EventID == "" {
		// The store dedupes on (source, messageId): an empty id would make
		// every such event a duplicate of the first.
		return invalid("messageId is required")
	}
	for _, f := range [...]struct {
		name, v string
	}{
		{"messageId", e.EventID},
		{"anonymousId", e.AnonymousID},
		{"userId", e.UserID},
		{"sessionId", e.SessionID},
	} {
		if len(f.v) > l.MaxID {
			return invalid("%s longer than %d bytes", f.name, l.MaxID)
		}
		if !validText(f.v) {
			return invalid("%s is not valid UTF-8 text", f.name)
		}
	}
	switch e.Type {
	case Track:
		if e.Event == "" {
			return invalid("event name is required for track")
		}
	case Alias:
		if e.UserID == "" {
			return invalid("alias needs userId")
		}
	}
	if len(e.Event) > l.MaxEventName {
		return invalid("event name longer than %d bytes", l.MaxEventName)
	}
	if !validText(e.Event) {
		return invalid("event name is not valid UTF-8 text")
	}
	if e.Seq < 0 {
		return invalid("seq must not be negative")
	}
	return nil
}

// validText reports whether s is valid UTF-8 without NUL bytes.
func validText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}
