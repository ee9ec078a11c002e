package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/ingest"
	"github.com/actlog/actlog/internal/stream"
)

// Duration is a time.Duration written as "2s", "30m", "168h".
type Duration time.Duration

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 2s or 30m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Config is the whole configuration of every role, as read from the YAML
// file, then ACTLOG_* environment variables, then flags (later wins).
type Config struct {
	Listen     string          `yaml:"listen"`
	DataDir    string          `yaml:"data_dir"`
	AdminToken string          `yaml:"admin_token"`
	Log        LogConfig       `yaml:"log"`
	Sources    []SourceConfig  `yaml:"sources"`
	Ingest     IngestConfig    `yaml:"ingest"`
	Store      StoreConfig     `yaml:"store"`
	SQL        SQLConfig       `yaml:"sql"`
	HTTP       HTTPConfig      `yaml:"http"`
	Kafka      KafkaConfig     `yaml:"kafka"`
	Tracker    TrackerConfig   `yaml:"tracker"`
	Plan       PlanConfig      `yaml:"tracking_plan"`
	Retention  RetentionConfig `yaml:"retention"`
	Lake       LakeConfig      `yaml:"lake"`
}

// PlanConfig points at the tracking plan (docs/tracking-plan.md).
type PlanConfig struct {
	File string `yaml:"file"` // empty: no tracking plan
	// ReloadInterval is how often the file is checked for changes (it is
	// also reloaded on SIGHUP); 0 takes 10s.
	ReloadInterval Duration `yaml:"reload_interval"`
}

// RetentionConfig bounds how long events stay in the store.
type RetentionConfig struct {
	Days int `yaml:"days"` // 0: keep events for ever
	// Every is how often older events are deleted; 0 takes 1h.
	Every Duration `yaml:"every"`
}

// TrackerConfig places the web tracker script.
type TrackerConfig struct {
	// AltPath serves actlog.js at a second path too (say /assets/a7.js), so
	// that ad-blocker lists that know /actlog.js do not block it.
	AltPath string `yaml:"alt_path"`
}

// KafkaConfig connects the ingest and process tiers through Kafka. With no
// brokers, serve runs embedded.
type KafkaConfig struct {
	Brokers  []string `yaml:"brokers"`
	ClientID string   `yaml:"client_id"`
	TLS      struct {
		Enabled            bool   `yaml:"enabled"`
		CAFile             string `yaml:"ca_file"`
		ServerName         string `yaml:"server_name"`
		InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	} `yaml:"tls"`
	SASL struct {
		Mechanism string `yaml:"mechanism"`
		Username  string `yaml:"username"`
		Password  string `yaml:"password"`
	} `yaml:"sasl"`
	Topics struct {
		Events      string   `yaml:"events"`
		Rejected    string   `yaml:"rejected"`
		Partitions  int      `yaml:"partitions"`
		Replication int      `yaml:"replication"`
		Retention   Duration `yaml:"retention"`
		Create      bool     `yaml:"create"`
	} `yaml:"topics"`
	Producer struct {
		Compression        string   `yaml:"compression"`
		Linger             Duration `yaml:"linger"`
		MaxBufferedRecords int      `yaml:"max_buffered_records"`
		BatchMaxBytes      int      `yaml:"batch_max_bytes"`
	} `yaml:"producer"`
	Consumer struct {
		Group                  string   `yaml:"group"`
		FetchMaxBytes          int      `yaml:"fetch_max_bytes"`
		FetchMaxPartitionBytes int      `yaml:"fetch_max_partition_bytes"`
		SessionTimeout         Duration `yaml:"session_timeout"`
		RebalanceTimeout       Duration `yaml:"rebalance_timeout"`
		HeartbeatInterval      Duration `yaml:"heartbeat_interval"`
		MaxPollRecords         int      `yaml:"max_poll_records"`
		FetchMaxWait           Duration `yaml:"fetch_max_wait"`
	} `yaml:"consumer"`
}

// streamOptions turns the kafka section into the stream package's options
// (zero values take that package's defaults).
func (k *KafkaConfig) streamOptions() stream.Options {
	o := stream.Options{Brokers: k.Brokers, ClientID: k.ClientID}
	o.TLS = stream.TLSOptions{Enabled: k.TLS.Enabled, CAFile: k.TLS.CAFile, ServerName: k.TLS.ServerName, InsecureSkipVerify: k.TLS.InsecureSkipVerify}
	o.SASL = stream.SASLOptions{Mechanism: k.SASL.Mechanism, Username: k.SASL.Username, Password: k.SASL.Password}
	o.Topics = stream.TopicOptions{Events: k.Topics.Events, Rejected: k.Topics.Rejected, Partitions: int32(k.Topics.Partitions),
		Replication: int16(k.Topics.Replication), Retention: time.Duration(k.Topics.Retention), Create: k.Topics.Create}
	o.Producer = stream.ProducerOptions{Compression: k.Producer.Compression, Linger: time.Duration(k.Producer.Linger),
		MaxBufferedRecords: k.Producer.MaxBufferedRecords, BatchMaxBytes: int32(k.Producer.BatchMaxBytes)}
	o.Consumer = stream.ConsumerOptions{Group: k.Consumer.Group, FetchMaxBytes: int32(k.Consumer.FetchMaxBytes),
		FetchMaxPartitionBytes: int32(k.Consumer.FetchMaxPartitionBytes), SessionTimeout: time.Duration(k.Consumer.SessionTimeout),
		RebalanceTimeout: time.Duration(k.Consumer.RebalanceTimeout), HeartbeatInterval: time.Duration(k.Consumer.HeartbeatInterval),
		MaxPollRecords: k.Consumer.MaxPollRecords, FetchMaxWait: time.Duration(k.Consumer.FetchMaxWait)}
	return o
}

// LogConfig selects the log format and level.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// SourceConfig is one source and its write key.
type SourceConfig struct {
	Name           string   `yaml:"name"`
	WriteKey       string   `yaml:"write_key"`
	AllowedOrigins []string `yaml:"allowed_origins"`
	RateLimit      float64  `yaml:"rate_limit"` // events/s; 0 takes ingest.rate_limit
	RateBurst      int      `yaml:"rate_burst"`
}

// IngestConfig holds the limits of the tracking API.
type IngestConfig struct {
	MaxRequestBytes int64    `yaml:"max_request_bytes"`
	MaxEventBytes   int      `yaml:"max_event_bytes"`
	MaxBatchEvents  int      `yaml:"max_batch_events"`
	MaxEventName    int      `yaml:"max_event_name"`
	CommitTimeout   Duration `yaml:"commit_timeout"`
	MaxInFlight     int      `yaml:"max_in_flight"` // requests answered at once; more are answered 503
	RetryAfter      Duration `yaml:"retry_after"`
	RateLimit       float64  `yaml:"rate_limit"` // default events/s per write key; 0 = unlimited
	RateBurst       int      `yaml:"rate_burst"`
	TrustedProxies  []string `yaml:"trusted_proxies"`
	KeepIP          bool     `yaml:"keep_ip"` // the same as ip: keep
	// IP is what is kept of a client address: truncate (default), keep,
	// hash or drop. IPSaltSecret keys the hash so that every replica
	// hashes alike (empty: a random key per process); the key rotates
	// every IPSaltRotation (default 24h).
	IP             string   `yaml:"ip"`
	IPSaltSecret   string   `yaml:"ip_salt_secret"`
	IPSaltRotation Duration `yaml:"ip_salt_rotation"`
	MaxFuture      Duration `yaml:"max_future"`
	MaxPast        Duration `yaml:"max_past"`
}

// StoreConfig tunes the DuckDB store.
type StoreConfig struct {
	DedupeWindow   Duration `yaml:"dedupe_window"`
	DedupeMaxIDs   int      `yaml:"dedupe_max_ids"`
	SessionTimeout Duration `yaml:"session_timeout"`
	// CheckpointInterval: how often the write-ahead log is folded into the
	// database file in the background.
	CheckpointInterval Duration `yaml:"checkpoint_interval"`
	MemoryLimit        string   `yaml:"memory_limit"`
	Threads            int      `yaml:"threads"`
}

// SQLConfig bounds the read-only SQL API.
type SQLConfig struct {
	MaxRows int      `yaml:"max_rows"`
	Timeout Duration `yaml:"timeout"`
}

// HTTPConfig holds the server's timeouts.
type HTTPConfig struct {
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	ReadTimeout       Duration `yaml:"read_timeout"`
	WriteTimeout      Duration `yaml:"write_timeout"`
	IdleTimeout       Duration `yaml:"idle_timeout"`
	ShutdownTimeout   Duration `yaml:"shutdown_timeout"`
	MaxHeaderBytes    int      `yaml:"max_header_bytes"`
}

func defaultConfig() Config {
	return Config{
		Listen:  "127.0.0.1:8080",
		DataDir: "actlog-data",
		Log:     LogConfig{Level: "info", Format: "text"},
		Ingest: IngestConfig{
			MaxRequestBytes: 512 << 10,
			MaxEventBytes:   32 << 10,
			MaxBatchEvents:  2500,
			MaxEventName:    event.DefaultMaxEventName,
			CommitTimeout:   Duration(2 * time.Second),
			MaxInFlight:     1024,
			RetryAfter:      Duration(time.Second),
			RateLimit:       0,
			MaxFuture:       Duration(10 * time.Minute),
			MaxPast:         Duration(30 * 24 * time.Hour),
		},
		Store: StoreConfig{
			DedupeWindow:       Duration(7 * 24 * time.Hour),
			DedupeMaxIDs:       100_000_000,
			SessionTimeout:     Duration(30 * time.Minute),
			CheckpointInterval: Duration(5 * time.Second),
		},
		SQL: SQLConfig{MaxRows: 10_000, Timeout: Duration(30 * time.Second)},
		HTTP: HTTPConfig{
			ReadHeaderTimeout: Duration(5 * time.Second),
			ReadTimeout:       Duration(30 * time.Second),
			WriteTimeout:      Duration(60 * time.Second),
			IdleTimeout:       Duration(120 * time.Second),
			ShutdownTimeout:   Duration(30 * time.Second),
			MaxHeaderBytes:    64 << 10,
		},
	}
}

// loadConfig builds the configuration: defaults, then the YAML file (if
// path is not empty), then ACTLOG_* variables of env, then the --set
// overrides (key.path=value), then validation. It returns the names of
// ACTLOG_* variables that are not configuration keys (Kubernetes, for one,
// sets ACTLOG_SERVICE_HOST and the like for a Service named actlog): they
// are reported, not fatal.
func loadConfig(path string, env []string, sets []string) (cfg Config, unknown []string, err error) {
	cfg = defaultConfig()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, nil, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	keys := configKeys(reflect.ValueOf(&cfg).Elem(), "")
	for _, kv := range env {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "ACTLOG_") || name == configEnv {
			continue
		}
		key := strings.ToLower(strings.TrimPrefix(name, "ACTLOG_"))
		f, ok := keys[key]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if err := setField(f, val); err != nil {
			return cfg, unknown, fmt.Errorf("environment variable %s: %w", name, err)
		}
	}
	for _, s := range sets {
		k, val, ok := strings.Cut(s, "=")
		if !ok {
			return cfg, unknown, fmt.Errorf("--set %q: want key=value", s)
		}
		f, ok := keys[strings.ReplaceAll(strings.ToLower(k), ".", "_")]
		if !ok {
			return cfg, unknown, fmt.Errorf("--set %s: not a configuration key", k)
		}
		if err := setField(f, val); err != nil {
			return cfg, unknown, fmt.Errorf("--set %s: %w", k, err)
		}
	}
	return cfg, unknown, cfg.validate()
}

// configEnv names the configuration file when --config is not given.
const configEnv = "ACTLOG_CONFIG"

// configKeys maps "ingest_commit_timeout"-style names to the scalar fields
// of the configuration; lists of structs (sources) are file-only.
func configKeys(v reflect.Value, prefix string) map[string]reflect.Value {
	out := map[string]reflect.Value{}
	t := v.Type()
	for i := range t.NumField() {
		name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if prefix != "" {
			name = prefix + "_" + name
		}
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.Struct:
			for k, sub := range configKeys(f, name) {
				out[k] = sub
			}
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
		default:
			out[name] = f
		}
	}
	return out
}

func setField(f reflect.Value, s string) error {
	switch f.Interface().(type) {
	case Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 2s or 30m", s)
		}
		f.Set(reflect.ValueOf(Duration(d)))
		return nil
	case []string:
		var parts []string
		for p := range strings.SplitSeq(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		f.Set(reflect.ValueOf(parts))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		f.SetInt(n)
	case reflect.Float64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		f.SetFloat(n)
	default:
		return fmt.Errorf("cannot be set from text")
	}
	return nil
}

func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Listen == "" {
		bad("listen must not be empty")
	}
	if c.DataDir == "" {
		bad("data_dir must not be empty")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format %q: want text or json", c.Log.Format)
	}
	names, keys := map[string]bool{}, map[string]bool{}
	for i, s := range c.Sources {
		if s.Name == "" {
			bad("sources[%d]: name is required", i)
		}
		if len(s.WriteKey) < 8 {
			bad("sources[%d] (%s): write_key must have at least 8 characters", i, s.Name)
		}
		if names[s.Name] {
			bad("sources[%d]: name %q used twice", i, s.Name)
		}
		if keys[s.WriteKey] {
			bad("sources[%d] (%s): write_key used by another source", i, s.Name)
		}
		names[s.Name], keys[s.WriteKey] = true, true
		if s.RateLimit < 0 || s.RateBurst < 0 {
			bad("sources[%d] (%s): rate_limit and rate_burst must not be negative", i, s.Name)
		}
		for _, o := range s.AllowedOrigins {
			if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
				bad("sources[%d] (%s): allowed origin %q must be * or start with http:// or https://", i, s.Name, o)
			}
		}
	}
	in := c.Ingest
	if in.MaxRequestBytes < 1024 {
		bad("ingest.max_request_bytes must be at least 1024")
	}
	if in.MaxEventBytes < 256 || int64(in.MaxEventBytes) > in.MaxRequestBytes {
		bad("ingest.max_event_bytes must be between 256 and ingest.max_request_bytes")
	}
	if in.MaxInFlight < 1 {
		bad("ingest.max_in_flight must be at least 1")
	}
	if in.MaxBatchEvents < 1 {
		bad("ingest.max_batch_events must be at least 1")
	}
	if in.MaxEventName < 1 {
		bad("ingest.max_event_name must be at least 1")
	}
	if in.CommitTimeout <= 0 || in.RetryAfter <= 0 || in.MaxFuture <= 0 || in.MaxPast <= 0 {
		bad("ingest durations must be positive")
	}
	if in.RateLimit < 0 || in.RateBurst < 0 {
		bad("ingest.rate_limit and ingest.rate_burst must not be negative")
	}
	if _, err := ingest.ParseIPMode(in.IP); err != nil {
		bad("ingest.ip: %v", err)
	} else if in.KeepIP && in.IP != "" && in.IP != string(ingest.IPKeep) {
		bad("ingest.keep_ip is true but ingest.ip is %q: set only ingest.ip", in.IP)
	}
	if in.IPSaltRotation < 0 {
		bad("ingest.ip_salt_rotation must not be negative")
	}
	if c.Retention.Days < 0 || c.Retention.Every < 0 || c.Plan.ReloadInterval < 0 {
		bad("retention.days, retention.every and tracking_plan.reload_interval must not be negative")
	}
	for _, p := range in.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			bad("ingest.trusted_proxies: %v", err)
		}
	}
	if c.Store.DedupeWindow < Duration(time.Minute) {
		bad("store.dedupe_window must be at least 1m")
	}
	if c.Store.DedupeMaxIDs < 1000 {
		bad("store.dedupe_max_ids must be at least 1000")
	}
	if c.Store.SessionTimeout < Duration(time.Minute) {
		bad("store.session_timeout must be at least 1m")
	}
	if c.Store.CheckpointInterval < Duration(100*time.Millisecond) {
		bad("store.checkpoint_interval must be at least 100ms")
	}
	if c.Store.Threads < 0 {
		bad("store.threads must not be negative")
	}
	if c.SQL.MaxRows < 1 || c.SQL.Timeout <= 0 {
		bad("sql.max_rows and sql.timeout must be positive")
	}
	h := c.HTTP
	if h.ReadHeaderTimeout <= 0 || h.ReadTimeout <= 0 || h.WriteTimeout <= 0 || h.IdleTimeout <= 0 || h.ShutdownTimeout <= 0 {
		bad("http timeouts must be positive")
	}
	if h.MaxHeaderBytes < 4096 {
		bad("http.max_header_bytes must be at least 4096")
	}
	if p := c.Tracker.AltPath; p != "" && (!strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/api/") || strings.ContainsAny(p, " {}")) {
		bad("tracker.alt_path %q must start with / and not be under /v1/ or /api/", p)
	}
	if len(c.Kafka.Brokers) > 0 {
		if err := c.Kafka.streamOptions().Validate(); err != nil {
			bad("%v", err)
		}
		if c.Kafka.Topics.Partitions < 0 || c.Kafka.Topics.Partitions > 10000 || c.Kafka.Topics.Replication < 0 || c.Kafka.Topics.Replication > 32767 {
			bad("kafka.topics.partitions and replication out of range")
		}
	}
	return errors.Join(errs...)
}

func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an address nor a CIDR prefix", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ipMode is ingest.ip, or keep when the older ingest.keep_ip says so.
func (c *Config) ipMode() ingest.IPMode {
	m, _ := ingest.ParseIPMode(c.Ingest.IP)
	if c.Ingest.KeepIP && c.Ingest.IP == "" {
		m = ingest.IPKeep
	}
	return m
}

// ingestOptions turns the configuration into the ingest package's options.
func (c *Config) ingestOptions() ingest.Options {
	o := ingest.Options{
		MaxRequestBytes: c.Ingest.MaxRequestBytes,
		MaxBatchEvents:  c.Ingest.MaxBatchEvents,
		CommitTimeout:   time.Duration(c.Ingest.CommitTimeout),
		MaxInFlight:     c.Ingest.MaxInFlight,
		RetryAfter:      time.Duration(c.Ingest.RetryAfter),
		Enrich: ingest.EnrichOptions{
			IP:            c.ipMode(),
			MaxFuture:     time.Duration(c.Ingest.MaxFuture),
			MaxPast:       time.Duration(c.Ingest.MaxPast),
			MaxEventBytes: c.Ingest.MaxEventBytes,
			Limits:        event.Limits{MaxEventName: c.Ingest.MaxEventName},
		},
	}
	if o.Enrich.IP == ingest.IPHash {
		o.Enrich.Salt = ingest.NewSalt([]byte(c.Ingest.IPSaltSecret), time.Duration(c.Ingest.IPSaltRotation))
	}
	for _, p := range c.Ingest.TrustedProxies {
		pp, _ := parsePrefix(p)
		o.TrustedProxies = append(o.TrustedProxies, pp)
	}
	for _, s := range c.Sources {
		src := ingest.Source{Name: s.Name, WriteKey: s.WriteKey, AllowedOrigins: s.AllowedOrigins, RateLimit: s.RateLimit, RateBurst: s.RateBurst}
		if src.RateLimit == 0 {
			src.RateLimit = c.Ingest.RateLimit
		}
		if src.RateBurst == 0 {
			src.RateBurst = c.Ingest.RateBurst
		}
		o.Sources = append(o.Sources, src)
	}
	return o
}

func randomToken(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
