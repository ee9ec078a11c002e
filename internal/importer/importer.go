package importer

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actlog/actlog/internal/event"
)

// Sink makes batches durable: Write returns nil only once every event and
// rejected event of b is stored (the store) or acknowledged (the Kafka
// producer). It must be safe for concurrent use.
type Sink interface {
	Write(ctx context.Context, b *event.Batch) error
}

// Decoder turns a Segment /v1/batch body into events with the collector's
// validation and enrichment, answering invalid messages by their index in
// the batch (ingest.Bulk). It need not be safe for concurrent use.
type Decoder interface {
	Decode(body []byte, source string, receivedAt time.Time) (*event.Batch, error)
}

// Discard is a Sink that keeps nothing: a dry run reads, checks and counts.
type Discard struct{}

// Write drops b.
func (Discard) Write(context.Context, *event.Batch) error { return nil }

var _ Sink = Discard{}

// Options configure Run. Zero values take the defaults.
type Options struct {
	// Inputs are files, directories (walked in lexical order, hidden files
	// left out) and "-" for Stdin.
	Inputs []string
	Stdin  io.Reader
	// Format forces the format of every input; FormatAuto tells it by the
	// file name, else by the content.
	Format Format
	// Mapping reads CSV rows; required when an input is CSV.
	Mapping *Mapping
	// Source names the source the events are stored under.
	Source string
	Sink   Sink
	// NewDecoder makes each worker's Decoder. Decoder is used instead when
	// NewDecoder is nil (and then by one worker only).
	NewDecoder func() Decoder
	Decoder    Decoder
	// Workers decode and write in parallel; default the number of CPUs, at
	// most 4.
	Workers int
	// BatchRecords is the number of records per Decode and Write (default
	// 1,000); a batch also ends at BatchBytes (default 4 MiB) of input.
	BatchRecords int
	BatchBytes   int
	// MaxRecordBytes bounds one record (default 1 MiB): a longer one is
	// rejected.
	MaxRecordBytes int
	// RawBytes bounds the raw text kept with a rejected record (default
	// 32 KiB, the collector's event limit).
	RawBytes int
	// Checkpoint is the checkpoint file; "" keeps none. Restart ignores
	// what it says and starts every file over.
	Checkpoint string
	Restart    bool
	// RejectsFile, if set, receives every rejected record as a line of
	// JSON: {"file":…,"line":…,"reason":…}.
	RejectsFile string
	// Stderr receives the progress, the notes and the first PrintRejects
	// rejected records (default 20; -1 for none).
	Stderr           io.Writer
	Progress         ProgressMode
	ProgressInterval time.Duration // of ProgressLines; default 5 s
	PrintRejects     int
	// WriteTimeout bounds one Sink.Write (default 2 minutes); a failed
	// Write is tried WriteRetries more times (default 2; -1 for none),
	// RetryBackoff apart (default 1 s, doubling).
	WriteTimeout time.Duration
	WriteRetries int
	RetryBackoff time.Duration
	// Now is the import time: every event's received_at (default
	// time.Now, read once).
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.Workers <= 0 {
		o.Workers = min(runtime.GOMAXPROCS(0), 4)
	}
	if o.NewDecoder == nil {
		o.Workers = 1
	}
	if o.BatchRecords <= 0 {
		o.BatchRecords = 1000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 4 << 20
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = 1 << 20
	}
	o.MaxRecordBytes = max(o.MaxRecordBytes, 256)
	if o.RawBytes <= 0 {
		o.RawBytes = 32 << 10
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 5 * time.Second
	}
	if o.PrintRejects == 0 {
		o.PrintRejects = 20
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 2 * time.Minute
	}
	if o.WriteRetries == 0 {
		o.WriteRetries = 2
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Source == "" {
		o.Source = "import"
	}
}

// Reject is a record that did not become an event, and where it was.
type Reject struct {
	File      string `json:"file"`
	Line      int64  `json:"line"`
	Reason    string `json:"reason"`
	MessageID string `json:"message_id,omitempty"`
}

func (r Reject) String() string { return fmt.Sprintf("%s:%d: %s", r.File, r.Line, r.Reason) }

// FileError is an input that could not be read to its end.
type FileError struct {
	File string
	Err  error
}

func (e *FileError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// Summary is what an import did.
type Summary struct {
	Files        int   // inputs read (fully or in part) by this run
	SkippedFiles int   // inputs the checkpoint says are done
	Records      int64 // records read: lines, CSV rows, Firehose records
	Events       int64 // events written durably to the sink
	Rejected     int64 // records and messages rejected
	Bytes        int64 // input bytes read (compressed bytes for gzip)
	Elapsed      time.Duration
	Failed       []*FileError // inputs that could not be read to their end
	Interrupted  bool         // stopped by the context before the end
	Checkpoint   string       // the checkpoint file, if any
	Stdin        bool         // stdin was an input
}

// EventsPerSecond is the events written per second of the run.
func (s Summary) EventsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Events) / s.Elapsed.Seconds()
}

// String is the one-line summary.
func (s Summary) String() string {
	files := fmt.Sprintf("%d files", s.Files)
	if s.Files == 1 {
		files = "1 file"
	}
	if s.SkippedFiles > 0 {
		files += fmt.Sprintf(" (%d more done before, skipped)", s.SkippedFiles)
	}
	return fmt.Sprintf("%s: %s records, %s events written, %s rejected, in %.1fs: %s events/s",
		files, thousands(s.Records), thousands(s.Events), thousands(s.Rejected), s.Elapsed.Seconds(), thousands(int64(s.EventsPerSecond())))
}

// ErrInterrupted is returned when the context ended the import before the
// end; everything reported in the Summary is durable and checkpointed.
var ErrInterrupted = errors.New("import interrupted")

// crec is a record in a chunk.
type crec struct {
	line       int64
	start, end int // in chunk.buf
	bad        string
}

// chunk is a batch of records of one input, handed from the reader to a
// worker.
type chunk struct {
	seq    int64
	input  int
	recs   []crec
	buf    []byte
	mapper *rowMapper
	end    pos  // the position after the last record
	last   bool // the input's last chunk
	fail   error
}

// result is what a worker made of a chunk.
type result struct {
	seq      int64
	input    int
	end      pos
	last     bool
	fail     error // the input could not be read further
	err      error // the sink failed: nothing of this chunk is known durable
	records  int64
	events   int64
	rejected int64
	rejects  []Reject
}

// runner is one Run.
type runner struct {
	o       Options
	now     time.Time
	inputs  []*input
	starts  []fileStart
	chunks  chan *chunk
	free    chan *chunk
	results chan *result
	read    atomic.Int64 // input bytes read
}

// fileStart is where reading an input begins.
type fileStart struct {
	skip   bool // done before
	at     pos  // where to start (offset seek for uncompressed files)
	seek   bool
	skipTo int64 // records to skip (compressed files resumed)
	gz     bool
}

// Run imports the inputs. It returns when every input is read and every
// batch durable, when the sink fails (after its retries), or when ctx ends
// (then after the batches in flight are durable, with ErrInterrupted).
// The checkpoint, if any, is written after every durable batch. An input
// that cannot be read to its end is reported in Summary.Failed and the
// error, after the other inputs are imported.
func Run(ctx context.Context, o Options) (sum Summary, err error) {
	o.setDefaults()
	start := time.Now()
	if o.Sink == nil {
		return sum, errors.New("importer: no sink")
	}
	if o.NewDecoder == nil && o.Decoder == nil {
		return sum, errors.New("importer: no decoder")
	}
	if len(o.Inputs) == 0 {
		return sum, errors.New("no input: name files, directories, or - for stdin")
	}
	r := &runner{o: o, now: o.Now().UTC()}
	skip := map[string]bool{}
	for _, p := range []string{o.Checkpoint, o.RejectsFile} {
		if p != "" {
			if abs, err := filepath.Abs(p); err == nil {
				skip[abs] = true
			}
		}
	}
	prog := &progress{w: o.Stderr, mode: o.Progress, interval: o.ProgressInterval, start: start}
	ins, notes, err := discover(o.Inputs, o.Format, skip)
	if err != nil {
		return sum, err
	}
	for _, n := range notes {
		prog.println(n)
	}
	if len(ins) == 0 {
		return sum, errors.New("no file to import")
	}
	r.inputs = ins
	for _, in := range ins {
		if in.format == FormatCSV && o.Mapping == nil {
			return sum, fmt.Errorf("%s is CSV: pass --mapping FILE to say how its columns become events (docs/import.md)", in.name)
		}
		if in.stdin {
			sum.Stdin = true
			if o.Stdin == nil {
				return sum, errors.New("importer: stdin is an input but Options.Stdin is nil")
			}
		}
	}

	// The checkpoint: what is done, where to resume.
	var cp *Checkpoint
	if o.Checkpoint != "" {
		sum.Checkpoint = o.Checkpoint
		if o.Restart {
			cp = &Checkpoint{Version: checkpointVersion, Source: o.Source, Files: map[string]*FileState{}}
		} else if cp, err = loadCheckpoint(o.Checkpoint, o.Source); err != nil {
			return sum, err
		}
	}
	r.starts = make([]fileStart, len(ins))
	var total, base int64
	for i, in := range ins {
		r.starts[i].at = pos{line: 1}
		if in.stdin {
			total = -1
			continue
		}
		if total >= 0 {
			total += in.size
		}
		head, _ := readHead(in.path)
		gz := len(head) >= 2 && head[0] == gzipMagic[0] && head[1] == gzipMagic[1]
		st := &r.starts[i]
		st.gz = gz
		if cp == nil {
			continue
		}
		fs, ok := cp.Files[in.path]
		switch {
		case !ok:
		case fs.Size != in.size || !fs.MTime.Equal(in.mtime):
			prog.println(fmt.Sprintf("%s changed since the checkpoint: importing it again from the start (what was stored before is deduplicated by messageId)", in.name))
			ok = false
		case fs.Done:
			st.skip = true
			sum.SkippedFiles++
			base += in.size
			continue
		case fs.Records > 0:
			if gz || fs.Offset < 0 {
				st.skipTo = fs.Records
				prog.println(fmt.Sprintf("resuming %s after record %s (skipping the records done)", in.name, thousands(fs.Records)))
			} else {
				st.seek, st.at = true, pos{off: fs.Offset, line: fs.Line, records: fs.Records}
				base += fs.Offset
				prog.println(fmt.Sprintf("resuming %s at line %s", in.name, thousands(fs.Line)))
			}
		}
		if !ok {
			fs = &FileState{}
			cp.Files[in.path] = fs
		}
		fs.Size, fs.MTime = in.size, in.mtime
		if !st.seek && st.skipTo == 0 {
			*fs = FileState{Size: in.size, MTime: in.mtime}
		}
		if gz {
			fs.Offset = -1
		}
	}
	if sum.SkippedFiles == len(ins) {
		prog.println(fmt.Sprintf("nothing to do: the checkpoint %s says every input was imported (pass --restart to import again)", o.Checkpoint))
		sum.Elapsed = time.Since(start)
		return sum, nil
	}
	if sum.Stdin && cp != nil {
		prog.println("note: stdin cannot be resumed: an interrupted import of stdin starts over (records without a messageId get a derived one, so a re-run adds nothing twice)")
	}
	prog.total, prog.baseBytes = total, base

	// The report of rejected records.
	var rejects *os.File
	var rejectsW *bufio.Writer
	var rejectsSize int64
	if o.RejectsFile != "" {
		abs, _ := filepath.Abs(o.RejectsFile)
		flags := os.O_RDWR | os.O_CREATE
		resume := cp != nil && cp.RejectsFile == abs && !o.Restart
		if !resume {
			flags |= os.O_TRUNC
		}
		if rejects, err = os.OpenFile(o.RejectsFile, flags, 0o640); err != nil {
			return sum, fmt.Errorf("rejects file: %w", err)
		}
		defer rejects.Close()
		if resume {
			rejectsSize = cp.RejectsSize
			if err := rejects.Truncate(rejectsSize); err != nil {
				return sum, fmt.Errorf("rejects file: %w", err)
			}
		}
		if _, err := rejects.Seek(rejectsSize, io.SeekStart); err != nil {
			return sum, fmt.Errorf("rejects file: %w", err)
		}
		rejectsW = bufio.NewWriter(rejects)
		if cp != nil {
			cp.RejectsFile, cp.RejectsSize = abs, rejectsSize
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.chunks = make(chan *chunk, o.Workers*2)
	r.free = make(chan *chunk, o.Workers*3+2)
	r.results = make(chan *result, o.Workers*2)
	readDone := make(chan error, 1)
	go func() { readDone <- r.readAll(runCtx) }()
	var wg sync.WaitGroup
	for range o.Workers {
		dec := o.Decoder
		if o.NewDecoder != nil {
			dec = o.NewDecoder()
		}
		w := newWorker(r, dec)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(runCtx)
		}()
	}
	go func() {
		wg.Wait()
		close(r.results)
	}()

	// Completions, in input order: reports, checkpoint, progress.
	var (
		pending    = map[int64]*result{}
		next       int64
		fatal      error
		printed    int
		dirty      bool
		doneInputs int
		ioErr      error
	)
	var tick <-chan time.Time
	if o.Progress != ProgressOff {
		t := time.NewTicker(min(barInterval, o.ProgressInterval))
		defer t.Stop()
		tick = t.C
	}
	stats := func() stats {
		return stats{bytes: base + r.read.Load(), records: sum.Records, events: sum.Events, rejected: sum.Rejected}
	}
	apply := func(res *result) {
		in := r.inputs[res.input]
		sum.Records += res.records
		sum.Events += res.events
		sum.Rejected += res.rejected
		for _, rj := range res.rejects {
			if o.PrintRejects > 0 && printed < o.PrintRejects {
				prog.println(rj.String())
				printed++
				if printed == o.PrintRejects {
					more := "pass --rejects FILE to list them all"
					if o.RejectsFile != "" {
						more = "all are in " + o.RejectsFile
					}
					prog.println(fmt.Sprintf("(only the first %d rejected records are shown here: %s)", o.PrintRejects, more))
				}
			}
			if rejectsW != nil && ioErr == nil {
				b, _ := json.Marshal(rj)
				n, err := rejectsW.Write(append(b, '\n'))
				rejectsSize += int64(n)
				if err != nil {
					ioErr = fmt.Errorf("rejects file: %w", err)
				}
			}
		}
		if res.fail != nil {
			sum.Failed = append(sum.Failed, &FileError{File: in.name, Err: res.fail})
			prog.println(fmt.Sprintf("%s: %v (the records before are imported; the file is not marked done)", in.name, res.fail))
		}
		if res.last || res.fail != nil {
			doneInputs++
		}
		if cp == nil || in.stdin {
			return
		}
		fs := cp.Files[in.path]
		fs.Records, fs.Line = res.end.records, res.end.line
		if !r.starts[res.input].gz {
			fs.Offset = res.end.off
		}
		fs.Events += res.events
		fs.Rejected += res.rejected
		fs.Done = res.last
		dirty = true
	}
	save := func() {
		if !dirty || ioErr != nil {
			return
		}
		if rejectsW != nil {
			if err := rejectsW.Flush(); err != nil {
				ioErr = fmt.Errorf("rejects file: %w", err)
				return
			}
			cp.RejectsSize = rejectsSize
		}
		if err := cp.save(o.Checkpoint, time.Now()); err != nil {
			ioErr = err
			return
		}
		dirty = false
	}
loop:
	for {
		var res *result
		select {
		case x, ok := <-r.results:
			if !ok {
				break loop
			}
			res = x
		case now := <-tick:
			prog.tick(now, stats())
			continue
		}
		if res.err != nil && fatal == nil {
			fatal = res.err
			cancel()
		}
		pending[res.seq] = res
		for {
			p, ok := pending[next]
			if !ok || p.err != nil {
				break
			}
			delete(pending, next)
			next++
			apply(p)
		}
		if len(r.results) == 0 { // caught up: one checkpoint for all completions so far
			save()
			if ioErr != nil && fatal == nil {
				fatal = ioErr
				cancel()
			}
		}
	}
	readErr := <-readDone
	save()
	if rejectsW != nil {
		if err := rejectsW.Flush(); err != nil && ioErr == nil {
			ioErr = fmt.Errorf("rejects file: %w", err)
		}
	}
	prog.clear()
	sum.Bytes = r.read.Load()
	sum.Elapsed = time.Since(start)
	for i := range ins {
		if !r.starts[i].skip {
			sum.Files++
		}
	}
	switch {
	case fatal != nil:
		return sum, fatal
	case ioErr != nil:
		return sum, ioErr
	case readErr != nil && !errors.Is(readErr, context.Canceled):
		return sum, readErr
	case doneInputs < sum.Files && ctx.Err() != nil:
		sum.Interrupted = true
		return sum, ErrInterrupted
	case len(sum.Failed) > 0:
		if len(sum.Failed) == 1 {
			return sum, sum.Failed[0]
		}
		return sum, fmt.Errorf("%d inputs could not be read to their end (first: %w)", len(sum.Failed), sum.Failed[0])
	}
	return sum, nil
}

// getChunk takes a chunk from the free list, or makes one.
func (r *runner) getChunk() *chunk {
	select {
	case c := <-r.free:
		c.recs, c.buf, c.mapper, c.last, c.fail = c.recs[:0], c.buf[:0], nil, false, nil
		return c
	default:
		return &chunk{}
	}
}

func (r *runner) putChunk(c *chunk) {
	select {
	case r.free <- c:
	default:
	}
}

// readAll reads the inputs in order, sending their records in chunks. An
// input that fails is reported through a chunk of its own; the others go
// on. It closes r.chunks when it returns.
func (r *runner) readAll(ctx context.Context) error {
	defer close(r.chunks)
	var seq int64
	send := func(c *chunk) error {
		c.seq = seq
		select {
		case r.chunks <- c:
			seq++
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for i := range r.inputs {
		if r.starts[i].skip {
			continue
		}
		err := r.readInput(ctx, i, send)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			c := r.getChunk()
			c.input, c.fail = i, err
			if err := send(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// readInput reads one input. Errors are the input's own (it cannot be
// read, its header does not fit the mapping) or the context's.
func (r *runner) readInput(ctx context.Context, i int, send func(*chunk) error) error {
	in, st := r.inputs[i], r.starts[i]
	var raw io.Reader
	if in.stdin {
		raw = r.o.Stdin
	} else {
		f, err := os.Open(in.path)
		if err != nil {
			return err
		}
		defer f.Close()
		raw = f
	}
	var header []string
	if in.format == FormatCSV && st.seek && r.o.Mapping.CSV.Header {
		h, err := r.readHeader(in)
		if err != nil {
			return err
		}
		header = h
	}
	if st.seek {
		if _, err := raw.(*os.File).Seek(st.at.off, io.SeekStart); err != nil {
			return err
		}
	}
	br := bufio.NewReaderSize(&countingReader{r: raw, n: &r.read}, 256<<10)
	var src io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == gzipMagic[0] && head[1] == gzipMagic[1] {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	at := st.at
	if at.off == 0 {
		// A UTF-8 byte order mark (spreadsheet exports) is not data.
		bb := bufio.NewReaderSize(src, 64<<10)
		if head, _ := bb.Peek(3); string(head) == string(utf8BOM) {
			_, _ = bb.Discard(3)
			at.off = 3
		}
		src = bb
	}

	var (
		sp       splitter
		mapper   *rowMapper
		csvDelim byte = ','
	)
	needHeader := false
	if in.format == FormatCSV {
		d := r.o.Mapping.CSV
		if in.tsv {
			csvDelim = '\t'
		}
		if d.Delimiter != 0 {
			csvDelim = d.Delimiter
		}
		sp = newCSVSplitter(r.o.MaxRecordBytes, csvDelim, d.Comment, at)
		switch {
		case header != nil:
			m, err := r.bind(header, csvDelim)
			if err != nil {
				return err
			}
			mapper = m
		case d.Header:
			needHeader = true
		default:
			m, err := r.bind(nil, csvDelim)
			if err != nil {
				return err
			}
			mapper = m
		}
	} else {
		sp = newJSONSplitter(r.o.MaxRecordBytes, at)
	}

	c := r.getChunk()
	c.input = i
	var fields [][]byte
	var scratch []byte
	emit := func(rc rec, end pos) error {
		if needHeader {
			needHeader = false
			if rc.bad != "" {
				return fmt.Errorf("line %d: the header row is malformed: %s", rc.line, rc.bad)
			}
			var err error
			fields, scratch, err = csvFields(rc.data, csvDelim, fields, scratch)
			if err != nil {
				return fmt.Errorf("line %d: the header row is malformed: %v", rc.line, err)
			}
			names := make([]string, len(fields))
			for j, f := range fields {
				names[j] = strings.TrimSpace(string(f))
			}
			if mapper, err = r.bind(names, csvDelim); err != nil {
				return err
			}
			c.end = end
			return nil
		}
		if end.records <= st.skipTo {
			c.end = end
			return nil
		}
		if c.mapper == nil {
			c.mapper = mapper
		}
		start := len(c.buf)
		c.buf = append(c.buf, rc.data...)
		c.recs = append(c.recs, crec{line: rc.line, start: start, end: len(c.buf), bad: rc.bad})
		c.end = end
		if len(c.recs) >= r.o.BatchRecords || len(c.buf) >= r.o.BatchBytes {
			full := c
			c = r.getChunk()
			c.input, c.end = i, end
			return send(full)
		}
		return nil
	}
	buf := make([]byte, 128<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := src.Read(buf)
		if n > 0 {
			if err := sp.feed(buf[:n], emit); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			// What was read is imported; the failure follows it.
			if len(c.recs) > 0 {
				if err := send(c); err != nil {
					return err
				}
			}
			return readError(rerr, sp.at())
		}
	}
	if err := sp.finish(emit); err != nil {
		return err
	}
	c.last = true
	c.end = sp.at()
	if c.mapper == nil {
		c.mapper = mapper
	}
	return send(c)
}

// readError says what went wrong reading an input, and where.
func readError(err error, at pos) error {
	what := err.Error()
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		what = "the compressed stream is cut short (unexpected end of file)"
	case errors.Is(err, gzip.ErrChecksum):
		what = "gzip checksum error: the file is damaged"
	case errors.Is(err, gzip.ErrHeader):
		what = "gzip header error: the file is damaged, or a second stream in it is not gzip"
	}
	return fmt.Errorf("read error after line %d: %s", at.line, what)
}

// readHeader reads the header row of a CSV input from its start.
func (r *runner) readHeader(in *input) ([]string, error) {
	f, err := os.Open(in.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var src io.Reader = bufio.NewReader(f)
	if head, _ := src.(*bufio.Reader).Peek(2); len(head) == 2 && head[0] == gzipMagic[0] && head[1] == gzipMagic[1] {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		src = zr
	}
	d := r.o.Mapping.CSV
	delim := byte(',')
	if in.tsv {
		delim = '\t'
	}
	if d.Delimiter != 0 {
		delim = d.Delimiter
	}
	sp := newCSVSplitter(r.o.MaxRecordBytes, delim, d.Comment, pos{line: 1})
	var names []string
	found := errors.New("found")
	emit := func(rc rec, _ pos) error {
		data := []byte(strings.TrimPrefix(string(rc.data), string(utf8BOM)))
		fields, _, err := csvFields(data, delim, nil, nil)
		if err != nil {
			return err
		}
		for _, f := range fields {
			names = append(names, strings.TrimSpace(string(f)))
		}
		return found
	}
	buf := make([]byte, 64<<10)
	for {
		n, rerr := src.Read(buf)
		if err := sp.feed(buf[:n], emit); err == found {
			return names, nil
		} else if err != nil {
			return nil, err
		}
		if rerr != nil {
			if err := sp.finish(emit); err == found {
				return names, nil
			}
			return nil, fmt.Errorf("no header row: %v", rerr)
		}
	}
}

// bind binds the mapping to a file's columns: the header's names, renamed
// by csv.columns when the mapping gives them.
func (r *runner) bind(header []string, sep byte) (*rowMapper, error) {
	d := r.o.Mapping.CSV
	if len(d.Columns) > 0 {
		if header != nil && len(header) != len(d.Columns) {
			return nil, fmt.Errorf("the header has %d columns, the mapping's csv.columns %d", len(header), len(d.Columns))
		}
		header = d.Columns
	}
	m, err := r.o.Mapping.bind(header)
	if err != nil {
		return nil, err
	}
	m.sep = sep
	return m, nil
}
