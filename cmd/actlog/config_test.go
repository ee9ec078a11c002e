package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		t.Helper()
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := `listen: 0.0.0.0:9000
data_dir: /var/lib/actlog
admin_token: from-file
sources:
  - name: web
    write_key: web-key-123
    allowed_origins: [https://books.example]
  - name: ios
    write_key: ios-key-123
ingest:
  commit_timeout: 3s
  trusted_proxies: [10.0.0.0/8, 192.168.1.1]
`
	t.Run("file", func(t *testing.T) {
		cfg, _, err := loadConfig(file(good), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Listen != "0.0.0.0:9000" || len(cfg.Sources) != 2 || time.Duration(cfg.Ingest.CommitTimeout) != 3*time.Second {
			t.Fatalf("unexpected config %+v", cfg)
		}
		if cfg.Ingest.MaxRequestBytes != 512<<10 {
			t.Fatalf("default not kept: %d", cfg.Ingest.MaxRequestBytes)
		}
		o := cfg.ingestOptions()
		if len(o.TrustedProxies) != 2 || o.TrustedProxies[1].Bits() != 32 {
			t.Fatalf("trusted proxies %v", o.TrustedProxies)
		}
	})
	t.Run("precedence: flag over env over file", func(t *testing.T) {
		env := []string{"ACTLOG_ADMIN_TOKEN=from-env", "ACTLOG_LISTEN=127.0.0.1:7000", "ACTLOG_INGEST_COMMIT_TIMEOUT=4s", "HOME=/root", "ACTLOG_SERVICE_HOST=10.0.0.1"}
		cfg, unknown, err := loadConfig(file(good), env, []string{"listen=127.0.0.1:7001"})
		if err != nil {
			t.Fatal(err)
		}
		if len(unknown) != 1 || unknown[0] != "ACTLOG_SERVICE_HOST" {
			t.Fatalf("unknown env %v, want [ACTLOG_SERVICE_HOST]", unknown)
		}
		if cfg.AdminToken != "from-env" || cfg.Listen != "127.0.0.1:7001" || time.Duration(cfg.Ingest.CommitTimeout) != 4*time.Second {
			t.Fatalf("precedence wrong: token %q listen %q timeout %v", cfg.AdminToken, cfg.Listen, time.Duration(cfg.Ingest.CommitTimeout))
		}
	})
	bad := []struct {
		name, yaml string
		env, sets  []string
		want       string
	}{
		{name: "unknown key", yaml: "listen: :1\nlisten_addr: x\n", want: "listen_addr"},
		{name: "unknown nested key", yaml: "ingest:\n  max_body: 3\n", want: "max_body"},
		{name: "bad duration", yaml: "ingest:\n  commit_timeout: soon\n", want: "not a duration"},
		{name: "bad type", yaml: "ingest:\n  max_batch_events: many\n", want: "line 2"},
		{name: "short write key", yaml: "sources:\n  - name: a\n    write_key: k\n", want: "at least 8"},
		{name: "duplicate write key", yaml: "sources:\n  - {name: a, write_key: kkkkkkkk}\n  - {name: b, write_key: kkkkkkkk}\n", want: "used by another source"},
		{name: "bad origin", yaml: "sources:\n  - {name: a, write_key: kkkkkkkk, allowed_origins: [books.example]}\n", want: "allowed origin"},
		{name: "bad proxy", yaml: "ingest:\n  trusted_proxies: [nope]\n", want: "trusted_proxies"},
		{name: "bad log level", yaml: "log:\n  level: loud\n", want: "log.level"},
		{name: "bad env value", env: []string{"ACTLOG_INGEST_MAX_BATCH_EVENTS=x"}, want: "not an integer"},
		{name: "unknown set", sets: []string{"nope=1"}, want: "not a configuration key"},
		{name: "set without value", sets: []string{"listen"}, want: "key=value"},
		{name: "tiny limit", sets: []string{"ingest.max_request_bytes=10"}, want: "max_request_bytes"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.yaml != "" {
				path = file(tc.yaml)
			}
			_, _, err := loadConfig(path, tc.env, tc.sets)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
