// Package importer reads legacy behaviour logs — NDJSON of Segment messages,
// CSV files with a column mapping, and gzip-compressed records as Kinesis
// Firehose writes them to S3 — and hands them, in batches, to the same
// decoder (validation, enrichment) and sink (the store, or the Kafka
// producer) as live traffic. `actlog import` is its command.
//
// The pipeline of Run:
//
//	reader goroutine: inputs → (gunzip) → record splitter → chunks of records
//	worker goroutines (each with its own Decoder): records → Segment batch
//	    bodies → Decode → event.Batch (bad records become event.Rejected)
//	    → Sink.Write (the durability point)
//	Run's own goroutine: completions in input order → rejected-record
//	    reports → checkpoint (atomic file) → progress
//
// Every record is either an event handed to the sink or a Rejected kept
// with the reason and the file and line it came from; nothing stops an
// import but an input that cannot be read or a sink that fails.
//
// Exactly once: messages without a messageId get one derived from the
// source and the record's content ("imp-" + 32 hex digits of SHA-256), so
// the store's dedupe on (source, messageId) drops a record imported twice;
// the checkpoint, written after every durable batch, makes a later run skip
// what is done. A run interrupted by a signal stops after its in-flight
// batches are durable and the checkpoint written.
//
// Concurrency: Run owns every goroutine it starts and stops them all before
// it returns. The Sink must be safe for concurrent Writes (the store and
// the Kafka producer are); each worker has its own Decoder.
package importer
