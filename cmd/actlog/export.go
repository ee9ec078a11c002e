package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/actlog/actlog/internal/lake"
	"github.com/actlog/actlog/internal/store"
)

// LakeConfig is the lake export (docs/lake.md): where `actlog export`
// writes, and the schedule on which serve and process export by
// themselves. Set dir or s3.bucket, not both.
type LakeConfig struct {
	Dir string       `yaml:"dir"` // a local (or mounted) directory
	S3  LakeS3Config `yaml:"s3"`
	// Every is how often serve and process export the closed hours; 0: they
	// do not (run `actlog export` from cron instead).
	Every Duration `yaml:"every"`
	// CloseAfter: an hour is exported once it ended this long ago; 0 takes
	// 10m.
	CloseAfter Duration `yaml:"close_after"`
	// Since is the first hour exported, as 2026-11-01 or 2026-11-01T05
	// (UTC); empty: every hour the store holds.
	Since string `yaml:"since"`
}

// LakeS3Config is an S3 (or S3-compatible) destination.
type LakeS3Config struct {
	Bucket    string `yaml:"bucket"`
	Prefix    string `yaml:"prefix"`   // e.g. actlog/events
	Region    string `yaml:"region"`   // default: AWS_REGION, the shared config
	Endpoint  string `yaml:"endpoint"` // S3-compatible stores: https://minio.internal:9000
	PathStyle bool   `yaml:"path_style"`
	// Static credentials (prefer ACTLOG_LAKE_S3_SECRET_ACCESS_KEY to the
	// file); empty: the AWS default chain (environment, IRSA, instance role…).
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
}

// hourLayouts are the accepted forms of --since, lake.since and --hour,
// all in UTC unless an offset is given.
var hourLayouts = []string{"2006-01-02T15", "2006-01-02T15:04:05Z07:00", "2006-01-02"}

func parseHour(s string) (time.Time, error) {
	for _, l := range hourLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC().Truncate(time.Hour), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date or an hour such as 2026-11-24 or 2026-11-24T05", s)
}

// lakeOptions checks the lake section and returns the exporter's options;
// configured is false when no destination is set.
func (c *LakeConfig) lakeOptions() (opts lake.Options, configured bool, err error) {
	if c.Dir != "" && c.S3.Bucket != "" {
		return opts, false, errors.New("lake: set lake.dir or lake.s3.bucket, not both")
	}
	if c.Every < 0 || c.CloseAfter < 0 {
		return opts, false, errors.New("lake.every and lake.close_after must not be negative")
	}
	if c.Since != "" {
		if opts.Since, err = parseHour(c.Since); err != nil {
			return opts, false, fmt.Errorf("lake.since: %w", err)
		}
	}
	opts.CloseAfter = time.Duration(c.CloseAfter)
	opts.Version = version
	return opts, c.Dir != "" || c.S3.Bucket != "", nil
}

// lakeDestination opens the configured destination.
func (c *LakeConfig) lakeDestination(ctx context.Context) (lake.Destination, error) {
	if c.Dir != "" {
		return lake.NewDir(c.Dir)
	}
	s := c.S3
	return lake.NewS3(ctx, lake.S3Options{
		Bucket: s.Bucket, Prefix: s.Prefix, Region: s.Region, Endpoint: s.Endpoint, PathStyle: s.PathStyle,
		AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey,
	})
}

// newLakeExporter returns the exporter of st to the configured lake, its
// metrics on reg, or nil (and no error) when no destination is configured.
// serve and process run it with Run(ctx, cfg.Every) when Every > 0;
// erasure calls its Rewrite.
func newLakeExporter(cfg LakeConfig, st *store.Store, log *slog.Logger, reg prometheus.Registerer) (*lake.Exporter, error) {
	opts, ok, err := cfg.lakeOptions()
	if err != nil || !ok {
		return nil, err
	}
	dst, err := cfg.lakeDestination(context.Background())
	if err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	return lake.New(st, dst, opts, log, reg)
}

func exportCmd(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: actlog export [flags]

Writes each closed hour of events that the lake lacks, or of which the store
holds more rows than the lake, as Parquet: <lake>/dt=YYYY-MM-DD/hour=HH/events.parquet
and _manifest.json. Running it again writes nothing new. See docs/lake.md.

  actlog export --dir /data/lake
  actlog export --s3-bucket my-lake --s3-prefix actlog/events --s3-region ap-northeast-2
  actlog export --dir /data/lake --hour 2026-11-24T05 --hour 2026-11-24T06   (rewrite these hours)

Flags:
`)
		fs.PrintDefaults()
	}
	tf := addToolFlags(fs)
	dir := fs.String("dir", "", "write to this directory (config: lake.dir)")
	bucket := fs.String("s3-bucket", "", "write to this S3 bucket (config: lake.s3.bucket)")
	prefix := fs.String("s3-prefix", "", "key prefix in the bucket (config: lake.s3.prefix)")
	region := fs.String("s3-region", "", "the bucket's region (config: lake.s3.region; default AWS_REGION)")
	endpoint := fs.String("s3-endpoint", "", "endpoint URL of an S3-compatible store (config: lake.s3.endpoint)")
	fs.Bool("s3-path-style", false, "bucket in the URL path, not the host name (config: lake.s3.path_style)")
	since := fs.String("since", "", "first hour to export, 2026-11-01 or 2026-11-01T05 UTC (config: lake.since)")
	var hours stringList
	fs.Var(&hours, "hour", "rewrite this hour (2026-11-24T05, UTC) whatever the lake holds; repeatable; nothing else is exported")
	asJSON := fs.Bool("json", false, "print the summary as JSON (elapsed in nanoseconds)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *dir != "" && *bucket != "" {
		return errors.New("give --dir or --s3-bucket, not both")
	}
	for key, v := range map[string]string{"lake.dir": *dir, "lake.s3.bucket": *bucket, "lake.s3.prefix": *prefix,
		"lake.s3.region": *region, "lake.s3.endpoint": *endpoint, "lake.since": *since} {
		if v != "" {
			tf.sets = append(tf.sets, key+"="+v)
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "s3-path-style" {
			tf.sets = append(tf.sets, "lake.s3.path_style="+f.Value.String())
		}
	})
	var rewrite []time.Time
	for _, h := range hours {
		t, err := parseHour(h)
		if err != nil {
			return fmt.Errorf("--hour: %w", err)
		}
		rewrite = append(rewrite, t)
	}
	cfg, err := tf.load(env)
	if err != nil {
		return err
	}
	// A destination given by flag replaces the configured one.
	if *dir != "" {
		cfg.Lake.S3.Bucket = ""
	}
	if *bucket != "" {
		cfg.Lake.Dir = ""
	}
	opts, ok, err := cfg.Lake.lakeOptions()
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("no lake destination: give --dir or --s3-bucket, or set lake.dir or lake.s3.bucket")
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "actlog.duckdb")); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no actlog store in %s: give --data-dir, or set data_dir", cfg.DataDir)
	}
	log := toolLogger(stderr, cfg)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	dst, err := cfg.Lake.lakeDestination(ctx)
	if err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	if c, ok := dst.(interface{ Close() }); ok {
		defer c.Close()
	}
	st, err := openToolStore(ctx, cfg, log, "let it export on a schedule (lake.every) instead")
	if err != nil {
		return err
	}
	defer st.Close()
	exp, err := lake.New(st, dst, opts, log.With("component", "lake"), nil)
	if err != nil {
		return err
	}
	var sum lake.Summary
	if len(rewrite) > 0 {
		sum, err = exp.Rewrite(ctx, rewrite)
	} else {
		sum, err = exp.Export(ctx)
	}
	if *asJSON {
		out := struct {
			Destination string `json:"destination"`
			lake.Summary
			RowsPerSecond float64 `json:"rows_per_second"`
			Error         string  `json:"error,omitempty"`
		}{Destination: dst.String(), Summary: sum, RowsPerSecond: rowsPerSecond(sum)}
		if err != nil {
			out.Error = err.Error()
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(out); jerr != nil && err == nil {
			err = fmt.Errorf("write summary: %w", jerr)
		}
	} else {
		writeExportSummary(stdout, dst.String(), sum, len(rewrite) > 0)
	}
	return err
}

func rowsPerSecond(s lake.Summary) float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Rows) / s.Elapsed.Seconds()
}

func writeExportSummary(w io.Writer, dst string, s lake.Summary, rewrite bool) {
	what := "export"
	if rewrite {
		what = "rewrite"
	}
	var extra []string
	if s.Behind > 0 {
		extra = append(extra, fmt.Sprintf("%d kept (the store holds fewer rows than the lake)", s.Behind))
	}
	if s.Deleted > 0 {
		extra = append(extra, fmt.Sprintf("%d deleted (no events left)", s.Deleted))
	}
	if s.Open > 0 {
		extra = append(extra, fmt.Sprintf("%d not closed yet (left to the export)", s.Open))
	}
	tail := ""
	if len(extra) > 0 {
		tail = ", " + strings.Join(extra, ", ")
	}
	fmt.Fprintf(w, "lake %s to %s: %d partitions written, %d unchanged%s\n", what, dst, s.Written, s.Unchanged, tail)
	fmt.Fprintf(w, "%d rows, %.1f MB in %.1f s: %.0f rows/s\n", s.Rows, float64(s.Bytes)/1e6, s.Elapsed.Seconds(), rowsPerSecond(s))
}
