package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// The store's side of the lake export (package lake): rows per hour, one
// hour of events written as a Parquet file into the export directory, and
// what such a file holds. Every read runs on the pooled connections, so an
// export never holds up the writer.

// HourCount is the number of events of one UTC hour (by ts).
type HourCount struct {
	Hour time.Time // the hour's start, UTC
	Rows int64
}

// LakeColumn is a column of the exported Parquet files as DuckDB reads it
// back.
type LakeColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// ParquetInfo describes a Parquet file written by ExportHour.
type ParquetInfo struct {
	Rows    int64
	MinTS   time.Time // zero when the file has no rows
	MaxTS   time.Time
	Columns []LakeColumn
}

// lakeColumns are the exported columns: the events table's, in order,
// without actlog's own columns (dedupe_key, commit_seq).
func lakeColumns() []string {
	out := make([]string, 0, len(eventColumns))
	for _, c := range eventColumns {
		if !internalColumns[c] {
			out = append(out, c)
		}
	}
	return out
}

// HourCounts returns the number of events per UTC hour of ts, for ts in
// [from, to), in hour order; hours without events are absent. A zero from
// means no lower bound.
func (s *Store) HourCounts(ctx context.Context, from, to time.Time) ([]HourCount, error) {
	if from.IsZero() {
		// Before any timestamp the ingest accepts.
		from = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT date_trunc('hour', ts) AS hour, count(*)
		FROM events WHERE ts >= ? AND ts < ?
		GROUP BY hour ORDER BY hour`, from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("count rows per hour: %w", err)
	}
	defer rows.Close()
	var out []HourCount
	for rows.Next() {
		var c HourCount
		if err := rows.Scan(&c.Hour, &c.Rows); err != nil {
			return nil, fmt.Errorf("scan hour count: %w", err)
		}
		c.Hour = c.Hour.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count rows per hour: %w", err)
	}
	return out, nil
}

// ExportHour writes the events of the UTC hour starting at hour (ts in
// [hour, hour+1h)) to file, a Parquet file (zstd) that must be inside
// ExportDir, and returns the number of rows written. The columns are the
// events table's without dedupe_key; timestamps stay TIMESTAMPTZ (Parquet
// timestamps adjusted to UTC) and JSON columns are written as text. Rows
// are sorted by (ts, source, event_id, received_at), so the same rows give
// the same file. An hour without events gives a file with no rows.
func (s *Store) ExportHour(ctx context.Context, hour time.Time, file string) (int64, error) {
	hour = hour.UTC()
	if !hour.Truncate(time.Hour).Equal(hour) {
		return 0, fmt.Errorf("export hour %s: not the start of an hour", hour.Format(time.RFC3339Nano))
	}
	path, err := s.exportPath(file)
	if err != nil {
		return 0, err
	}
	sel, err := s.lakeSelect(ctx)
	if err != nil {
		return 0, err
	}
	// COPY takes no parameters: the bounds are literals built from times.
	const layout = "2006-01-02 15:04:05+00"
	q := "COPY (SELECT " + sel + " FROM events WHERE ts >= TIMESTAMPTZ '" + hour.Format(layout) +
		"' AND ts < TIMESTAMPTZ '" + hour.Add(time.Hour).Format(layout) +
		"' ORDER BY ts, source, event_id, received_at) TO " + sqlString(path) +
		" (FORMAT parquet, COMPRESSION zstd)"
	res, err := s.db.ExecContext(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("export hour %s: %w", hour.Format("2006-01-02T15"), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("export hour %s: rows written: %w", hour.Format("2006-01-02T15"), err)
	}
	return n, nil
}

// DescribeParquet reads the row count, the range of ts and the columns of
// a Parquet file in ExportDir, as written by ExportHour.
func (s *Store) DescribeParquet(ctx context.Context, file string) (ParquetInfo, error) {
	var info ParquetInfo
	path, err := s.exportPath(file)
	if err != nil {
		return info, err
	}
	src := "read_parquet(" + sqlString(path) + ")"
	var minTS, maxTS sql.NullTime
	if err := s.db.QueryRowContext(ctx, "SELECT count(*), min(ts), max(ts) FROM "+src).Scan(&info.Rows, &minTS, &maxTS); err != nil {
		return info, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	if minTS.Valid {
		info.MinTS, info.MaxTS = minTS.Time.UTC(), maxTS.Time.UTC()
	}
	rows, err := s.db.QueryContext(ctx, "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "+src+")")
	if err != nil {
		return info, fmt.Errorf("describe %s: %w", filepath.Base(path), err)
	}
	defer rows.Close()
	for rows.Next() {
		var c LakeColumn
		if err := rows.Scan(&c.Name, &c.Type); err != nil {
			return info, fmt.Errorf("describe %s: %w", filepath.Base(path), err)
		}
		info.Columns = append(info.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return info, fmt.Errorf("describe %s: %w", filepath.Base(path), err)
	}
	return info, nil
}

// exportPath returns file as an absolute path, refusing one outside
// ExportDir (DuckDB would refuse it too, less clearly).
func (s *Store) exportPath(file string) (string, error) {
	path, err := filepath.Abs(file)
	if err != nil {
		return "", fmt.Errorf("export file: %w", err)
	}
	dir := s.ExportDir()
	if !strings.HasPrefix(path, dir+string(filepath.Separator)) {
		return "", fmt.Errorf("export file %s is not inside the export directory %s", path, dir)
	}
	return path, nil
}

// lakeSelect is the select list of the export: the lake columns in order,
// each JSON column cast to text (Parquet strings, which every reader
// knows; a JSON-annotated column is not read by all of them).
func (s *Store) lakeSelect(ctx context.Context) (string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT column_name, data_type FROM duckdb_columns()
		WHERE schema_name = 'main' AND table_name = 'events' AND database_name = current_database()`)
	if err != nil {
		return "", fmt.Errorf("read events columns: %w", err)
	}
	defer rows.Close()
	types := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return "", fmt.Errorf("read events columns: %w", err)
		}
		types[name] = typ
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("read events columns: %w", err)
	}
	cols := lakeColumns()
	sel := make([]string, 0, len(cols))
	for _, c := range cols {
		typ, ok := types[c]
		if !ok {
			return "", errors.New("events table has no column " + c)
		}
		q := `"` + c + `"`
		if typ == "JSON" {
			q = q + "::VARCHAR AS " + q
		}
		sel = append(sel, q)
	}
	return strings.Join(sel, ", "), nil
}

// Member names one member's rows: those with its user id, and the
// anonymous rows (no user id) of the devices linked to it.
type Member struct {
	UserID       string
	AnonymousIDs []string
}

// where is the SQL condition matching m's rows, its values quoted.
func (m Member) where() string {
	cond := "user_id = " + sqlString(m.UserID)
	if len(m.AnonymousIDs) > 0 {
		ids := make([]string, len(m.AnonymousIDs))
		for i, a := range m.AnonymousIDs {
			ids[i] = sqlString(a)
		}
		cond += " OR (user_id IS NULL AND anonymous_id IN (" + strings.Join(ids, ", ") + "))"
	}
	return "coalesce(" + cond + ", false)"
}

// ScrubParquet copies the Parquet file in to out without m's rows, both
// in ExportDir, and answers the rows kept and removed. Nothing is written
// when no row is m's.
func (s *Store) ScrubParquet(ctx context.Context, in, out string, m Member) (kept, removed int64, err error) {
	if m.UserID == "" {
		return 0, 0, errors.New("scrub: user id is empty")
	}
	src, err := s.exportPath(in)
	if err != nil {
		return 0, 0, err
	}
	dst, err := s.exportPath(out)
	if err != nil {
		return 0, 0, err
	}
	from := "read_parquet(" + sqlString(src) + ")"
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FILTER (WHERE NOT "+m.where()+"), count(*) FILTER (WHERE "+m.where()+") FROM "+from).Scan(&kept, &removed); err != nil {
		return 0, 0, fmt.Errorf("scrub %s: %w", filepath.Base(src), err)
	}
	if removed == 0 || kept == 0 {
		return kept, removed, nil
	}
	if _, err := s.db.ExecContext(ctx, "COPY (SELECT * FROM "+from+" WHERE NOT "+m.where()+") TO "+sqlString(dst)+" (FORMAT parquet, COMPRESSION zstd)"); err != nil {
		return 0, 0, fmt.Errorf("scrub %s: %w", filepath.Base(src), err)
	}
	return kept, removed, nil
}
