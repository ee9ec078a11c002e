package loadgen

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// generate returns the events of the first batches of one shard, decoded.
func generate(t testing.TB, seed int64, users, batches, batch int, invalidRate float64) []wireMsg {
	t.Helper()
	g := newGenerator(seed, users, 1, "0123456789abcdef", invalidRate, 0)
	var out []wireMsg
	var buf []byte
	var spans []span
	for range batches {
		buf, spans, _ = g.shards[0].fill(buf[:0], batch, spans[:0], time.Now())
		var b wireBatch
		if err := json.Unmarshal(buf, &b); err != nil {
			t.Fatalf("invalid JSON %v:\n%s", err, buf)
		}
		if len(b.Batch) != batch || len(spans) != batch {
			t.Fatalf("batch of %d events, %d ids, want %d", len(b.Batch), len(spans), batch)
		}
		for i, sp := range spans {
			if id := string(buf[sp.start:sp.end]); id != b.Batch[i].MessageID {
				t.Fatalf("span %d is %q, messageId %q", i, id, b.Batch[i].MessageID)
			}
		}
		out = append(out, b.Batch...)
	}
	return out
}

func TestGeneratorIsDeterministic(t *testing.T) {
	t.Parallel()
	labels := func(seed int64) []string {
		var l []string
		for _, m := range generate(t, seed, 50, 100, 10, 0) {
			l = append(l, m.label()+" "+m.AnonymousID+" "+m.Context.SessionID)
		}
		return l
	}
	a, b, c := labels(7), labels(7), labels(8)
	if !slices.Equal(a, b) {
		t.Error("same seed gave different events")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds gave the same events")
	}
}

// TestJourneys checks that the simulated members behave like members of the
// app: ordered sessions, identities, campaign landings and funnels with
// drop-off at every step.
func TestJourneys(t *testing.T) {
	t.Parallel()
	now := time.Now()
	msgs := generate(t, 11, 200, 1200, 10, 0)

	type sessionFunnel struct{ landing, subscribe, paymentPage, method, success bool }
	funnels := map[string]*sessionFunnel{}
	lastSeq := map[string]int{}
	lastTS := map[string]time.Time{}
	userOf := map[string]string{}
	names := map[string]int{}
	ids := map[string]bool{}
	campaignLandings := 0

	for i := range msgs {
		m := &msgs[i]
		c := &m.Context
		names[m.label()]++
		if strings.HasPrefix(c.Page.Path, "/books/") {
			names["page:/books/*"]++
		}
		if ids[m.MessageID] {
			t.Fatalf("messageId %s repeated", m.MessageID)
		}
		ids[m.MessageID] = true
		if ok, why := m.valid(); !ok {
			t.Fatalf("invalid event %+v: %s", m, why)
		}
		if c.Seq != lastSeq[c.SessionID]+1 {
			t.Fatalf("session %s: seq %d after %d", c.SessionID, c.Seq, lastSeq[c.SessionID])
		}
		lastSeq[c.SessionID] = c.Seq
		ts, err := time.Parse(time.RFC3339Nano, m.Timestamp)
		if err != nil {
			t.Fatal(err)
		}
		if ts.Before(lastTS[m.AnonymousID]) {
			t.Fatalf("member %s: time goes back to %s", m.AnonymousID, ts)
		}
		lastTS[m.AnonymousID] = ts
		if ts.After(time.Now()) || ts.Before(now.Add(-time.Hour)) {
			t.Fatalf("timestamp %s out of the last hour", ts)
		}
		// Once identified, a member keeps its userId.
		if m.Type == "identify" {
			if m.UserID == "" {
				t.Fatalf("identify without userId")
			}
			userOf[m.AnonymousID] = m.UserID
		} else if m.UserID != userOf[m.AnonymousID] {
			t.Fatalf("member %s: userId %q, identified as %q", m.AnonymousID, m.UserID, userOf[m.AnonymousID])
		}
		switch m.Event {
		case "banner_impression", "banner_click":
			if m.Properties["section"] == nil || m.Properties["banner"] == nil {
				t.Fatalf("%s without section/banner: %v", m.Event, m.Properties)
			}
		case "book_view":
			if m.Properties["book_id"] == nil || m.Properties["category"] == nil || m.Properties["price"] == nil {
				t.Fatalf("book_view %v", m.Properties)
			}
		case "payment_success":
			if m.Properties["plan"] == nil || m.Properties["amount"] == nil || m.Properties["currency"] != "KRW" {
				t.Fatalf("payment_success %v", m.Properties)
			}
		case "payment_error":
			if m.Properties["error_code"] == nil {
				t.Fatalf("payment_error %v", m.Properties)
			}
		}
		if m.Type == "page" && m.Context.Page.Referrer == "" && c.Seq > 1 {
			t.Fatalf("page %s deep in a session without referrer", c.Page.Path)
		}

		f := funnels[c.SessionID]
		if f == nil {
			f = &sessionFunnel{}
			funnels[c.SessionID] = f
		}
		switch {
		case m.Type == "page" && strings.HasPrefix(c.Page.Path, "/event/") && c.Campaign != nil:
			campaignLandings++
			if !strings.Contains(c.Page.URL, "utm_source="+c.Campaign.Source) || c.Campaign.Medium == "" || c.Campaign.Name == "" {
				t.Fatalf("campaign landing %+v %+v", c.Page, c.Campaign)
			}
			f.landing = true
		case f.landing && m.Event == "subscribe_click":
			f.subscribe = true
		case f.subscribe && m.Type == "page" && c.Page.Path == "/payment":
			f.paymentPage = true
		case f.paymentPage && m.Event == "payment_method_selected":
			f.method = true
		case f.method && m.Event == "payment_success":
			f.success = true
		}
	}

	for _, want := range []string{
		"page:/", "page:/login", "identify", "track:banner_impression", "track:banner_click",
		"page:/event/summer", "page:/event/webtoon", "page:/books/*", "track:book_view", "track:read_progress",
		"track:subscribe_click", "page:/payment", "track:payment_method_selected", "track:payment_success",
		"track:payment_error", "page:/account/cancel", "track:retention_offer_shown",
		"track:retention_offer_accepted", "track:subscription_cancelled",
	} {
		if names[want] == 0 {
			t.Errorf("no %s in %d events", want, len(msgs))
		}
	}
	if campaignLandings == 0 {
		t.Fatal("no campaign landings")
	}

	var landing, subscribe, paymentPage, method, success int
	for _, f := range funnels {
		landing += b2i(f.landing)
		subscribe += b2i(f.subscribe)
		paymentPage += b2i(f.paymentPage)
		method += b2i(f.method)
		success += b2i(f.success)
	}
	t.Logf("campaign funnel (sessions): landing %d → subscribe %d → payment page %d → method %d → success %d",
		landing, subscribe, paymentPage, method, success)
	steps := []struct {
		name     string
		from, to int
		lo, hi   float64
	}{
		{"landing → subscribe_click", landing, subscribe, 0.25, 0.85},
		{"payment page → method selected", paymentPage, method, 0.3, 0.9},
		{"method selected → success", method, success, 0.3, 0.95},
	}
	for _, s := range steps {
		if r := float64(s.to) / float64(s.from); s.from == 0 || r < s.lo || r > s.hi {
			t.Errorf("%s: %d of %d", s.name, s.to, s.from)
		}
	}
	if paymentPage < subscribe*9/10 {
		t.Errorf("%d subscribe clicks led to only %d payment pages", subscribe, paymentPage)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestInvalidEvents(t *testing.T) {
	t.Parallel()
	msgs := generate(t, 3, 20, 200, 10, 0.1)
	invalid := 0
	for i := range msgs {
		if ok, _ := msgs[i].valid(); !ok {
			invalid++
		}
	}
	if frac := float64(invalid) / float64(len(msgs)); frac < 0.07 || frac > 0.13 {
		t.Errorf("%d of %d events invalid, want about 10%%", invalid, len(msgs))
	}
}

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	var h histogram
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]time.Duration, 50_000)
	for i := range vals {
		vals[i] = time.Duration(math.Exp(r.NormFloat64()*1.5+7)) * time.Microsecond // around 1 ms
		h.record(vals[i])
	}
	slices.Sort(vals)
	var s histSnapshot
	h.snapshot(&s, false)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := s.quantile(q)
		if diff := math.Abs(float64(got-exact)) / float64(exact); diff > 0.01 {
			t.Errorf("q%v = %v, exact %v", q, got, exact)
		}
	}
	if time.Duration(s.max)*time.Microsecond != vals[len(vals)-1] {
		t.Errorf("max %v, want %v", s.max, vals[len(vals)-1])
	}
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1<<41 - 1, 1 << 50} {
		b := histBucket(v)
		if b < 0 || b >= histBuckets {
			t.Fatalf("bucket %d of %d", b, v)
		}
		if mid := histValue(b); v < 1<<41 && math.Abs(float64(mid)-float64(v)) > float64(v)/64+1 {
			t.Errorf("value %d in bucket %d with middle %d", v, b, mid)
		}
	}
	h.snapshot(&s, true)
	h.snapshot(&s, false)
	if s.total != 0 || s.quantile(0.99) != 0 {
		t.Errorf("reset left %d values", s.total)
	}
}

func TestParseAck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body          string
		n             int
		accepted, rej int64
	}{
		{`{"accepted":10,"rejected":[]}`, 10, 10, 0},
		{`{"accepted": 7 , "rejected" : [ ] }`, 10, 7, 0},
		{`{"rejected":null,"accepted":3}`, 10, 3, 0},
		{`{"accepted":8,"rejected":[{"index":1,"messageId":"a","error":"x"},{"index":4,"messageId":"b","error":"y \"index\""}]}`, 10, 8, 2},
		{`{"rejected":[{"index":0}]}`, 10, 9, 1},
		{`{"success":true}`, 10, 10, 0},
		{``, 5, 5, 0},
	}
	for _, tt := range tests {
		a, r := parseAck([]byte(tt.body), tt.n)
		if a != tt.accepted || r != tt.rej {
			t.Errorf("parseAck(%s) = %d, %d; want %d, %d", tt.body, a, r, tt.accepted, tt.rej)
		}
	}
}

func TestAppendString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `quo"te\back`, "tab\tnl\nctl\x01", "여름 특가", "line\u2028sep", "bad\xffutf8"} {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("appendString(%q) = %s: %v", s, b, err)
			continue
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); got != want {
			t.Errorf("round trip of %q gave %q", s, got)
		}
	}
}

func TestRetryWait(t *testing.T) {
	t.Parallel()
	for range 100 {
		if w := retryWait(0, 5*time.Second); w < maxRetryWait || w > maxRetryWait*11/10 {
			t.Fatalf("Retry-After 5s waited %v", w)
		}
		if w := retryWait(1, time.Second); w < time.Second || w > 1100*time.Millisecond {
			t.Fatalf("Retry-After 1s waited %v", w)
		}
		if w := retryWait(0, 0); w < 25*time.Millisecond || w > 50*time.Millisecond {
			t.Fatalf("first backoff %v", w)
		}
		if w := retryWait(30, 0); w < maxRetryWait/2 || w > maxRetryWait {
			t.Fatalf("late backoff %v", w)
		}
	}
	if d := parseRetryAfter("3"); d != 3*time.Second {
		t.Errorf("parseRetryAfter(3) = %v", d)
	}
	if d := parseRetryAfter("soon"); d != 0 {
		t.Errorf("parseRetryAfter(soon) = %v", d)
	}
}

// BenchmarkFill measures generating and encoding one batch of 10 events.
func BenchmarkFill(b *testing.B) {
	g := newGenerator(1, 1000, 1, "0123456789abcdef", 0, 0)
	var buf []byte
	var spans []span
	b.ReportAllocs()
	for b.Loop() {
		buf, spans, _ = g.shards[0].fill(buf[:0], 10, spans[:0], time.Now())
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/event")
}

func TestTablesNeedNoEscaping(t *testing.T) {
	t.Parallel()
	for _, ua := range userAgents {
		if got := string(appendString(nil, ua)); got != `"`+ua+`"` {
			t.Errorf("user agent %q needs escaping: %s", ua, got)
		}
	}
}

func TestAppendTime(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for _, ns := range []int64{0, 951_782_400_123_000_000 /* 2000-02-29 */, 4_107_542_399_999_999_999, time.Now().UnixNano()} {
		want := `"` + time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000Z") + `"`
		if got := string(appendTime(nil, ns)); got != want {
			t.Errorf("appendTime(%d) = %s, want %s", ns, got, want)
		}
	}
	for range 10_000 {
		ns := r.Int64N(8_000_000_000) * int64(time.Second) / 32 // to about 2223
		want := `"` + time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000Z") + `"`
		if got := string(appendTime(nil, ns)); got != want {
			t.Fatalf("appendTime(%d) = %s, want %s", ns, got, want)
		}
	}
}
