// Package lake exports the store's events to a data lake: one Parquet file
// per UTC hour, hive-partitioned as dt=YYYY-MM-DD/hour=HH/events.parquet,
// with a _manifest.json beside each (rows, bytes, sha256, time range,
// columns), in a local directory (Dir) or an S3 bucket (S3).
//
// It owns the partition layout, the manifests and the rules that decide
// what to write: Export writes each closed hour that has no manifest yet or
// whose store row count grew since (late events), and never shrinks a
// partition because the store holds fewer rows (retention deletes old
// events; the lake is the archive); Rewrite forces the given hours, the way
// an erasure that deleted rows needs, and removes the partition of an hour
// left empty. Each file is staged in the store's export directory, then
// put whole at a fixed key, so a partition is replaced atomically for
// readers and a run that finds nothing new writes nothing.
//
// Concurrency: an Exporter is safe for concurrent use; its Export,
// Rewrite and Scrub calls run one at a time (a mutex), and the goroutines a call
// starts (reading manifests at once) end before it returns.
// Run blocks in its caller's goroutine, exporting on a schedule until its
// context ends. Destinations are safe for concurrent use. The package holds
// no package-level state; metrics are registered on the Registerer given
// to New.
package lake
