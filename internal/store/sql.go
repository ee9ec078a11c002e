package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// QueryError is a problem with the caller's SQL (HTTP 400), as opposed to a
// failure of the store.
type QueryError struct{ Msg string }

func (e *QueryError) Error() string { return e.Msg }

// Result is the answer of a read-only query.
type Result struct {
	Columns   []string `json:"columns"`
	Types     []string `json:"types"`
	Rows      [][]any  `json:"rows"`
	Truncated bool     `json:"truncated"`
}

// ReadOnly runs one SELECT statement and returns at most maxRows rows.
//
// Three locks keep it read-only: the text must parse as exactly one SELECT
// (DuckDB's json_serialize_sql serialises nothing else, and is a parse that
// executes nothing); it runs in a READ ONLY transaction; and the database
// was opened with external access disabled (but for the export directory,
// where the lake export stages its Parquet files) and configuration
// locked, so no other file can be read, none written, no setting changed.
func (s *Store) ReadOnly(ctx context.Context, query string, maxRows int) (*Result, error) {
	if strings.TrimSpace(query) == "" {
		return nil, &QueryError{"sql is empty"}
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("read connection: %w", err)
	}
	defer conn.Close()
	if err := checkSingleSelect(ctx, conn, query); err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION READ ONLY"); err != nil {
		return nil, fmt.Errorf("begin read-only: %w", err)
	}
	defer func() { _, _ = conn.ExecContext(context.Background(), "ROLLBACK") }()
	// DuckDB builds a whole result before the first row is read: the limit
	// goes into the query, so that asking for the first rows of a huge
	// result costs what they cost. (The newline ends a trailing comment.)
	q := strings.TrimRight(strings.TrimSpace(query), "; \t\r\n")
	rows, err := conn.QueryContext(ctx, "SELECT * FROM (\n"+q+"\n) LIMIT "+strconv.Itoa(maxRows+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("query: %w", ctx.Err())
		}
		return nil, &QueryError{cleanDuckErr(err)}
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("column types: %w", err)
	}
	res := &Result{Rows: [][]any{}}
	for _, c := range cols {
		res.Columns = append(res.Columns, c.Name())
		res.Types = append(res.Types, c.DatabaseTypeName())
	}
	for rows.Next() {
		if len(res.Rows) >= maxRows {
			res.Truncated = true
			break
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		for i, v := range vals {
			vals[i] = jsonValue(v)
		}
		res.Rows = append(res.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("query: %w", ctx.Err())
		}
		return nil, &QueryError{cleanDuckErr(err)}
	}
	return res, nil
}

func checkSingleSelect(ctx context.Context, conn *sql.Conn, query string) error {
	var out string
	if err := conn.QueryRowContext(ctx, "SELECT json_serialize_sql(?::VARCHAR)::VARCHAR", query).Scan(&out); err != nil {
		return fmt.Errorf("parse sql: %w", err)
	}
	var parsed struct {
		Error        bool              `json:"error"`
		ErrorType    string            `json:"error_type"`
		ErrorMessage string            `json:"error_message"`
		Statements   []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(out), &parsed); err != nil {
		return fmt.Errorf("parse sql answer: %w", err)
	}
	switch {
	case parsed.Error && parsed.ErrorType == "not implemented":
		return &QueryError{"only SELECT statements are allowed"}
	case parsed.Error:
		return &QueryError{"syntax error: " + parsed.ErrorMessage}
	case len(parsed.Statements) != 1:
		return &QueryError{"exactly one statement is allowed"}
	}
	var tree any
	if err := json.Unmarshal(parsed.Statements[0], &tree); err != nil {
		return fmt.Errorf("parse sql answer: %w", err)
	}
	if msg := checkSources(tree); msg != "" {
		return &QueryError{msg}
	}
	return nil
}

// tableFunctions are the table functions a query may use: they compute
// rows and read nothing. Every other one (read_csv, read_blob, glob,
// query, checkpoint …) is refused, even where DuckDB would allow it (a
// database may read its own files, and the export directory is allowed).
var tableFunctions = map[string]bool{"range": true, "generate_series": true, "unnest": true, "json_each": true, "json_tree": true}

// identifier is a plain table name: a file name (a replacement scan,
// SELECT * FROM 'events.csv') is not one.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkSources walks a parsed statement and says what it reads that it may
// not: a table function outside tableFunctions, a table that is not a
// plain name of the database (or of the query's own CTEs).
func checkSources(n any) string {
	switch v := n.(type) {
	case []any:
		for _, c := range v {
			if msg := checkSources(c); msg != "" {
				return msg
			}
		}
	case map[string]any:
		switch v["type"] {
		case "TABLE_FUNCTION":
			f, _ := v["function"].(map[string]any)
			name, _ := f["function_name"].(string)
			if !tableFunctions[strings.ToLower(name)] {
				return "table function " + name + " is not allowed: query the tables (events, rejected, identities …) or range, generate_series, unnest"
			}
		case "BASE_TABLE":
			name, _ := v["table_name"].(string)
			cat, _ := v["catalog_name"].(string)
			schema, _ := v["schema_name"].(string)
			if !identifier.MatchString(name) || (cat != "" && cat != "actlog" && cat != "memory") ||
				(schema != "" && schema != "main") {
				return "only the database's tables can be read: " + strconv.Quote(name) + " is not one"
			}
		}
		for _, c := range v {
			if msg := checkSources(c); msg != "" {
				return msg
			}
		}
	}
	return ""
}

func cleanDuckErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, "\n"); i > 0 {
		s = s[:i]
	}
	return s
}

// jsonValue turns a scanned DuckDB value into something encoding/json
// renders faithfully.
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int8, int16, int32, uint8, uint16, uint32:
		return x
	case int64:
		// Beyond 2^53 a JSON number loses precision in JavaScript.
		if x > 1<<53 || x < -(1<<53) {
			return strconv.FormatInt(x, 10)
		}
		return x
	case uint64:
		if x > 1<<53 {
			return strconv.FormatUint(x, 10)
		}
		return x
	case float32:
		return jsonFloat(float64(x))
	case float64:
		return jsonFloat(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	case *big.Int:
		return x.String()
	case fmt.Stringer:
		return x.String()
	case map[string]any, []any:
		// JSON values and nested types: keep their structure when they
		// encode, else their text.
		if _, err := json.Marshal(x); err == nil {
			return x
		}
		return fmt.Sprint(x)
	default:
		if _, err := json.Marshal(x); err == nil {
			return x
		}
		return fmt.Sprint(x)
	}
}

func jsonFloat(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprint(f)
	}
	return f
}

// IsQueryError reports whether err is the caller's fault.
func IsQueryError(err error) bool {
	var q *QueryError
	return errors.As(err, &q)
}
