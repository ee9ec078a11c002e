package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Options configure an S3 destination. Zero values take the defaults.
type S3Options struct {
	Bucket string
	Prefix string // keys go under it ("events" → s3://bucket/events/dt=…); empty: the bucket's root
	// Region: default the SDK's (AWS_REGION, the shared config), else
	// us-east-1 when Endpoint is set.
	Region string
	// Endpoint for S3-compatible stores (MinIO, Ceph, R2…), e.g.
	// http://127.0.0.1:9000; empty: AWS's.
	Endpoint  string
	PathStyle bool // bucket in the path, not the host name (most S3-compatible stores want it)
	// Static credentials; empty: the SDK's default chain (environment,
	// shared files, web identity / IRSA, ECS, EC2 instance role).
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// PartSize: files larger than this go up as a multipart upload of
	// parts this size (default 64 MiB, at least 5 MiB).
	PartSize int64
	// MaxAttempts per request, retries included (default the SDK's, 3).
	MaxAttempts int
}

// DefaultPartSize is S3Options.PartSize's default.
const DefaultPartSize = 64 << 20

// minPartSize is S3's smallest part but the last.
const minPartSize = 5 << 20

// maxGetBytes bounds what Get reads: manifests are a few kilobytes.
const maxGetBytes = 16 << 20

// S3 is a Destination in an S3 bucket (or an S3-compatible store). A
// PutObject, and the completion of a multipart upload, replace an object
// whole: readers see the old object or the new one.
type S3 struct {
	client    *s3.Client
	bucket    string
	prefix    string // without slashes at either end
	partSize  int64
	transport *http.Transport
}

// NewS3 returns the destination described by o. It makes no request.
func NewS3(ctx context.Context, o S3Options) (*S3, error) {
	if o.Bucket == "" {
		return nil, errors.New("s3 bucket not set")
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < minPartSize {
		return nil, fmt.Errorf("s3 part size %d is below S3's minimum of 5 MiB", o.PartSize)
	}
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(o.MaxAttempts))
	}
	if o.AccessKeyID != "" || o.SecretAccessKey != "" {
		if o.AccessKeyID == "" || o.SecretAccessKey == "" {
			return nil, errors.New("s3 credentials: set both the access key id and the secret access key, or neither")
		}
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	// The SDK's transport (with AWS_CA_BUNDLE's roots, if set), held to
	// close its idle connections in Close.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		transport = bc.GetTransport()
	}
	transport.ResponseHeaderTimeout = time.Minute
	cfg.HTTPClient = &http.Client{
		Transport: transport,
		// A redirect (a bucket in another region) is an answer to report.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if cfg.Region == "" {
		if o.Endpoint == "" {
			return nil, errors.New("s3 region not set (set the region, or AWS_REGION)")
		}
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.UsePathStyle = o.PathStyle
		// S3-compatible stores often answer without a checksum: no log
		// line per read for that.
		so.DisableLogOutputChecksumValidationSkipped = true
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	return &S3{
		client:    client,
		bucket:    o.Bucket,
		prefix:    strings.Trim(o.Prefix, "/"),
		partSize:  o.PartSize,
		transport: transport,
	}, nil
}

func (d *S3) String() string {
	if d.prefix == "" {
		return "s3://" + d.bucket
	}
	return "s3://" + d.bucket + "/" + d.prefix
}

// Close closes idle connections. The destination stays usable.
func (d *S3) Close() { d.transport.CloseIdleConnections() }

func (d *S3) key(key string) string {
	if d.prefix == "" {
		return key
	}
	return d.prefix + "/" + key
}

func contentType(key string) string {
	switch path.Ext(key) {
	case ".parquet":
		return "application/vnd.apache.parquet"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

// Put uploads file to key: one PutObject up to PartSize, a multipart
// upload above.
func (d *S3) Put(ctx context.Context, key, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("open %s: %w", file, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", file, err)
	}
	if fi.Size() > d.partSize {
		return d.putMultipart(ctx, key, f, fi.Size())
	}
	_, err = d.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(d.bucket),
		Key:           aws.String(d.key(key)),
		Body:          f,
		ContentLength: aws.Int64(fi.Size()),
		ContentType:   aws.String(contentType(key)),
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", d.bucket, d.key(key), err)
	}
	return nil
}

func (d *S3) putMultipart(ctx context.Context, key string, f *os.File, size int64) (err error) {
	full := d.key(key)
	up, err := d.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(d.bucket),
		Key:               aws.String(full),
		ContentType:       aws.String(contentType(key)),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return fmt.Errorf("start upload of s3://%s/%s: %w", d.bucket, full, err)
	}
	defer func() {
		if err == nil {
			return
		}
		// Abort even when ctx ended, so the parts are not kept (and billed).
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = d.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(d.bucket), Key: aws.String(full), UploadId: up.UploadId,
		})
	}()
	var parts []types.CompletedPart
	for n, off := int32(1), int64(0); off < size; n, off = n+1, off+d.partSize {
		length := min(d.partSize, size-off)
		out, err := d.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:            aws.String(d.bucket),
			Key:               aws.String(full),
			UploadId:          up.UploadId,
			PartNumber:        aws.Int32(n),
			Body:              io.NewSectionReader(f, off, length),
			ContentLength:     aws.Int64(length),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			return fmt.Errorf("upload part %d of s3://%s/%s: %w", n, d.bucket, full, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n), ChecksumCRC32: out.ChecksumCRC32})
	}
	_, err = d.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(d.bucket),
		Key:             aws.String(full),
		UploadId:        up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("complete upload of s3://%s/%s: %w", d.bucket, full, err)
	}
	return nil
}

// notFound reports whether err is S3's answer for a missing key.
func notFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var status interface{ HTTPStatusCode() int }
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "NoSuchBucket" {
		return false // a 404 too, but a configuration error to report
	}
	return errors.As(err, &nsk) || errors.As(err, &nf) || (errors.As(err, &status) && status.HTTPStatusCode() == http.StatusNotFound)
}

// Get reads the object at key.
func (d *S3) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(d.key(key))})
	if notFound(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", d.bucket, d.key(key), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, maxGetBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", d.bucket, d.key(key), err)
	}
	if len(b) > maxGetBytes {
		return nil, fmt.Errorf("s3://%s/%s: larger than %d bytes", d.bucket, d.key(key), maxGetBytes)
	}
	return b, nil
}

// GetFile streams the object at key into file.
func (d *S3) GetFile(ctx context.Context, key, file string) error {
	out, err := d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(d.key(key))})
	if notFound(err) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("get s3://%s/%s: %w", d.bucket, d.key(key), err)
	}
	defer out.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("get s3://%s/%s: %w", d.bucket, d.key(key), err)
	}
	if _, err := io.Copy(f, out.Body); err != nil {
		f.Close()
		return fmt.Errorf("read s3://%s/%s: %w", d.bucket, d.key(key), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// List lists the keys under the prefix that end with suffix; the tag is
// the ETag and size.
func (d *S3) List(ctx context.Context, suffix string) ([]Object, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(d.bucket)}
	strip := ""
	if d.prefix != "" {
		strip = d.prefix + "/"
		in.Prefix = aws.String(strip)
	}
	var out []Object
	for p := s3.NewListObjectsV2Paginator(d.client, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", d, err)
		}
		for _, o := range page.Contents {
			k := strings.TrimPrefix(aws.ToString(o.Key), strip)
			if !strings.HasSuffix(k, suffix) {
				continue
			}
			out = append(out, Object{Key: k, Tag: fmt.Sprintf("%s-%d", aws.ToString(o.ETag), aws.ToInt64(o.Size))})
		}
	}
	return out, nil
}

// Delete deletes the object at key.
func (d *S3) Delete(ctx context.Context, key string) error {
	_, err := d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(d.key(key))})
	if err != nil && !notFound(err) {
		return fmt.Errorf("delete s3://%s/%s: %w", d.bucket, d.key(key), err)
	}
	return nil
}
