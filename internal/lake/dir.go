package lake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Dir is a Destination in a local directory (or a mounted file system).
// Put writes a temporary file beside the target, syncs it and renames it
// over the target, so readers never see a partial file.
type Dir struct {
	root string
}

// NewDir returns the destination rooted at dir, creating it if needed.
func NewDir(dir string) (*Dir, error) {
	if dir == "" {
		return nil, errors.New("lake directory not set")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lake directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create lake directory: %w", err)
	}
	return &Dir{root: abs}, nil
}

func (d *Dir) String() string { return d.root }

// tmpMark is in the names of Put's temporary files: a dot first, so that
// readers (DuckDB globs, Athena, Spark) skip them, and no .parquet ending.
const tmpMark = ".tmp-"

func (d *Dir) path(key string) (string, error) {
	p, err := filepath.Localize(key)
	if err != nil || key == "" {
		return "", fmt.Errorf("invalid key %q", key)
	}
	return filepath.Join(d.root, p), nil
}

// Put links (or, across file systems, copies) file to a temporary name in
// the key's directory, syncs it, renames it over the key and syncs the
// directory.
func (d *Dir) Put(ctx context.Context, key, file string) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	target, err := d.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, "."+filepath.Base(target)+tmpMark+hex.EncodeToString(rnd[:]))
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err := os.Link(file, tmp); err != nil {
		if err := copyFile(file, tmp); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", tmp, err)
	}
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	// Files are readable by whoever may read the lake directory.
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("rename into %s: %w", target, err)
	}
	return syncDir(dir)
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("open %s: %w", from, err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", to, err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		return fmt.Errorf("copy to %s: %w", to, err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("copy to %s: %w", to, err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Get reads the file at key.
func (d *Dir) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

// GetFile copies the file at key to file.
func (d *Dir) GetFile(ctx context.Context, key, file string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err := copyFile(p, file); err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return nil
}

// List walks the directory for files ending with suffix, skipping Put's
// temporary files; the tag is the size and modification time.
func (d *Dir) List(ctx context.Context, suffix string) ([]Object, error) {
	var out []Object
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != d.root {
				return nil // removed while walking
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() || strings.Contains(e.Name(), tmpMark) || !strings.HasSuffix(filepath.ToSlash(p), suffix) {
			return nil
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		out = append(out, Object{
			Key: filepath.ToSlash(rel),
			Tag: strconv.FormatInt(info.Size(), 10) + "-" + strconv.FormatInt(info.ModTime().UnixNano(), 10),
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.root, err)
	}
	return out, nil
}

// Delete removes the file at key, then its directories up to the root
// while they are empty.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	dir := filepath.Dir(p) // under the root: Localize refuses ".."
	for dir != d.root && os.Remove(dir) == nil {
		dir = filepath.Dir(dir)
	}
	if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
