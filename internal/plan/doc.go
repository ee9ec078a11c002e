// Package plan owns the tracking plan: the YAML file in which a data team
// lists the events its products send, with a description, an owner and a
// JSON Schema for each event's properties, and how strictly each source is
// held to it (off, flag or reject).
//
// A Plan is immutable once parsed and safe for concurrent use; Check is
// called from every ingest request. A Watcher holds the current Plan behind
// an atomic pointer and swaps in a new one when the file changes or on
// Reload (SIGHUP): requests in flight finish with the plan they started
// with. A file that fails to parse never replaces a good plan. Infer drafts
// a plan from the events already stored, through database/sql only.
package plan
