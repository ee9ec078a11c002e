package ingest

import (
	"testing"
	"time"

	"github.com/actlog/actlog/internal/plan"
)

// benchPlan checks the realistic batch's events: a banner click and a
// book view with their properties' types, and the page view.
const benchPlan = `
enforcement: {default: flag}
unplanned: violation
events:
  - name: banner_click
    properties:
      type: object
      required: [section, banner]
      properties:
        section: {type: string}
        banner: {type: string, maxLength: 100}
        position: {type: integer, minimum: 0}
  - name: book_view
    properties:
      type: object
      required: [book_id]
      properties:
        book_id: {type: string, pattern: "^b-[0-9]+$"}
        title: {type: string}
        price: {type: number, minimum: 0}
        tags: {type: array, items: {type: string}}
        section: {type: string}
  - name: page_view
    properties: {type: object, properties: {url: {type: string, format: uri}}}
`

// BenchmarkBulkPlan is the cost of the tracking plan: the same batch of 10
// events decoded and enriched without a plan (the baseline) and held to one.
func BenchmarkBulkPlan(b *testing.B) {
	body := []byte(realisticBatch(10))
	p, err := plan.Parse([]byte(benchPlan))
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		plan Plan
	}{{"no-plan", nil}, {"plan-flag", p}} {
		b.Run(c.name, func(b *testing.B) {
			bulk := NewBulk(EnrichOptions{}, c.plan)
			b.ReportAllocs()
			for b.Loop() {
				batch, err := bulk.Decode(body, "web", at)
				if err != nil || len(batch.Events) != 10 {
					b.Fatalf("%v, %d events", err, len(batch.Events))
				}
				for _, e := range batch.Events {
					if len(e.Violations) > 0 {
						b.Fatalf("%s breaks the plan: %v", e.Event, e.Violations)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/event")
		})
	}
}
