package store

import (
	"runtime"
	"strconv"
	"testing"
	"time"
)

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkDedupeMemory reports the bytes one id costs in the open (map)
// generation and in a frozen one: the figures quoted in docs/api.md.
func BenchmarkDedupeMemory(b *testing.B) {
	const n = 1_000_000
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = dedupeKey("web", "id-"+strconv.Itoa(i))
	}
	for range b.N {
		before := heapInUse()
		d := newDedupe(8*time.Hour, 0)
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		d.rotate(now)
		d.add(keys, now)
		open := heapInUse()
		d.rotate(now.Add(time.Hour))
		frozen := heapInUse()
		b.ReportMetric(float64(open-before)/n, "open-B/id")
		b.ReportMetric(float64(frozen-before)/n, "frozen-B/id")
		runtime.KeepAlive(d)
	}
}

// BenchmarkDedupeHas measures a lookup of an absent key against a full
// window of 8 frozen generations of 1M ids each plus an open one.
func BenchmarkDedupeHas(b *testing.B) {
	d := newDedupe(8*time.Hour, 0)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d.rotate(now)
	keys := make([]uint64, 1_000_000)
	for g := range 9 {
		for i := range keys {
			keys[i] = dedupeKey("web", strconv.Itoa(g)+"-"+strconv.Itoa(i))
		}
		d.add(keys, now.Add(time.Duration(g)*time.Hour))
	}
	probe := make([]uint64, 4096)
	for i := range probe {
		probe[i] = dedupeKey("web", "absent-"+strconv.Itoa(i))
	}
	b.ResetTimer()
	for i := range b.N {
		if d.has(probe[i&4095]) {
			b.Fatal("absent key found")
		}
	}
}
