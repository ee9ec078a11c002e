package loadgen

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Summary holds the totals of a run.
type Summary struct {
	// Requests is the number of batches generated and sent (retries and
	// deliberate duplicates not included); Sent the events in them.
	Requests, Sent int64
	// Accepted and Rejected are the events the server accepted and rejected
	// one by one in 2xx answers to those requests.
	Accepted, Rejected int64
	// Duplicates is the number of requests sent a second time on purpose.
	Duplicates int64
	// Retries is the number of retry attempts.
	Retries int64
	// Errors is the number of requests (duplicates included) that failed
	// after their retries or were answered with a non-retryable status.
	Errors int64
	// Status counts the answers of every attempt by HTTP status; 0 counts
	// network errors.
	Status map[int]int64
	// Elapsed runs from the start until the last request finished.
	Elapsed time.Duration
	// EventsPerSec is Accepted per second of Elapsed; RequestsPerSec is
	// Requests per second of Elapsed.
	EventsPerSec, RequestsPerSec float64
	// Latency percentiles of Requests, each from its intended send time (the
	// schedule in the open loop) to its final answer, retries included.
	P50, P90, P99, Max time.Duration
	// LastError describes the last failed attempt, empty when none failed.
	LastError string
}

// Write prints s as a human-readable block.
func (s Summary) Write(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "elapsed      %s\n", fmtDuration(s.Elapsed))
	fmt.Fprintf(&b, "requests     %d (%.1f/s)\n", s.Requests, s.RequestsPerSec)
	fmt.Fprintf(&b, "events sent  %d\n", s.Sent)
	fmt.Fprintf(&b, "accepted     %d (%.1f events/s)\n", s.Accepted, s.EventsPerSec)
	fmt.Fprintf(&b, "rejected     %d\n", s.Rejected)
	fmt.Fprintf(&b, "duplicates   %d re-sent requests\n", s.Duplicates)
	fmt.Fprintf(&b, "retries      %d\n", s.Retries)
	fmt.Fprintf(&b, "errors       %d\n", s.Errors)
	codes := make([]int, 0, len(s.Status))
	for c := range s.Status {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	b.WriteString("status      ")
	if len(codes) == 0 {
		b.WriteString(" none")
	}
	for _, c := range codes {
		if c == 0 {
			fmt.Fprintf(&b, " network-error=%d", s.Status[c])
			continue
		}
		fmt.Fprintf(&b, " %d=%d", c, s.Status[c])
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "latency      p50 %s  p90 %s  p99 %s  max %s\n",
		fmtDuration(s.P50), fmtDuration(s.P90), fmtDuration(s.P99), fmtDuration(s.Max))
	if s.LastError != "" {
		fmt.Fprintf(&b, "last error   %s\n", s.LastError)
	}
	_, _ = io.WriteString(w, b.String())
}

// fmtDuration rounds d to about three significant digits.
func fmtDuration(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		d = d.Round(100 * time.Millisecond)
	case d >= time.Second:
		d = d.Round(10 * time.Millisecond)
	case d >= 100*time.Millisecond:
		d = d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		d = d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		d = d.Round(10 * time.Microsecond)
	default:
		d = d.Round(time.Microsecond)
	}
	return d.String()
}
