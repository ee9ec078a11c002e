package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	topicEvents   = "actlog.events"
	topicRejected = "actlog.rejected"
)

// storeCounts reads event_id → rows from the store behind r.
func storeCounts(ctx context.Context, r *role) (map[string]int, error) {
	rows, err := r.sql(ctx, "SELECT event_id, count(*) FROM events GROUP BY 1", 5*time.Minute)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(rows))
	for _, row := range rows {
		id, _ := row[0].(string)
		n, err := row[1].(json.Number).Int64()
		if err != nil {
			return nil, fmt.Errorf("count of %s: %w", id, err)
		}
		out[id] = int(n)
	}
	return out, nil
}

// tally compares acknowledged ids with what the stores hold.
type tally struct {
	acked          int // ids acknowledged (checked)
	storedDistinct int // ids in the stores
	storedRows     int // rows in the stores
	lost           int // acknowledged, in no store
	duplicated     int // in the stores more than once (rows of one id, across stores)
	dupAcross      int // of duplicated: in two stores or more (never twice in one)
	dupResent      int // of duplicated: ids of batches deliberately resent after their 2xx
	storedUnacked  int // stored, sent but never acknowledged (in flight at a crash)
	unknown        int // stored, never sent
	lostSample     []string
	dupSample      []string
}

func (t tally) ok() bool { return t.lost == 0 && t.duplicated == 0 && t.unknown == 0 }

// compare counts acked ids missing from the union of stores, ids stored
// more than once, and stored ids that were not acknowledged or not sent
// (sent nil skips those two); resent names the ids deliberately resent.
func compare(acked []string, sent, ackedSet, resent map[string]bool, stores ...map[string]int) tally {
	union := map[string]int{}
	inOne := map[string]bool{} // twice or more in one store
	for _, s := range stores {
		for id, n := range s {
			union[id] += n
			if n > 1 {
				inOne[id] = true
			}
		}
	}
	t := tally{acked: len(acked), storedDistinct: len(union)}
	for id, n := range union {
		t.storedRows += n
		if n > 1 {
			t.duplicated++
			if !inOne[id] {
				t.dupAcross++
			}
			if resent[id] {
				t.dupResent++
			}
			if len(t.dupSample) < 5 {
				t.dupSample = append(t.dupSample, fmt.Sprintf("%s×%d", id, n))
			}
		}
		if sent != nil {
			switch {
			case !sent[id]:
				t.unknown++
			case !ackedSet[id]:
				t.storedUnacked++
			}
		}
	}
	for _, id := range acked {
		if union[id] == 0 {
			t.lost++
			if len(t.lostSample) < 5 {
				t.lostSample = append(t.lostSample, id)
			}
		}
	}
	slices.Sort(t.dupSample)
	slices.Sort(t.lostSample)
	return t
}

// offsets is topic → partition → next offset.
type offsets map[string]map[int32]int64

// endOffsets lists the high watermarks of both topics.
func endOffsets(ctx context.Context, brokers []string) (offsets, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, topicEvents, topicRejected)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	out := offsets{}
	listed.Each(func(o kadm.ListedOffset) {
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.Offset
	})
	return out, nil
}

// storedOffsets reads the offsets a processor's store committed with its rows.
func storedOffsets(ctx context.Context, r *role) (offsets, error) {
	rows, err := r.sql(ctx, "SELECT topic, partition, next_offset FROM stream_offsets", 30*time.Second)
	if err != nil {
		return nil, err
	}
	out := offsets{}
	for _, row := range rows {
		topic, _ := row[0].(string)
		p, err1 := row[1].(json.Number).Int64()
		n, err2 := row[2].(json.Number).Int64()
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("stream_offsets row %v", row)
		}
		if out[topic] == nil {
			out[topic] = map[int32]int64{}
		}
		out[topic][int32(p)] = n
	}
	return out, nil
}

// merge keeps, per partition, the furthest offset of all.
func merge(all ...offsets) offsets {
	out := offsets{}
	for _, o := range all {
		for t, ps := range o {
			if out[t] == nil {
				out[t] = map[int32]int64{}
			}
			for p, n := range ps {
				out[t][p] = max(out[t][p], n)
			}
		}
	}
	return out
}

// lag is the records of end not yet covered by stored.
func lag(end, stored offsets) int64 {
	var n int64
	for t, ps := range end {
		for p, e := range ps {
			n += max(0, e-stored[t][p])
		}
	}
	return n
}

// records is the sum of end offsets of one topic.
func records(o offsets, topic string) int64 {
	var n int64
	for _, e := range o[topic] {
		n += e
	}
	return n
}
