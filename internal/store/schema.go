package store

import (
	"context"
	"database/sql"
	"fmt"
)

// eventColumns are the columns of the events table in order. dedupe_key is
// actlog's own: the 64-bit key of (source, event_id) that restores the
// dedupe state at start; it is not part of the lake export.
var eventColumns = [...]string{
	"event_id", "source", "type", "event", "anonymous_id", "user_id", "session_id", "seq",
	"ts", "client_ts", "sent_at", "received_at",
	"page_url", "page_path", "page_title", "referrer", "screen_name", "section", "banner",
	"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
	"device_type", "os", "browser", "ip", "properties", "context", "dedupe_key",
	"violations", "commit_seq",
}

// internalColumns are actlog's own columns of the events table, not part
// of the lake export: the dedupe key and the commit number.
var internalColumns = map[string]bool{"dedupe_key": true, "commit_seq": true}

// jsonColumns are the events columns appended as text and cast to JSON.
var jsonColumns = map[string]bool{"properties": true, "context": true, "violations": true}

// migrations are applied in order, each once, each in its own transaction.
// Never edit a released migration: append a new one.
var migrations = [...]string{
	1: `
CREATE TABLE events (
	event_id     VARCHAR NOT NULL,
	source       VARCHAR NOT NULL,
	type         VARCHAR NOT NULL,
	event        VARCHAR,
	anonymous_id VARCHAR,
	user_id      VARCHAR,
	session_id   VARCHAR,
	seq          BIGINT,
	ts           TIMESTAMPTZ NOT NULL,
	client_ts    TIMESTAMPTZ,
	sent_at      TIMESTAMPTZ,
	received_at  TIMESTAMPTZ NOT NULL,
	page_url     VARCHAR,
	page_path    VARCHAR,
	page_title   VARCHAR,
	referrer     VARCHAR,
	screen_name  VARCHAR,
	section      VARCHAR,
	banner       VARCHAR,
	utm_source   VARCHAR,
	utm_medium   VARCHAR,
	utm_campaign VARCHAR,
	utm_term     VARCHAR,
	utm_content  VARCHAR,
	device_type  VARCHAR,
	os           VARCHAR,
	browser      VARCHAR,
	ip           VARCHAR,
	properties   JSON,
	context      JSON,
	dedupe_key   UBIGINT NOT NULL
);
CREATE TABLE rejected (
	received_at TIMESTAMPTZ NOT NULL,
	source      VARCHAR,
	idx         INTEGER,
	message_id  VARCHAR,
	reason      VARCHAR NOT NULL,
	raw         VARCHAR
);
`,
	2: `
CREATE TABLE stream_offsets (
	topic       VARCHAR NOT NULL,
	partition   INTEGER NOT NULL,
	next_offset BIGINT  NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (topic, partition)
);`,
	// 3: a member's events (journeys, identity links) by index, not by a
	// scan of every row.
	3: `
CREATE INDEX events_user_id ON events (user_id);
CREATE INDEX events_anonymous_id ON events (anonymous_id);`,
	// 4: the member each anonymous id is linked to (its earliest identify;
	// of identifies at the same time, the least user_id), kept by the
	// writer in the transaction of the events, so analyses by member read
	// a small table instead of every identify event.
	4: `
CREATE TABLE identities (
	anonymous_id VARCHAR     PRIMARY KEY,
	user_id      VARCHAR     NOT NULL,
	ts           TIMESTAMPTZ NOT NULL
);
INSERT INTO identities
	SELECT anonymous_id, arg_min(user_id, (ts, user_id)), min(ts) FROM events
	WHERE type = 'identify' AND user_id IS NOT NULL AND anonymous_id IS NOT NULL
	GROUP BY 1;
CREATE INDEX identities_user_id ON identities (user_id);`,
	// 5: the dashboard's saved reports (funnels).
	5: `
CREATE TABLE saved_reports (
	id         VARCHAR     PRIMARY KEY,
	kind       VARCHAR     NOT NULL,
	name       VARCHAR     NOT NULL,
	body       JSON        NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);`,
	// 6: the links kept as appended rows, one per anonymous id and group
	// commit (an upsert per commit doubled its cost); identities is the
	// view of each anonymous id's first link.
	6: `
CREATE TABLE identity_links (
	anonymous_id VARCHAR     NOT NULL,
	user_id      VARCHAR     NOT NULL,
	ts           TIMESTAMPTZ NOT NULL
);
INSERT INTO identity_links SELECT anonymous_id, user_id, ts FROM identities;
DROP TABLE identities;
CREATE VIEW identities AS
	SELECT anonymous_id, arg_min(user_id, (ts, user_id)) AS user_id, min(ts) AS ts
	FROM identity_links GROUP BY anonymous_id;`,
	// 7: a member's links by index: the journey's lookups.
	7: `
CREATE INDEX identity_links_anonymous_id ON identity_links (anonymous_id);
CREATE INDEX identity_links_user_id ON identity_links (user_id);`,
	// 8: the writer appends links between commits, not in them (it cost a
	// quarter of ingest throughput): identity_state.through is the last
	// events rowid whose links are in identity_links, and the views read
	// the identifies after it themselves, so they are exact at any time.
	8: `
CREATE TABLE identity_state (through BIGINT NOT NULL);
INSERT INTO identity_state SELECT coalesce(max(rowid), -1) FROM events;
DROP VIEW identities;
CREATE VIEW identity_links_all AS
	SELECT anonymous_id, user_id, ts FROM identity_links
	UNION ALL
	SELECT anonymous_id, user_id, ts FROM events
	WHERE rowid > (SELECT through FROM identity_state)
		AND type = 'identify' AND user_id IS NOT NULL AND anonymous_id IS NOT NULL;
CREATE VIEW identities AS
	SELECT anonymous_id, arg_min(user_id, (ts, user_id)) AS user_id, min(ts) AS ts
	FROM identity_links_all GROUP BY anonymous_id;`,
	// 9: no index on the events: inserts into two indexes of random ids
	// grew with the table until, at 100 million rows, the collector fell
	// below the reference peak (bench/RESULTS.md); the journey scans the
	// two id columns instead.
	9: `
DROP INDEX IF EXISTS events_user_id;
DROP INDEX IF EXISTS events_anonymous_id;`,
	// 10: nor on the identity links: DuckDB writes a whole index again at
	// every checkpoint, and at 100 million events these two (3 million
	// links) made each checkpoint take 1.4 s instead of 0.6 s, commits
	// waiting meanwhile. The journey scans the links (a few milliseconds).
	10: `
DROP INDEX IF EXISTS identity_links_anonymous_id;
DROP INDEX IF EXISTS identity_links_user_id;`,
	// 11: the tracking plan: the rules a flagged event breaks, on its row;
	// the event name and rules of an event the plan rejected.
	11: `
ALTER TABLE events ADD COLUMN IF NOT EXISTS violations JSON;
ALTER TABLE rejected ADD COLUMN IF NOT EXISTS event VARCHAR;
ALTER TABLE rejected ADD COLUMN IF NOT EXISTS violations JSON;`,
	// 12: the audit of member erasures (PIPA/GDPR). The member is named by
	// the SHA-256 of the user id: the audit proves an erasure without
	// keeping who it was.
	12: `
CREATE TABLE IF NOT EXISTS erasures (
	id              VARCHAR     NOT NULL,
	subject_sha256  VARCHAR     NOT NULL,
	requested_by    VARCHAR,
	requested_at    TIMESTAMPTZ NOT NULL,
	finished_at     TIMESTAMPTZ NOT NULL,
	anonymous_ids   INTEGER     NOT NULL,
	events          BIGINT      NOT NULL,
	rejected        BIGINT      NOT NULL,
	links           BIGINT      NOT NULL,
	hours           JSON        NOT NULL, -- the hours (UTC) that held erased events
	lake_partitions INTEGER,
	lake_status     VARCHAR
);
-- Who an erasure is about, kept only until its lake rewrite is done (it
-- needs them to find the member's rows in the lake), then deleted.
CREATE TABLE IF NOT EXISTS erasures_pending (
	id            VARCHAR NOT NULL,
	user_id       VARCHAR NOT NULL,
	anonymous_ids JSON    NOT NULL
);`,
	// 13: the identity watermark counts commits, not rowids. Deleting rows
	// (erasure, retention) makes DuckDB renumber the rowids of the rows
	// after them at a later checkpoint, which a rowid watermark cannot
	// survive; commit_seq is the writer's commit number, stored on each
	// row, rising with every commit. The identifies not yet linked are
	// linked first; the rows from before have no commit number.
	13: `
INSERT INTO identity_links SELECT anonymous_id, user_id, ts FROM events
	WHERE rowid > (SELECT through FROM identity_state)
		AND type = 'identify' AND user_id IS NOT NULL AND anonymous_id IS NOT NULL;
ALTER TABLE events ADD COLUMN IF NOT EXISTS commit_seq BIGINT;
UPDATE identity_state SET through = 0;
CREATE OR REPLACE VIEW identity_links_all AS
	SELECT anonymous_id, user_id, ts FROM identity_links
	UNION ALL
	SELECT anonymous_id, user_id, ts FROM events
	WHERE commit_seq > (SELECT through FROM identity_state)
		AND type = 'identify' AND user_id IS NOT NULL AND anonymous_id IS NOT NULL;
-- The latest retention cutoff: the store holds every hour from the one
-- after it whole; the lake keeps the older ones.
CREATE TABLE IF NOT EXISTS retention_state (cutoff TIMESTAMPTZ NOT NULL);`,
}

// SchemaVersion is the schema version this build writes.
const SchemaVersion = len(migrations) - 1

func migrate(ctx context.Context, db *sql.DB) (int, error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
	)`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if current > SchemaVersion {
		return current, fmt.Errorf("data was written by a newer actlog (schema %d, this build knows %d)", current, SchemaVersion)
	}
	for v := current + 1; v <= SchemaVersion; v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return current, fmt.Errorf("begin migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			_ = tx.Rollback()
			return current, fmt.Errorf("migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, v); err != nil {
			_ = tx.Rollback()
			return current, fmt.Errorf("record migration %d: %w", v, err)
		}
		if err := tx.Commit(); err != nil {
			return current, fmt.Errorf("commit migration %d: %w", v, err)
		}
		current = v
	}
	return current, nil
}
