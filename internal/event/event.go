package event

import (
	"encoding/json"
	"time"
)

// Type is the Segment message type of an event.
type Type string

// The message types actlog accepts.
const (
	Track    Type = "track"
	Page     Type = "page"
	Screen   Type = "screen"
	Identify Type = "identify"
	Group    Type = "group"
	Alias    Type = "alias"
)

// Event names given to page and screen calls.
const (
	PageView   = "page_view"
	ScreenView = "screen_view"
)

// ParseType returns the Type named s, and false when s is not a known type.
func ParseType(s string) (Type, bool) {
	switch t := Type(s); t {
	case Track, Page, Screen, Identify, Group, Alias:
		return t, true
	}
	return "", false
}

// Event is the canonical event: the columns of the events table (DESIGN §4).
// Empty strings are stored as NULL, and so is Seq when HasSeq is false.
type Event struct {
	EventID     string
	Source      string
	Type        Type
	Event       string
	AnonymousID string
	UserID      string
	SessionID   string
	Seq         int64
	HasSeq      bool // the client sent a sequence number (0 is one)

	TS         time.Time // corrected time
	ClientTS   time.Time // the client's timestamp as sent (zero if none)
	SentAt     time.Time // the client's sentAt (zero if none)
	ReceivedAt time.Time // when actlog received the request

	PageURL    string
	PagePath   string
	PageTitle  string
	Referrer   string
	ScreenName string

	Section string
	Banner  string

	UTMSource   string
	UTMMedium   string
	UTMCampaign string
	UTMTerm     string
	UTMContent  string

	DeviceType string
	OS         string
	Browser    string
	IP         string

	Properties json.RawMessage // a JSON object, never nil once enriched
	Context    json.RawMessage // a JSON object, never nil once enriched

	// Violations are the tracking-plan rules the event breaks, kept on the
	// row when its source's plan enforcement is "flag"; nil otherwise.
	Violations []Violation
}

// Violation is one tracking-plan rule an event breaks.
type Violation struct {
	Rule    string `json:"rule"`    // "unplanned", or the JSON Schema keyword: required, type, enum, ...
	Path    string `json:"path"`    // JSON pointer into properties ("" for the whole event)
	Message string `json:"message"` // what is wrong, in words
}

// Rejected is an incoming event that failed validation, kept for inspection
// in the rejected table.
type Rejected struct {
	ReceivedAt time.Time
	Source     string
	Index      int    // position in the request's batch
	MessageID  string // as sent, may be empty
	Reason     string
	Raw        []byte // the event's JSON as received (truncated to the event limit)
	// Event and Violations are set when the tracking plan rejected it.
	Event      string
	Violations []Violation
}

// Batch is what one ingest request (or one poll of the Kafka processor)
// hands to a sink: the events to store and the rejected ones to keep.
type Batch struct {
	Events   []Event
	Rejected []Rejected
	// Offsets are the positions in a source log (Kafka partitions) that this
	// batch completes; a store commits them atomically with the rows.
	Offsets []Offset
}

// Offset is the next position to read in one partition of a log.
type Offset struct {
	Topic     string
	Partition int32
	Next      int64
}
