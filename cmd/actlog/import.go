package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/actlog/actlog/internal/importer"
	"github.com/actlog/actlog/internal/ingest"
	"github.com/actlog/actlog/internal/plan"
	"github.com/actlog/actlog/internal/store"
	"github.com/actlog/actlog/internal/stream"
)

var (
	_ importer.Sink    = (*store.Store)(nil)
	_ importer.Sink    = (*stream.Producer)(nil)
	_ importer.Decoder = (*ingest.Bulk)(nil)
)

// importMaxPast is how old an imported event may be before its timestamp
// is clamped: legacy logs go back years, where the live collector clamps
// at ingest.max_past (30 days).
const importMaxPast = 20 * 365 * 24 * time.Hour

const importUsage = `Usage: actlog import [flags] FILE|DIR|- ...

Imports legacy logs with the validation, enrichment and dedupe of live
traffic: NDJSON of Segment messages (.ndjson .jsonl .json), CSV through a
column mapping (.csv .tsv, --mapping), and gzip-compressed records as Kinesis
Firehose writes them to S3 (.gz, or extensionless objects). Directories are
walked; - reads stdin. Interrupted imports resume from a checkpoint; running
the same import again adds nothing. See docs/import.md.

Flags:
`

func importCmd(ctx context.Context, args, env []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), importUsage)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "YAML configuration file (or ACTLOG_CONFIG)")
	dataDir := fs.String("data-dir", "", "data directory of the store (config: data_dir)")
	source := fs.String("source", "import", "source the events are stored under: a configured source, or any name without sources in the configuration")
	formatFlag := fs.String("format", "auto", "auto (by file name, then content), ndjson or csv")
	mappingPath := fs.String("mapping", "", "YAML column mapping for CSV inputs (docs/import.md)")
	checkpoint := fs.String("checkpoint", "", "checkpoint file (default <data dir>/import-checkpoints/<hash of source and inputs>.json)")
	restart := fs.Bool("restart", false, "ignore the checkpoint and import every input from the start (stored events are still deduplicated)")
	rejectsPath := fs.String("rejects", "", "write every rejected record to this file as NDJSON: file, line, reason")
	kafka := fs.String("kafka", "", "import through Kafka: comma-separated brokers (config: kafka.brokers)")
	batch := fs.Int("batch", 1000, "records per batch (one write to the store or Kafka)")
	workers := fs.Int("workers", 0, "batches decoded and written at once (default the CPUs, at most 4)")
	progressEvery := fs.Duration("progress", 5*time.Second, "progress line interval when stderr is not a terminal (a terminal gets a bar); 0 for none")
	dryRun := fs.Bool("dry-run", false, "read, check and count, store nothing (no checkpoint)")
	var sets stringList
	fs.Var(&sets, "set", "override any configuration key: --set store.memory_limit=4GB (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	inputs := fs.Args()
	if len(inputs) == 0 {
		fs.Usage()
		return errors.New("name the files or directories to import, or - for stdin")
	}
	format, err := importer.ParseFormat(*formatFlag)
	if err != nil {
		return err
	}
	if *dataDir != "" {
		sets = append(sets, "data_dir="+*dataDir)
	}
	if *kafka != "" {
		sets = append(sets, "kafka.brokers="+*kafka)
	}
	if *configPath == "" {
		*configPath = lookupEnv(env, configEnv)
	}
	cfg, unknownEnv, err := loadConfig(*configPath, env, sets)
	if err != nil {
		return err
	}
	// The store and producer log to stderr with the progress: warnings only.
	logCfg := cfg.Log
	if logCfg.Level != "error" {
		logCfg.Level = "warn"
	}
	log := newLogger(stderr, logCfg)
	if len(unknownEnv) > 0 {
		log.Warn("ignoring ACTLOG_* environment variables that are not configuration keys", "names", unknownEnv)
	}
	if len(cfg.Sources) > 0 && !slices.ContainsFunc(cfg.Sources, func(s SourceConfig) bool { return s.Name == *source }) {
		var names []string
		for _, s := range cfg.Sources {
			names = append(names, s.Name)
		}
		return fmt.Errorf("source %q is not configured: --source is one of %s", *source, strings.Join(names, ", "))
	}
	var mapping *importer.Mapping
	if *mappingPath != "" {
		if mapping, err = importer.LoadMapping(*mappingPath); err != nil {
			return err
		}
	}
	onlyStdin := !slices.ContainsFunc(inputs, func(s string) bool { return s != "-" })
	if *checkpoint == "" && !*dryRun && !onlyStdin {
		*checkpoint = importer.DefaultCheckpointPath(filepath.Join(cfg.DataDir, "import-checkpoints"), *source, inputs)
	}
	if *dryRun {
		*checkpoint = ""
	}

	// Ctrl-C: finish the batches in flight, checkpoint, stop; a second
	// one quits at once.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	sigDone := make(chan struct{})
	defer close(sigDone)
	go func() {
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "\ninterrupted: making the batches in flight durable and writing the checkpoint (again to quit at once)")
			cancel()
		case <-sigDone:
			return
		}
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "quitting without waiting: run the same command again to resume from the last checkpoint")
			os.Exit(130)
		case <-sigDone:
		}
	}()

	// The sink: the local store, or the Kafka tier.
	var (
		sink   importer.Sink
		st     *store.Store
		where  string
		before int64
	)
	switch {
	case *dryRun:
		sink, where = importer.Discard{}, "nowhere (dry run)"
	case len(cfg.Kafka.Brokers) > 0:
		producer, err := stream.NewProducer(ctx, cfg.Kafka.streamOptions(), log.With("component", "producer"), nil)
		if err != nil {
			return fmt.Errorf("kafka producer: %w", err)
		}
		defer func() {
			cctx, ccancel := context.WithTimeout(context.Background(), time.Duration(cfg.HTTP.ShutdownTimeout))
			defer ccancel()
			if err := producer.Close(cctx); err != nil {
				log.Warn("close producer", "err", err)
			}
		}()
		sink = producer
		topic := cfg.Kafka.Topics.Events
		if topic == "" {
			topic = "actlog.events"
		}
		where = fmt.Sprintf("Kafka at %s (topic %s: actlog process stores them)", strings.Join(cfg.Kafka.Brokers, ","), topic)
	default:
		st, err = store.Open(ctx, cfg.storeOptions(log, nil))
		if err != nil {
			if isLockError(err) {
				return fmt.Errorf("the store in %s is in use by a running actlog: stop it, or import through Kafka (--kafka BROKERS, or kafka.brokers in the configuration)", cfg.DataDir)
			}
			return fmt.Errorf("open store: %w", err)
		}
		defer func() {
			if err := st.Close(); err != nil {
				log.Error("close store", "err", err)
			}
		}()
		sink = st
		where = "the store in " + cfg.DataDir
		if before, err = countEvents(ctx, st); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "importing into %s as source %q\n", where, *source)

	progress := importer.ProgressOff
	if *progressEvery > 0 {
		progress = importer.ProgressLines
		if isTerminal(stderr) {
			progress = importer.ProgressBar
		}
	}
	enrich := cfg.ingestOptions().Enrich
	enrich.MaxPast = max(enrich.MaxPast, importMaxPast)
	// Imported events are held to the tracking plan as the collector's are
	// (the plan's enforcement for the import's source).
	var tp ingest.Plan
	if cfg.Plan.File != "" {
		w, err := plan.NewWatcher(cfg.Plan.File, log, nil)
		if err != nil {
			return err
		}
		tp = w
	}
	sum, runErr := importer.Run(ctx, importer.Options{
		Inputs:           inputs,
		Stdin:            stdin,
		Format:           format,
		Mapping:          mapping,
		Source:           *source,
		Sink:             sink,
		NewDecoder:       func() importer.Decoder { return ingest.NewBulk(enrich, tp) },
		Workers:          *workers,
		BatchRecords:     *batch,
		MaxRecordBytes:   max(1<<20, int(cfg.Ingest.MaxRequestBytes)*2),
		RawBytes:         cfg.Ingest.MaxEventBytes,
		Checkpoint:       *checkpoint,
		Restart:          *restart,
		RejectsFile:      *rejectsPath,
		Stderr:           stderr,
		Progress:         progress,
		ProgressInterval: *progressEvery,
	})
	if sum.Files > 0 {
		fmt.Fprintf(stdout, "imported %s\n", sum)
	}
	if st != nil && (sum.Events > 0 || sum.Rejected > 0) {
		if after, err := countEvents(context.WithoutCancel(ctx), st); err == nil {
			fmt.Fprintf(stdout, "the store has %s new events (%s were there already)\n", thousandsOf(after-before), thousandsOf(sum.Events-(after-before)))
		}
	}
	if sum.Rejected > 0 {
		where := "in the rejected table (SELECT * FROM rejected WHERE source = '" + *source + "')"
		if *dryRun {
			where = "kept nowhere (dry run)"
		}
		if *rejectsPath != "" {
			where += " and listed in " + *rejectsPath
		}
		if sum.Rejected == 1 {
			fmt.Fprintf(stdout, "1 record was rejected: it is %s\n", where)
		} else {
			fmt.Fprintf(stdout, "%s records were rejected: they are %s\n", thousandsOf(sum.Rejected), where)
		}
	}
	if runErr == nil {
		return nil
	}
	if errors.Is(runErr, importer.ErrInterrupted) {
		return fmt.Errorf("interrupted: what is imported so far is durable; run the same command again to resume (checkpoint %s)", sum.Checkpoint)
	}
	if sum.Checkpoint != "" && sum.Events > 0 {
		return fmt.Errorf("%w\n(what was imported before the failure is durable; the same command resumes from checkpoint %s)", runErr, sum.Checkpoint)
	}
	return runErr
}

func countEvents(ctx context.Context, st *store.Store) (int64, error) {
	var n int64
	if err := st.DB().QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// thousandsOf writes n with comma separators.
func thousandsOf(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousandsOf(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
