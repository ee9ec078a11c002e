package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/actlog/actlog/internal/privacy"
	"github.com/actlog/actlog/internal/store"
)

// lakeOf is the lake export of the configuration: what erasure rewrites,
// and the scheduled export to run (nil when lake.every is 0). Both are nil
// without a lake destination.
func lakeOf(cfg Config, st *store.Store, log *slog.Logger, reg prometheus.Registerer) (privacy.Lake, func(context.Context), error) {
	lk, err := newLakeExporter(cfg.Lake, st, log, reg)
	if err != nil || lk == nil {
		return nil, nil, err
	}
	every := time.Duration(cfg.Lake.Every)
	if every <= 0 {
		return lk, nil, nil
	}
	return lk, func(ctx context.Context) { _ = lk.Run(ctx, every) }, nil
}
