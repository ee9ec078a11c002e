package stream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/twmb/franz-go/pkg/kgo"
	kaws "github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Options configure the connection to Kafka and the topics, producer and
// consumer. Zero values take the defaults (see docs/kafka.md for why).
type Options struct {
	Brokers  []string
	ClientID string // default "actlog"
	TLS      TLSOptions
	SASL     SASLOptions
	Topics   TopicOptions
	Producer ProducerOptions
	Consumer ConsumerOptions
}

// TLSOptions enable TLS to the brokers.
type TLSOptions struct {
	Enabled            bool
	CAFile             string // PEM; empty uses the system roots
	ServerName         string
	InsecureSkipVerify bool
}

// SASLOptions authenticate to the brokers.
type SASLOptions struct {
	Mechanism string // "", "plain", "scram-sha-256", "scram-sha-512" or "aws-msk-iam"
	Username  string
	Password  string
}

// TopicOptions name and shape the topics.
type TopicOptions struct {
	Events      string        // default actlog.events
	Rejected    string        // default actlog.rejected
	Partitions  int32         // when created; default 6
	Replication int16         // when created; default 3, or the broker count if fewer
	Retention   time.Duration // when created; default 7 days
	Create      bool          // create missing topics at start
}

// ProducerOptions tune the ingest tier's producer.
type ProducerOptions struct {
	Compression        string        // zstd (default), lz4, snappy, gzip or none
	Linger             time.Duration // default 5 ms
	MaxBufferedRecords int           // default 100,000: then Write waits (until its deadline)
	BatchMaxBytes      int32         // default 1 MB
}

// ConsumerOptions tune the processor's consumer group.
type ConsumerOptions struct {
	Group                  string        // default actlog-process
	FetchMaxBytes          int32         // default 16 MB
	FetchMaxPartitionBytes int32         // default 1 MB (max.partition.fetch.bytes)
	SessionTimeout         time.Duration // default 45 s
	RebalanceTimeout       time.Duration // default 60 s
	HeartbeatInterval      time.Duration // default 3 s
	MaxPollRecords         int           // default 10,000
	FetchMaxWait           time.Duration // default 500 ms (Kafka's fetch.max.wait.ms)
}

// withDefaults fills zero values.
func (o Options) withDefaults() Options {
	if o.ClientID == "" {
		o.ClientID = "actlog"
	}
	t := &o.Topics
	if t.Events == "" {
		t.Events = "actlog.events"
	}
	if t.Rejected == "" {
		t.Rejected = "actlog.rejected"
	}
	if t.Partitions <= 0 {
		t.Partitions = 6
	}
	if t.Replication <= 0 {
		t.Replication = 3
	}
	if t.Retention <= 0 {
		t.Retention = 7 * 24 * time.Hour
	}
	p := &o.Producer
	if p.Compression == "" {
		p.Compression = "zstd"
	}
	if p.Linger <= 0 {
		p.Linger = 5 * time.Millisecond
	}
	if p.MaxBufferedRecords <= 0 {
		p.MaxBufferedRecords = 100_000
	}
	if p.BatchMaxBytes <= 0 {
		p.BatchMaxBytes = 1 << 20
	}
	c := &o.Consumer
	if c.Group == "" {
		c.Group = "actlog-process"
	}
	if c.FetchMaxBytes <= 0 {
		c.FetchMaxBytes = 16 << 20
	}
	if c.FetchMaxPartitionBytes <= 0 {
		c.FetchMaxPartitionBytes = 1 << 20
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 45 * time.Second
	}
	if c.RebalanceTimeout <= 0 {
		c.RebalanceTimeout = 60 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 3 * time.Second
	}
	if c.MaxPollRecords <= 0 {
		c.MaxPollRecords = 10_000
	}
	if c.FetchMaxWait <= 0 {
		c.FetchMaxWait = 500 * time.Millisecond
	}
	return o
}

// Validate reports configuration mistakes before any connection is tried,
// with the defaults applied to what is not set.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	if len(o.Brokers) == 0 {
		errs = append(errs, errors.New("kafka.brokers is empty"))
	}
	switch strings.ToLower(o.SASL.Mechanism) {
	case "", "plain", "scram-sha-256", "scram-sha-512", "aws-msk-iam":
	default:
		errs = append(errs, fmt.Errorf("kafka.sasl.mechanism %q: want plain, scram-sha-256, scram-sha-512 or aws-msk-iam", o.SASL.Mechanism))
	}
	if m := strings.ToLower(o.SASL.Mechanism); m != "" && m != "aws-msk-iam" && (o.SASL.Username == "" || o.SASL.Password == "") {
		errs = append(errs, errors.New("kafka.sasl needs a username and a password"))
	}
	if _, err := codec(o.Producer.Compression); err != nil {
		errs = append(errs, err)
	}
	if o.Consumer.HeartbeatInterval*3 > o.Consumer.SessionTimeout {
		errs = append(errs, errors.New("kafka.consumer.heartbeat_interval must be at most a third of session_timeout"))
	}
	return errors.Join(errs...)
}

func codec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "", "zstd":
		return kgo.ZstdCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("kafka.producer.compression %q: want zstd, lz4, snappy, gzip or none", name)
}

// clientOpts are the options every client of actlog shares: brokers, TLS,
// SASL, client id.
func (o Options) clientOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(o.Brokers...), kgo.ClientID(o.ClientID)}
	if o.TLS.Enabled {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.TLS.ServerName, InsecureSkipVerify: o.TLS.InsecureSkipVerify} //nolint:gosec // opt-in, documented
		if o.TLS.CAFile != "" {
			pem, err := os.ReadFile(o.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read kafka CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kafka CA file %s holds no PEM certificate", o.TLS.CAFile)
			}
			cfg.RootCAs = pool
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	switch strings.ToLower(o.SASL.Mechanism) {
	case "plain":
		opts = append(opts, kgo.SASL(plain.Auth{User: o.SASL.Username, Pass: o.SASL.Password}.AsMechanism()))
	case "scram-sha-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: o.SASL.Username, Pass: o.SASL.Password}.AsSha256Mechanism()))
	case "scram-sha-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: o.SASL.Username, Pass: o.SASL.Password}.AsSha512Mechanism()))
	case "aws-msk-iam":
		// Credentials from the standard AWS chain (environment, shared
		// files, IRSA web identity on EKS, instance role), refreshed by the
		// SDK's cache before they expire.
		cfg, err := awsconfig.LoadDefaultConfig(context.Background())
		if err != nil {
			return nil, fmt.Errorf("aws credentials for MSK IAM: %w", err)
		}
		creds := cfg.Credentials
		opts = append(opts, kgo.SASL(kaws.ManagedStreamingIAM(func(ctx context.Context) (kaws.Auth, error) {
			c, err := creds.Retrieve(ctx)
			if err != nil {
				return kaws.Auth{}, fmt.Errorf("retrieve aws credentials: %w", err)
			}
			return kaws.Auth{AccessKey: c.AccessKeyID, SecretKey: c.SecretAccessKey, SessionToken: c.SessionToken, UserAgent: "actlog"}, nil
		})))
	}
	return opts, nil
}
