package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Checkpoint is the progress of an import, written after every durable
// batch so that an interrupted import resumes where it stopped.
type Checkpoint struct {
	Version int    `json:"version"`
	Source  string `json:"source"`
	// Files is the progress of each file, by absolute path.
	Files map[string]*FileState `json:"files"`
	// RejectsFile and RejectsSize: the --rejects report and its size when
	// this checkpoint was written; a resumed import cuts the report back to
	// that size, so that it lists every rejected record once.
	RejectsFile string    `json:"rejects_file,omitempty"`
	RejectsSize int64     `json:"rejects_size,omitempty"`
	Updated     time.Time `json:"updated"`
}

// FileState is how far the import of one file got. Size and MTime identify
// the file's content: a file that changed is imported again from the start.
type FileState struct {
	Size     int64     `json:"size"`
	MTime    time.Time `json:"mtime"`
	Records  int64     `json:"records"` // records done (stored or rejected): lines, rows, or Firehose records
	Line     int64     `json:"line"`    // the line where the next record starts (or the line of Offset)
	Offset   int64     `json:"offset"`  // bytes done, where to seek on resume; -1 for compressed files (records are skipped instead)
	Done     bool      `json:"done"`
	Events   int64     `json:"events"`
	Rejected int64     `json:"rejected"`
}

const checkpointVersion = 1

// DefaultCheckpointPath is where an import of inputs into source keeps its
// checkpoint when none is named: dir/<hash of source and inputs>.json.
// Inputs are made absolute first, so that the same import run from another
// directory finds the same checkpoint.
func DefaultCheckpointPath(dir, source string, inputs []string) string {
	h := sha256.New()
	h.Write([]byte(source))
	for _, in := range inputs {
		if in != "-" {
			if abs, err := filepath.Abs(in); err == nil {
				in = abs
			}
		}
		h.Write([]byte{0})
		h.Write([]byte(in))
	}
	return filepath.Join(dir, hex.EncodeToString(h.Sum(nil)[:8])+".json")
}

// loadCheckpoint reads a checkpoint; a missing file is an empty one.
func loadCheckpoint(path, source string) (*Checkpoint, error) {
	cp := &Checkpoint{Version: checkpointVersion, Source: source, Files: map[string]*FileState{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cp, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	if err := json.Unmarshal(b, cp); err != nil {
		return nil, fmt.Errorf("checkpoint %s is damaged (%v): remove it, or pass --restart to import from the start", path, err)
	}
	if cp.Version != checkpointVersion {
		return nil, fmt.Errorf("checkpoint %s has version %d, this actlog writes %d: pass --restart", path, cp.Version, checkpointVersion)
	}
	if cp.Source != source {
		return nil, fmt.Errorf("checkpoint %s is of an import into source %q, not %q: name another --checkpoint, or pass --restart", path, cp.Source, source)
	}
	if cp.Files == nil {
		cp.Files = map[string]*FileState{}
	}
	return cp, nil
}

// save writes the checkpoint atomically: a temporary file, fsync, rename,
// fsync of the directory.
func (cp *Checkpoint) save(path string, now time.Time) error {
	cp.Updated = now.UTC()
	b, err := json.MarshalIndent(cp, "", " ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("checkpoint directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
