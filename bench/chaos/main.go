// Command chaos is actlog's crash-safety suite: it runs bin/actlog as real
// subprocesses (serve; ingest, process and kafka-dev), kills them with
// SIGKILL at random (seeded) moments, stops the brokers, scales the
// processors, all under client load with retries, and checks that every
// event acknowledged with a 2xx is stored exactly once.
//
//	bash bench/chaos/run.sh [flags] [embedded|kafka-kills|brokers-down|scale|all]…
//
// Nothing here asserts a timing: timings are reported, correctness
// (lost = 0, duplicated = 0) decides the exit status.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	var o options
	var short, keep bool
	var outDir string
	fs.StringVar(&o.bin, "bin", "bin/actlog", "the actlog binary")
	fs.IntVar(&o.kills, "kills", envInt("KILLS", 20), "SIGKILLs in embedded and kafka-kills (env KILLS)")
	fs.Float64Var(&o.rate, "rate", envFloat("RATE", 100), "new 10-event batches per second in all; 0: as fast as answers come (env RATE)")
	fs.IntVar(&o.workers, "workers", envInt("WORKERS", 8), "concurrent clients (env WORKERS)")
	fs.DurationVar(&o.duration, "duration", envDuration("DURATION", 20*time.Second), "load before and after the chaos, and each phase of scale (env DURATION)")
	fs.DurationVar(&o.outage, "outage", envDuration("OUTAGE", 30*time.Second), "how long the brokers stay down (env OUTAGE)")
	fs.DurationVar(&o.killEvery, "kill-every", envDuration("KILL_EVERY", 3*time.Second), "mean uptime before a kill (uniform 100ms…2×) (env KILL_EVERY)")
	fs.Float64Var(&o.startupKills, "startup-kills", 0.2, "embedded: chance that a restart is killed again during its start-up")
	fs.DurationVar(&o.commitTimeout, "commit-timeout", 2*time.Second, "ingest.commit_timeout of the collectors")
	fs.Float64Var(&o.resend, "resend", 0.01, "share of client turns that resend an already acknowledged batch (dedupe across restarts)")
	fs.Float64Var(&o.scaleResend, "scale-resend", 0, "resend share in scale, where dedupe is per store (docs/kafka.md limitations)")
	fs.Int64Var(&o.seed, "seed", int64(envInt("SEED", int(time.Now().UnixNano()%1_000_000))), "seed of the kill moments, targets and events (env SEED)")
	fs.BoolVar(&short, "short", os.Getenv("SHORT") != "", "a cheap run for CI: 3 kills, 10 s outage, 5 s phases, unless set explicitly (env SHORT=1)")
	fs.BoolVar(&o.brokerTerm, "broker-sigterm", false, "end kafka-dev with SIGTERM instead of SIGKILL in brokers-down")
	fs.StringVar(&outDir, "out", "bench/out", "directory for chaos-<time>.txt")
	fs.BoolVar(&keep, "keep", false, "keep the temporary directory (stores, logs) even when every scenario passed")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: chaos [flags] [embedded|kafka-kills|brokers-down|scale|all]…\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["kills"] && os.Getenv("KILLS") == "" {
			o.kills = 3
		}
		if !set["outage"] && os.Getenv("OUTAGE") == "" {
			o.outage = 10 * time.Second
		}
		if !set["duration"] && os.Getenv("DURATION") == "" {
			o.duration = 5 * time.Second
		}
	}
	if o.kills < 1 || o.workers < 1 || o.rate < 0 || o.killEvery <= 0 || o.outage <= 0 || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "chaos: -kills and -workers must be positive, -rate not negative, durations positive")
		return 2
	}
	names, err := pick(fs.Args())
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
		return 2
	}
	if o.bin, err = filepath.Abs(o.bin); err != nil {
		fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
		return 2
	}
	if _, err := os.Stat(o.bin); err != nil {
		fmt.Fprintf(os.Stderr, "chaos: %v (build it: go build -o bin/actlog ./cmd/actlog)\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tmp, err := os.MkdirTemp("", "actlog-chaos-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
		return 1
	}
	command := os.Getenv("CHAOS_COMMAND")
	if command == "" {
		command = strings.Join(os.Args, " ")
	}
	command += fmt.Sprintf("   (-seed %d -kills %d -rate %g -workers %d -duration %s -outage %s -kill-every %s)",
		o.seed, o.kills, o.rate, o.workers, o.duration, o.outage, o.killEvery)
	machine := machineInfo()
	started := time.Now()

	var texts []string
	failed := false
	for _, name := range names {
		res := runScenario(ctx, name, o, filepath.Join(tmp, name))
		text := res.text(command, machine, o.seed)
		fmt.Print(text)
		texts = append(texts, text)
		if !res.pass() {
			failed = true
		}
		if ctx.Err() != nil {
			break
		}
	}

	if err := os.MkdirAll(outDir, 0o750); err == nil {
		path := filepath.Join(outDir, "chaos-"+started.UTC().Format("20060102T150405")+".txt")
		if err := os.WriteFile(path, []byte(strings.Join(texts, "")), 0o640); err != nil {
			fmt.Fprintf(os.Stderr, "chaos: write summary: %v\n", err)
		} else {
			fmt.Printf("\nsummary written to %s\n", path)
		}
	} else {
		fmt.Fprintf(os.Stderr, "chaos: summary dir: %v\n", err)
	}
	if failed || keep {
		fmt.Printf("stores, configurations and logs kept in %s\n", tmp)
	} else {
		os.RemoveAll(tmp)
	}
	if failed {
		return 1
	}
	return 0
}

// runScenario runs one scenario with its data and logs in dir; every child
// it started is killed before it returns.
func runScenario(ctx context.Context, name string, o options, dir string) *result {
	res := &result{name: name, started: time.Now(), load: o.loadText()}
	defer func() { res.elapsed = time.Since(res.started) }()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		res.err = err
		return res
	}
	p := newProcs(o.bin, dir)
	defer p.close()
	res.logf("seed %d, data and logs in %s", o.seed, dir)
	for _, s := range scenarios() {
		if s.name == name {
			res.err = s.run(ctx, o, p, res)
			return res
		}
	}
	res.err = fmt.Errorf("unknown scenario %q", name)
	return res
}

// pick resolves the scenario arguments; none or "all" is every scenario.
func pick(args []string) ([]string, error) {
	var all []string
	for _, s := range scenarios() {
		all = append(all, s.name)
	}
	if len(args) == 0 {
		return all, nil
	}
	var out []string
	for _, a := range args {
		if a == "all" {
			out = append(out, all...)
			continue
		}
		found := false
		for _, s := range all {
			found = found || s == a
		}
		if !found {
			return nil, fmt.Errorf("unknown scenario %q (want %s or all)", a, strings.Join(all, ", "))
		}
		out = append(out, a)
	}
	return out, nil
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
