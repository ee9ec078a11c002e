package loadgen

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// generator hands out batches of events of cfg.Users members, split over
// shards. Each shard has its own members, random source and messageId
// counter behind its own mutex, so workers that use different shards never
// contend, and a shard's sequence of events depends only on the seed.
type generator struct {
	shards []*shard
}

type shard struct {
	mu      sync.Mutex
	rng     *rand.Rand
	members []*member // nil until first used
	next    int
	idPref  string // "<run prefix>-<shard>-"
	counter uint64

	invalidRate, dupRate float64
	invalidKind          uint8
}

func newGenerator(seed int64, users, shards int, runPrefix string, invalidRate, dupRate float64) *generator {
	g := &generator{shards: make([]*shard, shards)}
	for i := range g.shards {
		n := users / shards
		if i < users%shards {
			n++
		}
		g.shards[i] = &shard{
			rng:         rand.New(rand.NewPCG(uint64(seed), uint64(i)*0x9e3779b97f4a7c15+1)),
			members:     make([]*member, n),
			idPref:      runPrefix + "-" + strconv.Itoa(i) + "-",
			invalidRate: invalidRate,
			dupRate:     dupRate,
		}
	}
	return g
}

// span locates one messageId inside a request body.
type span struct{ start, end int32 }

// fill appends a Segment batch of n events to b, noting where each
// messageId is, and decides whether the request is to be sent twice.
func (s *shard) fill(b []byte, n int, spans []span, now time.Time) (_ []byte, _ []span, dup bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nowNs := now.UnixNano()
	b = append(b, `{"batch":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		idx := s.next
		s.next = (s.next + 1) % len(s.members)
		m := s.members[idx]
		if m == nil {
			m = newMember(s.rng, nowNs, nil)
			s.members[idx] = m
		}
		e, ok := m.next(s.rng)
		for !ok { // journey over: a new member takes the slot
			m = newMember(s.rng, nowNs, m)
			e, ok = m.next(s.rng)
		}
		m.begin(&e, nowNs)
		var invalid uint8
		if s.invalidRate > 0 && s.rng.Float64() < s.invalidRate {
			invalid = 1 + s.invalidKind
			s.invalidKind ^= 1
			if e.typ != typeTrack {
				invalid = invalidNoIDs
			}
		}
		s.counter++
		b, spans = s.appendEvent(b, spans, m, &e, invalid)
	}
	b = append(b, `],"sentAt":`...)
	b = appendTime(b, nowNs)
	b = append(b, '}')
	dup = s.dupRate > 0 && s.rng.Float64() < s.dupRate
	return b, spans, dup
}

const (
	invalidNoEvent = 1 // track without event name
	invalidNoIDs   = 2 // neither anonymousId nor userId
)

var typeNames = [...]string{typeTrack: "track", typePage: "page", typeIdentify: "identify"}

func (s *shard) appendEvent(b []byte, spans []span, m *member, e *ev, invalid uint8) ([]byte, []span) {
	b = append(b, `{"type":"`...)
	b = append(b, typeNames[e.typ]...)
	b = append(b, `","messageId":"`...)
	start := len(b)
	b = append(b, s.idPref...)
	b = strconv.AppendUint(b, s.counter, 10)
	spans = append(spans, span{int32(start), int32(len(b))})
	b = append(b, '"')
	if invalid != invalidNoIDs {
		b = append(b, `,"anonymousId":`...)
		b = appendString(b, m.anon)
		if m.user != "" {
			b = append(b, `,"userId":`...)
			b = appendString(b, m.user)
		}
	}
	switch e.typ {
	case typeTrack:
		if invalid != invalidNoEvent {
			b = append(b, `,"event":`...)
			b = appendString(b, e.name)
		}
		b = append(b, `,"properties":{`...)
		b = appendProps(b, &e.props)
		b = closeObject(b)
	case typePage:
		b = append(b, `,"name":`...)
		b = appendString(b, e.name)
		b = append(b, `,"properties":`...)
		b = appendPage(b, m)
	case typeIdentify:
		b = append(b, `,"traits":{"login_method":`...)
		b = appendString(b, e.traits.loginMethod)
		b = append(b, `,"subscriber":`...)
		b = strconv.AppendBool(b, e.traits.subscriber)
		b = append(b, '}')
	}
	b = append(b, `,"timestamp":`...)
	b = appendTime(b, m.t)
	b = append(b, `,"context":{"sessionId":`...)
	b = appendString(b, m.session)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, int64(m.seq), 10)
	b = append(b, `,"page":`...)
	b = appendPage(b, m)
	if m.cur.camp >= 0 {
		c := &campaigns[m.cur.camp]
		b = append(b, `,"campaign":{"source":`...)
		b = appendString(b, c.source)
		b = append(b, `,"medium":`...)
		b = appendString(b, c.medium)
		b = append(b, `,"name":`...)
		b = appendString(b, c.name)
		b = append(b, '}')
	}
	b = append(b, `,"userAgent":`...)
	b = appendQuoted(b, userAgents[m.ua])
	b = append(b, `,"library":{"name":"actlog-loadgen","version":"1"},"locale":"`...)
	b = append(b, locales[m.locale]...)
	b = append(b, `"}}`...)
	return b, spans
}

// appendPage appends the member's current page as {"url","path","title","referrer"}.
func appendPage(b []byte, m *member) []byte {
	b = append(b, `{"url":`...)
	b = appendURL(b, &m.cur)
	b = append(b, `,"path":"`...)
	b = appendPath(b, &m.cur)
	b = append(b, `","title":`...)
	b = appendString(b, m.cur.title)
	b = append(b, `,"referrer":`...)
	if m.hasPrev {
		b = appendURL(b, &m.prev)
	} else {
		b = appendString(b, m.extRef)
	}
	return append(b, '}')
}

func appendPath(b []byte, p *page) []byte {
	b = append(b, p.path...)
	if p.id > 0 {
		b = strconv.AppendInt(b, int64(p.id), 10)
	}
	return b
}

func appendURL(b []byte, p *page) []byte {
	b = append(b, '"')
	b = append(b, siteURL...)
	b = appendPath(b, p)
	if p.camp >= 0 {
		b = append(b, campaigns[p.camp].query...)
	}
	return append(b, '"')
}

// appendProps appends the non-zero properties, each followed by a comma;
// closeObject replaces the last comma.
func appendProps(b []byte, p *props) []byte {
	str := func(b []byte, key, v string) []byte {
		if v == "" {
			return b
		}
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, `":`...)
		b = appendString(b, v)
		return append(b, ',')
	}
	num := func(b []byte, key string, v int) []byte {
		if v == 0 {
			return b
		}
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, int64(v), 10)
		return append(b, ',')
	}
	b = str(b, "section", p.section)
	b = str(b, "banner", p.banner)
	b = num(b, "book_id", p.bookID)
	b = str(b, "category", p.category)
	b = num(b, "price", p.price)
	b = num(b, "progress", p.progress)
	b = num(b, "read_seconds", p.readSeconds)
	b = str(b, "method", p.method)
	b = str(b, "plan", p.plan)
	b = num(b, "amount", p.amount)
	b = str(b, "currency", p.currency)
	b = str(b, "error_code", p.errorCode)
	b = str(b, "offer", p.offer)
	b = str(b, "reason", p.reason)
	return b
}

func closeObject(b []byte) []byte {
	if b[len(b)-1] == ',' {
		b[len(b)-1] = '}'
		return b
	}
	return append(b, '}')
}

// appendTime appends ns as a quoted UTC RFC 3339 time with milliseconds,
// "2006-01-02T15:04:05.000Z", for years 1970 to 9999.
func appendTime(b []byte, ns int64) []byte {
	ms := ns / int64(time.Millisecond)
	days, msOfDay := ms/86_400_000, ms%86_400_000
	// civil-from-days (H. Hinnant), days since 1970-01-01.
	z := days + 719_468
	era := z / 146_097
	doe := z - era*146_097
	yoe := (doe - doe/1460 + doe/36_524 - doe/146_096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	y := yoe + era*400
	if m <= 2 {
		y++
	}
	sec := msOfDay / 1000
	b = append(b, '"',
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+sec/36_000), byte('0'+sec/3600%10), ':',
		byte('0'+sec/600%6), byte('0'+sec/60%10), ':',
		byte('0'+sec%60/10), byte('0'+sec%10), '.',
		byte('0'+msOfDay%1000/100), byte('0'+msOfDay%100/10), byte('0'+msOfDay%10), 'Z', '"')
	return b
}

// appendQuoted appends s in quotes without escaping; only for the constant
// tables whose strings need none (see TestTablesNeedNoEscaping).
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
				b = append(b, s[start:i]...)
				if r == utf8.RuneError {
					b = append(b, `\ufffd`...)
				} else {
					b = append(b, `\u202`...)
					b = append(b, hexDigits[r&0xf])
				}
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
