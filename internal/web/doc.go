// Package web owns actlog's HTTP API for people and tools: the read-only
// SQL API and the analyses under /api/v1 (the Bearer admin token, or the
// dashboard's sign-in cookie with a CSRF header), the dashboard's own
// endpoints (sign-in, overview, catalog, rejected events, saved funnels),
// the embedded dashboard itself, and the health endpoints /healthz and
// /readyz. The tracking API is package ingest's.
//
// Concurrency: an API is safe for concurrent use; it starts no goroutines
// (a live tail runs in its request's goroutine until the client leaves or
// Drain). Its mutable state is the draining flag, set once at shutdown, and
// the signed-in sessions, behind a mutex.
package web
