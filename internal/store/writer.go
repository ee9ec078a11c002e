package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/actlog/actlog/internal/event"
)

type writeReq struct {
	batch *event.Batch
	done  chan error
}

// groupResult counts what one committed transaction held.
type groupResult struct {
	events, duplicates, rejected int
}

// run is the writer goroutine: it takes every request waiting in the queue
// (natural group commit: no timer, the queue fills while a commit runs),
// commits them in one transaction and answers each.
func (s *Store) run() {
	defer close(s.done)
	maint := time.NewTicker(time.Minute)
	defer maint.Stop()
	links := time.NewTicker(s.opts.LinksInterval)
	defer links.Stop()
	group := make([]*writeReq, 0, 256)
	for {
		group = group[:0]
		select {
		case r := <-s.queue:
			group = append(group, r)
		case <-maint.C:
			s.maintain(time.Now())
			continue
		case <-links.C:
			s.catchUp()
			continue
		case m := <-s.maint:
			s.runMaint(m)
			continue
		case <-s.stop:
			s.drain()
			s.catchUp()
			return
		}
		group = s.fill(group)
		s.commitGroup(group)
	}
}

// fill adds queued requests to group without waiting, up to the group limit.
func (s *Store) fill(group []*writeReq) []*writeReq {
	n := 0
	for _, r := range group {
		n += len(r.batch.Events)
	}
	for n < s.opts.MaxGroupEvents {
		select {
		case r := <-s.queue:
			group = append(group, r)
			n += len(r.batch.Events)
		default:
			return group
		}
	}
	return group
}

// drain commits whatever is queued when the store closes.
func (s *Store) drain() {
	for {
		select {
		case r := <-s.queue:
			s.commitGroup(s.fill([]*writeReq{r}))
		default:
			return
		}
	}
}

// commitGroup commits a group; if that fails and the group holds more than
// one request, each is retried alone so that one bad request cannot fail
// the others.
func (s *Store) commitGroup(group []*writeReq) {
	start := time.Now()
	res, err := s.commit(group)
	if err != nil && len(group) > 1 {
		s.log.Warn("group commit failed; committing requests one by one", "requests", len(group), "err", err)
		for _, r := range group {
			one := []*writeReq{r}
			res1, err1 := s.commit(one)
			s.finish(one, res1, err1, start)
		}
		return
	}
	s.finish(group, res, err, start)
}

func (s *Store) finish(group []*writeReq, res groupResult, err error, start time.Time) {
	if err != nil {
		s.lastErr.Store(&err)
		s.checkFatal(err)
		s.metrics.commitErrors.Inc()
		s.log.Error("commit failed", "requests", len(group), "err", err)
	} else {
		s.lastErr.Store(nil)
		s.metrics.commits.Inc()
		s.metrics.commitSeconds.Observe(time.Since(start).Seconds())
		s.metrics.groupEvents.Observe(float64(res.events + res.duplicates))
		s.metrics.stored.Add(float64(res.events))
		s.metrics.duplicates.Add(float64(res.duplicates))
		s.metrics.rejected.Add(float64(res.rejected))
	}
	for _, r := range group {
		r.done <- err
	}
}

// commit writes the group atomically: the events not seen before (with
// their dedupe keys) and the rejected events. Dedupe and session state
// change only if it commits.
//
// Events go through one query appender whose rows DuckDB inserts with a
// single INSERT … SELECT, casting properties and context to JSON in C++.
// Without rejected events that INSERT is the whole transaction (auto-commit:
// no BEGIN/COMMIT round trips); with them, an explicit transaction holds
// both tables.
func (s *Store) commit(group []*writeReq) (res groupResult, err error) {
	ctx := context.Background()
	now := time.Now().UTC()
	seq := s.commitSeq + 1
	s.dedupe.rotate(now)
	keys := s.keys[:0]
	defer func() { s.keys = keys[:0] }()
	seen := make(map[uint64]struct{}, 64)
	explicit := false
	for _, r := range group {
		if len(r.batch.Rejected) > 0 || len(r.batch.Offsets) > 0 {
			explicit = true
			break
		}
	}
	if explicit {
		if _, err := s.wconn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
			return res, fmt.Errorf("begin: %w", err)
		}
	}
	var derived []*event.Event // events whose session id this commit derived
	defer func() {
		if err != nil {
			// Forget derived session ids so a retry derives them again
			// from the state that did commit.
			for _, e := range derived {
				e.SessionID = ""
			}
			s.sessions.rollback()
			if explicit {
				if _, rbErr := s.wconn.ExecContext(ctx, "ROLLBACK"); rbErr != nil {
					s.log.Error("rollback failed", "err", rbErr)
				}
			}
		}
	}()
	err = s.wconn.Raw(func(dc any) error {
		conn := dc.(driver.Conn)
		var ev *duckdb.Appender
		for _, r := range group {
			for i := range r.batch.Events {
				e := &r.batch.Events[i]
				k := dedupeKey(e.Source, e.EventID)
				if _, dup := seen[k]; dup || s.dedupe.has(k) {
					res.duplicates++
					continue
				}
				if ev == nil {
					var err error
					if ev, err = duckdb.NewQueryAppender(conn, s.insertEvents, "", s.eventTypes, nil); err != nil {
						return fmt.Errorf("events appender: %w", err)
					}
					defer ev.Close()
				}
				seen[k] = struct{}{}
				keys = append(keys, k)
				if e.SessionID == "" {
					s.sessions.assign(e)
					derived = append(derived, e)
				}
				if err := ev.AppendRow(eventRow(e, k, seq)...); err != nil {
					return fmt.Errorf("append event: %w", err)
				}
				if e.Type == event.Identify {
					s.linksDue = true
					s.linksBehind.Store(true) // before the commit shows the event
				}
				res.events++
			}
		}
		if ev != nil {
			if err := ev.Close(); err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
		}
		if !explicit {
			return nil
		}
		if err := s.commitOffsets(ctx, conn, group, now); err != nil {
			return err
		}
		rj, err := duckdb.NewAppenderFromConn(conn, "", "rejected")
		if err != nil {
			return fmt.Errorf("rejected appender: %w", err)
		}
		defer rj.Close()
		for _, r := range group {
			for _, x := range r.batch.Rejected {
				if err := rj.AppendRow(x.ReceivedAt, text(x.Source), int32(x.Index), text(x.MessageID), text(x.Reason), text(string(x.Raw)),
					text(x.Event), rawViolations(x.Violations)); err != nil {
					return fmt.Errorf("append rejected: %w", err)
				}
				res.rejected++
			}
		}
		if err := rj.Close(); err != nil {
			return fmt.Errorf("flush rejected: %w", err)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if explicit {
		if _, err = s.wconn.ExecContext(ctx, "COMMIT"); err != nil {
			return res, fmt.Errorf("commit: %w", err)
		}
	}
	s.sessions.commit()
	s.dedupe.add(keys, now)
	s.commitSeq = seq
	return res, nil
}

// catchUp catches the identity links up when identify events were stored
// since it last did.
func (s *Store) catchUp() {
	if !s.linksDue {
		return
	}
	s.linksDue = false
	if err := s.catchUpLinks(context.Background()); err != nil {
		s.linksDue = true // the view reads the newer identifies meanwhile
		s.log.Error("identity links", "err", err)
		return
	}
	s.linksBehind.Store(false)
}

// maintain runs between commits: it forgets idle sessions and rotates the
// dedupe generations.
func (s *Store) maintain(now time.Time) {
	s.sessions.prune(now)
	s.dedupe.rotate(now)
}

// eventRow is e as the values of one events row, in the order of
// eventColumns; properties and context are text that the INSERT casts.
func eventRow(e *event.Event, key uint64, commit int64) []driver.Value {
	return []driver.Value{
		e.EventID, e.Source, string(e.Type), text(e.Event),
		text(e.AnonymousID), text(e.UserID), text(e.SessionID), seq(e.Seq, e.HasSeq),
		e.TS, tsOrNil(e.ClientTS), tsOrNil(e.SentAt), e.ReceivedAt,
		text(e.PageURL), text(e.PagePath), text(e.PageTitle), text(e.Referrer), text(e.ScreenName),
		text(e.Section), text(e.Banner),
		text(e.UTMSource), text(e.UTMMedium), text(e.UTMCampaign), text(e.UTMTerm), text(e.UTMContent),
		text(e.DeviceType), text(e.OS), text(e.Browser), text(e.IP),
		jsonText(e.Properties), jsonText(e.Context), key, violationsJSON(e.Violations), commit,
	}
}

// rawViolations is violationsJSON for the table appender, which takes a
// JSON column's value as json.RawMessage (a string would be stored as a
// JSON string).
func rawViolations(v []event.Violation) driver.Value {
	if s, ok := violationsJSON(v).(string); ok {
		return json.RawMessage(s)
	}
	return nil
}

// violationsJSON is the violations column: NULL when there are none.
func violationsJSON(v []event.Violation) driver.Value {
	if len(v) == 0 {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil // strings only: cannot fail
	}
	return string(b)
}

// text stores "" as NULL and never hands DuckDB invalid UTF-8.
func text(s string) driver.Value {
	if s == "" {
		return nil
	}
	if !utf8.ValidString(s) {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

func seq(n int64, ok bool) driver.Value {
	if !ok {
		return nil
	}
	return n
}

func tsOrNil(t time.Time) driver.Value {
	if t.IsZero() {
		return nil
	}
	return t
}

func jsonText(b []byte) driver.Value {
	if len(b) == 0 {
		return "{}"
	}
	return string(b)
}

// commitOffsets records, in the transaction of the rows, the log positions
// the group completes (the highest per partition).
func (s *Store) commitOffsets(ctx context.Context, conn driver.Conn, group []*writeReq, now time.Time) error {
	type tp struct {
		topic     string
		partition int32
	}
	next := map[tp]int64{}
	for _, r := range group {
		for _, o := range r.batch.Offsets {
			k := tp{o.Topic, o.Partition}
			if cur, ok := next[k]; !ok || o.Next > cur {
				next[k] = o.Next
			}
		}
	}
	if len(next) == 0 {
		return nil
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		return fmt.Errorf("store offsets: connection cannot execute")
	}
	for k, n := range next {
		_, err := ex.ExecContext(ctx, `INSERT OR REPLACE INTO stream_offsets VALUES (?, ?, ?, ?)`, []driver.NamedValue{
			{Ordinal: 1, Value: k.topic}, {Ordinal: 2, Value: int64(k.partition)}, {Ordinal: 3, Value: n}, {Ordinal: 4, Value: now},
		})
		if err != nil {
			return fmt.Errorf("store offset %s/%d: %w", k.topic, k.partition, err)
		}
	}
	return nil
}

// catchUpLinks appends to identity_links the links made by the identify
// events stored since the last catch-up (commit_seq above identity_state's
// through), and moves through, in one transaction. It runs in the writer
// goroutine (or before it starts), between commits: no row is appended
// meanwhile, so every row up to the new through is committed. Until then,
// the identities view reads the newer identify events itself.
func (s *Store) catchUpLinks(ctx context.Context) error {
	ex := s.wconn
	var through, last int64
	if err := ex.QueryRowContext(ctx, `SELECT through FROM identity_state`).Scan(&through); err != nil {
		return fmt.Errorf("read identity state: %w", err)
	}
	if err := ex.QueryRowContext(ctx, `SELECT coalesce(max(commit_seq), ?) FROM events WHERE commit_seq > ?`, through, through).Scan(&last); err != nil {
		return fmt.Errorf("read the last commit number: %w", err)
	}
	if last == through {
		return nil
	}
	if _, err := ex.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("begin identity links: %w", err)
	}
	_, err := ex.ExecContext(ctx, `INSERT INTO identity_links SELECT anonymous_id, user_id, ts FROM events
		WHERE commit_seq > ? AND commit_seq <= ? AND type = 'identify' AND user_id IS NOT NULL AND anonymous_id IS NOT NULL`, through, last)
	if err == nil {
		_, err = ex.ExecContext(ctx, `UPDATE identity_state SET through = ?`, last)
	}
	if err == nil {
		_, err = ex.ExecContext(ctx, "COMMIT")
	}
	if err != nil {
		_, _ = ex.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("catch up identity links: %w", err)
	}
	return nil
}
