package main

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// result is what one scenario measured and found.
type result struct {
	name    string
	title   string
	started time.Time
	elapsed time.Duration
	load    string // how the load was configured
	stats   loadStats
	final   tally
	checked bool // final is the check of the stores at the end
	stores  []string
	// topicRecords is the records of actlog.events at the end (Kafka
	// scenarios): retries and resends make more records than events.
	topicRecords int64
	figures      []figure
	notes        []string
	// failures are correctness failures (lost or doubled events, a
	// process that died by itself); never timings.
	failures []string
	err      error
}

type figure struct{ name, value string }

func (r *result) fig(name, format string, a ...any) {
	r.figures = append(r.figures, figure{name, fmt.Sprintf(format, a...)})
}

func (r *result) note(format string, a ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, a...))
}

func (r *result) fail(format string, a ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, a...))
}

// logf prints a progress line.
func (r *result) logf(format string, a ...any) {
	fmt.Printf("[%s +%5.1fs] %s\n", r.name, time.Since(r.started).Seconds(), fmt.Sprintf(format, a...))
}

func (r *result) pass() bool {
	return r.err == nil && r.checked && r.final.ok() && len(r.failures) == 0
}

// text is the scenario's summary as printed and written to bench/out.
func (r *result) text(command, machine string, seed int64) string {
	var b strings.Builder
	w := func(name, format string, a ...any) {
		fmt.Fprintf(&b, "%-22s %s\n", name, fmt.Sprintf(format, a...))
	}
	fmt.Fprintf(&b, "\n== chaos %s: %s\n", r.name, r.title)
	w("command", "%s", command)
	w("date", "%s (took %s)", r.started.UTC().Format(time.RFC3339), r.elapsed.Round(time.Second))
	w("machine", "%s", machine)
	w("seed", "%d", seed)
	w("load", "%s", r.load)
	s := r.stats
	w("requests", "sent %d, acknowledged (2xx) %d, 503 %d, errors %d%s, other %d%s",
		s.requests, s.ok2xx, s.s503, s.errs, kinds(s.errKinds), s.other, codes(s.otherCodes))
	w("batches", "%d new, %d deliberate resends of acknowledged batches, %d never acknowledged", s.batches, s.resends, s.gaveUp)
	w("events acknowledged", "%d (of %d sent; %d reported rejected)", s.eventsAcked, s.eventsSent, s.rejected)
	if r.checked {
		t := r.final
		w("events stored", "%d distinct ids, %d rows%s", t.storedDistinct, t.storedRows, storesText(r.stores))
		if r.topicRecords > 0 {
			w("records in the topic", "%d in actlog.events for %d events stored: %d copies from retries and resends, removed by the store's dedupe", r.topicRecords, t.storedRows, r.topicRecords-int64(t.storedRows))
		}
		w("lost", "%d   (acknowledged, not stored)%s", t.lost, sample(t.lostSample))
		w("duplicated", "%d   (stored more than once)%s", t.duplicated, sample(t.dupSample))
		if t.duplicated > 0 {
			w("", "of which %d in two stores (never twice in one store), %d were ids resent after their 2xx", t.dupAcross, t.dupResent)
		}
		w("stored unacknowledged", "%d   (in flight when a process died, never answered 2xx: allowed)", t.storedUnacked)
		if t.unknown > 0 {
			w("stored never sent", "%d", t.unknown)
		}
	} else {
		w("events stored", "not checked")
	}
	for _, f := range r.figures {
		w(f.name, "%s", f.value)
	}
	for _, n := range r.notes {
		w("note", "%s", n)
	}
	for _, f := range r.failures {
		w("FAILURE", "%s", f)
	}
	if r.err != nil {
		w("ERROR", "%v", r.err)
	}
	verdict := "PASS (lost = 0, duplicated = 0)"
	if !r.pass() {
		verdict = "FAIL"
	}
	w("result", "%s", verdict)
	return b.String()
}

func kinds(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func codes(m map[int]int) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d×%d", k, m[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func sample(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return "  e.g. " + strings.Join(ids, " ")
}

func storesText(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return " (" + strings.Join(s, ", ") + ")"
}

// machineInfo describes the machine: cores, memory, CPU model, Go.
func machineInfo() string {
	mem := "?"
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fs := strings.Fields(sc.Text()); len(fs) >= 2 && fs[0] == "MemTotal:" {
				if kb, err := strconv.ParseFloat(fs[1], 64); err == nil {
					mem = fmt.Sprintf("%.1f GiB", kb/1024/1024)
				}
			}
		}
		f.Close()
	}
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = ", " + strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("nproc %d, memory %s%s, %s/%s, %s", runtime.NumCPU(), mem, model, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// dur formats a duration for the report.
func dur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}
