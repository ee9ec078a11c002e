package lake

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDir exercises the directory destination: replacement, no temporary
// file left, listing by suffix, deletion of emptied directories, keys
// that would leave the root.
func TestDir(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "lake")
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	put := func(key, body string) {
		t.Helper()
		p := filepath.Join(src, "staged")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := d.Put(ctx, key, p); err != nil {
			t.Fatal(err)
		}
		// The staged file may go away at once: the lake keeps its copy.
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	put("dt=2026-11-24/hour=05/events.parquet", "old")
	put("dt=2026-11-24/hour=05/events.parquet", "new")
	put("dt=2026-11-24/hour=05/_manifest.json", "{}")
	put("dt=2026-11-24/hour=06/_manifest.json", "{}")
	b, err := d.Get(ctx, "dt=2026-11-24/hour=05/events.parquet")
	if err != nil || string(b) != "new" {
		t.Fatalf("Get: %q, %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(root, "dt=2026-11-24", "hour=05", "events.parquet"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("stat: %v, %v; want mode 0644", fi, err)
	}
	// A temporary file left by a crash is not listed.
	if err := os.WriteFile(filepath.Join(root, "dt=2026-11-24", "hour=06", "._manifest.json"+tmpMark+"x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := d.List(ctx, "/"+ManifestFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].Key != "dt=2026-11-24/hour=05/_manifest.json" || objs[1].Key != "dt=2026-11-24/hour=06/_manifest.json" || objs[0].Tag == "" {
		t.Fatalf("listed %+v", objs)
	}
	if _, err := d.Get(ctx, "dt=2026-11-24/hour=07/_manifest.json"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key: %v", err)
	}
	for _, key := range []string{"dt=2026-11-24/hour=05/events.parquet", "dt=2026-11-24/hour=05/_manifest.json", "dt=2026-11-24/hour=05/_manifest.json"} {
		if err := d.Delete(ctx, key); err != nil {
			t.Fatalf("delete %s: %v", key, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "dt=2026-11-24", "hour=05")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("emptied partition directory: %v, want it removed", err)
	}
	if _, err := os.Stat(filepath.Join(root, "dt=2026-11-24", "hour=06")); err != nil {
		t.Fatalf("other partition: %v", err)
	}
	for _, key := range []string{"../escape", "/etc/passwd", "", "a/../../b"} {
		if err := d.Put(ctx, key, filepath.Join(src, "x")); err == nil || !strings.Contains(err.Error(), "invalid key") {
			t.Errorf("Put(%q): %v, want invalid key", key, err)
		}
		if _, err := d.Get(ctx, key); err == nil {
			t.Errorf("Get(%q): no error", key)
		}
	}
	if _, err := NewDir(""); err == nil {
		t.Fatal("NewDir(\"\"): no error")
	}
}

// TestDirAcrossFileSystems: Put copies when the staged file is on another
// file system (no hard link possible).
func TestDirAcrossFileSystems(t *testing.T) {
	src, err := os.MkdirTemp("/dev/shm", "lake-test-")
	if err != nil {
		t.Skip("no /dev/shm:", err)
	}
	defer os.RemoveAll(src)
	p := filepath.Join(src, "staged")
	if err := os.WriteFile(p, []byte("across"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if os.Link(p, filepath.Join(root, "probe")) == nil {
		t.Skip("/dev/shm is on the same file system as the test's directory")
	}
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put(context.Background(), "a/b.parquet", p); err != nil {
		t.Fatal(err)
	}
	if b, err := d.Get(context.Background(), "a/b.parquet"); err != nil || string(b) != "across" {
		t.Fatalf("Get: %q, %v", b, err)
	}
}
