package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/actlog/actlog/internal/loadgen"
)

func loadgenCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := loadgen.Options{}
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8080", "base URL of the collector")
	fs.StringVar(&o.WriteKey, "write-key", "", "write key of the source to send to")
	fs.Float64Var(&o.Rate, "rate", 0, "requests per second, open loop (0 = as fast as the server answers)")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "how long to run (0 = until interrupted)")
	fs.IntVar(&o.Users, "users", loadgen.DefaultUsers, "simulated members at once")
	fs.Int64Var(&o.Seed, "seed", 1, "random seed: the same seed sends the same journeys")
	fs.IntVar(&o.Batch, "batch", loadgen.DefaultBatch, "events per request")
	fs.IntVar(&o.Concurrency, "concurrency", loadgen.DefaultConcurrency, "workers when --rate is 0")
	fs.IntVar(&o.MaxInFlight, "max-in-flight", loadgen.DefaultMaxInFlight, "outstanding requests at most in the open loop")
	fs.IntVar(&o.MaxRetries, "max-retries", loadgen.DefaultMaxRetries, "retries of a request answered 429/5xx or lost (-1 = none)")
	fs.Float64Var(&o.DuplicateRate, "duplicates", loadgen.DefaultDuplicateRate, "fraction of requests sent twice with the same messageIds")
	fs.Float64Var(&o.InvalidRate, "invalid", 0, "fraction of events made invalid on purpose")
	toStore := fs.String("to-store", "", "write the simulated events straight into the store in this data directory, without HTTP")
	events := fs.Int("events", 10_000_000, "with --to-store: how many events")
	days := fs.Int("days", 30, "with --to-store: the events spread over this many days, ending now")
	memLimit := fs.String("memory-limit", "", "with --to-store: DuckDB memory_limit while loading, e.g. 4GB (default DuckDB's: 80% of RAM)")
	quiet := fs.Bool("quiet", false, "no live progress")
	asJSON := fs.Bool("json", false, "print the summary as JSON (durations in nanoseconds)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *toStore != "" {
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		var progress io.Writer
		if !*quiet {
			progress = stderr
		}
		return bulkLoad(ctx, bulkOptions{Dir: *toStore, Events: *events, Days: *days, Users: o.Users, Seed: o.Seed, MemoryLimit: *memLimit}, stdout, progress)
	}
	if o.WriteKey == "" {
		return fmt.Errorf("--write-key is required (actlog serve prints it)")
	}
	if !*quiet {
		o.Progress = stderr
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := loadgen.Run(ctx, o)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return fmt.Errorf("write summary: %w", err)
		}
	} else {
		sum.Write(stdout)
	}
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}
