package ingest

import (
	"time"

	"github.com/valyala/fastjson"

	"github.com/actlog/actlog/internal/event"
)

// Bulk turns Segment batch bodies into events without HTTP, with the same
// validation and enrichment as the collector: bulk loads such as
// `actlog loadgen --to-store` use it. A Bulk is not safe for concurrent use;
// give each goroutine its own.
type Bulk struct {
	parser fastjson.Parser
	md     meta
	opts   EnrichOptions
	ua     *uaCache
	plan   Plan
}

// NewBulk returns a Bulk enriching with opts (zero values take the
// defaults) and holding events to plan (nil: no tracking plan).
func NewBulk(opts EnrichOptions, plan Plan) *Bulk {
	opts.setDefaults()
	return &Bulk{opts: opts, ua: newUACache(4096), plan: plan}
}

// Decode answers the events of body, a /v1/batch body, for source as if
// received at receivedAt (which anchors clock-skew correction). Invalid
// events are answered in the batch's Rejected.
func (b *Bulk) Decode(body []byte, source string, receivedAt time.Time) (*event.Batch, error) {
	req, err := parseBody(&b.parser, body, "", 0)
	if err != nil {
		return nil, err
	}
	md := &b.md
	*md = meta{}
	md.source = source
	md.receivedAt = receivedAt.UTC()
	md.begin(&req)
	md.uaCache = b.ua
	md.opts = &b.opts
	md.plan = b.plan
	return md.batch(req.Messages, b.opts.MaxEventBytes, nil), nil
}
