package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaDev is `actlog kafka-dev` (kfake, three brokers in one process) on
// fixed ports and a data directory that survives its restarts.
type kafkaDev struct {
	p       *procs
	name    string
	data    string
	port    int
	brokers []string
	c       *child
}

func newKafkaDev(p *procs, name, data string) (*kafkaDev, error) {
	port, err := freePorts3()
	if err != nil {
		return nil, err
	}
	k := &kafkaDev{p: p, name: name, data: data, port: port}
	for i := range 3 {
		k.brokers = append(k.brokers, fmt.Sprintf("127.0.0.1:%d", port+i))
	}
	return k, nil
}

// start runs kafka-dev and waits until both topics answer.
func (k *kafkaDev) start(ctx context.Context) error {
	c, err := k.p.start(k.name, "kafka-dev", "--data", k.data, "--port", strconv.Itoa(k.port))
	if err != nil {
		return err
	}
	k.c = c
	return waitFor(ctx, 60*time.Second, "kafka-dev to serve its topics", func() (bool, error) {
		if !c.running() {
			return false, fmt.Errorf("kafka-dev exited: %v\n%s", c.err, c.logTail(20))
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := endOffsets(pctx, k.brokers)
		return err == nil, nil
	})
}

// down ends kafka-dev with SIGKILL, or with SIGTERM when term is set.
func (k *kafkaDev) down(term bool) error {
	if !term {
		k.c.kill()
		return nil
	}
	return k.c.stop(60 * time.Second)
}

// kafkaPreflight checks that kafka-dev, ended the way the outage will end
// it, comes back on the same data directory and ports with its topics, its
// records and a group's committed offsets. It returns a one-line summary.
func kafkaPreflight(ctx context.Context, p *procs, dir string, term bool) (string, error) {
	k, err := newKafkaDev(p, "kafka-preflight", filepath.Join(dir, "kafka-preflight"))
	if err != nil {
		return "", err
	}
	if err := k.start(ctx); err != nil {
		return "", err
	}
	defer k.c.kill()
	const group, n = "chaos-preflight", 120
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...), kgo.DefaultProduceTopic(topicEvents))
	if err != nil {
		return "", fmt.Errorf("kafka client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Key: []byte("k" + strconv.Itoa(i)), Value: []byte("preflight")})
	}
	if err := cl.ProduceSync(pctx, recs...).FirstErr(); err != nil {
		cl.Close()
		return "", fmt.Errorf("produce: %w", err)
	}
	before, err := endOffsets(pctx, k.brokers)
	if err != nil {
		cl.Close()
		return "", err
	}
	commit := kadm.Offsets{}
	for part, end := range before[topicEvents] {
		commit.AddOffset(topicEvents, part, end/2, -1)
	}
	err = kadm.NewClient(cl).CommitAllOffsets(pctx, group, commit)
	cl.Close()
	if err != nil {
		return "", fmt.Errorf("commit offsets: %w", err)
	}

	how := "SIGKILL"
	if term {
		how = "SIGTERM"
	}
	if err := k.down(term); err != nil {
		return "", err
	}
	if err := k.start(ctx); err != nil {
		return "", fmt.Errorf("restart after %s: %w", how, err)
	}
	after, err := endOffsets(pctx, k.brokers)
	if err != nil {
		return "", err
	}
	var problems []error
	for _, t := range []string{topicEvents, topicRejected} {
		if len(after[t]) != len(before[t]) {
			problems = append(problems, fmt.Errorf("%s has %d partitions after the restart, %d before", t, len(after[t]), len(before[t])))
		}
	}
	if !maps.Equal(after[topicEvents], before[topicEvents]) {
		problems = append(problems, fmt.Errorf("end offsets %v after the restart, %v before", after[topicEvents], before[topicEvents]))
	}
	cl2, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...))
	if err != nil {
		return "", fmt.Errorf("kafka client: %w", err)
	}
	defer cl2.Close()
	fetched, err := kadm.NewClient(cl2).FetchOffsets(pctx, group)
	if err == nil {
		err = fetched.Error()
	}
	if err != nil {
		return "", fmt.Errorf("fetch committed offsets: %w", err)
	}
	kept := 0
	for part, want := range before[topicEvents] {
		got, ok := fetched.Lookup(topicEvents, part)
		if !ok || got.At != want/2 {
			problems = append(problems, fmt.Errorf("committed offset of %s/%d: %v after the restart, %d before", topicEvents, part, got.At, want/2))
			continue
		}
		kept++
	}
	// The records themselves read back from the start.
	cons, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...), kgo.ConsumeTopics(topicEvents), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return "", fmt.Errorf("kafka client: %w", err)
	}
	read := 0
	for read < n && pctx.Err() == nil {
		fs := cons.PollFetches(pctx)
		fs.EachRecord(func(*kgo.Record) { read++ })
	}
	cons.Close()
	if read != n {
		problems = append(problems, fmt.Errorf("read %d records back after the restart, %d produced", read, n))
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("kafka-dev restarted after %s lost state: %w", how, errors.Join(problems...))
	}
	return fmt.Sprintf("kafka-dev ended with %s and restarted on the same data dir and ports: topics kept (%d partitions), %d/%d records read back, committed offsets of %d/%d partitions kept",
		how, len(after[topicEvents]), read, n, kept, len(before[topicEvents])), nil
}
