package lake

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/actlog/actlog/internal/store"
)

// The layout of a partition: <root>/dt=YYYY-MM-DD/hour=HH/{events.parquet,_manifest.json}.
const (
	DataFile     = "events.parquet"
	ManifestFile = "_manifest.json" // "_" first: Athena, Spark and DuckDB globs skip it
	// ManifestFormat names the manifest's layout; it changes if a field
	// changes meaning.
	ManifestFormat = "actlog.lake.manifest/1"
	partitionTime  = "dt=2006-01-02/hour=15"
)

// PartitionPath is the partition directory of the UTC hour that contains
// t, e.g. "dt=2026-11-24/hour=05".
func PartitionPath(t time.Time) string {
	return t.UTC().Truncate(time.Hour).Format(partitionTime)
}

// DataKey and ManifestKey are the keys of an hour's Parquet file and
// manifest.
func DataKey(hour time.Time) string     { return PartitionPath(hour) + "/" + DataFile }
func ManifestKey(hour time.Time) string { return PartitionPath(hour) + "/" + ManifestFile }

// hourOfManifestKey returns the hour of a manifest's key, and false for a
// key outside the layout.
func hourOfManifestKey(key string) (time.Time, bool) { return hourOfKey(key, ManifestFile) }

// hourOfKey returns the hour of the key of a partition's file named name,
// and false for a key outside the layout.
func hourOfKey(key, name string) (time.Time, bool) {
	dir, ok := strings.CutSuffix(key, "/"+name)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(partitionTime, dir)
	if err != nil || PartitionPath(t) != dir {
		return time.Time{}, false
	}
	return t, true
}

// Manifest describes one partition's Parquet file. It is written after
// the file, so a manifest never announces a file that is not there.
type Manifest struct {
	Format        string             `json:"format"`
	Partition     string             `json:"partition"`  // dt=2026-11-24/hour=05
	HourStart     time.Time          `json:"hour_start"` // UTC; the events have hour_start <= ts < hour_end
	HourEnd       time.Time          `json:"hour_end"`
	File          string             `json:"file"` // events.parquet, in the same directory
	Rows          int64              `json:"rows"`
	Bytes         int64              `json:"bytes"`
	SHA256        string             `json:"sha256"` // hex, of the whole file
	MinTS         *time.Time         `json:"min_ts"` // of the rows' ts; null when there are none
	MaxTS         *time.Time         `json:"max_ts"`
	ExportedAt    time.Time          `json:"exported_at"`
	SchemaVersion int                `json:"schema_version"` // the actlog store schema the rows come from
	ActlogVersion string             `json:"actlog_version,omitempty"`
	Columns       []store.LakeColumn `json:"columns"` // in file order, with their DuckDB types
}

func parseManifest(b []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("parse manifest: %w", err)
	}
	if m.Format != ManifestFormat {
		return m, fmt.Errorf("manifest format %q, want %q", m.Format, ManifestFormat)
	}
	return m, nil
}
