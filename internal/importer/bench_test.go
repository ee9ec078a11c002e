package importer

import (
	"context"
	"os"
	"testing"
	"time"
)

// BenchmarkRunDiscard imports the benchmark dataset's shape (Segment
// messages archived with sentAt and receivedAt, gzip) into a sink that
// keeps nothing: the cost of reading, splitting, preparing and decoding.
// Set ACTLOG_IMPORT_BENCH_FILE to a file made by bench/import/gen.
func BenchmarkRunDiscard(b *testing.B) {
	file := os.Getenv("ACTLOG_IMPORT_BENCH_FILE")
	if file == "" {
		b.Skip("set ACTLOG_IMPORT_BENCH_FILE (go run ./bench/import/gen -events 200000 -out FILE)")
	}
	for b.Loop() {
		sum, err := Run(context.Background(), Options{
			Inputs: []string{file}, Sink: Discard{}, NewDecoder: newDecoder,
			Now: func() time.Time { return importTime },
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(sum.Events)/sum.Elapsed.Seconds(), "events/s")
	}
}
