// Package store owns actlog's DuckDB database: the schema and its
// migrations, the single writer that group-commits batches of events
// (deduplicated by source and messageId, with derived sessions, and the
// identity links of anonymous ids to members appended between commits,
// read through the identities view), the dashboard's saved reports, and
// read-only SQL.
//
// Concurrency: Write may be called from any number of goroutines; every
// write goes through one writer goroutine, started by Open and stopped by
// Close, which owns the writer connection and the dedupe and session state.
// Reads (ReadOnly, DB) use pooled connections and run concurrently with the
// writer under DuckDB's MVCC.
package store
