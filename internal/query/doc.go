// Package query owns actlog's analyses: journeys, funnels, paths,
// attribution, dwell time, drop-off, retention and the event explorer, with
// the semantics of DESIGN §5. Each analysis validates its request (fields,
// operators, time range), builds one SQL statement whose every value — event
// names, filter values, JSON property paths — is a bound parameter, runs it
// on the store's database and shapes the answer.
//
// Identity: an identify event links its anonymous_id to its user_id (the
// earliest link of an anonymous_id wins, read from the store's identities
// view); analyses by user count each event
// for coalesce(user_id, linked user of anonymous_id, anonymous_id), so what a
// member did before logging in counts for the member.
//
// Concurrency: an Engine holds no mutable state; its methods may be called
// from any number of goroutines. Each call runs its statement on a pooled
// read connection, concurrently with the store's writer (DuckDB MVCC).
package query
