// Package privacy owns what actlog does for its members' rights (PIPA,
// GDPR): erasing one member's events from the store and the lake, with an
// audit record, and deleting events past the retention period.
//
// An Eraser is safe for concurrent use; erasures run one at a time (the
// store runs deletions in its writer, between commits). Retention's Run
// blocks until its context ends: the caller owns that goroutine.
package privacy
