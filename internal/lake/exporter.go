package lake

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/actlog/actlog/internal/store"
)

// Store is what the exporter needs of the store (package store's *Store).
type Store interface {
	// HourCounts returns the rows per UTC hour of ts in [from, to).
	HourCounts(ctx context.Context, from, to time.Time) ([]store.HourCount, error)
	// ExportHour writes one hour's rows to a Parquet file in ExportDir.
	ExportHour(ctx context.Context, hour time.Time, file string) (int64, error)
	// DescribeParquet reads back such a file's rows, ts range and columns.
	DescribeParquet(ctx context.Context, file string) (store.ParquetInfo, error)
	// RetainedFrom is the first hour the store holds whole: older hours
	// may have lost events to retention (zero: none has).
	RetainedFrom(ctx context.Context) (time.Time, error)
	// ScrubParquet copies a Parquet file without a member's rows.
	ScrubParquet(ctx context.Context, in, out string, m store.Member) (kept, removed int64, err error)
	// ExportDir is the only directory the store may write files to.
	ExportDir() string
}

var _ Store = (*store.Store)(nil)

// Options configure an Exporter. Zero values take the defaults.
type Options struct {
	// Since is the first hour Export considers (truncated to the hour);
	// zero: every hour the store holds. Rewrite ignores it.
	Since time.Time
	// CloseAfter: an hour is closed, and exported, once it ended this long
	// ago, leaving time for late events (default 10 minutes). Events that
	// arrive later still make their hour export again.
	CloseAfter time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Version is the actlog version written in the manifests.
	Version string
}

// DefaultCloseAfter is Options.CloseAfter's default.
const DefaultCloseAfter = 10 * time.Minute

// stagingPrefix starts the names of the exporter's files in the store's
// export directory; stagingMaxAge is the age past which such a file is
// left over from a crash and removed.
const (
	stagingPrefix = ".lake-"
	stagingMaxAge = time.Hour
)

// manifestReads is how many manifests are read at once.
const manifestReads = 8

// Exporter writes the store's closed hours to a Destination.
type Exporter struct {
	st   Store
	dst  Destination
	opts Options
	log  *slog.Logger
	m    *metrics

	mu sync.Mutex // one Export or Rewrite at a time; guards cache
	// cache holds the manifests read, by key, with the tag they were
	// listed with: a listing with the same tag needs no read.
	cache map[string]cachedManifest
}

type cachedManifest struct {
	tag string
	m   Manifest
}

// Summary is what one Export or Rewrite did.
type Summary struct {
	Written   int           `json:"written"`   // partitions written (Parquet file, then manifest)
	Unchanged int           `json:"unchanged"` // partitions already up to date
	Behind    int           `json:"behind"`    // hours of which the store now holds fewer rows than the lake (kept)
	Deleted   int           `json:"deleted"`   // partitions removed by Rewrite: their hour has no events left
	Open      int           `json:"open"`      // hours given to Rewrite that are not closed yet (Export will write them)
	Archived  int           `json:"archived"`  // hours given to Rewrite that retention cut from the store: left as they are
	Rows      int64         `json:"rows"`      // rows written
	Bytes     int64         `json:"bytes"`     // bytes of Parquet written
	Elapsed   time.Duration `json:"elapsed_ns"`
}

// New returns an exporter of st's events to dst. Its metrics are
// registered on reg (nil: none).
func New(st Store, dst Destination, opts Options, log *slog.Logger, reg prometheus.Registerer) (*Exporter, error) {
	if st == nil || dst == nil {
		return nil, errors.New("lake exporter needs a store and a destination")
	}
	if opts.CloseAfter < 0 {
		return nil, fmt.Errorf("close after %s: must not be negative", opts.CloseAfter)
	}
	if opts.CloseAfter == 0 {
		opts.CloseAfter = DefaultCloseAfter
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if !opts.Since.IsZero() {
		opts.Since = opts.Since.UTC().Truncate(time.Hour)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Exporter{st: st, dst: dst, opts: opts, log: log, m: m, cache: map[string]cachedManifest{}}, nil
}

// Destination is where the exporter writes.
func (e *Exporter) Destination() Destination { return e.dst }

// closedBefore is the end of the last closed hour: hours starting before
// it are closed.
func (e *Exporter) closedBefore() time.Time {
	return e.opts.Now().UTC().Add(-e.opts.CloseAfter).Truncate(time.Hour)
}

// Export writes every closed hour since Options.Since that the lake lacks
// or of which the store now holds more rows than the lake (late events).
// An hour of which the store holds fewer rows than the lake is kept as it
// is: retention deleted them, and the lake is the archive (Rewrite is for
// deletions the lake must follow). A run that finds nothing new writes
// nothing. Hours are written in order; the first failure ends the run,
// and a later run takes up from there.
func (e *Exporter) Export(ctx context.Context) (Summary, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	start := time.Now()
	sum, err := e.export(ctx)
	e.finish(&sum, start, err, "export")
	if err == nil {
		e.m.lastSuccess.Set(float64(time.Now().UnixNano()) / 1e9)
	}
	return sum, err
}

func (e *Exporter) export(ctx context.Context) (Summary, error) {
	var sum Summary
	e.removeStaleStaging()
	end := e.closedBefore()
	if !e.opts.Since.IsZero() && !e.opts.Since.Before(end) {
		return sum, nil
	}
	counts, err := e.st.HourCounts(ctx, e.opts.Since, end)
	if err != nil {
		return sum, err
	}
	hours := make([]time.Time, len(counts))
	for i, c := range counts {
		hours[i] = c.Hour
	}
	manifests, err := e.manifests(ctx, hours)
	if err != nil {
		return sum, err
	}
	for _, c := range counts {
		old, ok := manifests[c.Hour]
		switch {
		case ok && c.Rows == old.Rows:
			sum.Unchanged++
			continue
		case ok && c.Rows < old.Rows:
			sum.Behind++
			e.log.Debug("lake partition kept: the store holds fewer rows than the lake", "partition", PartitionPath(c.Hour), "store_rows", c.Rows, "lake_rows", old.Rows)
			continue
		}
		var prev *Manifest
		if ok {
			prev = &old
		}
		if err := e.writeHour(ctx, c.Hour, prev, false, &sum); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// Rewrite exports the given hours (each time is truncated to its UTC hour)
// whatever their manifests say, for deletions the lake must follow, such
// as a member's erasure: an hour with no events left has its partition
// deleted. A rewrite that finds the same rows writes nothing (same bytes).
// Hours not closed yet are left to Export. Rewrite stops at the first
// failure; running it again with the same hours is safe.
func (e *Exporter) Rewrite(ctx context.Context, hours []time.Time) (Summary, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	start := time.Now()
	sum, err := e.rewrite(ctx, hours)
	e.finish(&sum, start, err, "rewrite")
	return sum, err
}

func (e *Exporter) rewrite(ctx context.Context, hours []time.Time) (Summary, error) {
	var sum Summary
	e.removeStaleStaging()
	end := e.closedBefore()
	hs := make([]time.Time, 0, len(hours))
	for _, h := range hours {
		hs = append(hs, h.UTC().Truncate(time.Hour))
	}
	slices.SortFunc(hs, func(a, b time.Time) int { return a.Compare(b) })
	hs = slices.Compact(hs)
	retained, err := e.st.RetainedFrom(ctx)
	if err != nil {
		return sum, err
	}
	for _, h := range hs {
		if !h.Before(end) {
			sum.Open++
			e.log.Debug("lake rewrite: hour not closed yet, left to the export", "partition", PartitionPath(h))
			continue
		}
		if h.Before(retained) {
			// The store no longer holds this hour whole: rebuilding it
			// from the store would drop archived rows. Scrub is for those.
			sum.Archived++
			e.log.Warn("lake rewrite refused: retention took part of this hour from the store", "partition", PartitionPath(h))
			continue
		}
		prev, err := e.manifest(ctx, ManifestKey(h))
		if err != nil {
			return sum, err
		}
		if err := e.writeHour(ctx, h, prev, true, &sum); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

func (e *Exporter) finish(sum *Summary, start time.Time, err error, what string) {
	sum.Elapsed = time.Since(start)
	e.m.duration.Observe(sum.Elapsed.Seconds())
	if err != nil {
		e.m.errors.Inc()
		return
	}
	lvl := slog.LevelDebug
	if sum.Written > 0 || sum.Deleted > 0 {
		lvl = slog.LevelInfo
	}
	e.log.Log(context.Background(), lvl, "lake "+what+" done", "destination", e.dst.String(), "written", sum.Written, "unchanged", sum.Unchanged,
		"behind", sum.Behind, "deleted", sum.Deleted, "rows", sum.Rows, "bytes", sum.Bytes, "took", sum.Elapsed.Round(time.Millisecond))
}

// writeHour exports hour to a staging file and puts it in the lake, then
// its manifest. prev is the hour's manifest, nil when there is none. With
// force (Rewrite), an hour that has no rows left has its partition
// deleted, and one of which the store holds fewer rows than prev replaces
// it.
func (e *Exporter) writeHour(ctx context.Context, hour time.Time, prev *Manifest, force bool, sum *Summary) error {
	start := time.Now()
	part := PartitionPath(hour)
	staging := e.stagingFile(hour, ".parquet")
	defer os.Remove(staging)
	rows, err := e.st.ExportHour(ctx, hour, staging)
	if err != nil {
		return err
	}
	switch {
	case rows == 0 && force:
		// The data first: a manifest left alone names no file to read.
		if err := e.dst.Delete(ctx, DataKey(hour)); err != nil {
			return err
		}
		if err := e.dst.Delete(ctx, ManifestKey(hour)); err != nil {
			return err
		}
		if prev != nil {
			sum.Deleted++
			e.log.Info("lake partition deleted: no events left", "partition", part, "lake_rows", prev.Rows)
		}
		return nil
	case !force && prev != nil && rows <= prev.Rows:
		// Rows went away between the count and the copy.
		sum.Behind++
		return nil
	case !force && rows == 0:
		return nil
	}
	return e.publish(ctx, hour, staging, rows, prev, sum, start)
}

// publish puts staging, a Parquet file of hour holding rows rows, in the
// lake in place of the partition prev describes (nil: none), then its
// manifest. The same bytes as prev's are not put again.
func (e *Exporter) publish(ctx context.Context, hour time.Time, staging string, rows int64, prev *Manifest, sum *Summary, start time.Time) error {
	part := PartitionPath(hour)
	info, err := e.st.DescribeParquet(ctx, staging)
	if err != nil {
		return err
	}
	if info.Rows != rows {
		return fmt.Errorf("partition %s: the file holds %d rows, the export wrote %d", part, info.Rows, rows)
	}
	sha, size, err := hashFile(staging)
	if err != nil {
		return err
	}
	if prev != nil && prev.SHA256 == sha && prev.Rows == rows {
		sum.Unchanged++
		e.log.Debug("lake partition unchanged", "partition", part, "rows", rows)
		return nil
	}
	if prev != nil && rows < prev.Rows {
		// Should the file be put and the manifest not, no manifest is
		// better than one with more rows than the file: Export writes the
		// hour again when it finds none.
		if err := e.dst.Delete(ctx, ManifestKey(hour)); err != nil {
			return err
		}
	}
	if err := e.dst.Put(ctx, DataKey(hour), staging); err != nil {
		return err
	}
	m := Manifest{
		Format:        ManifestFormat,
		Partition:     part,
		HourStart:     hour,
		HourEnd:       hour.Add(time.Hour),
		File:          DataFile,
		Rows:          rows,
		Bytes:         size,
		SHA256:        sha,
		ExportedAt:    e.opts.Now().UTC().Truncate(time.Millisecond),
		SchemaVersion: store.SchemaVersion,
		ActlogVersion: e.opts.Version,
		Columns:       info.Columns,
	}
	if !info.MinTS.IsZero() {
		m.MinTS, m.MaxTS = &info.MinTS, &info.MaxTS
	}
	if err := e.putManifest(ctx, hour, m); err != nil {
		return err
	}
	sum.Written++
	sum.Rows += rows
	sum.Bytes += size
	e.m.partitions.Inc()
	e.m.rows.Add(float64(rows))
	e.m.bytes.Add(float64(size))
	replaced := prev != nil
	e.log.Info("lake partition written", "partition", part, "rows", rows, "bytes", size, "replaced", replaced, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (e *Exporter) putManifest(ctx context.Context, hour time.Time, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	file := e.stagingFile(hour, ".json")
	defer os.Remove(file)
	if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("stage manifest: %w", err)
	}
	return e.dst.Put(ctx, ManifestKey(hour), file)
}

func (e *Exporter) stagingFile(hour time.Time, ext string) string {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	return filepath.Join(e.st.ExportDir(), stagingPrefix+hour.UTC().Format("2006010215")+"-"+hex.EncodeToString(rnd[:])+ext)
}

// removeStaleStaging removes staging files a crashed run left behind.
func (e *Exporter) removeStaleStaging() {
	dir := e.st.ExportDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, ent := range entries {
		if !strings.HasPrefix(ent.Name(), stagingPrefix) {
			continue
		}
		if info, err := ent.Info(); err == nil && time.Since(info.ModTime()) > stagingMaxAge {
			_ = os.Remove(filepath.Join(dir, ent.Name()))
		}
	}
}

func hashFile(file string) (string, int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", filepath.Base(file), err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", filepath.Base(file), err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// manifest reads the manifest at key; nil when there is none, or when it
// cannot be parsed (the partition is then written again).
func (e *Exporter) manifest(ctx context.Context, key string) (*Manifest, error) {
	b, err := e.dst.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(b)
	if err != nil {
		e.log.Warn("lake manifest unreadable: its partition will be written again", "key", key, "err", err)
		return nil, nil
	}
	return &m, nil
}

// manifests returns the lake's manifests of the given hours, by hour:
// one listing, then a read of each manifest that is new or changed since
// this exporter last read it.
func (e *Exporter) manifests(ctx context.Context, hours []time.Time) (map[time.Time]Manifest, error) {
	out := map[time.Time]Manifest{}
	if len(hours) == 0 {
		return out, nil
	}
	want := make(map[time.Time]bool, len(hours))
	for _, h := range hours {
		want[h] = true
	}
	objs, err := e.dst.List(ctx, "/"+ManifestFile)
	if err != nil {
		return nil, err
	}
	listed := map[string]bool{}
	var toRead []Object
	for _, o := range objs {
		h, ok := hourOfManifestKey(o.Key)
		if !ok || !want[h] {
			continue
		}
		listed[o.Key] = true
		if c, ok := e.cache[o.Key]; ok && c.tag == o.Tag {
			out[h] = c.m
			continue
		}
		toRead = append(toRead, o)
	}
	for k := range e.cache {
		if !listed[k] {
			delete(e.cache, k)
		}
	}
	read := make([]*Manifest, len(toRead))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(manifestReads)
	for i, o := range toRead {
		g.Go(func() error {
			m, err := e.manifest(gctx, o.Key)
			read[i] = m
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, o := range toRead {
		if read[i] == nil {
			continue
		}
		h, _ := hourOfManifestKey(o.Key)
		out[h] = *read[i]
		e.cache[o.Key] = cachedManifest{tag: o.Tag, m: *read[i]}
	}
	return out, nil
}

// Run exports every interval, starting at once, until ctx ends; then it
// returns nil. A failed run is logged and the next one retries. The caller
// owns the goroutine that calls Run.
func (e *Exporter) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("lake export interval %s: must be positive", every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := e.Export(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("lake export failed; the next run retries", "destination", e.dst.String(), "err", err, "next_in", every)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
