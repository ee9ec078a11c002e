// Package ingest owns actlog's Segment-compatible tracking API: it decodes
// request bodies (JSON, gzip, text/plain beacons), authenticates write keys,
// applies CORS, size and rate limits, validates each event, enriches it into
// the canonical event (time correction, page, campaign, device, anonymised
// IP) and hands the batch to a Sink, answering only once the Sink says the
// events are durable.
//
// Concurrency: a Handler is safe for concurrent use by any number of HTTP
// requests. Per-request state (body buffer, JSON parser) is pooled and never
// shared between requests; the user-agent cache and rate limiters are the
// only shared state and are internally synchronised. The package starts no
// goroutines.
package ingest
