package lake

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/actlog/actlog/internal/store"
)

// Scrub removes member m's rows from the lake's partitions of the hours
// before before, reading each partition from the lake itself: those are
// the hours the store no longer holds whole (retention deleted their
// older events), so Rewrite cannot rebuild them. A partition without the
// member's rows is left untouched; one with nothing else is deleted. Scrub
// stops at the first failure; running it again is safe.
func (e *Exporter) Scrub(ctx context.Context, before time.Time, m store.Member) (Summary, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	start := time.Now()
	sum, err := e.scrub(ctx, before.UTC().Truncate(time.Hour), m)
	e.finish(&sum, start, err, "scrub")
	return sum, err
}

func (e *Exporter) scrub(ctx context.Context, before time.Time, m store.Member) (Summary, error) {
	var sum Summary
	e.removeStaleStaging()
	// The data files, not the manifests: a partition whose manifest went
	// missing (an interrupted rewrite) still holds rows to scrub.
	objs, err := e.dst.List(ctx, "/"+DataFile)
	if err != nil {
		return sum, err
	}
	for _, o := range objs {
		h, ok := hourOfKey(o.Key, DataFile)
		if !ok || !h.Before(before) {
			continue
		}
		if err := e.scrubHour(ctx, h, m, &sum); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

func (e *Exporter) scrubHour(ctx context.Context, h time.Time, m store.Member, sum *Summary) error {
	start := time.Now()
	prev, err := e.manifest(ctx, ManifestKey(h))
	if err != nil {
		return err
	}
	in, out := e.stagingFile(h, ".parquet"), e.stagingFile(h, ".parquet")
	defer os.Remove(in)
	defer os.Remove(out)
	err = e.dst.GetFile(ctx, DataKey(h), in)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stage partition %s: %w", PartitionPath(h), err)
	}
	kept, removed, err := e.st.ScrubParquet(ctx, in, out, m)
	switch {
	case err != nil:
		return err
	case removed == 0:
		sum.Unchanged++
		return nil
	case kept == 0:
		if err := e.dst.Delete(ctx, DataKey(h)); err != nil {
			return err
		}
		if err := e.dst.Delete(ctx, ManifestKey(h)); err != nil {
			return err
		}
		sum.Deleted++
		e.log.Info("lake partition deleted: only the erased member's rows", "partition", PartitionPath(h))
		return nil
	}
	return e.publish(ctx, h, out, kept, prev, sum, start)
}
