package loadgen

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults applied by Run to zero-valued Options fields. DefaultDuplicateRate
// is not applied automatically (a zero DuplicateRate means no duplicates); it
// is the value a command line flag should default to.
const (
	DefaultUsers         = 100
	DefaultBatch         = 10
	DefaultConcurrency   = 64
	DefaultMaxInFlight   = 1024
	DefaultMaxRetries    = 5
	DefaultDuplicateRate = 0.01
	DefaultProgressEvery = time.Second

	// maxRetryWait caps the wait before a retry, whatever Retry-After says.
	maxRetryWait = 2 * time.Second
	// drainTimeout bounds how long Run waits for in-flight requests (and
	// their retries) after it stopped sending new ones.
	drainTimeout = 5 * time.Second
	// clientTimeout bounds one HTTP attempt of the client Run builds itself.
	clientTimeout = 30 * time.Second
)

// Options configures a load generation run. The zero value of each field
// selects its default, except where noted.
type Options struct {
	// URL is the base URL of an actlog ingest endpoint, such as
	// "http://127.0.0.1:8080"; requests go to URL + "/v1/batch".
	URL string
	// WriteKey is sent as the HTTP Basic username with an empty password.
	// Empty sends no Authorization header.
	WriteKey string

	// Rate > 0 selects the open loop: Rate requests per second scheduled at
	// fixed intervals from the start, latency measured from each request's
	// intended send time. Rate == 0 selects maximum throughput with
	// Concurrency workers.
	Rate float64
	// Duration stops the run after this long; 0 runs until ctx is cancelled.
	Duration time.Duration

	// Users is the number of concurrently simulated members (default 100).
	// When one member's journey ends a new member takes its place.
	Users int
	// Seed makes the journeys deterministic: the same Seed and Options give
	// the same sequence of events per generator shard.
	Seed int64
	// Batch is the number of events per request (default 10).
	Batch int

	// Concurrency is the number of workers in maximum throughput mode
	// (default 64). Unused in the open loop.
	Concurrency int
	// MaxInFlight bounds the requests outstanding in the open loop
	// (default 1024). Unused in maximum throughput mode.
	MaxInFlight int
	// MaxRetries is the number of retries of a request answered 429 or 5xx
	// or failed at the network level (default 5; negative: no retries).
	MaxRetries int

	// DuplicateRate is the fraction of successfully sent requests that are
	// sent once more with an identical body, to exercise server-side dedupe.
	// Zero sends none; command lines default it to DefaultDuplicateRate.
	DuplicateRate float64
	// InvalidRate is the fraction of events made invalid (a track without
	// event name, or an event without anonymousId and userId).
	InvalidRate float64

	// Progress receives one line per ProgressEvery while the run goes on;
	// nil prints nothing.
	Progress io.Writer
	// ProgressEvery is the progress interval (default 1s).
	ProgressEvery time.Duration

	// Client sends the requests; nil makes Run build its own keep-alive
	// client sized to the number of workers, and close it at the end.
	Client *http.Client

	// OnResult, when set, is called once per completed HTTP attempt
	// (including retries and deliberate duplicates) with the messageIds of
	// the request, in body order, and the HTTP status of that attempt
	// (0 for a network error). A 200 may still have rejected some events.
	// It is called from many goroutines at once and must be safe for that;
	// it may keep ids but must not modify them.
	OnResult func(ids []string, status int)
}

// config is Options after defaults and validation.
type config struct {
	Options
	endpoint string
	auth     string // Authorization header value, "" for none
	workers  int
	shards   int
	retries  int
}

func (o Options) config() (config, error) {
	c := config{Options: o}
	if o.URL == "" {
		return c, errors.New("loadgen: URL is required")
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return c, fmt.Errorf("loadgen: parse URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return c, fmt.Errorf("loadgen: URL %q: want http(s)://host[:port]", o.URL)
	}
	c.endpoint = strings.TrimRight(o.URL, "/") + "/v1/batch"
	if o.WriteKey != "" {
		c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(o.WriteKey+":"))
	}
	switch {
	case o.Rate < 0:
		return c, fmt.Errorf("loadgen: Rate %v must not be negative", o.Rate)
	case o.Duration < 0:
		return c, fmt.Errorf("loadgen: Duration %v must not be negative", o.Duration)
	case o.Users < 0, o.Batch < 0, o.Concurrency < 0, o.MaxInFlight < 0:
		return c, errors.New("loadgen: Users, Batch, Concurrency and MaxInFlight must not be negative")
	case !(o.DuplicateRate >= 0 && o.DuplicateRate <= 1):
		return c, fmt.Errorf("loadgen: DuplicateRate %v must be within [0, 1]", o.DuplicateRate)
	case !(o.InvalidRate >= 0 && o.InvalidRate <= 1):
		return c, fmt.Errorf("loadgen: InvalidRate %v must be within [0, 1]", o.InvalidRate)
	case o.ProgressEvery < 0:
		return c, fmt.Errorf("loadgen: ProgressEvery %v must not be negative", o.ProgressEvery)
	}
	c.Users = orDefault(o.Users, DefaultUsers)
	c.Batch = orDefault(o.Batch, DefaultBatch)
	c.Concurrency = orDefault(o.Concurrency, DefaultConcurrency)
	c.MaxInFlight = orDefault(o.MaxInFlight, DefaultMaxInFlight)
	if c.ProgressEvery == 0 {
		c.ProgressEvery = DefaultProgressEvery
	}
	switch {
	case o.MaxRetries < 0:
		c.retries = 0
	case o.MaxRetries == 0:
		c.retries = DefaultMaxRetries
	default:
		c.retries = o.MaxRetries
	}
	c.workers = c.Concurrency
	if c.Rate > 0 {
		c.workers = c.MaxInFlight
	}
	c.shards = min(c.Users, c.workers)
	return c, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
