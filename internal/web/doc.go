// Package web owns actlog's HTTP API for people and tools: the read-only
// SQL API under /api/v1 (Bearer admin token), and the health endpoints
// /healthz and /readyz. The tracking API is package ingest's.
//
// Concurrency: an API is safe for concurrent use; it starts no goroutines.
// Its only mutable state is the draining flag, set once at shutdown.
package web
