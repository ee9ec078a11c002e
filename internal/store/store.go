package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/actlog/actlog/internal/event"
)

// ErrClosed is returned by Write once the store is closing.
var ErrClosed = errors.New("store closed")

// ErrInvalidated is reported once DuckDB has invalidated the database after
// a fatal I/O error (a full disk during a checkpoint, say): every later
// commit fails until the database is opened again.
var ErrInvalidated = errors.New("store invalidated by a fatal error: it must be reopened")

// ErrOverloaded is returned by Write when the write queue stays full until
// the caller's deadline.
var ErrOverloaded = errors.New("store write queue full")

// Options configure a Store. Zero values take the defaults.
type Options struct {
	Dir            string        // data directory; the database is Dir/actlog.duckdb
	DedupeWindow   time.Duration // default 7 days
	DedupeMaxIDs   int           // memory bound of the dedupe state; default 100 million ids
	SessionTimeout time.Duration // default 30 minutes
	QueueSize      int           // pending write requests; default 4096
	MaxGroupEvents int           // events in one group commit; default 50,000
	// CheckpointInterval is how often a background checkpoint folds the
	// write-ahead log into the database file (default 5 s; longer, 20
	// times the last checkpoint's duration, when checkpoints are slow). A DuckDB
	// checkpoint holds up commits while it runs; frequent small ones keep
	// that pause short, where DuckDB's own trigger (a 16 MB log) lets it
	// grow to hundreds of milliseconds. The log still checkpoints by itself
	// past 256 MB should the background fall behind.
	CheckpointInterval time.Duration
	// LinksInterval is how often, at most, the writer appends the links of
	// newly stored identify events to identity_links, off the commits' path
	// (default 1 s). The identities view is exact at any time: it reads the
	// identifies stored since the last time itself.
	LinksInterval time.Duration
	// ExportDir is the one directory the store's SQL may write files to
	// (the lake export's staging area); default Dir/export. Every other
	// path is refused, to the export as to the SQL console.
	ExportDir string
	// NoEvents opens the store for tools that write no events (export,
	// erasure, plan inference): the dedupe and session state is not
	// restored (17 s at 10 million events) and Write refuses.
	NoEvents    bool
	MemoryLimit string // DuckDB memory_limit, e.g. "2GB"; default DuckDB's
	Threads     int    // DuckDB threads; default DuckDB's (all cores)
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
}

func (o *Options) setDefaults() {
	if o.DedupeWindow <= 0 {
		o.DedupeWindow = 7 * 24 * time.Hour
	}
	if o.DedupeMaxIDs <= 0 {
		o.DedupeMaxIDs = 100_000_000
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 30 * time.Minute
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.MaxGroupEvents <= 0 {
		o.MaxGroupEvents = 50_000
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 5 * time.Second
	}
	if o.LinksInterval <= 0 {
		o.LinksInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ExportDir == "" && o.Dir != "" {
		o.ExportDir = filepath.Join(o.Dir, "export")
	}
}

// Store is actlog's DuckDB store: one writer goroutine that group-commits
// batches, and read access for queries.
type Store struct {
	opts     Options
	log      *slog.Logger
	db       *sql.DB
	wconn    *sql.Conn // the writer's own connection
	queue    chan *writeReq
	maint    chan *maintReq // deletions, run by the writer between commits
	stop     chan struct{}
	done     chan struct{} // closed when the writer has stopped
	ckptDone chan struct{} // closed when the checkpointer has stopped
	closing  atomic.Bool
	fatal    chan struct{} // closed once the database is invalidated
	fatalOne sync.Once
	lastErr  atomic.Pointer[error] // last commit failure, nil after a success
	closeMu  sync.Mutex
	closed   bool
	dedupe   *dedupe
	sessions *sessionizer
	linksDue bool // identifies were stored since the links last caught up (writer-owned)
	// commitSeq is the number of the last commit (writer-owned): each
	// commit stores the next on its rows (commit_seq).
	commitSeq int64
	// linksBehind is linksDue for readers: identity_links lacks the links
	// of some stored identifies, which only the views' tail holds.
	linksBehind atomic.Bool
	metrics     *metrics
	keys        []uint64 // scratch of the writer

	insertEvents string            // the query appender's INSERT
	eventTypes   []duckdb.TypeInfo // the appended columns' types
}

// Open opens (creating if needed) the store in opts.Dir, applies schema
// migrations, restores the dedupe and session state and starts the writer.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts.setDefaults()
	if opts.Dir == "" {
		return nil, errors.New("store needs a data directory")
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(opts.Dir, "actlog.duckdb")
	connector, err := duckdb.NewConnector(path, nil)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := sql.OpenDB(connector)
	s := &Store{
		opts:     opts,
		log:      opts.Logger,
		db:       db,
		queue:    make(chan *writeReq, opts.QueueSize),
		maint:    make(chan *maintReq),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		ckptDone: make(chan struct{}),
		fatal:    make(chan struct{}),
		dedupe:   newDedupe(opts.DedupeWindow, opts.DedupeMaxIDs),
		sessions: newSessionizer(opts.SessionTimeout),
	}
	if s.insertEvents, s.eventTypes, err = eventAppenderSpec(); err != nil {
		_ = db.Close()
		return nil, err
	}
	fail := func(err error) (*Store, error) {
		_ = db.Close()
		return nil, err
	}
	if err := s.configure(ctx); err != nil {
		return fail(err)
	}
	if _, err := migrate(ctx, db); err != nil {
		return fail(err)
	}
	start := time.Now()
	if !opts.NoEvents {
		if err := s.restore(ctx, start); err != nil {
			return fail(err)
		}
	}
	if err := s.lockDown(ctx); err != nil {
		return fail(err)
	}
	s.log.Info("store opened", "path", path, "dedupe_ids", s.dedupe.size(), "live_sessions", len(s.sessions.live), "restore", time.Since(start).Round(time.Millisecond))
	if s.wconn, err = db.Conn(ctx); err != nil {
		return fail(fmt.Errorf("writer connection: %w", err))
	}
	if err := s.wconn.QueryRowContext(ctx, `SELECT coalesce(max(commit_seq), 0) FROM events`).Scan(&s.commitSeq); err != nil {
		_ = s.wconn.Close()
		return fail(fmt.Errorf("read the last commit number: %w", err))
	}
	// Links of identifies stored before a crash.
	if err := s.catchUpLinks(ctx); err != nil {
		_ = s.wconn.Close()
		return fail(err)
	}
	s.metrics = newMetrics(opts.Registerer, s)
	go s.run()
	go s.checkpoints()
	return s, nil
}

func (s *Store) configure(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, "SET checkpoint_threshold = '256MB'"); err != nil {
		return fmt.Errorf("set checkpoint_threshold: %w", err)
	}
	if s.opts.MemoryLimit != "" {
		if _, err := s.db.ExecContext(ctx, "SET memory_limit = ?", s.opts.MemoryLimit); err != nil {
			return fmt.Errorf("set memory_limit: %w", err)
		}
	}
	if s.opts.Threads > 0 {
		if _, err := s.db.ExecContext(ctx, fmt.Sprintf("SET threads = %d", s.opts.Threads)); err != nil {
			return fmt.Errorf("set threads: %w", err)
		}
	}
	return nil
}

// lockDown forbids file access and further configuration changes from any
// connection, so read-only SQL cannot reach the file system.
func (s *Store) lockDown(ctx context.Context) error {
	if err := os.MkdirAll(s.opts.ExportDir, 0o750); err != nil {
		return fmt.Errorf("create export dir: %w", err)
	}
	dir, err := filepath.Abs(s.opts.ExportDir)
	if err != nil {
		return fmt.Errorf("export dir: %w", err)
	}
	for _, q := range []string{
		"SET GLOBAL TimeZone = 'UTC'",
		"SET allowed_directories = [" + sqlString(dir+string(filepath.Separator)) + "]",
		"SET enable_external_access = false",
		"SET lock_configuration = true",
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// sqlString quotes s as a SQL string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// ExportDir is the directory the store may write files to (absolute).
func (s *Store) ExportDir() string {
	d, _ := filepath.Abs(s.opts.ExportDir)
	return d
}

// restore loads the dedupe keys of the window and the sessions still live.
func (s *Store) restore(ctx context.Context, now time.Time) error {
	since := now.Add(-s.opts.DedupeWindow - s.dedupe.width)
	rows, err := s.db.QueryContext(ctx, `SELECT dedupe_key, received_at FROM events WHERE received_at >= ?`, since)
	if err != nil {
		return fmt.Errorf("load dedupe keys: %w", err)
	}
	for rows.Next() {
		var k uint64
		var at time.Time
		if err := rows.Scan(&k, &at); err != nil {
			rows.Close()
			return fmt.Errorf("scan dedupe key: %w", err)
		}
		s.dedupe.load(k, at)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load dedupe keys: %w", err)
	}
	s.dedupe.finishLoad(now)

	// Each actor's latest derived session, and that session's campaign:
	// within a derived session every campaign equals the one it began with.
	rows, err = s.db.QueryContext(ctx, `
		WITH recent AS (
			SELECT coalesce(anonymous_id, user_id) AS actor, session_id, ts, utm_campaign
			FROM events
			WHERE received_at >= ? AND starts_with(session_id, ?)
		), last AS (
			SELECT actor, arg_max(session_id, ts) AS sid, max(ts) AS last_ts
			FROM recent GROUP BY actor
		)
		SELECT l.actor, l.sid, l.last_ts, coalesce(max(r.utm_campaign), '')
		FROM last l JOIN recent r ON r.session_id = l.sid
		GROUP BY l.actor, l.sid, l.last_ts`, now.Add(-2*s.opts.SessionTimeout), derivedPrefix)
	if err != nil {
		return fmt.Errorf("load sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var actor string
		var st sessionState
		if err := rows.Scan(&actor, &st.id, &st.last, &st.campaign); err != nil {
			return fmt.Errorf("scan session: %w", err)
		}
		s.sessions.live[actor] = st
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load sessions: %w", err)
	}
	return nil
}

// eventAppenderSpec returns the INSERT run by the events query appender
// and the types of the appended columns: JSON columns are appended as text
// and cast by DuckDB.
func eventAppenderSpec() (string, []duckdb.TypeInfo, error) {
	typeOf := map[string]duckdb.Type{
		"seq": duckdb.TYPE_BIGINT, "ts": duckdb.TYPE_TIMESTAMP_TZ, "client_ts": duckdb.TYPE_TIMESTAMP_TZ,
		"sent_at": duckdb.TYPE_TIMESTAMP_TZ, "received_at": duckdb.TYPE_TIMESTAMP_TZ, "dedupe_key": duckdb.TYPE_UBIGINT,
		"commit_seq": duckdb.TYPE_BIGINT,
	}
	var types []duckdb.TypeInfo
	var sel []string
	for i, c := range eventColumns {
		t, ok := typeOf[c]
		if !ok {
			t = duckdb.TYPE_VARCHAR
		}
		ti, err := duckdb.NewTypeInfo(t)
		if err != nil {
			return "", nil, fmt.Errorf("type of %s: %w", c, err)
		}
		types = append(types, ti)
		col := fmt.Sprintf("col%d", i+1)
		if jsonColumns[c] {
			col += "::JSON"
		}
		sel = append(sel, col)
	}
	q := "INSERT INTO events (" + strings.Join(eventColumns[:], ", ") + ") SELECT " + strings.Join(sel, ", ") + " FROM appended_data"
	return q, types, nil
}

// LinksCaughtUp reports whether identity_links holds the links of every
// identify stored so far, so a reader may skip the views' tail of newer
// identify events (an identify committed just after may be missed, as if
// the reader had come a moment earlier).
func (s *Store) LinksCaughtUp() bool { return !s.linksBehind.Load() }

// DB is the store's database handle for read queries by other packages of
// this module. Writes must go through Write.
func (s *Store) DB() *sql.DB { return s.db }

// Ready reports whether the store can make events durable: the writer runs
// and the last commit did not fail.
func (s *Store) Ready() error {
	if s.closing.Load() {
		return ErrClosed
	}
	select {
	case <-s.fatal:
		return ErrInvalidated
	default:
	}
	if p := s.lastErr.Load(); p != nil {
		return fmt.Errorf("last commit failed: %w", *p)
	}
	return nil
}

// Invalidated is closed when DuckDB has invalidated the database after a
// fatal I/O error: the store then only fails, and its owner should close
// it and open it again (the rows committed before are on disk; every
// request answered since was answered with an error).
func (s *Store) Invalidated() <-chan struct{} { return s.fatal }

// checkFatal notes err if it says DuckDB invalidated the database.
func (s *Store) checkFatal(err error) {
	if err == nil {
		return
	}
	msg := err.Error()
	if strings.Contains(msg, "database has been invalidated") || strings.Contains(msg, "FATAL Error") {
		s.fatalOne.Do(func() {
			s.log.Error("the database was invalidated by a fatal error; it must be reopened", "err", err)
			close(s.fatal)
		})
	}
}

// Close stops accepting writes, commits everything queued, stops the writer
// and closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.closing.Store(true)
	close(s.stop)
	<-s.done
	<-s.ckptDone
	var errs []error
	if _, err := s.wconn.ExecContext(context.Background(), "CHECKPOINT"); err != nil {
		errs = append(errs, fmt.Errorf("checkpoint: %w", err))
	}
	if err := s.wconn.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close writer connection: %w", err))
	}
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close database: %w", err))
	}
	s.metrics.unregister()
	return errors.Join(errs...)
}

// Write queues b and returns once it is committed, or with an error when
// ctx ends first, the queue stays full, or the commit fails. A Write that
// returns an error may still be committed later; callers retry with the
// same message ids and dedupe stores them once.
func (s *Store) Write(ctx context.Context, b *event.Batch) error {
	if s.closing.Load() {
		return ErrClosed
	}
	if s.opts.NoEvents {
		return errors.New("store opened for a tool that writes no events")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("queue write: %w", err)
	}
	r := &writeReq{batch: b, done: make(chan error, 1)}
	select {
	case s.queue <- r:
	case <-ctx.Done():
		return ErrOverloaded
	case <-s.stop:
		return ErrClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("wait for commit: %w", ctx.Err())
	}
}

// checkpoints runs CHECKPOINT every CheckpointInterval until the store
// closes. It owns no state; a failed checkpoint is retried next time.
func (s *Store) checkpoints() {
	defer close(s.ckptDone)
	t := time.NewTimer(s.opts.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			start := time.Now()
			_, err := s.db.ExecContext(context.Background(), "CHECKPOINT")
			took := time.Since(start)
			if err != nil {
				// Typically a write transaction was open; the next tick
				// tries again, and the log checkpoints itself past 256 MB.
				s.log.Debug("checkpoint skipped", "err", err)
				s.checkFatal(err)
			} else {
				s.metrics.checkpointSeconds.Observe(took.Seconds())
			}
			t.Reset(checkpointWait(s.opts.CheckpointInterval, took))
		}
	}
}

// checkpointWait is the time until the next checkpoint: the interval, or
// longer when checkpoints are slow. A checkpoint's cost grows with the
// table (0.05 s at 10 million events, 0.6 s at 100 million) more than with
// what changed since the last, and commits wait while it runs: spacing them
// to 20 times their duration keeps that wait near 5 % of the time.
func checkpointWait(interval, took time.Duration) time.Duration {
	return max(interval, 20*took)
}

// Offsets returns the next offset to read for each partition of topic whose
// rows this store holds.
func (s *Store) Offsets(ctx context.Context, topic string) (map[int32]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT partition, next_offset FROM stream_offsets WHERE topic = ?`, topic)
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	defer rows.Close()
	out := map[int32]int64{}
	for rows.Next() {
		var p int32
		var n int64
		if err := rows.Scan(&p, &n); err != nil {
			return nil, fmt.Errorf("scan offset: %w", err)
		}
		out[p] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	return out, nil
}

// Stats are the store's size and contents, for the status API.
type Stats struct {
	Path      string `json:"path"`
	SizeBytes int64  `json:"size_bytes"` // database file and write-ahead log
	Events    int64  `json:"events"`
	Rejected  int64  `json:"rejected"`
	DedupeIDs int    `json:"-"`
}

// Stats reads the store's size and row counts.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Path: filepath.Join(s.opts.Dir, "actlog.duckdb")}
	for _, p := range []string{st.Path, st.Path + ".wal"} {
		if fi, err := os.Stat(p); err == nil {
			st.SizeBytes += fi.Size()
		}
	}
	if err := s.db.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM rejected)").Scan(&st.Events, &st.Rejected); err != nil {
		return st, fmt.Errorf("count rows: %w", err)
	}
	return st, nil
}

// RecentEvents returns the latest n events of one anonymous id, newest
// first, as column → value maps (for the demo page).
func (s *Store) RecentEvents(ctx context.Context, anonymousID string, n int) ([]map[string]any, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT ts, event, page_path, section, banner, session_id, seq
		FROM events WHERE anonymous_id = ? ORDER BY ts DESC, seq DESC LIMIT ?`, anonymousID, n)
	if err != nil {
		return nil, fmt.Errorf("recent events: %w", err)
	}
	defer rows.Close()
	out := []map[string]any{}
	for rows.Next() {
		var ts time.Time
		var ev, path, section, banner, session sql.NullString
		var seq sql.NullInt64
		if err := rows.Scan(&ts, &ev, &path, &section, &banner, &session, &seq); err != nil {
			return nil, fmt.Errorf("scan recent event: %w", err)
		}
		m := map[string]any{"ts": ts.UTC().Format(time.RFC3339Nano), "event": ev.String, "page_path": path.String,
			"section": section.String, "banner": banner.String, "session_id": session.String}
		if seq.Valid {
			m["seq"] = seq.Int64
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent events: %w", err)
	}
	return out, nil
}
