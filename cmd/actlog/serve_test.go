package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/loadgen"
)

// TestServeWithoutConfig starts `actlog serve` with no configuration file and
// checks it makes a demo source and an admin token, prints both, and that
// they work.
func TestServeWithoutConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	dir := t.TempDir()
	port := freePort(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=serve --listen 127.0.0.1:%d --data-dir %s --log-level warn", childEnv, port, filepath.Join(dir, "data")))
	out := &lockedWriter{w: &bytes.Buffer{}}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	printed := out.String()
	key := regexp.MustCompile(`write key (wk_[0-9a-f]{32})`).FindStringSubmatch(printed)
	token := regexp.MustCompile(`admin token +(adm_[0-9a-f]{32})`).FindStringSubmatch(printed)
	if key == nil || token == nil || !strings.Contains(printed, "source demo") {
		t.Fatalf("banner lacks the demo source, write key or admin token:\n%s", printed)
	}
	code, err := func() (int, error) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/v1/track",
			strings.NewReader(`{"event":"hello","anonymousId":"a1"}`))
		req.SetBasicAuth(key[1], "")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}()
	if err != nil || code != http.StatusOK {
		t.Fatalf("track with the printed write key: %d %v", code, err)
	}
	srv := &server{t: t, base: base, token: token[1]}
	rows := srv.sql("SELECT event, source FROM events")
	if len(rows) != 1 || rows[0][0] != "hello" || rows[0][1] != "demo" {
		t.Fatalf("stored rows %v", rows)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+token[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Role, Mode string
		Store      struct {
			Events    int64 `json:"events"`
			SizeBytes int64 `json:"size_bytes"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Role != "serve" || st.Mode != "embedded" || st.Store.Events != 1 || st.Store.SizeBytes == 0 {
		t.Fatalf("status %+v %v", st, err)
	}
}

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"version"}, nil, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "actlog ") {
		t.Fatalf("version: code %d, %q %q", code, out.String(), errOut.String())
	}
	if code := run(context.Background(), []string{"nope"}, nil, &out, &errOut); code != 2 {
		t.Fatalf("unknown command exit code %d, want 2", code)
	}
}

// TestLoadgenAgainstServe drives a real `actlog serve` with the load
// generator (deliberate duplicates and invalid events included) and checks
// the store holds exactly the acknowledged events, once each.
func TestLoadgenAgainstServe(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	dir := t.TempDir()
	port := freePort(t)
	srv := startServer(t, writeConfig(t, dir, port, ""), port)
	defer srv.stop()
	var mu sync.Mutex
	acked := map[string]bool{}
	sum, err := loadgen.Run(context.Background(), loadgen.Options{
		URL: srv.base, WriteKey: "test-write-key", Rate: 100, Duration: 2 * time.Second,
		Users: 50, Seed: 7, Batch: 10, DuplicateRate: 0.1, InvalidRate: 0.02,
		OnResult: func(ids []string, status int) {
			if status != http.StatusOK {
				return
			}
			mu.Lock()
			for _, id := range ids {
				acked[id] = true
			}
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Errors != 0 || sum.Duplicates == 0 || sum.Rejected == 0 {
		t.Fatalf("summary: errors %d, duplicates %d, rejected %d", sum.Errors, sum.Duplicates, sum.Rejected)
	}
	rows := srv.sql("SELECT count(*), count(DISTINCT event_id) FROM events")
	stored, distinct := rows[0][0].(float64), rows[0][1].(float64)
	if stored != distinct {
		t.Fatalf("%v rows but %v distinct ids", stored, distinct)
	}
	rej := srv.sql("SELECT count(*) FROM rejected")[0][0].(float64)
	// Rejections are a log of every attempt: a re-sent request's invalid
	// events are recorded again.
	if int64(stored) != sum.Accepted || int64(rej) < sum.Rejected {
		t.Fatalf("stored %v, rejected rows %v; loadgen accepted %d, rejected %d", stored, rej, sum.Accepted, sum.Rejected)
	}
	// Every acknowledged id that was valid is stored.
	ids := srv.sql("SELECT event_id FROM events")
	storedIDs := map[string]bool{}
	for _, r := range ids {
		storedIDs[r[0].(string)] = true
	}
	missing := 0
	for id := range acked {
		if !storedIDs[id] {
			missing++
		}
	}
	if int64(missing) != sum.Rejected {
		t.Fatalf("%d acknowledged ids not stored; %d were rejected as invalid", missing, sum.Rejected)
	}
	t.Logf("requests=%d accepted=%d rejected=%d duplicates=%d stored=%v", sum.Requests, sum.Accepted, sum.Rejected, sum.Duplicates, stored)
}
