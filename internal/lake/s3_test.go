package lake

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeS3 is gofakes3 served over a real socket on 127.0.0.1, counting the
// requests by method.
type fakeS3 struct {
	srv *httptest.Server
	mu  sync.Mutex
	req map[string]int
}

const testBucket = "actlog-lake"

func startS3(t *testing.T) *fakeS3 {
	t.Helper()
	// No shared AWS configuration of the machine running the tests.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	backend := s3mem.New()
	if err := backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	f := &fakeS3{req: map[string]int{}}
	h := gofakes3.New(backend).Server()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.req[r.Method]++
		f.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// requests returns the count of requests of a method, and resets it.
func (f *fakeS3) requests(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.req[method]
	f.req[method] = 0
	return n
}

func newS3(t *testing.T, f *fakeS3, o S3Options) *S3 {
	t.Helper()
	o.Bucket = testBucket
	o.Endpoint = f.srv.URL
	o.PathStyle = true
	o.AccessKeyID, o.SecretAccessKey = "test-key", "test-secret"
	d, err := NewS3(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// download copies every object of the bucket under prefix into a new
// directory, by key, and returns it.
func download(t *testing.T, d *S3, prefix string) (string, []string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	var keys []string
	for p := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			keys = append(keys, key)
			out, err := d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			rel, ok := strings.CutPrefix(key, prefix+"/")
			if !ok {
				t.Fatalf("object %s outside the prefix %s", key, prefix)
			}
			p := filepath.Join(dir, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Sort(keys)
	return dir, keys
}

// TestS3RoundTrip exports to an S3-compatible server (path-style, custom
// endpoint, a prefix), downloads the objects and reads them with DuckDB:
// the same rows per hour as the store. A second run sends no PUT; a late
// event re-puts one partition; an erasure rewrite deletes objects.
func TestS3RoundTrip(t *testing.T) {
	f := startS3(t)
	s := fixture(t)
	const prefix = "lake/events"
	d := newS3(t, f, S3Options{Prefix: "/" + prefix + "/"})
	if d.String() != "s3://actlog-lake/lake/events" {
		t.Fatalf("String() = %s", d)
	}
	c := &clock{now: hour(5).Add(30 * time.Minute)}
	e, err := New(s, d, Options{Now: c.Now}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sum, err := e.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Written != 4 || sum.Rows != 220 {
		t.Fatalf("summary %+v", sum)
	}
	if n := f.requests(http.MethodPut); n != 8 {
		t.Fatalf("%d PUTs, want 8 (4 files, 4 manifests)", n)
	}
	noStaging(t, s)

	dir, keys := download(t, d, prefix)
	var want []string
	for h := range 4 {
		want = append(want, prefix+"/"+DataKey(hour(h)), prefix+"/"+ManifestKey(hour(h)))
	}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("objects %v, want %v", keys, want)
	}
	db := openReader(t)
	equalRows(t, lakeRows(t, db, dir), storeRows(t, s, hour(0), hour(5)))
	for h := range 4 {
		m := readManifest(t, dir, hour(h))
		sha, size, err := hashFile(filepath.Join(dir, filepath.FromSlash(DataKey(hour(h)))))
		if err != nil {
			t.Fatal(err)
		}
		if m.SHA256 != sha || m.Bytes != size || m.Rows != int64(40+10*h) {
			t.Fatalf("hour %d: manifest %+v, object sha %s size %d", h, m, sha, size)
		}
	}

	// Nothing new: no PUT; a listing and the read of the new manifests,
	// then, from the third run on, the listing alone (manifests cached).
	f.requests(http.MethodGet)
	for run, wantGets := range []int{5, 1} {
		if sum, err := e.Export(ctx); err != nil || sum.Written != 0 || sum.Unchanged != 4 {
			t.Fatalf("export %d: %+v, %v", run+2, sum, err)
		}
		if puts, gets := f.requests(http.MethodPut), f.requests(http.MethodGet); puts != 0 || gets != wantGets {
			t.Fatalf("export %d: %d PUTs, %d GETs; want 0 and %d", run+2, puts, gets, wantGets)
		}
	}

	writeEvents(t, s, hour(2).Add(30*time.Minute), 1, "late")
	if sum, err := e.Export(ctx); err != nil || sum.Written != 1 || sum.Rows != 61 {
		t.Fatalf("export after a late event %+v, %v", sum, err)
	}
	if n := f.requests(http.MethodPut); n != 2 {
		t.Fatalf("%d PUTs for one partition, want 2", n)
	}

	if _, err := s.DB().Exec(`DELETE FROM events WHERE ts >= ? AND ts < ?`, hour(3), hour(4)); err != nil {
		t.Fatal(err)
	}
	if sum, err := e.Rewrite(ctx, []time.Time{hour(3)}); err != nil || sum.Deleted != 1 {
		t.Fatalf("rewrite of an emptied hour %+v, %v", sum, err)
	}
	dir, keys = download(t, d, prefix)
	if len(keys) != 6 || slices.Contains(keys, prefix+"/"+DataKey(hour(3))) {
		t.Fatalf("objects after the rewrite: %v", keys)
	}
	equalRows(t, lakeRows(t, db, dir), storeRows(t, s, hour(0), hour(5)))
}

// TestS3Destination exercises the destination alone: multipart uploads
// above the part size, replacement, missing keys, listing by suffix.
func TestS3Destination(t *testing.T) {
	f := startS3(t)
	d := newS3(t, f, S3Options{PartSize: minPartSize})
	ctx := context.Background()
	src := t.TempDir()
	put := func(key string, size int) []byte {
		t.Helper()
		b := make([]byte, size)
		_, _ = rand.Read(b)
		p := filepath.Join(src, "f")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := d.Put(ctx, key, p); err != nil {
			t.Fatal(err)
		}
		return b
	}
	big := put("dt=2026-11-24/hour=01/events.parquet", 2*minPartSize+12345)
	if n := f.requests(http.MethodPost); n < 2 {
		t.Fatalf("%d POSTs for an upload of 3 parts: want a multipart upload (start, complete)", n)
	}
	if n := f.requests(http.MethodPut); n != 3 {
		t.Fatalf("%d part PUTs, want 3", n)
	}
	got, err := d.Get(ctx, "dt=2026-11-24/hour=01/events.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		sa, sb := sha256.Sum256(got), sha256.Sum256(big)
		t.Fatalf("multipart object differs: %d bytes %s, want %d bytes %s", len(got), hex.EncodeToString(sa[:4]), len(big), hex.EncodeToString(sb[:4]))
	}
	small := put("dt=2026-11-24/hour=01/events.parquet", 1000)
	if got, err = d.Get(ctx, "dt=2026-11-24/hour=01/events.parquet"); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("replaced object: %d bytes, %v", len(got), err)
	}
	put("dt=2026-11-24/hour=01/_manifest.json", 10)
	put("dt=2026-11-24/hour=02/_manifest.json", 10)
	objs, err := d.List(ctx, "/_manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].Key != "dt=2026-11-24/hour=01/_manifest.json" || objs[0].Tag == "" {
		t.Fatalf("listed %+v", objs)
	}
	if _, err := d.Get(ctx, "dt=2026-11-24/hour=09/_manifest.json"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
	}
	for range 2 {
		if err := d.Delete(ctx, "dt=2026-11-24/hour=02/_manifest.json"); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	if _, err := d.Get(ctx, "dt=2026-11-24/hour=02/_manifest.json"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}

	other, err := NewS3(ctx, S3Options{Bucket: "no-such-bucket", Endpoint: f.srv.URL, PathStyle: true, AccessKeyID: "k", SecretAccessKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Get(ctx, "x"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("Get in a missing bucket: %v, want an error that is not ErrNotFound", err)
	}
}

func TestNewS3Refuses(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	for _, tc := range []struct {
		name string
		o    S3Options
		want string
	}{
		{"no bucket", S3Options{Region: "us-east-1"}, "bucket"},
		{"half credentials", S3Options{Bucket: "b", Region: "us-east-1", AccessKeyID: "k"}, "credentials"},
		{"tiny parts", S3Options{Bucket: "b", Region: "us-east-1", PartSize: 1 << 20}, "part size"},
		{"no region for AWS", S3Options{Bucket: "b"}, "region"},
	} {
		d, err := NewS3(context.Background(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %s", tc.name, err, tc.want)
		}
		if d != nil {
			d.Close()
		}
	}
}

// TestS3ServerDown: with the server stopped, Export fails, counts the
// error and leaves no staging file.
func TestS3ServerDown(t *testing.T) {
	f := startS3(t)
	s := fixture(t)
	d := newS3(t, f, S3Options{MaxAttempts: 1})
	e, err := New(s, d, Options{Now: (&clock{now: hour(5).Add(30 * time.Minute)}).Now}, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Close()
	if _, err := e.Export(context.Background()); err == nil {
		t.Fatal("export to a stopped server: no error")
	}
	if v := testutil.ToFloat64(e.m.errors); v != 1 {
		t.Fatalf("errors metric %v", v)
	}
	noStaging(t, s)
}
