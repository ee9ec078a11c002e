package loadgen

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// This file simulates members of an e-book subscription app: each member is
// a small state machine that, one screen at a time, queues the events a
// tracker on books.example would send. All randomness comes from the
// caller's *rand.Rand so a seed fixes the sequence of events.

const siteURL = "https://books.example"

type evType uint8

const (
	typeTrack evType = iota
	typePage
	typeIdentify
)

// page is where a member is. The URL is path + id (when id > 0), with the
// UTM query of campaigns[camp] when camp >= 0.
type page struct {
	path  string
	id    int
	title string
	camp  int8
}

var (
	homePage    = page{path: "/", title: "Books — Home", camp: -1}
	loginPage   = page{path: "/login", title: "Log in", camp: -1}
	paymentPage = page{path: "/payment", title: "Subscribe", camp: -1}
	cancelPage  = page{path: "/account/cancel", title: "Cancel subscription", camp: -1}
)

// landing pages of the marketing events.
type landing struct {
	path, title, banner string
}

const (
	landSummer = iota
	landWebtoon
)

var landings = [...]landing{
	landSummer:  {"/event/summer", "Summer Sale 2026 — 50% off", "summer_sale_2026"},
	landWebtoon: {"/event/webtoon", "Webtoon Week", "webtoon_week"},
}

// campaign is an external link with UTM parameters to a landing page.
type campaign struct {
	source, medium, name string
	landing              int
	referrer             string
	query                string // "?utm_source=…&utm_medium=…&utm_campaign=…"
}

func mkCampaign(source, medium, name string, land int, referrer string) campaign {
	return campaign{
		source: source, medium: medium, name: name, landing: land, referrer: referrer,
		query: "?utm_source=" + source + "&utm_medium=" + medium + "&utm_campaign=" + name,
	}
}

var campaigns = [...]campaign{
	mkCampaign("naver", "cpc", "summer_sale_2026", landSummer, "https://search.naver.com/"),
	mkCampaign("kakao", "social", "summer_sale_2026", landSummer, ""),
	mkCampaign("newsletter", "email", "summer_sale_2026", landSummer, ""),
	mkCampaign("instagram", "social", "webtoon_week", landWebtoon, "https://l.instagram.com/"),
	mkCampaign("naver", "cpc", "webtoon_week", landWebtoon, "https://search.naver.com/"),
	mkCampaign("kakao", "social", "webtoon_week", landWebtoon, ""),
}

var organicReferrers = [...]string{"", "", "https://www.google.com/", "https://search.naver.com/", "https://m.search.daum.net/"}

// banner destinations.
const (
	toBook = iota
	toSummer
	toWebtoon
	toSubscribe
)

type banner struct {
	section, name string
	dest          int
}

// bannerSections are the home screen's sections, top to bottom.
var bannerSections = [...][]banner{
	{{"feed", "new_releases", toBook}, {"feed", "editors_pick", toBook}, {"feed", "webtoon_week", toWebtoon}},
	{{"now", "trending_now", toBook}, {"now", "summer_sale_2026", toSummer}},
	{{"event", "summer_sale_2026", toSummer}, {"event", "webtoon_week", toWebtoon}, {"event", "first_month_free", toSubscribe}},
}

type book struct {
	title, category string
	price           int
}

var catalog = [...]book{
	{"The Quiet Harbour", "novel", 12600},
	{"Tower of Glass", "fantasy", 9800},
	{"Midnight Bakery", "novel", 11200},
	{"Solo Leveling Up", "webtoon", 3000},
	{"The Lean Habit", "self_help", 15300},
	{"Red Thread", "romance", 8400},
	{"Cold Case Seoul", "mystery", 13500},
	{"Small Big Data", "business", 18000},
	{"Letters to Jeju", "essay", 10800},
	{"Sword of the North", "fantasy", 9000},
	{"Office Romance 101", "webtoon", 2500},
	{"Atomic Mornings", "self_help", 14400},
	{"Harbour Lights", "romance", 7700},
	{"The Last Ledger", "mystery", 12000},
	{"Founder's Dilemma", "business", 19800},
	{"Rain in Busan", "essay", 9900},
}

const firstBookID = 1001

var userAgents = [...]string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; SM-S921N) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Linux; Android 14; SM-S921N) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 KAKAOTALK 10.8.5",
}

var locales = [...]string{"ko-KR", "en-US"}

var (
	payMethods    = [...]string{"card", "kakaopay", "naverpay", "tosspay"}
	payErrors     = [...]string{"card_declined", "insufficient_funds", "timeout", "3ds_failed"}
	loginMethods  = [...]string{"email", "kakao", "naver", "apple"}
	cancelReasons = [...]string{"too_expensive", "not_reading_enough", "found_alternative", "technical_issues"}
)

const retentionOffer = "50_percent_off_3_months"

// props are the properties of a track event; zero fields are left out.
type props struct {
	section, banner string
	bookID          int
	category        string
	price           int
	progress        int
	readSeconds     int
	method          string
	plan            string
	amount          int
	currency        string
	errorCode       string
	offer           string
	reason          string
}

// ev is one queued event. Session, seq, time and page context are taken from
// the member when the event is emitted.
type ev struct {
	typ   evType
	name  string        // track: event name; page: page name
	dwell time.Duration // simulated time since the member's previous event
	pg    page          // page: the page viewed
	// session start (page events only): new session id and the referrer of
	// the session's first page.
	session string
	extRef  string
	// identify: the member id.
	userID string
	traits traits
	props  props
}

type traits struct {
	loginMethod string
	subscriber  bool
}

type state uint8

const (
	stSessionStart state = iota
	stHome
	stCampaign
	stBook
	stReader
	stPayment
	stCancel
	stSessionEnd
	stDone
)

// member is one simulated member of the app.
type member struct {
	anon   string
	user   string // set when an identify is emitted
	ua     uint8
	locale uint8

	session string
	seq     int
	t       int64 // simulated unix nanoseconds of the last event
	cur     page
	prev    page
	hasCur  bool
	hasPrev bool
	extRef  string

	// journey state
	state         state
	started       bool
	sessionsLeft  int
	willLogin     bool
	loggedIn      bool // identify queued (user may not be emitted yet)
	subscriber    bool
	visitedCancel bool
	payTries      int
	book          int

	queue []ev
	head  int
}

// newMember starts a new member, reusing old's memory when old is not nil.
func newMember(r *rand.Rand, now int64, old *member) *member {
	var queue []ev
	m := old
	if m != nil {
		queue = m.queue[:0]
	} else {
		m, queue = new(member), make([]ev, 0, 8)
	}
	*m = member{
		anon:         newUUID(r),
		ua:           uint8(r.IntN(len(userAgents))),
		sessionsLeft: 1,
		state:        stSessionStart,
		queue:        queue,
	}
	if r.Float64() >= 0.7 {
		m.locale = 1
	}
	if r.Float64() < 0.3 {
		m.sessionsLeft = 2
	}
	switch x := r.Float64(); {
	case x < 0.2: // existing subscriber
		m.subscriber, m.willLogin = true, true
	case x < 0.5: // registered member
		m.willLogin = true
	}
	m.t = now - int64(between(r, 20*time.Minute, 45*time.Minute))
	return m
}

// next returns the member's next event; ok is false when the journey ended.
func (m *member) next(r *rand.Rand) (e ev, ok bool) {
	for m.head == len(m.queue) {
		if m.state == stDone {
			return ev{}, false
		}
		m.queue, m.head = m.queue[:0], 0
		m.step(r)
	}
	e = m.queue[m.head]
	m.queue[m.head] = ev{}
	m.head++
	return e, true
}

func (m *member) push(e ev) { m.queue = append(m.queue, e) }

func (m *member) track(name string, dwell time.Duration, p props) {
	m.push(ev{typ: typeTrack, name: name, dwell: dwell, props: p})
}

func (m *member) view(pg page, dwell time.Duration, st state) {
	m.push(ev{typ: typePage, name: pg.title, dwell: dwell, pg: pg})
	m.state = st
}

func bookPage(id int) page {
	return page{path: "/books/", id: id, title: catalog[(id-firstBookID)%len(catalog)].title, camp: -1}
}

func readerPage(id int) page {
	return page{path: "/reader/", id: id, title: catalog[(id-firstBookID)%len(catalog)].title, camp: -1}
}

func randomBook(r *rand.Rand) int { return firstBookID + r.IntN(480) }

func (m *member) gotoBook(r *rand.Rand, id int, dwell time.Duration) {
	m.book = id
	m.view(bookPage(id), dwell, stBook)
}

func (m *member) gotoPayment(r *rand.Rand) {
	m.payTries = 0
	m.view(paymentPage, between(r, time.Second, 3*time.Second), stPayment)
}

// step queues the events of the member's next screen or action.
func (m *member) step(r *rand.Rand) {
	switch m.state {
	case stSessionStart:
		var gap time.Duration
		if m.started {
			gap = between(r, 31*time.Minute, 36*time.Minute)
		}
		m.started = true
		m.sessionsLeft--
		sid := newHex16(r)
		if r.Float64() < 0.38 {
			c := r.IntN(len(campaigns))
			land := landings[campaigns[c].landing]
			pg := page{path: land.path, title: land.title, camp: int8(c)}
			m.push(ev{typ: typePage, name: pg.title, dwell: gap, pg: pg, session: sid, extRef: campaigns[c].referrer})
			m.state = stCampaign
			return
		}
		ref := organicReferrers[r.IntN(len(organicReferrers))]
		m.push(ev{typ: typePage, name: homePage.title, dwell: gap, pg: homePage, session: sid, extRef: ref})
		m.state = stHome

	case stHome:
		var shown [len(bannerSections)]banner
		for i, sec := range bannerSections {
			shown[i] = sec[r.IntN(len(sec))]
			d := between(r, time.Second, 6*time.Second)
			if i == 0 {
				d = between(r, 200*time.Millisecond, 2*time.Second)
			}
			m.track("banner_impression", d, props{section: shown[i].section, banner: shown[i].name})
		}
		if m.willLogin && !m.loggedIn && r.Float64() < 0.6 {
			m.loggedIn = true
			m.view(loginPage, between(r, 3*time.Second, 15*time.Second), stHome)
			m.push(ev{typ: typeIdentify, dwell: between(r, 8*time.Second, 40*time.Second),
				userID: newUserID(r), traits: traits{loginMethod: loginMethods[r.IntN(len(loginMethods))], subscriber: m.subscriber}})
			m.view(homePage, between(r, time.Second, 3*time.Second), stHome)
			return
		}
		if m.subscriber && m.loggedIn && !m.visitedCancel && r.Float64() < 0.15 {
			m.visitedCancel = true
			m.view(cancelPage, between(r, 5*time.Second, 20*time.Second), stCancel)
			return
		}
		switch x := r.Float64(); {
		case x < 0.45:
			b := shown[r.IntN(len(shown))]
			m.track("banner_click", between(r, 3*time.Second, 40*time.Second), props{section: b.section, banner: b.name})
			m.follow(r, b)
		case x < 0.70:
			m.gotoBook(r, randomBook(r), between(r, 5*time.Second, 60*time.Second))
		default:
			m.state = stSessionEnd
		}

	case stCampaign:
		land := landings[landSummer]
		if m.cur.path == landings[landWebtoon].path {
			land = landings[landWebtoon]
		}
		m.track("banner_impression", between(r, 500*time.Millisecond, 2*time.Second), props{section: "event", banner: land.banner})
		switch x := r.Float64(); {
		case x < 0.45 && !m.subscriber:
			m.track("subscribe_click", between(r, 15*time.Second, 90*time.Second), props{section: "event", banner: land.banner})
			m.gotoPayment(r)
		case x < 0.70:
			m.gotoBook(r, randomBook(r), between(r, 10*time.Second, 60*time.Second))
		default:
			m.state = stSessionEnd
		}

	case stBook:
		b := catalog[(m.book-firstBookID)%len(catalog)]
		m.track("book_view", between(r, 300*time.Millisecond, 1500*time.Millisecond),
			props{bookID: m.book, category: b.category, price: b.price, currency: "KRW"})
		x := r.Float64()
		switch {
		case x < 0.40 || m.subscriber && x < 0.65:
			m.view(readerPage(m.book), between(r, 10*time.Second, 90*time.Second), stReader)
		case x < 0.62 && !m.subscriber:
			m.track("subscribe_click", between(r, 10*time.Second, 60*time.Second), props{section: "book", bookID: m.book})
			m.gotoPayment(r)
		case x < 0.74:
			m.gotoBook(r, randomBook(r), between(r, 10*time.Second, 60*time.Second))
		case x < 0.82:
			m.view(homePage, between(r, 5*time.Second, 30*time.Second), stHome)
		default:
			m.state = stSessionEnd
		}

	case stReader:
		progress := 0
		for n := 1 + r.IntN(4); n > 0; n-- {
			d := between(r, time.Minute, 8*time.Minute)
			progress = min(100, progress+5+r.IntN(21))
			m.track("read_progress", d, props{bookID: m.book, progress: progress, readSeconds: int(d / time.Second)})
		}
		switch x := r.Float64(); {
		case x < 0.35 && !m.subscriber:
			m.track("subscribe_click", between(r, 2*time.Second, 10*time.Second), props{section: "reader", banner: "paywall", bookID: m.book})
			m.gotoPayment(r)
		case x < 0.55:
			m.gotoBook(r, randomBook(r), between(r, 10*time.Second, 60*time.Second))
		default:
			m.state = stSessionEnd
		}

	case stPayment:
		m.payTries++
		if r.Float64() >= 0.6 {
			m.state = stSessionEnd // left the payment page
			return
		}
		method := payMethods[r.IntN(len(payMethods))]
		m.track("payment_method_selected", between(r, 5*time.Second, 40*time.Second), props{method: method})
		switch x := r.Float64(); {
		case x < 0.65:
			plan, amount := "monthly", 9900
			if r.Float64() < 0.3 {
				plan, amount = "annual", 99000
			}
			m.track("payment_success", between(r, 5*time.Second, 30*time.Second),
				props{plan: plan, amount: amount, currency: "KRW", method: method})
			m.subscriber = true
			if !m.loggedIn { // sign-up completes with the payment
				m.loggedIn = true
				m.push(ev{typ: typeIdentify, dwell: between(r, 2*time.Second, 5*time.Second),
					userID: newUserID(r), traits: traits{loginMethod: "email", subscriber: true}})
			}
			if r.Float64() < 0.5 {
				if m.book == 0 {
					m.book = randomBook(r)
				}
				m.view(readerPage(m.book), between(r, 3*time.Second, 15*time.Second), stReader)
			} else {
				m.state = stSessionEnd
			}
		case x < 0.80:
			m.track("payment_error", between(r, 5*time.Second, 30*time.Second),
				props{errorCode: payErrors[r.IntN(len(payErrors))], method: method})
			if m.payTries < 3 && r.Float64() < 0.5 {
				return // try again on the same page
			}
			m.state = stSessionEnd
		default:
			m.state = stSessionEnd
		}

	case stCancel:
		m.track("retention_offer_shown", between(r, time.Second, 3*time.Second), props{offer: retentionOffer})
		switch x := r.Float64(); {
		case x < 0.40:
			m.track("retention_offer_accepted", between(r, 5*time.Second, 40*time.Second), props{offer: retentionOffer})
		case x < 0.85:
			m.track("subscription_cancelled", between(r, 10*time.Second, 60*time.Second),
				props{offer: retentionOffer, reason: cancelReasons[r.IntN(len(cancelReasons))]})
			m.subscriber = false
		}
		m.state = stSessionEnd

	case stSessionEnd:
		if m.sessionsLeft > 0 {
			m.state = stSessionStart
		} else {
			m.state = stDone
		}
	}
}

// follow goes where a clicked home banner leads.
func (m *member) follow(r *rand.Rand, b banner) {
	d := between(r, 500*time.Millisecond, 2*time.Second)
	switch b.dest {
	case toSummer, toWebtoon:
		land := landings[landSummer]
		if b.dest == toWebtoon {
			land = landings[landWebtoon]
		}
		m.view(page{path: land.path, title: land.title, camp: -1}, d, stCampaign)
	case toSubscribe:
		if m.subscriber {
			m.gotoBook(r, randomBook(r), d)
			return
		}
		m.track("subscribe_click", d, props{section: b.section, banner: b.name})
		m.gotoPayment(r)
	default:
		m.gotoBook(r, randomBook(r), d)
	}
}

// begin applies an event to the member's state before it is encoded: time,
// session, sequence number, page and identity. now bounds the simulated
// clock to [now-55m, now] so timestamps are never in the future nor older
// than an hour while staying in order.
func (m *member) begin(e *ev, now int64) {
	t := m.t + int64(e.dwell)
	t = max(t, now-int64(55*time.Minute))
	t = min(t, now)
	m.t = max(t, m.t)
	if e.session != "" {
		m.session, m.seq = e.session, 0
		m.hasCur, m.hasPrev = false, false
		m.extRef = e.extRef
	}
	m.seq++
	if e.typ == typePage {
		if m.hasCur {
			m.prev, m.hasPrev = m.cur, true
		}
		m.cur, m.hasCur = e.pg, true
	}
	if e.typ == typeIdentify {
		m.user = e.userID
	}
}

func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

const hexDigits = "0123456789abcdef"

func newHex16(r *rand.Rand) string {
	var b [16]byte
	v := r.Uint64()
	for i := range b {
		b[i] = hexDigits[v>>60]
		v <<= 4
	}
	return string(b[:])
}

func newUUID(r *rand.Rand) string {
	var b [36]byte
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^(0xf<<12) | 4<<12 // version 4
	lo = lo&^(0x3<<62) | 2<<62 // RFC 4122 variant
	j := 0
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b[j] = '-'
			j++
		}
		var nib uint64
		if i < 16 {
			nib = hi >> (60 - 4*i) & 0xf
		} else {
			nib = lo >> (60 - 4*(i-16)) & 0xf
		}
		b[j] = hexDigits[nib]
		j++
	}
	return string(b[:])
}

func newUserID(r *rand.Rand) string {
	return "m" + strconv.Itoa(10_000_000+r.IntN(90_000_000))
}
