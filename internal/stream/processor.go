package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actlog/actlog/internal/event"
)

// Store is what the processor needs of the store: to write a batch and
// the log positions it completes in one transaction, and to read those
// positions back.
type Store interface {
	Write(ctx context.Context, b *event.Batch) error
	Offsets(ctx context.Context, topic string) (map[int32]int64, error)
}

// recordMaxLen bounds names and ids of what the processor reads: it checks
// records for structure, not size, since the ingest tier that wrote them
// already applied its own configured limits, which this process may not
// share.
const recordMaxLen = 1 << 20

// Processor consumes the events and rejected topics as a member of a
// consumer group and writes them to its store, exactly once: rows and the
// next offsets commit in one store transaction, and on assignment the
// processor starts from the offsets its store holds (or, for a partition
// it never held, from the group's committed offset, which is committed
// only after the store commit).
type Processor struct {
	cl      *kgo.Client
	st      Store
	opts    Options
	log     *slog.Logger
	limits  event.Limits
	metrics *procMetrics

	mu  sync.Mutex
	pos map[string]map[int32]int64 // topic → partition → next offset to read
	lag map[string]map[int32]int64 // topic → partition → records behind
}

// NewProcessor connects to the brokers and joins the group; Run consumes.
func NewProcessor(ctx context.Context, opts Options, st Store, log *slog.Logger, reg prometheus.Registerer) (*Processor, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	p := &Processor{st: st, opts: opts, log: log, limits: event.Limits{MaxEventName: recordMaxLen, MaxID: recordMaxLen}, pos: map[string]map[int32]int64{}, lag: map[string]map[int32]int64{}, metrics: newProcMetrics(reg)}
	base, err := opts.clientOpts()
	if err != nil {
		return nil, err
	}
	c := opts.Consumer
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumerGroup(c.Group),
		kgo.ConsumeTopics(opts.Topics.Events, opts.Topics.Rejected),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(c.FetchMaxBytes),
		kgo.FetchMaxPartitionBytes(c.FetchMaxPartitionBytes),
		kgo.FetchMaxWait(c.FetchMaxWait),
		kgo.SessionTimeout(c.SessionTimeout),
		kgo.RebalanceTimeout(c.RebalanceTimeout),
		kgo.HeartbeatInterval(c.HeartbeatInterval),
		kgo.AdjustFetchOffsetsFn(p.adjustOffsets),
		kgo.OnPartitionsRevoked(p.forget),
		kgo.OnPartitionsLost(p.forget),
	)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	if err := EnsureTopics(ctx, cl, opts.Topics); err != nil {
		cl.Close()
		return nil, err
	}
	p.cl = cl
	return p, nil
}

// adjustOffsets starts each newly assigned partition at the later of the
// offset this store holds and the group's committed offset. The store's is
// the truth for rows it holds; the group's covers partitions another
// processor stored (and committed) before a rebalance.
func (p *Processor) adjustOffsets(ctx context.Context, fetched map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for topic, parts := range fetched {
		stored, err := p.st.Offsets(ctx, topic)
		if err != nil {
			return nil, err
		}
		for part, off := range parts {
			next, ok := stored[part]
			if !ok {
				continue
			}
			if committed := off.EpochOffset().Offset; committed >= 0 && committed > next {
				continue
			}
			parts[part] = kgo.NewOffset().At(next).WithEpoch(-1)
		}
	}
	return fetched, nil
}

func (p *Processor) forget(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for topic, parts := range revoked {
		for _, part := range parts {
			delete(p.lag[topic], part)
			delete(p.pos[topic], part)
			p.metrics.lag.DeleteLabelValues(topic, strconv.Itoa(int(part)))
		}
	}
}

// Run consumes until ctx ends. Each poll becomes one store write holding its
// rows and offsets; only after it commits are the offsets committed to the
// group (informational) and a pending rebalance allowed, so partitions are
// always flushed before they are released. Run returns nil on ctx's end.
func (p *Processor) Run(ctx context.Context) error {
	for {
		fetches := p.cl.PollRecords(ctx, p.opts.Consumer.MaxPollRecords)
		if ctx.Err() != nil {
			p.cl.AllowRebalance()
			return nil
		}
		if fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, part int32, err error) {
			if !errors.Is(err, context.Canceled) {
				p.log.Warn("fetch", "topic", topic, "partition", part, "err", err)
			}
		})
		if err := p.process(ctx, fetches); err != nil {
			p.cl.AllowRebalance()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		p.cl.AllowRebalance()
	}
}

func (p *Processor) process(ctx context.Context, fetches kgo.Fetches) error {
	var b event.Batch
	var last []*kgo.Record
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			p.noteLag(fp.Topic, fp.Partition, fp.HighWatermark, -1)
			return
		}
		for _, r := range fp.Records {
			if err := decodeRecord(r, &b, p.limits); err != nil {
				b.Rejected = append(b.Rejected, poison(r, err))
				p.metrics.poison.Inc()
			}
		}
		end := fp.Records[len(fp.Records)-1]
		b.Offsets = append(b.Offsets, event.Offset{Topic: fp.Topic, Partition: fp.Partition, Next: end.Offset + 1})
		last = append(last, end)
		p.noteLag(fp.Topic, fp.Partition, fp.HighWatermark, end.Offset+1)
		p.metrics.records.WithLabelValues(fp.Topic).Add(float64(len(fp.Records)))
	})
	if len(b.Offsets) == 0 {
		return nil
	}
	start := time.Now()
	// The write is retried until it commits or ctx ends: the records are
	// already fetched and nothing else may be stored in their place.
	for attempt := 0; ; attempt++ {
		err := p.st.Write(context.WithoutCancel(ctx), &b)
		if err == nil {
			break
		}
		p.log.Error("store write failed; retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("store write: %w", err)
		case <-time.After(min(time.Duration(attempt+1)*200*time.Millisecond, 5*time.Second)):
		}
	}
	p.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	// Commit to the group even when ctx ended meanwhile (shutdown): the
	// partition's next owner, maybe another processor with another store,
	// starts from this commit.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := p.cl.CommitRecords(cctx, last...); err != nil {
		p.log.Warn("commit offsets to the group", "err", err)
	}
	return nil
}

// poison keeps a record that cannot be read as rejected, with where it was.
func poison(r *kgo.Record, err error) event.Rejected {
	raw := r.Value
	if len(raw) > 32<<10 {
		raw = raw[:32<<10]
	}
	if !utf8.Valid(raw) {
		raw = []byte(fmt.Sprintf("%q", raw))
	}
	return event.Rejected{
		ReceivedAt: r.Timestamp.UTC(),
		Source:     "kafka:" + r.Topic,
		Index:      int(r.Partition),
		MessageID:  strconv.FormatInt(r.Offset, 10),
		Reason:     "undecodable record: " + err.Error(),
		Raw:        raw,
	}
}

// noteLag records a partition's high watermark and, when next >= 0, the
// next offset this processor will read; lag is their difference.
func (p *Processor) noteLag(topic string, part int32, hwm, next int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pos[topic] == nil {
		p.pos[topic] = map[int32]int64{}
		p.lag[topic] = map[int32]int64{}
	}
	if next >= 0 {
		p.pos[topic][part] = next
	}
	n, ok := p.pos[topic][part]
	if !ok || hwm < 0 {
		return
	}
	lag := max(hwm-n, 0)
	p.lag[topic][part] = lag
	p.metrics.lag.WithLabelValues(topic, strconv.Itoa(int(part))).Set(float64(lag))
}

// Lag returns the records behind per topic and partition, as of the last poll.
func (p *Processor) Lag() map[string]map[int32]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]map[int32]int64, len(p.lag))
	for t, parts := range p.lag {
		out[t] = make(map[int32]int64, len(parts))
		for k, v := range parts {
			out[t][k] = v
		}
	}
	return out
}

// Ready reports whether a broker answers.
func (p *Processor) Ready(ctx context.Context) error {
	if err := p.cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}

// Close leaves the group (after Run returned) and closes the client.
func (p *Processor) Close() {
	p.cl.CloseAllowingRebalance()
	p.metrics.unregister()
}

type procMetrics struct {
	reg           prometheus.Registerer
	records       *prometheus.CounterVec
	poison        prometheus.Counter
	commitSeconds prometheus.Histogram
	lag           *prometheus.GaugeVec
}

func newProcMetrics(reg prometheus.Registerer) *procMetrics {
	m := &procMetrics{
		reg: reg,
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "actlog_process_records_total", Help: "Kafka records consumed, by topic.",
		}, []string{"topic"}),
		poison: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "actlog_process_undecodable_records_total", Help: "Records that could not be read and were kept as rejected.",
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "actlog_process_store_write_duration_seconds", Help: "Time to store one poll's records and offsets.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "actlog_process_lag_records", Help: "Records behind the high watermark, per topic and assigned partition.",
		}, []string{"topic", "partition"}),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.poison, m.commitSeconds, m.lag)
	}
	return m
}

func (m *procMetrics) unregister() {
	if m.reg == nil {
		return
	}
	m.reg.Unregister(m.records)
	m.reg.Unregister(m.poison)
	m.reg.Unregister(m.commitSeconds)
	m.reg.Unregister(m.lag)
}
