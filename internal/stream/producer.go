package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actlog/actlog/internal/event"
)

// Producer is the ingest tier's sink: it writes each batch to Kafka and
// returns only once every record is acknowledged by all in-sync replicas
// (idempotent producer, acks=all).
type Producer struct {
	cl      *kgo.Client
	topics  TopicOptions
	log     *slog.Logger
	latency prometheus.Histogram
	errs    prometheus.Counter
	reg     prometheus.Registerer
}

// NewProducer connects, makes sure the topics exist (creating them when
// opts.Topics.Create is set) and returns the producer.
func NewProducer(ctx context.Context, opts Options, log *slog.Logger, reg prometheus.Registerer) (*Producer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	base, err := opts.clientOpts()
	if err != nil {
		return nil, err
	}
	comp, _ := codec(opts.Producer.Compression)
	cl, err := kgo.NewClient(append(base,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(comp),
		kgo.ProducerLinger(opts.Producer.Linger),
		kgo.MaxBufferedRecords(opts.Producer.MaxBufferedRecords),
		kgo.ProducerBatchMaxBytes(opts.Producer.BatchMaxBytes),
	)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	if err := EnsureTopics(ctx, cl, opts.Topics); err != nil {
		cl.Close()
		return nil, err
	}
	p := &Producer{
		cl: cl, topics: opts.Topics, log: log, reg: reg,
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "actlog_stream_produce_duration_seconds", Help: "Time from producing a request's records to their acknowledgement by the brokers.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actlog_stream_produce_errors_total", Help: "Requests whose records were not all acknowledged in time.",
		}),
	}
	if reg != nil {
		reg.MustRegister(p.latency, p.errs)
	}
	return p, nil
}

// Write produces every event and rejected event of b and waits for all
// acknowledgements, or for ctx to end (then the records not yet sent are
// abandoned; those already sent may still land, and dedupe in the store
// keeps the client's retry from doubling them).
func (p *Producer) Write(ctx context.Context, b *event.Batch) error {
	start := time.Now()
	recs := make([]*kgo.Record, 0, len(b.Events)+len(b.Rejected))
	for i := range b.Events {
		r, err := eventRecord(p.topics.Events, &b.Events[i])
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	for i := range b.Rejected {
		r, err := rejectedRecord(p.topics.Rejected, &b.Rejected[i])
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	wg.Add(len(recs))
	done := make(chan struct{})
	for _, r := range recs {
		p.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	// The promises all fire: with an acknowledgement, an error, or ctx's end.
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		p.errs.Inc()
		return fmt.Errorf("wait for acknowledgements: %w", ctx.Err())
	}
	if first != nil {
		p.errs.Inc()
		return fmt.Errorf("produce: %w", first)
	}
	p.latency.Observe(time.Since(start).Seconds())
	return nil
}

// Ready reports whether a broker answers.
func (p *Producer) Ready(ctx context.Context) error {
	if err := p.cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}

// Close flushes what is buffered (bounded by ctx) and closes the client.
func (p *Producer) Close(ctx context.Context) error {
	err := p.cl.Flush(ctx)
	p.cl.Close()
	if p.reg != nil {
		p.reg.Unregister(p.latency)
		p.reg.Unregister(p.errs)
	}
	if err != nil {
		return fmt.Errorf("flush producer: %w", err)
	}
	return nil
}

// EnsureTopics checks that the events and rejected topics exist, creating
// them when t.Create is set; otherwise a missing topic is an error naming it.
func EnsureTopics(ctx context.Context, cl *kgo.Client, t TopicOptions) error {
	adm := kadm.NewClient(cl)
	names := []string{t.Events, t.Rejected}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	var missing []string
	for _, n := range names {
		if d, ok := details[n]; !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			missing = append(missing, n)
		} else if d.Err != nil {
			return fmt.Errorf("topic %s: %w", n, d.Err)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if !t.Create {
		return fmt.Errorf("kafka topics missing: %v (create them, or set kafka.topics.create: true)", missing)
	}
	repl := t.Replication
	if brokers, err := adm.ListBrokers(ctx); err == nil && len(brokers) > 0 && int(repl) > len(brokers) {
		repl = int16(len(brokers))
	}
	retention := strconv.FormatInt(t.Retention.Milliseconds(), 10)
	// With acks=all, an acknowledgement means min.insync.replicas copies:
	// two where there are at least two replicas.
	minISR := strconv.Itoa(int(min(repl, 2)))
	res, err := adm.CreateTopics(ctx, t.Partitions, repl, map[string]*string{"retention.ms": &retention, "min.insync.replicas": &minISR}, missing...)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for _, r := range res.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}
