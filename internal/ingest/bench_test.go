package ingest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

// realisticBatch is what the web tracker sends: n events of one visit with
// the context analytics.js adds to each.
func realisticBatch(n int) string {
	const ctx = `"context":{"library":{"name":"actlog.js","version":"1.4.0"},"locale":"ko-KR","timezone":"Asia/Seoul",` +
		`"userAgent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",` +
		`"screen":{"width":390,"height":844,"density":3},"sessionId":"s-1714564700000","seq":%d,` +
		`"campaign":{"source":"kakao","medium":"social","name":"spring_sale"},` +
		`"page":{"url":"https://books.example/library/shelf?utm_source=kakao&utm_medium=social&utm_campaign=spring_sale","path":"/library/shelf","title":"내 서재","referrer":"https://m.search.example/"}}`
	msgs := make([]string, n)
	for i := range msgs {
		var m string
		switch {
		case i == 0:
			m = `{"type":"page","name":"Shelf","properties":{"url":"https://books.example/library/shelf","path":"/library/shelf","title":"내 서재"},`
		case i%3 == 0:
			m = `{"type":"track","event":"banner_click","properties":{"section":"home_top","banner":"spring_sale_2024","position":2},`
		default:
			m = `{"type":"track","event":"book_view","properties":{"book_id":"b-10293","title":"채식주의자","price":12000,"tags":["novel","kr"],"section":"recommend"},`
		}
		m += fmt.Sprintf(`"anonymousId":"3f1c2a7e-8d4b-4a8e-9c55-1f2e3d4c5b6a","userId":"member-88231","messageId":"msg-%02d-8d4b4a8e9c551f2e",`, i) +
			fmt.Sprintf(`"timestamp":"2024-05-01T11:59:%02d.%03dZ",`, 30+i, i*37) +
			fmt.Sprintf(ctx, i+1) + `}`
		msgs[i] = m
	}
	return `{"writeKey":"wk_web","sentAt":"2024-05-01T11:59:45.000Z","batch":[` + strings.Join(msgs, ",") + `]}`
}

func BenchmarkDecodeBatch(b *testing.B) {
	body := []byte(realisticBatch(10))
	md := testMeta(b, EnrichOptions{}, "", "203.0.113.7", "")
	var p fastjson.Parser
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req, err := parseBody(&p, body, "", 2500)
		if err != nil {
			b.Fatal(err)
		}
		md.begin(&req)
		for _, m := range req.Messages {
			if _, err := md.build(m); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/event")
}

// The realistic batch must decode cleanly: a benchmark of rejections would
// measure the wrong path.
func TestRealisticBatch(t *testing.T) {
	md := testMeta(t, EnrichOptions{}, "", "203.0.113.7", "")
	out, err := decode(t, md, realisticBatch(10))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 10 {
		t.Fatalf("%d messages, want 10", len(out))
	}
	for i, o := range out {
		if o.err != nil {
			t.Fatalf("message %d: %v", i, o.err)
		}
		e := o.e
		if e.DeviceType != "mobile" || e.OS != "iOS" || e.UTMCampaign != "spring_sale" || e.SessionID != "s-1714564700000" || e.Seq != int64(i+1) || e.IP != "203.0.113.0" {
			t.Fatalf("message %d: %+v", i, e)
		}
	}
}
