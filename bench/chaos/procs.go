package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	adminToken = "chaos-admin-token"
	writeKey   = "chaos-write-key"
	sourceName = "chaos"
)

// procs starts actlog subprocesses and kills every one still running at
// close, so that no child outlives the chaos program, even on failure.
type procs struct {
	bin string
	dir string // logs and configurations

	http *http.Client // readiness probes and the SQL API

	mu   sync.Mutex
	live map[*child]bool
}

func newProcs(bin, dir string) *procs {
	// Idle connections are dropped long before the servers' idle timeout
	// (120 s), so that a request never races the server closing one.
	tr := &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 20 * time.Second}
	return &procs{bin: bin, dir: dir, live: map[*child]bool{}, http: &http.Client{Transport: tr}}
}

// child is one incarnation of a subprocess.
type child struct {
	name    string
	cmd     *exec.Cmd
	log     string // file receiving stdout and stderr
	started time.Time
	done    chan struct{} // closed when the process has exited
	err     error         // its exit status, once done is closed
}

// start runs bin with args, its output appended to <dir>/logs/<name>.log.
func (p *procs) start(name string, args ...string) (*child, error) {
	if err := os.MkdirAll(filepath.Join(p.dir, "logs"), 0o750); err != nil {
		return nil, fmt.Errorf("log dir: %w", err)
	}
	logPath := filepath.Join(p.dir, "logs", name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	defer f.Close()
	fmt.Fprintf(f, "\n=== %s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), p.bin, strings.Join(args, " "))
	cmd := exec.Command(p.bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = childEnv(os.Environ())
	// The kernel kills the child if this program dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &child{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live == nil {
		return nil, errors.New("closing: no new processes")
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c.started = time.Now()
	p.live[c] = true
	go func() {
		c.err = cmd.Wait()
		p.mu.Lock()
		if p.live != nil {
			delete(p.live, c)
		}
		p.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

// childEnv drops ACTLOG_* variables so that only the configuration files
// written here configure the children.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ACTLOG_") {
			out = append(out, kv)
		}
	}
	return out
}

// close kills every child still running and waits for them.
func (p *procs) close() {
	p.mu.Lock()
	live := make([]*child, 0, len(p.live))
	for c := range p.live {
		live = append(live, c)
	}
	p.live = nil
	p.mu.Unlock()
	for _, c := range live {
		c.kill()
	}
	p.http.CloseIdleConnections()
}

// running reports whether the child has not exited.
func (c *child) running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the exit.
func (c *child) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// stop sends SIGTERM and waits up to limit for the exit, then kills.
// It returns the exit status, or an error if the child had to be killed.
func (c *child) stop(limit time.Duration) error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-c.done:
		if c.err != nil {
			return fmt.Errorf("%s exited with %w after SIGTERM", c.name, c.err)
		}
		return nil
	case <-t.C:
		c.kill()
		return fmt.Errorf("%s did not stop within %v of SIGTERM: killed", c.name, limit)
	}
}

// logTail returns the last lines of the child's log, for error messages.
func (c *child) logTail(lines int) string {
	b, err := os.ReadFile(c.log)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) { return freePorts(1) }

// freePorts3 returns a port p such that p, p+1 and p+2 were free.
func freePorts3() (int, error) { return freePorts(3) }

// freePorts returns the first of n consecutive ports free on 127.0.0.1,
// chosen below the kernel's ephemeral range: a process restarted on the
// same port must find it free, and a port in the ephemeral range can be
// taken meanwhile by any outgoing connection, including a client's own
// connection to itself (TCP self-connect) while it redials the port that
// nobody listens on.
func freePorts(n int) (int, error) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				low = v
			}
		}
	}
	const from = 10000
	if low-n <= from {
		return 0, fmt.Errorf("ephemeral ports start at %d: no room below for fixed ports", low)
	}
	for range 500 {
		p := from + rand.IntN(low-n-from)
		var lns []net.Listener
		ok := true
		for q := p; q < p+n; q++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", q))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if ok {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no %d consecutive free ports below %d", n, low)
}

// roleConfig is what differs between the children's configuration files.
type roleConfig struct {
	port          int
	dataDir       string
	brokers       []string // empty: embedded (or a reader of a stopped store)
	group         string
	commitTimeout time.Duration
}

// writeConfig writes <dir>/<name>.yaml: one source, the admin token, a SQL
// API that returns every row, and for Kafka a classic consumer group tuned
// for rebalances in seconds (as the repository's Kafka tests do).
func (p *procs) writeConfig(name string, rc roleConfig) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `listen: 127.0.0.1:%d
data_dir: %s
admin_token: %s
log:
  level: warn
sources:
  - name: %s
    write_key: %s
    allowed_origins: ["*"]
sql:
  max_rows: 100000000
  timeout: 300s
ingest:
  commit_timeout: %s
  retry_after: 1s
`, rc.port, rc.dataDir, adminToken, sourceName, writeKey, rc.commitTimeout)
	if len(rc.brokers) > 0 {
		quoted := make([]string, len(rc.brokers))
		for i, br := range rc.brokers {
			quoted[i] = fmt.Sprintf("%q", br)
		}
		fmt.Fprintf(&b, `kafka:
  brokers: [%s]
  consumer:
    group: %s
    session_timeout: 6s
    heartbeat_interval: 500ms
    rebalance_timeout: 10s
`, strings.Join(quoted, ", "), rc.group)
	}
	path := filepath.Join(p.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("write config: %w", err)
	}
	return path, nil
}

// role is an actlog serve, ingest or process with its configuration; each
// start is a new incarnation on the same port and data directory.
type role struct {
	p     *procs
	name  string // log and config name, e.g. "ingest", "p2"
	cmd   string // serve, ingest or process
	cfg   string
	base  string
	c     *child // the current incarnation
	kills int
}

func (p *procs) newRole(name, cmd string, rc roleConfig) (*role, error) {
	cfg, err := p.writeConfig(name, rc)
	if err != nil {
		return nil, err
	}
	return &role{p: p, name: name, cmd: cmd, cfg: cfg, base: fmt.Sprintf("http://127.0.0.1:%d", rc.port)}, nil
}

// spawn starts a new incarnation without waiting for it.
func (r *role) spawn() error {
	c, err := r.p.start(r.name, r.cmd, "--config", r.cfg)
	if err != nil {
		return err
	}
	r.c = c
	return nil
}

// start spawns and waits until /readyz answers 200.
func (r *role) start(ctx context.Context) error {
	if err := r.spawn(); err != nil {
		return err
	}
	return r.waitReady(ctx, 90*time.Second)
}

// ready reports whether /readyz answers 200 now.
func (r *role) ready() bool {
	return r.p.status(r.base+"/readyz", time.Second) == http.StatusOK
}

// waitReady polls /readyz until 200, the child's exit, or limit.
func (r *role) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if r.ready() {
			return nil
		}
		if !r.c.running() {
			return fmt.Errorf("actlog %s (%s) exited before ready: %v\n%s", r.cmd, r.name, r.c.err, r.c.logTail(20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("actlog %s (%s) not ready after %v\n%s", r.cmd, r.name, limit, r.c.logTail(20))
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// kill SIGKILLs the current incarnation.
func (r *role) kill() {
	r.c.kill()
	r.kills++
}

// alive returns an error naming the exit if the current incarnation exited.
func (r *role) alive() error {
	if r.c != nil && !r.c.running() {
		return fmt.Errorf("actlog %s (%s) exited by itself: %v\n%s", r.cmd, r.name, r.c.err, r.c.logTail(20))
	}
	return nil
}

// sql runs a query through the role's SQL API, waiting at most limit.
func (r *role) sql(ctx context.Context, q string, limit time.Duration) ([][]any, error) {
	body, err := json.Marshal(map[string]string{"sql": q})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+"/api/v1/sql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.p.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sql on %s: %w", r.name, err)
	}
	defer resp.Body.Close()
	var out struct {
		Rows      [][]any `json:"rows"`
		Truncated bool    `json:"truncated"`
		Error     string  `json:"error"`
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("sql on %s: status %d: %w", r.name, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sql on %s: status %d: %s", r.name, resp.StatusCode, out.Error)
	}
	if out.Truncated {
		return nil, fmt.Errorf("sql on %s: answer truncated", r.name)
	}
	return out.Rows, nil
}

// dumpGoroutines saves the current incarnation's goroutines and status to
// <dir>/logs/<name>-<time>.goroutines, as evidence when it seems stuck;
// it returns the file's path.
func (r *role) dumpGoroutines() string {
	var b bytes.Buffer
	for _, path := range []string{"/api/v1/status", "/debug/pprof/goroutine?debug=2"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path, nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+adminToken)
			var resp *http.Response
			if resp, err = r.p.http.Do(req); err == nil {
				fmt.Fprintf(&b, "=== GET %s: %s\n", path, resp.Status)
				_, err = io.Copy(&b, resp.Body)
				resp.Body.Close()
			}
		}
		cancel()
		if err != nil {
			fmt.Fprintf(&b, "=== GET %s: %v\n", path, err)
		}
	}
	path := filepath.Join(r.p.dir, "logs", fmt.Sprintf("%s-%s.goroutines", r.name, time.Now().UTC().Format("150405")))
	if err := os.WriteFile(path, b.Bytes(), 0o640); err != nil {
		return err.Error()
	}
	return path
}

// status GETs url and returns the status, 0 on a network error.
func (p *procs) status(url string, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// waitFor polls cond every 100 ms until it holds, ctx ends, or limit.
func waitFor(ctx context.Context, limit time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", limit, what)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}
