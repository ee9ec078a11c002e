package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Deletions (an erasure, retention) run in the writer goroutine, between
// commits, as maintenance operations: they never interleave with a commit
// or an identity catch-up. Deleting rows makes DuckDB renumber the rowids
// of the rows after them at a later checkpoint; nothing in the store
// depends on rowids (the identity watermark is commit_seq).

// maintReq is a maintenance operation for the writer goroutine.
type maintReq struct {
	run  func(ctx context.Context) error
	done chan error
}

// exclusive runs op in the writer goroutine, between commits, and waits
// for it.
func (s *Store) exclusive(ctx context.Context, op func(ctx context.Context) error) error {
	if s.closing.Load() {
		return ErrClosed
	}
	r := &maintReq{run: op, done: make(chan error, 1)}
	select {
	case s.maint <- r:
	case <-ctx.Done():
		return fmt.Errorf("queue maintenance: %w", ctx.Err())
	case <-s.done:
		return ErrClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-s.done:
		// The writer ran r before it stopped, or never will.
		select {
		case err := <-r.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// runMaint runs a maintenance request in the writer goroutine.
func (s *Store) runMaint(r *maintReq) {
	r.done <- r.run(context.Background())
}

// Erasure is what one member's erasure removed.
type Erasure struct {
	ID           string      `json:"id"`
	SubjectHash  string      `json:"subject_sha256"` // hex SHA-256 of the user id
	RequestedBy  string      `json:"requested_by"`
	RequestedAt  time.Time   `json:"requested_at"`
	AnonymousIDs int         `json:"anonymous_ids"` // devices linked to the member
	Events       int64       `json:"events"`
	Rejected     int64       `json:"rejected"`
	Links        int64       `json:"links"`
	Hours        []time.Time `json:"hours"` // the hours (UTC) that held erased events
	// Member is who was erased, for the lake; never shown.
	Member Member `json:"-"`
}

// SubjectHash is how the erasure audit names a member: the hex SHA-256 of
// the user id, so that the audit proves an erasure without keeping the id.
func SubjectHash(userID string) string {
	h := sha256.Sum256([]byte(userID))
	return hex.EncodeToString(h[:])
}

// Erase deletes every event of member userID: the events with that
// user_id, and the anonymous events (no user_id) of every anonymous id
// ever linked to it by an identify. Identified events of another member on
// a shared device stay. It also deletes the member's identity links and
// the rejected events that name the member or those anonymous ids, and
// records the erasure in the erasures table, all in one transaction.
// Answers the hours that held erased events, so the lake can be rewritten.
func (s *Store) Erase(ctx context.Context, userID, requestedBy string) (Erasure, error) {
	if userID == "" || strings.ContainsRune(userID, 0) {
		return Erasure{}, errors.New("erase: user id is empty or holds a NUL character")
	}
	e := Erasure{ID: newErasureID(), SubjectHash: SubjectHash(userID), RequestedBy: requestedBy, RequestedAt: time.Now().UTC(), Hours: []time.Time{}}
	err := s.exclusive(ctx, func(ctx context.Context) error {
		c := s.wconn
		if _, err := c.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
			return fmt.Errorf("begin erasure: %w", err)
		}
		err := func() error {
			if _, err := c.ExecContext(ctx, `CREATE TEMP TABLE erase_ids AS
				SELECT DISTINCT anonymous_id FROM identity_links_all WHERE user_id = ?`, userID); err != nil {
				return fmt.Errorf("find linked devices: %w", err)
			}
			const match = `(user_id = $1 OR (user_id IS NULL AND anonymous_id IN (SELECT anonymous_id FROM erase_ids)))`
			ids, err := c.QueryContext(ctx, `SELECT anonymous_id FROM erase_ids ORDER BY 1`)
			if err != nil {
				return fmt.Errorf("read linked devices: %w", err)
			}
			e.Member = Member{UserID: userID}
			for ids.Next() {
				var a string
				if err := ids.Scan(&a); err != nil {
					ids.Close()
					return fmt.Errorf("read linked devices: %w", err)
				}
				e.Member.AnonymousIDs = append(e.Member.AnonymousIDs, a)
			}
			ids.Close()
			if err := ids.Err(); err != nil {
				return fmt.Errorf("read linked devices: %w", err)
			}
			e.AnonymousIDs = len(e.Member.AnonymousIDs)
			rows, err := c.QueryContext(ctx, `SELECT DISTINCT date_trunc('hour', ts) AS h FROM events WHERE `+match+` ORDER BY h`, userID)
			if err != nil {
				return fmt.Errorf("find hours: %w", err)
			}
			for rows.Next() {
				var h time.Time
				if err := rows.Scan(&h); err != nil {
					rows.Close()
					return fmt.Errorf("scan hour: %w", err)
				}
				e.Hours = append(e.Hours, h.UTC())
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("find hours: %w", err)
			}
			res, err := c.ExecContext(ctx, `DELETE FROM events WHERE `+match, userID)
			if err != nil {
				return fmt.Errorf("delete events: %w", err)
			}
			e.Events, _ = res.RowsAffected()
			res, err = c.ExecContext(ctx, `DELETE FROM identity_links WHERE user_id = $1`, userID)
			if err != nil {
				return fmt.Errorf("delete identity links: %w", err)
			}
			e.Links, _ = res.RowsAffected()
			// Rejected events are kept as received: JSON with the Segment
			// keys, a Kafka record's JSON with the column names, or text
			// that is no longer JSON (cut at the size limit, a CSV line):
			// the last are matched by the ids' text.
			res, err = c.ExecContext(ctx, `DELETE FROM rejected WHERE rowid IN (
				SELECT rowid FROM (SELECT rowid, raw, json_valid(raw) AS ok, CASE WHEN json_valid(raw) THEN raw ELSE '{}' END AS j FROM rejected)
				WHERE CASE WHEN ok THEN
					coalesce(json_extract_string(j, '$.userId'), json_extract_string(j, '$.user_id')) = $1
					OR coalesce(json_extract_string(j, '$.anonymousId'), json_extract_string(j, '$.anonymous_id')) IN (SELECT anonymous_id FROM erase_ids)
				ELSE
					contains(raw, $1) OR EXISTS (SELECT 1 FROM erase_ids WHERE contains(raw, anonymous_id))
				END)`, userID)
			if err != nil {
				return fmt.Errorf("delete rejected events: %w", err)
			}
			e.Rejected, _ = res.RowsAffected()
			hours, err := json.Marshal(e.Hours)
			if err != nil {
				return fmt.Errorf("encode hours: %w", err)
			}
			if _, err := c.ExecContext(ctx, `INSERT INTO erasures
				(id, subject_sha256, requested_by, requested_at, finished_at, anonymous_ids, events, rejected, links, hours)
				VALUES (?, ?, ?, ?, now(), ?, ?, ?, ?, ?::JSON)`,
				e.ID, e.SubjectHash, e.RequestedBy, e.RequestedAt, e.AnonymousIDs, e.Events, e.Rejected, e.Links, string(hours)); err != nil {
				return fmt.Errorf("record erasure: %w", err)
			}
			anon, err := json.Marshal(append([]string{}, e.Member.AnonymousIDs...))
			if err != nil {
				return fmt.Errorf("encode devices: %w", err)
			}
			if _, err := c.ExecContext(ctx, `INSERT INTO erasures_pending VALUES (?, ?, ?::JSON)`, e.ID, userID, string(anon)); err != nil {
				return fmt.Errorf("record pending erasure: %w", err)
			}
			if _, err := c.ExecContext(ctx, `DROP TABLE erase_ids`); err != nil {
				return fmt.Errorf("drop erase ids: %w", err)
			}
			return nil
		}()
		if err == nil {
			_, err = c.ExecContext(ctx, "COMMIT")
		}
		if err != nil {
			_, _ = c.ExecContext(context.Background(), "ROLLBACK")
			_, _ = c.ExecContext(context.Background(), "DROP TABLE IF EXISTS erase_ids")
			return err
		}
		return nil
	})
	if err != nil {
		return Erasure{}, fmt.Errorf("erase: %w", err)
	}
	s.log.Info("member erased", "erasure", e.ID, "events", e.Events, "rejected", e.Rejected, "devices", e.AnonymousIDs, "hours", len(e.Hours))
	return e, nil
}

// RecordLake notes in the audit how the lake was rewritten after erasure id:
// the partitions rewritten, or why it failed.
func (s *Store) RecordLake(ctx context.Context, id string, partitions int, lakeErr error) error {
	status := "done"
	if lakeErr != nil {
		status = "lake failed: " + lakeErr.Error()
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE erasures SET lake_partitions = coalesce(lake_partitions, 0) + ?, lake_status = ? WHERE id = ?`, partitions, status, id); err != nil {
		return fmt.Errorf("record lake rewrite: %w", err)
	}
	if lakeErr == nil {
		// Done: forget who it was.
		if _, err := s.db.ExecContext(ctx, `DELETE FROM erasures_pending WHERE id = ?`, id); err != nil {
			return fmt.Errorf("forget erased member: %w", err)
		}
	}
	return nil
}

// PendingErasure is an erasure whose lake rewrite has not succeeded yet.
type PendingErasure struct {
	ID     string
	Member Member
	Hours  []time.Time
}

// LakePending answers the erasures whose lake rewrite has not succeeded
// (never tried, or failed), oldest first.
func (s *Store) LakePending(ctx context.Context) ([]PendingErasure, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT e.id, p.user_id, p.anonymous_ids::VARCHAR, e.hours::VARCHAR
		FROM erasures_pending p JOIN erasures e USING (id) ORDER BY e.requested_at`)
	if err != nil {
		return nil, fmt.Errorf("read pending erasures: %w", err)
	}
	defer rows.Close()
	var out []PendingErasure
	for rows.Next() {
		var p PendingErasure
		var anon, hours string
		if err := rows.Scan(&p.ID, &p.Member.UserID, &anon, &hours); err != nil {
			return nil, fmt.Errorf("scan pending erasure: %w", err)
		}
		if err := json.Unmarshal([]byte(anon), &p.Member.AnonymousIDs); err != nil {
			return nil, fmt.Errorf("devices of erasure %s: %w", p.ID, err)
		}
		if err := json.Unmarshal([]byte(hours), &p.Hours); err != nil {
			return nil, fmt.Errorf("hours of erasure %s: %w", p.ID, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// DeleteBefore deletes the events whose ts is before cutoff and the
// rejected events received before it (retention). Identity links stay:
// they are what later events of the same devices are attributed by.
func (s *Store) DeleteBefore(ctx context.Context, cutoff time.Time) (events, rejected int64, err error) {
	err = s.exclusive(ctx, func(ctx context.Context) error {
		// The cutoff is recorded with the deletion, in one transaction:
		// the lake relies on it to tell which hours the store holds whole.
		if _, err := s.wconn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		var err error
		if events, rejected, err = s.deleteBefore(ctx, cutoff); err != nil {
			_, _ = s.wconn.ExecContext(context.Background(), "ROLLBACK")
			return err
		}
		if _, err := s.wconn.ExecContext(ctx, "COMMIT"); err != nil {
			_, _ = s.wconn.ExecContext(context.Background(), "ROLLBACK")
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("retention: %w", err)
	}
	return events, rejected, nil
}

// deleteBefore is DeleteBefore's transaction: the old events and rejected
// events go, and the cutoff is recorded.
func (s *Store) deleteBefore(ctx context.Context, cutoff time.Time) (events, rejected int64, err error) {
	res, err := s.wconn.ExecContext(ctx, `DELETE FROM events WHERE ts < ?`, cutoff)
	if err != nil {
		return 0, 0, fmt.Errorf("delete events: %w", err)
	}
	events, _ = res.RowsAffected()
	res, err = s.wconn.ExecContext(ctx, `DELETE FROM rejected WHERE received_at < ?`, cutoff)
	if err != nil {
		return 0, 0, fmt.Errorf("delete rejected events: %w", err)
	}
	rejected, _ = res.RowsAffected()
	if _, err := s.wconn.ExecContext(ctx, `DELETE FROM retention_state WHERE cutoff < ?`, cutoff); err != nil {
		return 0, 0, fmt.Errorf("record the retention cutoff: %w", err)
	}
	if _, err := s.wconn.ExecContext(ctx, `INSERT INTO retention_state
		SELECT ?::TIMESTAMPTZ WHERE NOT EXISTS (SELECT 1 FROM retention_state WHERE cutoff >= ?)`, cutoff, cutoff); err != nil {
		return 0, 0, fmt.Errorf("record the retention cutoff: %w", err)
	}
	return events, rejected, nil
}

// RetainedFrom is the start of the first hour the store holds whole: the
// hour after the latest retention cutoff (zero when retention never ran).
// Older hours may have lost events to retention.
func (s *Store) RetainedFrom(ctx context.Context) (time.Time, error) {
	var c sql.NullTime
	if err := s.db.QueryRowContext(ctx, `SELECT max(cutoff) FROM retention_state`).Scan(&c); err != nil {
		return time.Time{}, fmt.Errorf("read the retention cutoff: %w", err)
	}
	if !c.Valid {
		return time.Time{}, nil
	}
	t := c.Time.UTC()
	if h := t.Truncate(time.Hour); !h.Equal(t) {
		return h.Add(time.Hour), nil
	}
	return t, nil
}

func newErasureID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "er_" + hex.EncodeToString(b)
}
