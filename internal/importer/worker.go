package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/actlog/actlog/internal/event"
)

// item is one message ready for a batch body.
type item struct {
	rec    int   // the record in the chunk
	elem   int   // its place in the record's batch or array; -1 when the record is the message
	anchor int64 // Unix ns of the receive time that anchors clock-skew correction; 0: the import time
	hdr    span  // the batch-level fields of its record ("sentAt":…,"context":…,), in worker.arena
	msg    span  // the message JSON, in worker.arena
	id     string
}

type span struct{ start, end int }

// worker turns chunks into batches and writes them. Each has its own
// Decoder and parser.
type worker struct {
	r       *runner
	dec     Decoder
	p       fastjson.Parser
	items   []item
	arena   []byte // messages and batch headers of the chunk
	body    []byte
	canon   []byte
	fields  [][]byte
	scratch []byte
	batch   event.Batch
	rejects []Reject
}

func newWorker(r *runner, dec Decoder) *worker {
	return &worker{r: r, dec: dec}
}

// run processes chunks until there are none or ctx ends. A chunk taken is
// always finished (written, or failed), so the chunks done are a prefix of
// those sent.
func (w *worker) run(ctx context.Context) {
	for {
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case c, ok := <-w.r.chunks:
			if !ok {
				return
			}
			res := w.process(ctx, c)
			w.r.putChunk(c)
			w.r.results <- res
		}
	}
}

func (w *worker) process(ctx context.Context, c *chunk) *result {
	res := &result{seq: c.seq, input: c.input, end: c.end, last: c.last, fail: c.fail, records: int64(len(c.recs))}
	if c.fail != nil || len(c.recs) == 0 {
		return res
	}
	in := w.r.inputs[c.input]
	w.items, w.arena, w.rejects = w.items[:0], w.arena[:0], nil
	w.batch = event.Batch{}
	for i := range c.recs {
		rc := &c.recs[i]
		data := c.buf[rc.start:rc.end]
		switch {
		case rc.bad != "":
			w.reject(in.name, rc.line, data, "", rc.bad)
		case in.format == FormatCSV:
			w.csvItem(c, i, data)
		default:
			w.jsonItems(c, i, data)
		}
	}
	// Consecutive messages with the same anchor and batch fields share a
	// body.
	for start := 0; start < len(w.items); {
		end := start + 1
		for end < len(w.items) && w.items[end].anchor == w.items[start].anchor && w.items[end].hdr == w.items[start].hdr {
			end++
		}
		w.decode(c, w.items[start:end])
		start = end
	}
	slices.SortStableFunc(w.rejects, func(a, b Reject) int {
		switch {
		case a.Line < b.Line:
			return -1
		case a.Line > b.Line:
			return 1
		}
		return 0
	})
	res.events, res.rejected, res.rejects = int64(len(w.batch.Events)), int64(len(w.batch.Rejected)), w.rejects
	if len(w.batch.Events)+len(w.batch.Rejected) > 0 {
		res.err = w.write(ctx, &w.batch)
	}
	return res
}

// write hands b to the sink, retrying a failed write; it outlives ctx, so
// that a batch in flight when the import is interrupted is made durable.
func (w *worker) write(ctx context.Context, b *event.Batch) error {
	o := &w.r.o
	backoff := o.RetryBackoff
	for attempt := 0; ; attempt++ {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.WriteTimeout)
		err := o.Sink.Write(wctx, b)
		cancel()
		if err == nil {
			return nil
		}
		if o.WriteRetries < 0 || attempt >= o.WriteRetries {
			return fmt.Errorf("write: %w", err)
		}
		time.Sleep(backoff)
		backoff *= 2
	}
}

// reject keeps a record (or message) that is not an event.
func (w *worker) reject(file string, line int64, data []byte, id, reason string) {
	w.batch.Rejected = append(w.batch.Rejected, event.Rejected{
		ReceivedAt: w.r.now,
		Source:     w.r.o.Source,
		Index:      int(line),
		MessageID:  id,
		Reason:     fmt.Sprintf("%s:%d: %s", file, line, reason),
		Raw:        rawText(data, w.r.o.RawBytes),
	})
	w.rejects = append(w.rejects, Reject{File: file, Line: line, Reason: reason, MessageID: id})
}

// rawText is a copy of data cut to limit bytes (at a character boundary),
// with NUL bytes, which text columns refuse, made U+FFFD.
func rawText(data []byte, limit int) []byte {
	if len(data) > limit {
		data = data[:limit]
		for n := 0; n < utf8.UTFMax && len(data) > 0 && !utf8.Valid(data); n++ {
			data = data[:len(data)-1]
		}
	}
	out := make([]byte, 0, len(data))
	for _, c := range data {
		if c == 0 {
			out = append(out, "\uFFFD"...)
			continue
		}
		out = append(out, c)
	}
	return out
}

// csvItem maps a CSV row.
func (w *worker) csvItem(c *chunk, i int, data []byte) {
	line := c.recs[i].line
	name := w.r.inputs[c.input].name
	var err error
	w.fields, w.scratch, err = csvFields(data, c.mapper.delim(), w.fields, w.scratch)
	if err != nil {
		w.reject(name, line, data, "", err.Error())
		return
	}
	start := len(w.arena)
	var id string
	w.arena, id, err = c.mapper.message(w.arena, w.fields, w.r.o.Source)
	if err != nil {
		w.arena = w.arena[:start]
		w.reject(name, line, data, id, err.Error())
		return
	}
	w.items = append(w.items, item{rec: i, elem: -1, msg: span{start, len(w.arena)}, id: id})
}

// jsonItems reads a JSON record: a Segment message, a /v1/batch body, or
// an array of messages.
func (w *worker) jsonItems(c *chunk, i int, data []byte) {
	line := c.recs[i].line
	name := w.r.inputs[c.input].name
	v, err := w.p.ParseBytes(data)
	if err != nil {
		w.reject(name, line, data, "", jsonSyntax(data))
		return
	}
	switch v.Type() {
	case fastjson.TypeObject:
		b := v.Get("batch")
		if b == nil {
			w.message(i, -1, v, data, span{}, 0)
			return
		}
		msgs, err := b.Array()
		if err != nil {
			w.reject(name, line, data, "", "batch must be an array")
			return
		}
		// The batch's own fields apply to its messages, as they do in a
		// request.
		hs := len(w.arena)
		for _, k := range []string{"sentAt", "context"} {
			if f := v.Get(k); f != nil {
				w.arena = append(w.arena, '"')
				w.arena = append(w.arena, k...)
				w.arena = append(w.arena, `":`...)
				w.arena = f.MarshalTo(w.arena)
				w.arena = append(w.arena, ',')
			}
		}
		hdr := span{hs, len(w.arena)}
		sent := timeOf(v.Get("sentAt"))
		for j, m := range msgs {
			w.message(i, j, m, nil, hdr, sent)
		}
	case fastjson.TypeArray:
		msgs, _ := v.Array()
		for j, m := range msgs {
			w.message(i, j, m, nil, span{}, 0)
		}
	default:
		w.reject(name, line, data, "", fmt.Sprintf("not a JSON object (%s)", typeName(v.Type())))
	}
}

// message adds one Segment message, with a messageId derived from its
// content when it has none. raw is its text when the record is the
// message (kept as it is when it has an id).
func (w *worker) message(rec, elem int, m *fastjson.Value, raw []byte, hdr span, batchSent int64) {
	start := len(w.arena)
	it := item{rec: rec, elem: elem, hdr: hdr}
	if m.Type() != fastjson.TypeObject {
		// The decoder rejects it, with its reason.
		w.arena = m.MarshalTo(w.arena)
		it.msg = span{start, len(w.arena)}
		w.items = append(w.items, it)
		return
	}
	idv := m.Get("messageId")
	hasID := idv != nil && idv.Type() != fastjson.TypeNull && (idv.Type() != fastjson.TypeString || len(idv.GetStringBytes()) > 0)
	switch {
	case hasID && raw != nil:
		w.arena = append(w.arena, raw...)
	case hasID:
		w.arena = m.MarshalTo(w.arena)
	default:
		w.canon = m.MarshalTo(w.canon[:0])
		it.id = jsonID(w.r.o.Source, w.canon)
		w.arena = append(w.arena, `{"messageId":"`...)
		w.arena = append(w.arena, it.id...)
		w.arena = append(w.arena, '"')
		if m.GetObject().Len() > 0 {
			w.arena = append(w.arena, ',')
			w.arena = append(w.arena, w.canon[1:]...)
		} else {
			w.arena = append(w.arena, '}')
		}
	}
	if hasID {
		if idv.Type() == fastjson.TypeString {
			it.id = string(idv.GetStringBytes())
		} else {
			it.id = string(idv.MarshalTo(nil))
		}
	}
	it.msg = span{start, len(w.arena)}
	it.anchor = anchorOf(m, batchSent)
	w.items = append(w.items, it)
}

// anchorOf is the receive time that anchors a message's clock-skew
// correction (timestamp = receivedAt − (sentAt − originalTimestamp)): an
// archived message's own receivedAt, else its sentAt (no correction), and 0
// — the import time — when it has no sentAt (nothing to correct) or no
// time at all.
func anchorOf(m *fastjson.Value, batchSent int64) int64 {
	sent := timeOf(m.Get("sentAt"))
	if sent == 0 {
		sent = batchSent
	}
	hasTime := present(m.Get("timestamp")) || present(m.Get("originalTimestamp"))
	if sent == 0 && hasTime {
		return 0
	}
	if rcv := timeOf(m.Get("receivedAt")); rcv != 0 {
		return rcv
	}
	return sent
}

func present(v *fastjson.Value) bool { return v != nil && v.Type() != fastjson.TypeNull }

// timeOf reads a time as the collector does (RFC 3339, or an integer of
// Unix milliseconds) as Unix ns; 0 when absent or unreadable.
func timeOf(v *fastjson.Value) int64 {
	if v == nil {
		return 0
	}
	var t time.Time
	switch v.Type() {
	case fastjson.TypeString:
		var err error
		if t, err = time.Parse(time.RFC3339Nano, string(v.GetStringBytes())); err != nil {
			return 0
		}
	case fastjson.TypeNumber:
		ms, err := v.Int64()
		if err != nil {
			return 0
		}
		t = time.UnixMilli(ms)
	default:
		return 0
	}
	if y := t.Year(); y < 1971 || y > 2200 {
		return 0
	}
	return t.UnixNano()
}

// decode decodes items (one body) and adds the events and rejections.
func (w *worker) decode(c *chunk, items []item) {
	in := w.r.inputs[c.input]
	anchor := w.r.now
	if items[0].anchor != 0 {
		anchor = time.Unix(0, items[0].anchor).UTC()
	}
	w.body = append(w.body[:0], '{')
	w.body = append(w.body, w.arena[items[0].hdr.start:items[0].hdr.end]...)
	w.body = append(w.body, `"batch":[`...)
	for k, it := range items {
		if k > 0 {
			w.body = append(w.body, ',')
		}
		w.body = append(w.body, w.arena[it.msg.start:it.msg.end]...)
	}
	w.body = append(w.body, "]}"...)
	b, err := w.dec.Decode(w.body, w.r.o.Source, anchor)
	if err != nil {
		if len(items) > 1 {
			// One bad message must not cost its neighbours.
			for k := range items {
				w.decode(c, items[k:k+1])
			}
			return
		}
		it := items[0]
		w.reject(in.name, c.recs[it.rec].line, w.arena[it.msg.start:it.msg.end], it.id, elemReason(it.elem, err.Error()))
		return
	}
	for k := range b.Events {
		b.Events[k].ReceivedAt = w.r.now
	}
	w.batch.Events = append(w.batch.Events, b.Events...)
	for _, rj := range b.Rejected {
		if rj.Index < 0 || rj.Index >= len(items) {
			rj.Index = 0 // cannot happen with a decoder true to its contract
		}
		it := items[rj.Index]
		line := c.recs[it.rec].line
		reason := elemReason(it.elem, rj.Reason)
		rj.ReceivedAt = w.r.now
		rj.Index = int(line)
		rj.Reason = fmt.Sprintf("%s:%d: %s", in.name, line, reason)
		if rj.MessageID == "" {
			rj.MessageID = it.id
		}
		w.batch.Rejected = append(w.batch.Rejected, rj)
		w.rejects = append(w.rejects, Reject{File: in.name, Line: line, Reason: reason, MessageID: it.id})
	}
}

// elemReason names the message of a batch or array record.
func elemReason(elem int, reason string) string {
	if elem < 0 {
		return reason
	}
	return "batch[" + strconv.Itoa(elem) + "]: " + reason
}

// jsonSyntax says where a record stops being JSON, without quoting it.
func jsonSyntax(data []byte) string {
	var se *json.SyntaxError
	if err := json.Unmarshal(data, new(json.RawMessage)); errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	return "invalid JSON"
}

func typeName(t fastjson.Type) string {
	switch t {
	case fastjson.TypeString:
		return "a string"
	case fastjson.TypeNumber:
		return "a number"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "a boolean"
	case fastjson.TypeNull:
		return "null"
	}
	return t.String()
}
