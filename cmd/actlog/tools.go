package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/actlog/actlog/internal/store"
)

// toolFlags are the flags every offline tool (plan infer, erase, export,
// import) shares to find the configuration and the store.
type toolFlags struct {
	config  *string
	dataDir *string
	sets    stringList
}

func addToolFlags(fs *flag.FlagSet) *toolFlags {
	t := &toolFlags{
		config:  fs.String("config", "", "YAML configuration file (or ACTLOG_CONFIG)"),
		dataDir: fs.String("data-dir", "", "data directory (config: data_dir)"),
	}
	fs.Var(&t.sets, "set", "override any configuration key: --set store.memory_limit=2GB (repeatable)")
	return t
}

// load reads the configuration as serve would, with the tool's flags.
func (t *toolFlags) load(env []string) (Config, error) {
	sets := t.sets
	if *t.dataDir != "" {
		sets = append(sets, "data_dir="+*t.dataDir)
	}
	path := *t.config
	if path == "" {
		path = lookupEnv(env, configEnv)
	}
	cfg, _, err := loadConfig(path, env, sets)
	return cfg, err
}

// storeOptions are the store's options from the configuration.
func (c *Config) storeOptions(log *slog.Logger, reg prometheus.Registerer) store.Options {
	return store.Options{
		Dir:                c.DataDir,
		DedupeWindow:       time.Duration(c.Store.DedupeWindow),
		DedupeMaxIDs:       c.Store.DedupeMaxIDs,
		SessionTimeout:     time.Duration(c.Store.SessionTimeout),
		CheckpointInterval: time.Duration(c.Store.CheckpointInterval),
		MemoryLimit:        c.Store.MemoryLimit,
		Threads:            c.Store.Threads,
		Logger:             log.With("component", "store"),
		Registerer:         reg,
	}
}

// openToolStore opens the store for an offline tool that writes no events
// (it skips restoring the dedupe state). A running actlog holds the
// store's file lock: that failure says so plainly.
func openToolStore(ctx context.Context, cfg Config, log *slog.Logger, online string) (*store.Store, error) {
	o := cfg.storeOptions(log, nil)
	o.NoEvents = true
	st, err := store.Open(ctx, o)
	if err != nil {
		if isLockError(err) {
			return nil, fmt.Errorf("the store in %s is in use by a running actlog: stop it, or %s (%w)", cfg.DataDir, online, err)
		}
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// toolLogger logs warnings and errors of a tool to stderr.
func toolLogger(stderr io.Writer, cfg Config) *slog.Logger {
	lc := cfg.Log
	if lc.Level == "info" {
		lc.Level = "warn"
	}
	return newLogger(stderr, lc)
}

// isLockError tells DuckDB's refusal to open a database file another
// process holds.
func isLockError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Could not set lock") || strings.Contains(s, "Conflicting lock")
}
