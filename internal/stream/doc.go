// Package stream owns actlog's Kafka tier (franz-go): the Producer that the
// ingest tier uses as its sink (idempotent, acks=all, answers only once all
// records are acknowledged), the topics and their record format, and the
// Processor that consumes the topics as a consumer group and stores them
// exactly once (rows and offsets in one store transaction).
//
// Concurrency: a Producer is safe for concurrent Write calls; each Write
// waits on franz-go's promises. A Processor is driven by one goroutine,
// the caller of Run; franz-go's own goroutines call its rebalance hooks,
// which touch only the lag map under its mutex. Close after Run returned.
package stream
