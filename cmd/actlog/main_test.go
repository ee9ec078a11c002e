package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// childEnv makes the test binary act as the actlog binary, so tests can run
// `actlog serve` as a real subprocess and kill it.
const childEnv = "ACTLOGTEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		os.Exit(run(context.Background(), strings.Fields(args), filterEnv(os.Environ()), os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

func filterEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ACTLOGTEST_") {
			out = append(out, kv)
		}
	}
	return out
}

// server is `actlog serve` running as a child process.
type server struct {
	t     *testing.T
	cmd   *exec.Cmd
	base  string
	token string
	log   *lockedWriter
	done  chan error
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeConfig writes a configuration with one source and returns its path.
func writeConfig(t *testing.T, dir string, port int, extra string) string {
	t.Helper()
	return writeConfigAs(t, dir, "actlog.yaml", port, extra)
}

// writeConfigAs is writeConfig with a file name, for several processes
// sharing dir (each with its own data directory, named after the file).
func writeConfigAs(t *testing.T, dir, name string, port int, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
admin_token: test-admin-token
log:
  level: warn
sources:
  - name: web
    write_key: test-write-key
    allowed_origins: ["*"]
sql:
  max_rows: 10000000
%s`, port, filepath.Join(dir, "data-"+strings.TrimSuffix(name, ".yaml")), extra)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startServer(t *testing.T, configPath string, port int) *server {
	t.Helper()
	return startRole(t, "serve", configPath, port)
}

// startRole runs `actlog <role> --config configPath` as a child process and
// waits until its /readyz answers 200.
func startRole(t *testing.T, role, configPath string, port int) *server {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role+" --config "+configPath)
	s := &server{t: t, cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), token: "test-admin-token", log: &lockedWriter{w: &bytes.Buffer{}}, done: make(chan error, 1)}
	cmd.Stdout = io.Discard
	cmd.Stderr = s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("actlog %s exited before ready: %v\n%s", role, err, s.log)
		default:
		}
		if time.Now().After(deadline) {
			s.kill()
			t.Fatalf("actlog %s not ready after 30s\n%s", role, s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.t.Helper()
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("actlog serve exited with %v after SIGINT\n%s", err, s.log)
		}
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		s.t.Fatalf("actlog serve did not stop within 30s of SIGINT\n%s", s.log)
	}
}

// sql runs a query through the SQL API.
func (s *server) sql(q string) [][]any {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"sql": q})
	req, _ := http.NewRequest(http.MethodPost, s.base+"/api/v1/sql", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("sql: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Rows  [][]any `json:"rows"`
		Error string  `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		s.t.Fatalf("sql %q: status %d, %v %s", q, resp.StatusCode, err, out.Error)
	}
	return out.Rows
}

// checkIdentities checks that the identities the writer kept are the ones
// the stored identify events make: each anonymous id's earliest link.
func (s *server) checkIdentities() {
	s.t.Helper()
	rows := s.sql(`WITH want AS (SELECT anonymous_id, arg_min(user_id, (ts, user_id)) AS user_id FROM events
			WHERE type = 'identify' AND user_id IS NOT NULL AND anonymous_id IS NOT NULL GROUP BY 1)
		SELECT (SELECT count(*) FROM want), (SELECT count(*) FROM identities),
			(SELECT count(*) FROM want w JOIN identities i USING (anonymous_id, user_id))`)
	want, got, same := rows[0][0], rows[0][1], rows[0][2]
	if want != got || want != same || want == float64(0) {
		s.t.Fatalf("identities: %v links made by the stored identify events, %v kept, %v of them the same", want, got, same)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// String returns what was written so far.
func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.w)
}

// batchBody is a Segment batch of events with the given ids: track events,
// and every fifth an identify linking one of 7 anonymous ids to a member of
// its own, so that each anonymous id is linked many times over and only its
// first link must stay.
func batchBody(ids []string) []byte {
	var b bytes.Buffer
	now := time.Now().UTC().Format(time.RFC3339Nano)
	b.WriteString(`{"sentAt":"` + now + `","batch":[`)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		if i%5 == 4 {
			fmt.Fprintf(&b, `{"type":"identify","messageId":%q,"anonymousId":"a-%d","userId":"u-%s","timestamp":%q}`, id, i%7, id, now)
			continue
		}
		fmt.Fprintf(&b, `{"type":"track","event":"crash_test","messageId":%q,"anonymousId":"a-%d","timestamp":%q,"properties":{"i":%d}}`, id, i%7, now, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func postBatch(client *http.Client, base string, ids []string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/batch", bytes.NewReader(batchBody(ids)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("test-write-key", "")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// retryLoad is clients sending 10-event batches of new ids, with one request
// in ten a client retry of an earlier batch (acknowledged or not), recording
// the ids of every request answered 200. It runs until stop.
type retryLoad struct {
	mu      sync.Mutex
	acked   map[string]bool
	batches [][]string
	stopCh  chan struct{}
	wg      sync.WaitGroup
}

func newRetryLoad() *retryLoad {
	return &retryLoad{acked: map[string]bool{}}
}

// start runs clients against base until stop; prefix keeps ids unique
// across starts; pause is the time between a client's requests.
func (l *retryLoad) start(base, prefix string, clients int, pause time.Duration) {
	l.stopCh = make(chan struct{})
	client := &http.Client{Timeout: 5 * time.Second}
	for c := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer client.CloseIdleConnections()
			r := rand.New(rand.NewPCG(uint64(len(prefix)), uint64(c)))
			for n := 0; ; n++ {
				select {
				case <-l.stopCh:
					return
				default:
				}
				var ids []string
				l.mu.Lock()
				if len(l.batches) > 0 && r.IntN(10) == 0 {
					ids = l.batches[r.IntN(len(l.batches))]
				} else {
					for i := range 10 {
						ids = append(ids, fmt.Sprintf("%s-c%d-n%d-%d", prefix, c, n, i))
					}
					l.batches = append(l.batches, ids)
				}
				l.mu.Unlock()
				if code, err := postBatch(client, base, ids); err == nil && code == http.StatusOK {
					l.ack(ids)
				}
				if pause > 0 {
					time.Sleep(pause)
				}
			}
		}()
	}
}

func (l *retryLoad) ack(ids []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.acked[id] = true
	}
}

// stop ends the clients and waits for them.
func (l *retryLoad) stop() {
	close(l.stopCh)
	l.wg.Wait()
}

// check compares the acknowledged ids with rows of (event_id, count) read
// from a store: none lost, none stored twice.
func (l *retryLoad) check(t *testing.T, rows [][]any) (stored int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	have := make(map[string]bool, len(rows))
	doubled := 0
	for _, r := range rows {
		if n, _ := r[1].(float64); n != 1 {
			doubled++
		}
		have[r[0].(string)] = true
	}
	lost := 0
	for id := range l.acked {
		if !have[id] {
			lost++
		}
	}
	t.Logf("acknowledged=%d stored=%d lost=%d doubled=%d", len(l.acked), len(have), lost, doubled)
	if lost != 0 || doubled != 0 {
		t.Fatalf("lost %d acknowledged events, %d stored more than once", lost, doubled)
	}
	if len(l.acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	return len(have)
}
