package loadgen

import (
	"strconv"
	"time"
)

// Generator produces the simulated members' Segment batch bodies on the
// caller's clock, without sending them: bulk loads (actlog loadgen
// --to-store) decode them straight into a store. Not safe for concurrent
// use.
type Generator struct {
	g     *generator
	spans []span
}

// NewGenerator returns a Generator of users members at once; the same seed
// makes the same journeys and messageIds ("bulk<seed>-…"), so another seed
// adds events to a store instead of repeating them.
func NewGenerator(seed int64, users int) *Generator {
	if users <= 0 {
		users = DefaultUsers
	}
	return &Generator{g: newGenerator(seed, users, 1, "bulk"+strconv.FormatInt(seed, 10), 0, 0)}
}

// Next appends to b a /v1/batch body of n events happening up to now.
func (g *Generator) Next(b []byte, n int, now time.Time) []byte {
	b, g.spans, _ = g.g.shards[0].fill(b, n, g.spans[:0], now)
	return b
}
