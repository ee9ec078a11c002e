// Command baseline is the yardstick of the lake benchmark: DuckDB's own
// COPY of the whole events table to Parquet in one statement, on a copy of
// an actlog store opened with duckdb-go directly (no actlog code): either
// one file, or DuckDB's hive-partitioned write (PARTITION_BY dt, hour).
// The columns are those actlog exports (the events table without
// dedupe_key, JSON as text), zstd-compressed. It prints one JSON line.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

func main() {
	dbPath := flag.String("db", "", "the store's actlog.duckdb (a copy: it is opened read-write)")
	out := flag.String("out", "", "output file (single) or directory (partitioned)")
	mode := flag.String("mode", "single", "single or partitioned")
	flag.Parse()
	if *dbPath == "" || *out == "" {
		log.Fatal("give -db and -out")
	}
	ctx := context.Background()
	db, err := sql.Open("duckdb", *dbPath)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "SET TimeZone = 'UTC'"); err != nil {
		log.Fatal(err)
	}
	sel, err := selectList(ctx, db)
	if err != nil {
		log.Fatal(err)
	}
	var q string
	switch *mode {
	case "single":
		q = fmt.Sprintf("COPY (SELECT %s FROM events) TO '%s' (FORMAT parquet, COMPRESSION zstd)", sel, *out)
	case "partitioned":
		q = fmt.Sprintf("COPY (SELECT %s, strftime(ts, '%%Y-%%m-%%d') AS dt, strftime(ts, '%%H') AS hour FROM events) TO '%s' "+
			"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt, hour))", sel, *out)
	default:
		log.Fatalf("mode %q: want single or partitioned", *mode)
	}
	start := time.Now()
	res, err := db.ExecContext(ctx, q)
	if err != nil {
		log.Fatal(err)
	}
	el := time.Since(start)
	rows, _ := res.RowsAffected()
	var size int64
	var files int
	_ = filepath.WalkDir(*out, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
				files++
			}
		}
		return nil
	})
	b, _ := json.Marshal(map[string]any{"mode": *mode, "rows": rows, "seconds": el.Seconds(), "bytes": size, "files": files,
		"rows_per_second": float64(rows) / el.Seconds()})
	fmt.Println(string(b))
}

// selectList is the events table's columns without dedupe_key, JSON ones
// cast to text: what actlog exports.
func selectList(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, `SELECT column_name, data_type FROM duckdb_columns()
		WHERE schema_name = 'main' AND table_name = 'events' ORDER BY column_index`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var sel []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return "", err
		}
		switch {
		case name == "dedupe_key":
		case typ == "JSON":
			sel = append(sel, fmt.Sprintf("%q::VARCHAR AS %q", name, name))
		default:
			sel = append(sel, fmt.Sprintf("%q", name))
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(sel) == 0 {
		return "", fmt.Errorf("no events table in %s", os.Args)
	}
	return strings.Join(sel, ", "), nil
}
