package importer

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// ProgressMode is how Run shows its progress.
type ProgressMode int

// Progress modes.
const (
	ProgressOff   ProgressMode = iota // nothing but rejected records and the notes
	ProgressLines                     // a plain line every ProgressInterval (logs, pipes)
	ProgressBar                       // a bar redrawn in place (a terminal)
)

// barInterval is how often the bar is redrawn.
const barInterval = 200 * time.Millisecond

// progress draws the progress on w. Only Run's own goroutine uses it.
type progress struct {
	w        io.Writer
	mode     ProgressMode
	interval time.Duration
	start    time.Time
	last     time.Time
	shown    bool // a bar is on the screen
	total    int64
	// baseBytes were done before this run (resumed files); the rate counts
	// only this run's bytes.
	baseBytes int64
}

// stats is what the progress shows.
type stats struct {
	bytes    int64 // input bytes read (compressed bytes for gzip), including baseBytes
	records  int64
	events   int64
	rejected int64
}

func (p *progress) due(now time.Time) bool {
	switch p.mode {
	case ProgressBar:
		return now.Sub(p.last) >= barInterval
	case ProgressLines:
		return p.interval > 0 && now.Sub(p.last) >= p.interval
	}
	return false
}

// tick draws the progress when it is due.
func (p *progress) tick(now time.Time, s stats) {
	if !p.due(now) {
		return
	}
	p.last = now
	switch p.mode {
	case ProgressBar:
		fmt.Fprintf(p.w, "\r%s\x1b[K", p.bar(now, s))
		p.shown = true
	case ProgressLines:
		fmt.Fprintf(p.w, "import: %s\n", p.line(now, s))
	}
}

// println prints a line of its own above the bar.
func (p *progress) println(line string) {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
		p.last = time.Time{} // redraw at the next tick
	}
	fmt.Fprintln(p.w, line)
}

// clear removes the bar.
func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// fraction is the share of the input bytes read, and false when the total
// is unknown (stdin).
func (p *progress) fraction(s stats) (float64, bool) {
	if p.total <= 0 {
		return 0, false
	}
	return min(1, float64(s.bytes)/float64(p.total)), true
}

// eta is the time left at this run's byte rate.
func (p *progress) eta(now time.Time, s stats) (time.Duration, bool) {
	el := now.Sub(p.start).Seconds()
	doneNow := s.bytes - p.baseBytes
	if p.total <= 0 || el < 1 || doneNow <= 0 {
		return 0, false
	}
	left := float64(p.total-s.bytes) / (float64(doneNow) / el)
	return time.Duration(max(0, left) * float64(time.Second)), true
}

func (p *progress) rate(now time.Time, s stats) float64 {
	el := now.Sub(p.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(s.events) / el
}

// bar is one line: [#####.....]  48.3%  4,830,112 events  121,442/s  ETA 0:41  3 rejected
func (p *progress) bar(now time.Time, s stats) string {
	const width = 24
	var b strings.Builder
	if f, ok := p.fraction(s); ok {
		n := int(f * width)
		b.WriteString("[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]")
		fmt.Fprintf(&b, " %5.1f%%", f*100)
	} else {
		fmt.Fprintf(&b, "%s read", byteSize(s.bytes))
	}
	fmt.Fprintf(&b, "  %s events  %s/s", thousands(s.events), thousands(int64(p.rate(now, s))))
	if eta, ok := p.eta(now, s); ok {
		fmt.Fprintf(&b, "  ETA %s", clock(eta))
	}
	if s.rejected > 0 {
		fmt.Fprintf(&b, "  %s rejected", thousands(s.rejected))
	}
	return b.String()
}

// line is the plain progress: 48.3% of 7.1 GB, 4,830,112 events (121,442/s), 3 rejected, ETA 41s
func (p *progress) line(now time.Time, s stats) string {
	var b strings.Builder
	if f, ok := p.fraction(s); ok {
		fmt.Fprintf(&b, "%.1f%% of %s, ", f*100, byteSize(p.total))
	} else {
		fmt.Fprintf(&b, "%s read, ", byteSize(s.bytes))
	}
	fmt.Fprintf(&b, "%s records, %s events (%s/s), %s rejected", thousands(s.records), thousands(s.events),
		thousands(int64(p.rate(now, s))), thousands(s.rejected))
	if eta, ok := p.eta(now, s); ok {
		fmt.Fprintf(&b, ", ETA %s", eta.Round(time.Second))
	}
	return b.String()
}

// thousands writes n with comma separators: 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// clock is a duration as h:mm:ss or m:ss.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
