package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

// kafkaDevCmd runs franz-go's in-process Kafka (kfake) on 127.0.0.1 with a
// data directory, so Kafka mode can be tried without installing Kafka. It
// is for development only: one process, no replication to other machines,
// no security.
func kafkaDevCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kafka-dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "actlog-kafka-dev", "directory for the topics' data and committed offsets")
	port := fs.Int("port", 9092, "first port; the three brokers listen on port, port+1, port+2 (127.0.0.1 only)")
	partitions := fs.Int("partitions", 6, "partitions of actlog.events and actlog.rejected")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*data, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(3),
		kfake.Ports(*port, *port+1, *port+2),
		kfake.DataDir(*data),
		kfake.SyncWrites(),
		kfake.SeedTopics(int32(*partitions), "actlog.events", "actlog.rejected"),
		kfake.AllowAutoTopicCreation(),
	)
	if err != nil {
		return fmt.Errorf("start kafka-dev: %w", err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	fmt.Fprintf(stdout, "\nkafka-dev: a DEVELOPMENT Kafka (franz-go kfake), never for production data\n")
	fmt.Fprintf(stdout, "  brokers  %s   (data in %s)\n", brokers, *data)
	fmt.Fprintf(stdout, "  use it   ACTLOG_KAFKA_BROKERS=%s actlog serve        (both tiers in one process)\n", brokers)
	fmt.Fprintf(stdout, "      or   ACTLOG_KAFKA_BROKERS=%s actlog process      (Kafka → store, read API)\n", brokers)
	fmt.Fprintf(stdout, "      and  ACTLOG_KAFKA_BROKERS=%s actlog ingest       (HTTP → Kafka)\n\n", brokers)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
