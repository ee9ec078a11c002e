// Package event defines actlog's canonical event — one row of the events
// table and of the Parquet lake — and the rules an incoming event must meet
// before it is stored.
//
// The package depends on the standard library only, so every tier (ingest,
// stream, store, query) can share it without pulling in drivers. Values are
// plain data: an Event is owned by whoever holds it and is not safe for
// concurrent mutation.
package event
