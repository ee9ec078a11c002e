package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mssola/useragent"
	"github.com/valyala/fastjson"

	"github.com/actlog/actlog/internal/event"
)

// EnrichOptions control how a Segment message becomes a canonical event.
type EnrichOptions struct {
	// IP is what is kept of the client address: truncate (the default:
	// IPv4 loses its last octet, IPv6 all after the /48), keep, hash (a
	// keyed hash whose key rotates, see Salt) or drop.
	IP IPMode
	// Salt keys the hash of IP mode hash; nil takes a random key per
	// process, rotated daily.
	Salt *Salt
	// MaxFuture and MaxPast bound a corrected timestamp around the receive
	// time; a timestamp outside is clamped to the receive time and flagged in
	// context.actlog.ts_clamped. Defaults: 10 minutes and 30 days.
	MaxFuture, MaxPast time.Duration
	// MaxEventBytes bounds one event: its text columns plus its properties
	// and context JSON (default 32 KiB). It also cuts a rejected event's raw
	// JSON.
	MaxEventBytes int
	Limits        event.Limits
}

func (o *EnrichOptions) setDefaults() {
	if o.MaxFuture <= 0 {
		o.MaxFuture = 10 * time.Minute
	}
	if o.MaxPast <= 0 {
		o.MaxPast = 30 * 24 * time.Hour
	}
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = 32 << 10
	}
	if o.IP == "" {
		o.IP = IPTruncate
	}
	if o.IP == IPHash && o.Salt == nil {
		o.Salt = NewSalt(nil, 0)
	}
}

// meta is what the request, not the message, says about every event.
type meta struct {
	source     string
	receivedAt time.Time
	sentAt     time.Time // batch-level sentAt
	context    *fastjson.Value
	ip         netip.Addr // client address (after trusted proxies)
	userAgent  string     // User-Agent header
	routeType  event.Type
	json       jsonWriter
	uaCache    *uaCache
	opts       *EnrichOptions
	plan       Plan
}

// begin takes the batch-level fields of req. An unparsable batch sentAt is
// ignored: the messages are then not corrected for clock skew.
func (md *meta) begin(req *Request) {
	md.sentAt = time.Time{}
	if req.SentAt != nil {
		if ts, err := parseTime(req.SentAt); err == nil {
			md.sentAt = ts
		}
	}
	md.context = req.Context
}

// build turns one parsed message into a canonical event. It never modifies
// v or the batch context: both may be shared by other messages and are kept
// as received for rejected events.
// batch builds the events of msgs; an invalid one becomes a Rejected (raw
// JSON cut at maxEventBytes). internal, if not nil, hears of failures that
// are not the event's fault (not a ValidationError); those are rejected too.
func (md *meta) batch(msgs []*fastjson.Value, maxEventBytes int, internal func(error)) *event.Batch {
	batch := &event.Batch{Events: make([]event.Event, 0, len(msgs))}
	for i, m := range msgs {
		e, err := md.build(m)
		if err != nil {
			var ve *event.ValidationError
			if internal != nil && !errors.As(err, &ve) {
				internal(err)
			}
			batch.Rejected = append(batch.Rejected, rejectedOf(&md.json, md.source, md.receivedAt, i, m, err, maxEventBytes))
			continue
		}
		if md.plan != nil {
			v, reject := md.plan.Check(md.source, e.Event, e.Properties)
			if reject {
				rj := rejectedOf(&md.json, md.source, md.receivedAt, i, m, errors.New(planReason(v)), maxEventBytes)
				rj.Event, rj.Violations = e.Event, v
				batch.Rejected = append(batch.Rejected, rj)
				continue
			}
			e.Violations = v
		}
		batch.Events = append(batch.Events, e)
	}
	return batch
}

const planReasonPrefix = "violates the tracking plan"

// planReason is the rejected table's reason for an event the tracking
// plan rejects: its first violation, and how many more there are.
func planReason(v []event.Violation) string {
	if len(v) == 0 {
		return planReasonPrefix
	}
	s := planReasonPrefix + ": "
	if v[0].Path != "" {
		s += v[0].Path + ": "
	}
	s += v[0].Message + " (" + v[0].Rule + ")"
	if len(v) > 1 {
		s += fmt.Sprintf(" and %d more", len(v)-1)
	}
	return s
}

func (md *meta) build(v *fastjson.Value) (event.Event, error) {
	var e event.Event
	m, err := readMessage(v, md.routeType)
	if err != nil {
		return e, err
	}
	e.Type = m.typ
	e.EventID = m.messageID
	if e.EventID == "" {
		e.EventID = newMessageID()
	}
	e.Source = md.source
	e.AnonymousID = m.anonymousID
	e.UserID = m.userID
	e.ReceivedAt = md.receivedAt

	ctx := m.context
	if ctx == nil {
		ctx = md.context
	}
	props := m.properties
	switch m.typ {
	case event.Track:
		e.Event = m.eventName
	case event.Page:
		e.Event = event.PageView
	case event.Screen:
		e.Event = event.ScreenView
		e.ScreenName = m.name
		if e.ScreenName == "" {
			e.ScreenName = str(props, "name")
		}
	case event.Identify, event.Group:
		e.Event = string(m.typ)
		props = m.traits
		if props == nil && ctx != nil {
			if t := ctx.Get("traits"); t != nil && t.Type() == fastjson.TypeObject {
				props = t
			}
		}
		if m.typ == event.Group && m.groupID == "" {
			return e, invalidf("groupId is required for group")
		}
	case event.Alias:
		e.Event = string(m.typ)
		if m.previousID == "" {
			return e, invalidf("previousId is required for alias")
		}
	}

	// Where it happened: context.page, then (for page calls) properties.
	// Identify and group carry traits, not event properties: they fill no
	// page, section or banner column.
	if ctx != nil {
		if p := ctx.Get("page"); p != nil && p.Type() == fastjson.TypeObject {
			e.PageURL = str(p, "url")
			e.PagePath = str(p, "path")
			e.PageTitle = str(p, "title")
			e.Referrer = str(p, "referrer")
		}
	}
	if props != nil && m.typ == event.Page {
		fill(&e.PageURL, props, "url")
		fill(&e.PagePath, props, "path")
		fill(&e.PageTitle, props, "title")
		fill(&e.Referrer, props, "referrer")
	}
	if props != nil && (m.typ == event.Track || m.typ == event.Page || m.typ == event.Screen) {
		e.Section = str(props, "section")
		e.Banner = str(props, "banner")
	}
	if m.typ == event.Page && e.PageTitle == "" {
		e.PageTitle = m.name
	}
	var pageURL *url.URL
	if e.PageURL != "" && (e.PagePath == "" || strings.Contains(e.PageURL, "utm_")) {
		pageURL, _ = url.Parse(e.PageURL)
	}
	if e.PagePath == "" && pageURL != nil {
		// Path is unescaped: %FF or %00 would make it invalid text.
		e.PagePath = cleanText(pageURL.Path)
	}

	// Campaign: context.campaign, else the page URL's utm_* parameters.
	if ctx != nil {
		if c := ctx.Get("campaign"); c != nil && c.Type() == fastjson.TypeObject {
			e.UTMSource = str(c, "source")
			e.UTMMedium = str(c, "medium")
			e.UTMCampaign = str(c, "name")
			e.UTMTerm = str(c, "term")
			e.UTMContent = str(c, "content")
		}
	}
	if e.UTMSource == "" && e.UTMCampaign == "" && pageURL != nil {
		q := pageURL.Query()
		e.UTMSource = cleanText(q.Get("utm_source"))
		e.UTMMedium = cleanText(q.Get("utm_medium"))
		e.UTMCampaign = cleanText(q.Get("utm_campaign"))
		e.UTMTerm = cleanText(q.Get("utm_term"))
		e.UTMContent = cleanText(q.Get("utm_content"))
	}

	// Device.
	if ua := textBytes(ctx, "userAgent"); len(ua) > 0 {
		d := md.uaCache.lookup(ua)
		e.DeviceType, e.OS, e.Browser = d.deviceType, d.os, d.browser
	} else if md.userAgent != "" {
		d := md.uaCache.lookup([]byte(md.userAgent))
		e.DeviceType, e.OS, e.Browser = d.deviceType, d.os, d.browser
	}
	// Mobile libraries declare the device themselves (their user agent names
	// the library, not the phone): context.os.name and context.device.
	if o := ctx.Get("os"); o != nil && o.Type() == fastjson.TypeObject {
		if n := str(o, "name"); n != "" {
			e.OS = n
		}
	}
	if dv := ctx.Get("device"); dv != nil && dv.Type() == fastjson.TypeObject && e.DeviceType != "bot" {
		switch strings.ToLower(str(dv, "type")) {
		case "ios", "android":
			e.DeviceType = "mobile"
			if m := strings.ToLower(str(dv, "model")); strings.Contains(m, "ipad") || strings.Contains(m, "tablet") {
				e.DeviceType = "tablet"
			}
		}
	}

	// Client address: a server-side library may send context.ip.
	ip := md.ip
	if s := str(ctx, "ip"); s != "" {
		if a, err := netip.ParseAddr(s); err == nil {
			ip = a
		}
	}
	if ip.IsValid() {
		ip = ip.Unmap().WithZone("")
		switch md.opts.IP {
		case IPKeep:
			e.IP = ip.String()
		case IPHash:
			e.IP = md.opts.Salt.Hash(ip, md.receivedAt)
		case IPDrop:
		default:
			e.IP = anonymise(ip).String()
		}
	}

	// Session and order.
	if ctx != nil {
		e.SessionID = idString(ctx.Get("sessionId"))
		if s := ctx.Get("seq"); s != nil && s.Type() != fastjson.TypeNull {
			n, err := s.Int64()
			if err != nil || !validNumber(s.MarshalTo(md.json.buf[:0])) {
				return e, invalidf("context.seq must be an integer")
			}
			e.Seq, e.HasSeq = n, true
		}
	}
	if e.SessionID == "" && props != nil {
		e.SessionID = idString(props.Get("session_id"))
	}

	// Time: correct the client clock by the skew between sentAt and receipt.
	e.ClientTS = m.original
	if e.ClientTS.IsZero() {
		e.ClientTS = m.timestamp
	}
	e.SentAt = m.sentAt
	if e.SentAt.IsZero() {
		e.SentAt = md.sentAt
	}
	e.TS = e.ReceivedAt
	if !e.ClientTS.IsZero() {
		e.TS = e.ClientTS
		if !e.SentAt.IsZero() {
			e.TS = e.ReceivedAt.Add(-e.SentAt.Sub(e.ClientTS))
		}
	}
	clamped := ""
	switch {
	case e.TS.After(e.ReceivedAt.Add(md.opts.MaxFuture)):
		clamped = "future"
	case e.TS.Before(e.ReceivedAt.Add(-md.opts.MaxPast)):
		clamped = "ancient"
	}
	if clamped != "" {
		e.TS = e.ReceivedAt
	}

	if err := e.Validate(md.opts.Limits); err != nil {
		return e, err
	}

	// JSON columns.
	size := textSize(&e)
	if size > md.opts.MaxEventBytes {
		return e, invalidf("event larger than %d bytes", md.opts.MaxEventBytes)
	}
	if e.Properties, err = md.propertiesJSON(m, props, md.opts.MaxEventBytes-size); err != nil {
		return e, err
	}
	size += len(e.Properties)
	if size > md.opts.MaxEventBytes {
		return e, invalidf("event larger than %d bytes", md.opts.MaxEventBytes)
	}
	if e.Context, err = md.contextJSON(ctx, clamped, md.opts.MaxEventBytes-size); err != nil {
		return e, err
	}
	size += len(e.Context)
	if size > md.opts.MaxEventBytes {
		return e, invalidf("event larger than %d bytes", md.opts.MaxEventBytes)
	}
	return e, nil
}

// textSize is the size of an event's text columns.
func textSize(e *event.Event) int {
	n := 0
	for _, s := range [...]string{
		e.EventID, e.Source, e.Event, e.AnonymousID, e.UserID, e.SessionID,
		e.PageURL, e.PagePath, e.PageTitle, e.Referrer, e.ScreenName,
		e.Section, e.Banner,
		e.UTMSource, e.UTMMedium, e.UTMCampaign, e.UTMTerm, e.UTMContent,
		e.DeviceType, e.OS, e.Browser, e.IP,
	} {
		n += len(s)
	}
	return n
}

// propertiesJSON encodes the properties column: the message's properties
// (traits for identify and group) plus group_id or previous_id.
func (md *meta) propertiesJSON(m message, props *fastjson.Value, limit int) ([]byte, error) {
	extraKey, extraVal := "", ""
	switch m.typ {
	case event.Group:
		extraKey, extraVal = "group_id", m.groupID
	case event.Alias:
		extraKey, extraVal = "previous_id", m.previousID
	}
	if props == nil && extraKey == "" {
		return []byte("{}"), nil
	}
	w := &md.json
	w.reset(true, limit)
	w.buf = append(w.buf, '{')
	comma := false
	if props != nil {
		o, _ := props.Object()
		var skip func([]byte) bool
		if extraKey != "" {
			skip = func(k []byte) bool { return string(k) == extraKey }
		}
		comma = w.members(o, skip, false)
	}
	if extraKey != "" {
		if comma {
			w.buf = append(w.buf, ',')
		}
		w.string([]byte(extraKey))
		w.buf = append(w.buf, ':')
		w.string([]byte(extraVal))
	}
	w.buf = append(w.buf, '}')
	return md.jsonResult("properties")
}

// contextJSON encodes the context column. The key actlog is reserved for
// actlog's own flags; ip is left out unless addresses are kept.
func (md *meta) contextJSON(ctx *fastjson.Value, clamped string, limit int) ([]byte, error) {
	if ctx == nil && clamped == "" {
		return []byte("{}"), nil
	}
	w := &md.json
	w.reset(true, limit)
	w.buf = append(w.buf, '{')
	comma := false
	if clamped != "" {
		w.buf = append(w.buf, `"actlog":{"ts_clamped":"`...)
		w.buf = append(w.buf, clamped...)
		w.buf = append(w.buf, `"}`...)
		comma = true
	}
	if ctx != nil {
		o, _ := ctx.Object()
		anonymise := md.opts.IP != IPKeep
		w.members(o, func(k []byte) bool {
			return string(k) == "actlog" || (anonymise && string(k) == "ip")
		}, comma)
	}
	w.buf = append(w.buf, '}')
	return md.jsonResult("context")
}

// jsonResult returns a copy of what md.json wrote for field, or the reason
// it is not storable.
func (md *meta) jsonResult(field string) ([]byte, error) {
	switch md.json.fault {
	case faultUTF8:
		return nil, invalidf("%s is not valid UTF-8", field)
	case faultNaN:
		return nil, invalidf("%s holds NaN or Infinity, which JSON does not allow", field)
	case faultNumber:
		return nil, invalidf("%s holds a number that is not valid JSON", field)
	case faultSize:
		return nil, invalidf("event larger than %d bytes", md.opts.MaxEventBytes)
	}
	return bytes.Clone(md.json.buf), nil
}

// str returns a string field of an object, or "" when absent, not a string
// or not valid text.
func str(v *fastjson.Value, key string) string {
	return string(textBytes(v, key))
}

// textBytes is str without the copy: the bytes belong to the parser.
func textBytes(v *fastjson.Value, key string) []byte {
	if v == nil {
		return nil
	}
	f := v.Get(key)
	if f == nil || f.Type() != fastjson.TypeString {
		return nil
	}
	b, _ := f.StringBytes()
	if !validText(b) {
		return nil
	}
	return b
}

func fill(dst *string, v *fastjson.Value, key string) {
	if *dst == "" {
		*dst = str(v, key)
	}
}

// idString reads an identifier sent as a string or an integer.
func idString(v *fastjson.Value) string {
	if v == nil {
		return ""
	}
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		if !validText(b) {
			return ""
		}
		return string(b)
	case fastjson.TypeNumber:
		if s, ok := integerText(v); ok {
			return s
		}
	}
	return ""
}

// cleanText makes s fit a text column: invalid UTF-8 becomes U+FFFD and NUL
// bytes are dropped. Used for values actlog derives (unescaped URL parts),
// not for values the client sent as they are.
func cleanText(s string) string {
	if validText([]byte(s)) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// anonymise drops the host part of an address: the last octet of IPv4, all
// but the /48 of IPv6.
func anonymise(a netip.Addr) netip.Addr {
	a = a.Unmap()
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return a
	}
	return p.Addr()
}

// device is what actlog keeps of a user agent.
type device struct{ deviceType, os, browser string }

// uaCache memoises user-agent parsing; user agents repeat heavily, parsing
// costs microseconds. Its size is bounded: when full it starts over.
type uaCache struct {
	mu  sync.RWMutex
	m   map[string]device
	max int
}

func newUACache(max int) *uaCache {
	return &uaCache{m: make(map[string]device, 64), max: max}
}

func (c *uaCache) lookup(b []byte) device {
	if len(b) > 512 {
		b = b[:512]
	}
	c.mu.RLock()
	d, ok := c.m[string(b)] // no copy: the compiler optimises a map index
	c.mu.RUnlock()
	if ok {
		return d
	}
	s := string(b)
	d = parseUA(s)
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[s] = d
	c.mu.Unlock()
	return d
}

func parseUA(s string) device {
	ua := useragent.New(s)
	var d device
	switch {
	case ua.Bot():
		d.deviceType = "bot"
	case strings.Contains(s, "iPad") || strings.Contains(s, "Tablet") ||
		(strings.Contains(s, "Android") && !strings.Contains(s, "Mobile")):
		d.deviceType = "tablet"
	case ua.Mobile():
		d.deviceType = "mobile"
	default:
		d.deviceType = "desktop"
	}
	d.os = ua.OSInfo().Name
	switch {
	case strings.Contains(s, "iPhone") || strings.Contains(s, "iPad") || strings.Contains(s, "iPod"):
		// The parser names iPadOS "OS" (from "CPU OS 17_4").
		d.os = "iOS"
	case strings.HasPrefix(d.os, "Mac OS"):
		d.os = "macOS"
	}
	d.browser, _ = ua.Browser()
	if !utf8.ValidString(d.os) {
		d.os = ""
	}
	if !utf8.ValidString(d.browser) {
		d.browser = ""
	}
	return d
}
