package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestDiskFull fills the store's disk under load: the collector answers
// 503 (never 2xx for what it could not store) and /readyz fails; when space
// returns it recovers by itself, and every acknowledged event is stored
// exactly once. The data directory is a small tmpfs: the test needs root
// (CAP_SYS_ADMIN) to mount it and is skipped otherwise.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data-actlog")
	if err := os.MkdirAll(data, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", data).Run() })
	port := freePort(t)
	srv := startServer(t, writeConfig(t, dir, port, "store:\n  checkpoint_interval: 200ms\n"), port)
	defer func() {
		if srv != nil {
			srv.stop()
		}
	}()
	load := newRetryLoad()
	load.start(srv.base, "before", 4, 10*time.Millisecond)
	time.Sleep(time.Second)

	// Fill the disk but for a little room.
	filler := filepath.Join(data, "filler")
	fill := func(leave int64) {
		t.Helper()
		var fs syscall.Statfs_t
		if err := syscall.Statfs(data, &fs); err != nil {
			t.Fatal(err)
		}
		free := int64(fs.Bavail) * fs.Bsize
		if free <= leave {
			return
		}
		fh, err := os.OpenFile(filler, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		buf := make([]byte, 1<<20)
		for n := (free - leave) >> 20; n > 0; n-- {
			if _, err := fh.Write(buf); err != nil {
				break
			}
		}
	}
	fill(256 << 10)
	ready := func() int {
		resp, err := http.Get(srv.base + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(30 * time.Second)
	for ready() == http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("the disk is full and /readyz still answers 200\n%s", srv.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	codes := map[int]int{}
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 20 {
		start := time.Now()
		ids := []string{"full-" + string(rune('a'+i))}
		code, err := postBatch(client, srv.base, ids)
		if err != nil {
			// The moment the role closes its listener and the stand-in
			// opens its own: a client retries.
			codes[0]++
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if took := time.Since(start); took > 8*time.Second {
			t.Errorf("an answer while full took %s", took)
		}
		codes[code]++
		if code == http.StatusOK {
			load.ack(ids) // the reopened store found room: it must hold them
		}
	}
	t.Logf("answers while the disk was full: %v", codes)
	if codes[http.StatusServiceUnavailable] == 0 {
		t.Errorf("answers while the disk was full: %v, want 503s", codes)
	}

	// Room again: it recovers by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(60 * time.Second)
	for ready() != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("not ready again 60 s after space returned\n%s", srv.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	load.stop()
	// Every batch sent again until acknowledged.
	for _, ids := range load.batches {
		if code, err := postBatch(client, srv.base, ids); err != nil || code != http.StatusOK {
			t.Fatalf("resend after recovery: %d %v\n%s", code, err, srv.log)
		}
		load.ack(ids)
	}
	load.check(t, srv.sql("SELECT event_id, count(*) FROM events GROUP BY event_id"))
	// And after a restart on the same disk.
	srv.stop()
	srv = startServer(t, writeConfig(t, dir, port, ""), port)
	load.check(t, srv.sql("SELECT event_id, count(*) FROM events GROUP BY event_id"))
}
