package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/actlog/actlog/internal/ingest"
	"github.com/actlog/actlog/internal/loadgen"
	"github.com/actlog/actlog/internal/plan"
	"github.com/actlog/actlog/internal/privacy"
	"github.com/actlog/actlog/internal/query"
	"github.com/actlog/actlog/internal/store"
	"github.com/actlog/actlog/internal/stream"
	"github.com/actlog/actlog/internal/web"
)

var (
	_ ingest.Sink  = (*store.Store)(nil)
	_ ingest.Sink  = (*stream.Producer)(nil)
	_ stream.Store = (*store.Store)(nil)
)

// role is what one actlog process does.
type role string

const (
	roleServe   role = "serve"   // everything; through Kafka when it is configured
	roleIngest  role = "ingest"  // HTTP → Kafka
	roleProcess role = "process" // Kafka → store, and the read API
)

func roleCmd(ctx context.Context, r role, args, env []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(string(r), flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file (or ACTLOG_CONFIG)")
	listen := fs.String("listen", "", "address to listen on (config: listen)")
	dataDir := fs.String("data-dir", "", "data directory (config: data_dir)")
	adminToken := fs.String("admin-token", "", "admin token for /api/v1 (config: admin_token; prefer ACTLOG_ADMIN_TOKEN)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (config: log.level)")
	logFormat := fs.String("log-format", "", "text or json (config: log.format)")
	demo, demoRate := new(bool), new(float64)
	if r != roleProcess {
		fs.BoolVar(demo, "demo", false, "also send simulated e-book app traffic to this server")
		fs.Float64Var(demoRate, "demo-rate", 5, "requests per second of --demo traffic")
	}
	var sets stringList
	fs.Var(&sets, "set", "override any configuration key: --set ingest.commit_timeout=3s (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for name, v := range map[string]string{"listen": *listen, "data_dir": *dataDir, "admin_token": *adminToken, "log.level": *logLevel, "log.format": *logFormat} {
		if v != "" {
			sets = append(sets, name+"="+v)
		}
	}
	if *configPath == "" {
		*configPath = lookupEnv(env, configEnv)
	}
	cfg, unknownEnv, err := loadConfig(*configPath, env, sets)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Log)
	if len(unknownEnv) > 0 {
		log.Warn("ignoring ACTLOG_* environment variables that are not configuration keys", "names", unknownEnv)
	}
	kafka := len(cfg.Kafka.Brokers) > 0
	if (r == roleIngest || r == roleProcess) && !kafka {
		return fmt.Errorf("actlog %s needs Kafka: set kafka.brokers or ACTLOG_KAFKA_BROKERS", r)
	}
	return superviseRole(ctx, r, cfg, log, stdout, *demo, *demoRate)
}

// superviseRole runs the role and, when DuckDB invalidated the store after
// a fatal I/O error (a full disk), runs it again once the store opens:
// clients are refused meanwhile and retry, nothing acknowledged is lost.
// A signal during the wait ends it.
func superviseRole(ctx context.Context, r role, cfg Config, log *slog.Logger, stdout io.Writer, demo bool, demoRate float64) error {
	// Signals are caught for the whole run, so that one arriving between
	// two runs of the role is not left to its default action.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	wait := time.Second
	for reopening := false; ; reopening = true {
		err := runRole(ctx, r, cfg, log, stdout, demo, demoRate, reopening)
		if !errors.Is(err, store.ErrInvalidated) && !errors.Is(err, errReopen) {
			return err
		}
		if errors.Is(err, store.ErrInvalidated) {
			wait = time.Second
		}
		log.Error("the store must be reopened: restarting the role", "err", err, "in", wait.String())
		stopFallback := serveUnavailable(cfg, log, wait)
		select {
		case <-sigs:
			stopFallback()
			return err
		case <-ctx.Done():
			stopFallback()
			return err
		case <-time.After(wait):
		}
		stopFallback()
		wait = min(2*wait, 30*time.Second)
	}
}

// serveUnavailable answers on the role's address while the store is being
// reopened: 503 with Retry-After to every request but /healthz, so that
// clients retry instead of finding the port closed. It returns the
// function that stops it.
func serveUnavailable(cfg Config, log *slog.Logger, retry time.Duration) func() {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Warn("cannot answer while the store reopens", "err", err)
		return func() {}
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/healthz" {
			_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
			return
		}
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(retry.Seconds()))))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":"the store is being reopened after a fatal error; retry"}`+"\n")
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Duration(cfg.HTTP.ReadHeaderTimeout), ReadTimeout: time.Duration(cfg.HTTP.ReadTimeout)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return func() {
		_ = srv.Close()
		<-done
	}
}

// errReopen marks a store that failed to open again after it was
// invalidated: the supervisor keeps trying.
var errReopen = errors.New("store not reopened yet")

// runRole wires and runs one role until a signal, then shuts down in order:
// readiness fails → demo traffic stops → HTTP stops accepting and finishes
// its requests (each waits for durability) → the producer flushes → the
// processor stops after its last store commit → the store closes.
func runRole(ctx context.Context, r role, cfg Config, log *slog.Logger, stdout io.Writer, demo bool, demoRate float64, reopening bool) error {
	kafka := len(cfg.Kafka.Brokers) > 0
	hasIngest := r != roleProcess
	hasStore := r != roleIngest

	generatedToken := false
	if cfg.AdminToken == "" && hasStore {
		cfg.AdminToken = randomToken("adm_")
		generatedToken = true
	}
	demoSource := false
	if len(cfg.Sources) == 0 && hasIngest {
		cfg.Sources = []SourceConfig{{Name: "demo", WriteKey: randomToken("wk_"), AllowedOrigins: []string{"*"}}}
		demoSource = true
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var (
		st        *store.Store
		producer  *stream.Producer
		processor *stream.Processor
		err       error
	)
	// Deferred in reverse: the store closes last.
	// The tracking plan: enforced by the collector, described by the API.
	var watcher *plan.Watcher
	if cfg.Plan.File != "" {
		if watcher, err = plan.NewWatcher(cfg.Plan.File, log.With("component", "plan"), reg); err != nil {
			return err
		}
	}
	if hasStore {
		st, err = store.Open(ctx, cfg.storeOptions(log, reg))
		if err != nil {
			if reopening {
				return fmt.Errorf("%w: %w", errReopen, err)
			}
			return fmt.Errorf("open store: %w", err)
		}
		defer func() {
			if err := st.Close(); err != nil {
				log.Error("close store", "err", err)
			}
		}()
	}
	if kafka && hasStore {
		processor, err = stream.NewProcessor(ctx, cfg.Kafka.streamOptions(), st, log.With("component", "process"), reg)
		if err != nil {
			return fmt.Errorf("kafka processor: %w", err)
		}
	}
	var sink ingest.Sink = st
	if kafka && hasIngest {
		producer, err = stream.NewProducer(ctx, cfg.Kafka.streamOptions(), log.With("component", "producer"), reg)
		if err != nil {
			if processor != nil {
				processor.Close()
			}
			return fmt.Errorf("kafka producer: %w", err)
		}
		sink = producer
	}

	ready := func() error {
		if st != nil {
			if err := st.Ready(); err != nil {
				return err
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if producer != nil {
			if err := producer.Ready(ctx); err != nil {
				return err
			}
		}
		if processor != nil {
			return processor.Ready(ctx)
		}
		return nil
	}
	mux := http.NewServeMux()
	var querier web.Querier
	if st != nil {
		querier = st
	}
	mode := "embedded"
	if kafka {
		mode = "kafka"
	}
	status := func(ctx context.Context) (any, error) {
		out := statusAnswer{Role: string(r), Mode: mode, Version: version}
		if st != nil {
			s, err := st.Stats(ctx)
			if err != nil {
				return nil, err
			}
			out.Store = &s
		}
		if processor != nil {
			out.Lag = processor.Lag()
			for _, parts := range out.Lag {
				for _, n := range parts {
					out.LagTotal += n
				}
			}
		}
		return out, nil
	}
	opts := web.Options{
		AdminToken:   cfg.AdminToken,
		MaxRows:      cfg.SQL.MaxRows,
		QueryTimeout: time.Duration(cfg.SQL.Timeout),
		Ready:        ready,
		Status:       status,
	}
	if st != nil {
		opts.Analyses = query.New(st.DB(), query.Options{
			SessionTimeout: time.Duration(cfg.Store.SessionTimeout),
			LinksCaughtUp:  st.LinksCaughtUp,
		})
		opts.Saved = st
		opts.Dashboard = web.DashboardFS()
	}
	// Background work on the store (retention, lake export) and on the
	// plan file; it stops before the store closes.
	bgCtx, stopBg := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	defer func() { stopBg(); bg.Wait() }()
	if st != nil {
		lake, runLake, err := lakeOf(cfg, st, log.With("component", "lake"), reg)
		if err != nil {
			return err
		}
		if runLake != nil {
			bg.Go(func() { runLake(bgCtx) })
		}
		eraser, err := privacy.NewEraser(st, privacy.EraserOptions{Lake: lake, Logger: log.With("component", "privacy"), Registerer: reg})
		if err != nil {
			return err
		}
		if cfg.Retention.Days > 0 {
			ret, err := eraser.Retention(cfg.Retention.Days, nil, log.With("component", "retention"), reg)
			if err != nil {
				return err
			}
			bg.Go(func() { ret.Run(bgCtx, time.Duration(cfg.Retention.Every)) })
		}
		opts.Eraser = eraser
	}
	if watcher != nil {
		opts.Plan = func() any { return planInfo(watcher) }
		bg.Go(func() { watcher.Run(bgCtx, time.Duration(cfg.Plan.ReloadInterval)) })
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		bg.Go(func() {
			defer signal.Stop(hup)
			for {
				select {
				case <-bgCtx.Done():
					return
				case <-hup:
					if _, err := watcher.Reload(); err != nil {
						log.Error("tracking plan not reloaded; the plan in force stays", "err", err)
					}
				}
			}
		})
	}
	if processor != nil {
		opts.Lag = processor.Lag
	}
	api, err := web.New(querier, log.With("component", "web"), opts)
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	api.Register(mux)
	if hasIngest {
		iopts := cfg.ingestOptions()
		if watcher != nil {
			iopts.Plan = watcher
		}
		ing, err := ingest.New(sink, log.With("component", "ingest"), reg, iopts)
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		ing.Register(mux)
		tracker := web.TrackerHandler()
		mux.Handle("GET /actlog.js", tracker)
		if p := cfg.Tracker.AltPath; p != "" {
			mux.Handle("GET "+p, tracker)
		}
		if demo && st != nil {
			d := web.DemoHandler(cfg.Sources[0].WriteKey, "/actlog.js", st)
			mux.Handle("/demo", d)
			mux.Handle("/demo/", d)
		}
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           withRequestIDs(mux),
		ReadHeaderTimeout: time.Duration(cfg.HTTP.ReadHeaderTimeout),
		ReadTimeout:       time.Duration(cfg.HTTP.ReadTimeout),
		WriteTimeout:      time.Duration(cfg.HTTP.WriteTimeout),
		IdleTimeout:       time.Duration(cfg.HTTP.IdleTimeout),
		MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	procCtx, stopProc := context.WithCancel(context.Background())
	procDone := make(chan error, 1)
	var procFailed <-chan error    // nil, so never ready, without a processor
	var storeFatal <-chan struct{} // nil without a store
	if st != nil {
		storeFatal = st.Invalidated()
	}
	if processor != nil {
		go func() { procDone <- processor.Run(procCtx) }()
		procFailed = procDone
	} else {
		procDone <- nil
	}

	base := "http://" + ln.Addr().String()
	if hasStore {
		log.Info("actlog running", "role", string(r), "mode", mode, "addr", ln.Addr().String(), "data_dir", cfg.DataDir, "version", version)
	} else {
		log.Info("actlog running", "role", string(r), "mode", mode, "addr", ln.Addr().String(), "version", version)
	}
	printBanner(stdout, r, base, cfg, generatedToken, demoSource)

	demoCtx, stopDemo := context.WithCancel(ctx)
	demoDone := make(chan struct{})
	if demo && hasIngest && st != nil {
		fmt.Fprintf(stdout, "  demo page     %s/demo — click around and watch your own events arrive\n", base)
	}
	if demo && hasIngest {
		fmt.Fprintf(stdout, "  demo traffic  %.0f requests/s of simulated e-book app members to source %s;\n", demoRate, cfg.Sources[0].Name)
		fmt.Fprintf(stdout, "                a query to try: SELECT utm_campaign, banner, count(*) FROM events GROUP BY ALL ORDER BY 3 DESC\n\n")
		go func() {
			defer close(demoDone)
			_, err := loadgen.Run(demoCtx, loadgen.Options{
				URL: base, WriteKey: cfg.Sources[0].WriteKey, Rate: demoRate,
				Duration: 365 * 24 * time.Hour, Users: 200, Seed: time.Now().UnixNano(), Batch: 10,
				DuplicateRate: 0.01, InvalidRate: 0.002,
			})
			if err != nil && demoCtx.Err() == nil {
				log.Error("demo traffic stopped", "err", err)
			}
		}()
	} else {
		close(demoDone)
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var runErr error
	select {
	case sig := <-sigs:
		log.Info("shutting down: draining requests, committing, closing", "signal", sig.String())
	case err := <-serveErr:
		runErr = fmt.Errorf("serve: %w", err)
		serveErr <- err
	case err := <-procFailed:
		if err != nil {
			runErr = fmt.Errorf("kafka processor: %w", err)
		}
		procDone <- err
	case <-storeFatal:
		runErr = store.ErrInvalidated
		log.Error("store invalidated: draining, closing and opening it again")
	case <-ctx.Done():
	}
	go func() {
		if sig, ok := <-sigs; ok {
			log.Warn("second signal: exiting without draining", "signal", sig.String())
			os.Exit(1)
		}
	}()

	api.Drain()
	stopDemo()
	<-demoDone
	stopBg()
	bg.Wait()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.HTTP.ShutdownTimeout))
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("serve", "err", err)
	}
	if producer != nil {
		if err := producer.Close(shutdownCtx); err != nil {
			log.Warn("close producer", "err", err)
		}
	}
	stopProc()
	if err := <-procDone; err != nil {
		log.Warn("kafka processor", "err", err)
	}
	if processor != nil {
		processor.Close()
	}
	log.Info("stopped")
	return runErr
}

func printBanner(w io.Writer, r role, base string, cfg Config, generatedToken, demoSource bool) {
	fmt.Fprintf(w, "\nactlog %s %s is running", r, version)
	if r != roleIngest {
		fmt.Fprintf(w, " (data in %s)", cfg.DataDir)
	}
	if len(cfg.Kafka.Brokers) > 0 {
		fmt.Fprintf(w, " through Kafka at %s", strings.Join(cfg.Kafka.Brokers, ","))
	}
	fmt.Fprint(w, "\n\n")
	if r != roleProcess {
		for _, s := range cfg.Sources {
			note := ""
			if demoSource {
				note = " (demo source: configure sources in actlog.yaml)"
			}
			fmt.Fprintf(w, "  source %-12s write key %s%s\n", s.Name, s.WriteKey, note)
		}
	}
	if r != roleIngest {
		tokenNote := ""
		if generatedToken {
			tokenNote = " (generated for this run: set admin_token or ACTLOG_ADMIN_TOKEN to keep one)"
		}
		fmt.Fprintf(w, "  admin token          %s%s\n", cfg.AdminToken, tokenNote)
	}
	fmt.Fprintln(w)
	if r != roleProcess {
		fmt.Fprintf(w, "  send events   curl -u %s: -H 'Content-Type: application/json' \\\n", cfg.Sources[0].WriteKey)
		fmt.Fprintf(w, "                  -d '{\"batch\":[{\"type\":\"track\",\"event\":\"hello\",\"anonymousId\":\"a1\"}]}' %s/v1/batch\n", base)
	}
	if r != roleIngest {
		fmt.Fprintf(w, "  query         curl -H 'Authorization: Bearer %s' \\\n", cfg.AdminToken)
		fmt.Fprintf(w, "                  -d '{\"sql\":\"SELECT event, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC\"}' %s/api/v1/sql\n", base)
	}
	fmt.Fprintf(w, "  metrics       %s/metrics    health %s/healthz  %s/readyz\n\n", base, base, base)
}

func lookupEnv(env []string, name string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// planInfo describes the plan in force for the violations answer.
func planInfo(w *plan.Watcher) any {
	p := w.Plan()
	enf := map[string]string{"default": string(p.Mode(""))}
	for _, src := range p.Sources() {
		enf[src] = string(p.Mode(src))
	}
	return map[string]any{
		"file": w.Path(), "loaded_at": w.LoadedAt().UTC(), "events": len(p.Events()), "enforcement": enf,
	}
}

// statusAnswer is the JSON of GET /api/v1/status.
type statusAnswer struct {
	Role     string                     `json:"role"`
	Mode     string                     `json:"mode"`
	Version  string                     `json:"version"`
	Store    *store.Stats               `json:"store,omitempty"`
	Lag      map[string]map[int32]int64 `json:"lag,omitempty"`
	LagTotal int64                      `json:"lag_total"`
}
