package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// TestEraseMember erases members from a running actlog (the API) and from
// a stopped one (the CLI), with a lake export on: afterwards no row of
// either is in the store or in the lake, the other members' rows are, and
// the audit records both.
func TestEraseMember(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	dir := t.TempDir()
	lakeDir := filepath.Join(dir, "lake")
	port := freePort(t)
	cfgPath := writeConfig(t, dir, port, "lake:\n  dir: "+lakeDir+"\n  every: 100ms\n")
	srv := startServer(t, cfgPath, port)

	// Three members over two closed hours: X on a phone and a laptop, Y on
	// that laptop too, Z on a tablet; plus anonymous visitor W.
	base := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Hour)
	var msgs []string
	n := 0
	add := func(typ, anon, user string, at time.Duration) {
		n++
		m := fmt.Sprintf(`{"type":%q,"messageId":"m-%d","anonymousId":%q,"timestamp":%q`, typ, n, anon, base.Add(at).Format(time.RFC3339Nano))
		if user != "" {
			m += fmt.Sprintf(`,"userId":%q`, user)
		}
		if typ == "track" {
			m += `,"event":"book_opened","properties":{"book_id":"b1"}`
		}
		msgs = append(msgs, m+"}")
	}
	add("track", "phone-x", "", 5*time.Minute)
	add("identify", "phone-x", "X", 6*time.Minute)
	add("track", "phone-x", "X", 7*time.Minute)
	add("track", "laptop", "", 65*time.Minute)
	add("identify", "laptop", "X", 66*time.Minute)
	add("identify", "laptop", "Y", 70*time.Minute)
	add("track", "laptop", "Y", 71*time.Minute)
	add("track", "tablet-z", "", 10*time.Minute)
	add("identify", "tablet-z", "Z", 11*time.Minute)
	add("track", "tablet-z", "Z", 72*time.Minute)
	add("track", "visitor-w", "", 20*time.Minute)
	req, _ := http.NewRequest(http.MethodPost, srv.base+"/v1/batch", strings.NewReader(`{"batch":[`+strings.Join(msgs, ",")+`]}`))
	req.SetBasicAuth("test-write-key", "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("post: %d", resp.StatusCode)
	}

	lake, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer lake.Close()
	lakeRows := func() map[string]int {
		t.Helper()
		out := map[string]int{}
		rows, err := lake.Query(`SELECT coalesce(user_id, anonymous_id), count(*) FROM read_parquet(?, hive_partitioning = true) GROUP BY 1`,
			filepath.Join(lakeDir, "*", "*", "*.parquet"))
		if err != nil {
			if strings.Contains(err.Error(), "No files found") {
				return out
			}
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var c int
			if err := rows.Scan(&k, &c); err != nil {
				t.Fatal(err)
			}
			out[k] = c
		}
		return out
	}
	deadline := time.Now().Add(20 * time.Second)
	for total(lakeRows()) != len(msgs) {
		if time.Now().After(deadline) {
			t.Fatalf("the lake holds %v, want %d rows\n%s", lakeRows(), len(msgs), srv.log)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// X through the API.
	del, _ := http.NewRequest(http.MethodDelete, srv.base+"/api/v1/users/X?requested_by=ticket-1", nil)
	del.Header.Set("Authorization", "Bearer "+srv.token)
	resp, err = http.DefaultClient.Do(del)
	if err != nil {
		t.Fatal(err)
	}
	var er struct {
		Events         int64       `json:"events"`
		AnonymousIDs   int         `json:"anonymous_ids"`
		Hours          []time.Time `json:"hours"`
		LakePartitions int         `json:"lake_partitions"`
		LakeError      string      `json:"lake_error"`
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(body, &er); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("erase: %d %s", resp.StatusCode, body)
	}
	// X's five events: phone (3), the laptop's anonymous visit and X's login.
	if er.Events != 5 || er.AnonymousIDs != 2 || len(er.Hours) != 2 || er.LakePartitions != 2 || er.LakeError != "" {
		t.Fatalf("erasure %s", body)
	}
	if got := srv.sql(`SELECT count(*) FROM events WHERE user_id = 'X' OR (user_id IS NULL AND anonymous_id IN ('phone-x', 'laptop'))`)[0][0]; got != float64(0) {
		t.Fatalf("%v events of X left in the store", got)
	}
	want := map[string]int{"Y": 2, "tablet-z": 1, "Z": 2, "visitor-w": 1}
	if got := lakeRows(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lake after erasing X: %v, want %v", got, want)
	}
	srv.stop()

	// Z through the CLI, actlog stopped.
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"erase", "--config", cfgPath, "--user", "Z", "--requested-by", "ticket-2"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("actlog erase: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), `"events": 3`) {
		t.Fatalf("actlog erase said %s", out.String())
	}
	want = map[string]int{"Y": 2, "visitor-w": 1}
	if got := lakeRows(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lake after erasing Z: %v, want %v", got, want)
	}
	// One partition's hour had only Z and W: it stays with W alone; every
	// manifest agrees with its file.
	srv = startServer(t, cfgPath, port)
	defer srv.stop()
	if got := srv.sql(`SELECT count(*) FROM events`)[0][0]; got != float64(3) {
		t.Fatalf("%v events left in the store, want 3", got)
	}
	audit := srv.sql(`SELECT requested_by, events, lake_partitions, lake_status FROM erasures ORDER BY requested_at`)
	if fmt.Sprint(audit) != "[[ticket-1 5 2 done] [ticket-2 3 2 done]]" {
		t.Fatalf("audit %v", audit)
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
