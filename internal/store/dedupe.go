package store

import (
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"
)

// dedupeKey is the 64-bit identity of (source, event_id). With n ids in the
// window, a new id collides with a stored one with probability n/2^64
// (4.6e-12 at the reference 84 million ids): documented in docs/api.md.
func dedupeKey(source, eventID string) uint64 {
	d := xxhash.New()
	_, _ = d.WriteString(source)
	_, _ = d.Write([]byte{0})
	_, _ = d.WriteString(eventID)
	return d.Sum64()
}

// dedupeGenerations is how many generations cover the window; one more, the
// oldest, is kept until it lies wholly outside the window.
const dedupeGenerations = 8

// dedupe remembers the keys of stored events for a window of time.
//
// Keys live in generations of window/8 each. The newest generation is an
// open-addressing set (11–21 bytes a key); when a generation closes it is
// frozen into a sorted array with a radix directory (8.5 bytes a key), so a
// full window costs about 9–10 bytes a key: see docs/api.md. A lookup probes
// the open set and at most nine frozen generations, each in one or two cache
// lines.
//
// Not safe for concurrent use: it is owned by the store's writer goroutine.
type dedupe struct {
	width  time.Duration
	maxIDs int
	open   *keySet
	openAt time.Time // start of the open generation
	frozen []*frozenGen
	evict  int64 // generations dropped early because of maxIDs

	loading map[time.Time]*keySet // generations read back at start
}

type frozenGen struct {
	start time.Time
	keys  []uint64 // sorted
	dir   []uint32 // dir[p] = first index whose key>>shift >= p
	shift uint
}

// newDedupe returns an empty dedupe; load the persisted keys, then rotate.
func newDedupe(window time.Duration, maxIDs int) *dedupe {
	w := window / dedupeGenerations
	if w < time.Second {
		w = time.Second
	}
	return &dedupe{width: w, maxIDs: maxIDs, open: newKeySet()}
}

func (d *dedupe) size() int {
	n := d.open.len()
	for _, g := range d.frozen {
		n += len(g.keys)
	}
	return n
}

// has reports whether key was stored within the window.
func (d *dedupe) has(key uint64) bool {
	if d.open.has(key) {
		return true
	}
	for _, g := range d.frozen {
		if g.has(key) {
			return true
		}
	}
	return false
}

// add records keys committed at time at (the writer's clock).
func (d *dedupe) add(keys []uint64, at time.Time) {
	d.rotate(at)
	for _, k := range keys {
		d.open.add(k)
	}
	d.bound()
}

// rotate freezes the open generation once its time is over and drops
// generations that lie wholly before the window.
func (d *dedupe) rotate(now time.Time) {
	if now.Sub(d.openAt) < d.width {
		return
	}
	if d.open.len() > 0 {
		d.frozen = append(d.frozen, freeze(d.open, d.openAt))
		d.open = newKeySet()
	}
	d.openAt = now.Truncate(d.width)
	// Keep generations whose end lies within the window.
	cut := 0
	for cut < len(d.frozen) && d.openAt.Sub(d.frozen[cut].start) >= d.width*(dedupeGenerations+1) {
		cut++
	}
	d.frozen = d.frozen[cut:]
}

func freeze(set *keySet, start time.Time) *frozenGen {
	keys := set.keys(make([]uint64, 0, set.len()))
	slices.Sort(keys)
	// One directory slot per ~8 keys, a power of two.
	bits := uint(1)
	for (1<<bits)*8 < len(keys) && bits < 32 {
		bits++
	}
	g := &frozenGen{start: start, keys: keys, shift: 64 - bits}
	g.dir = make([]uint32, (1<<bits)+1)
	i := 0
	for p := range g.dir {
		for i < len(keys) && keys[i]>>g.shift < uint64(p) {
			i++
		}
		g.dir[p] = uint32(i)
	}
	return g
}

func (g *frozenGen) has(key uint64) bool {
	p := key >> g.shift
	lo, hi := int(g.dir[p]), int(g.dir[p+1])
	for i := lo; i < hi; i++ {
		if g.keys[i] == key {
			return true
		}
		if g.keys[i] > key {
			return false
		}
	}
	return false
}

// load puts a key read back from disk into the generation of its time,
// in any order, before the writer starts; finishLoad then freezes every
// generation but the current one.
func (d *dedupe) load(key uint64, at time.Time) {
	if d.loading == nil {
		d.loading = map[time.Time]*keySet{}
	}
	start := at.Truncate(d.width)
	set := d.loading[start]
	if set == nil {
		set = newKeySet()
		d.loading[start] = set
	}
	set.add(key)
}

func (d *dedupe) finishLoad(now time.Time) {
	d.openAt = now.Truncate(d.width)
	starts := make([]time.Time, 0, len(d.loading))
	for st := range d.loading {
		starts = append(starts, st)
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	for _, st := range starts {
		set := d.loading[st]
		if !st.Before(d.openAt) {
			for _, k := range set.keys(nil) {
				d.open.add(k)
			}
			continue
		}
		d.frozen = append(d.frozen, freeze(set, st))
	}
	d.loading = nil
	d.rotate(now)
	d.bound()
}

// bound drops the oldest frozen generations while the state holds more
// than maxIDs keys.
func (d *dedupe) bound() {
	if d.maxIDs <= 0 {
		return
	}
	for d.size() > d.maxIDs && len(d.frozen) > 0 {
		d.frozen = d.frozen[1:]
		d.evict++
	}
}
