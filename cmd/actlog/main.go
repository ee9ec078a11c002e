// Command actlog is the one binary of actlog: the collector, the store, the
// API and the tools around them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `actlog — user behaviour logs: collect, store, analyse.

Usage:
  actlog serve     [flags]  collector, store and API in one process (through Kafka when configured)
  actlog ingest    [flags]  HTTP → Kafka: the stateless collector tier
  actlog process   [flags]  Kafka → store, and the read API
  actlog kafka-dev [flags]  a development Kafka on 127.0.0.1 (never for production)
  actlog loadgen   [flags]  send simulated members of an e-book app to a collector
  actlog import    [flags] FILE|DIR|- ...  import legacy logs: Segment NDJSON, CSV, Firehose gzip
  actlog export    [flags]  write closed hours of events to Parquet in a directory or S3 (docs/lake.md)
  actlog plan      check|infer  validate a tracking plan, or draft one from the stored events
  actlog erase     --user ID    erase a member's events from the store and the lake (PIPA/GDPR)
  actlog version            print the version

Run 'actlog <command> -h' for the flags of a command.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = roleCmd(ctx, roleServe, args[1:], env, stdout, stderr)
	case "ingest":
		err = roleCmd(ctx, roleIngest, args[1:], env, stdout, stderr)
	case "process":
		err = roleCmd(ctx, roleProcess, args[1:], env, stdout, stderr)
	case "kafka-dev":
		err = kafkaDevCmd(ctx, args[1:], stdout, stderr)
	case "loadgen":
		err = loadgenCmd(ctx, args[1:], stdout, stderr)
	case "import":
		err = importCmd(ctx, args[1:], env, os.Stdin, stdout, stderr)
	case "export":
		err = exportCmd(ctx, args[1:], env, stdout, stderr)
	case "plan":
		err = planCmd(ctx, args[1:], env, stdout, stderr)
	case "erase":
		err = eraseCmd(ctx, args[1:], env, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "actlog %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "actlog: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "actlog %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, cfg LogConfig) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(cfg.Level)))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Format == "json" {
		return slog.New(requestIDHandler{slog.NewJSONHandler(w, opts)})
	}
	return slog.New(requestIDHandler{slog.NewTextHandler(w, opts)})
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
