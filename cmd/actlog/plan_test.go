package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/loadgen"
	"github.com/actlog/actlog/internal/plan"
	"github.com/actlog/actlog/internal/store"
)

func TestPlanCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("enforcement:\n  default: flag\n  sources: {ios: reject, legacy: off}\nevents:\n  - name: a\n  - name: b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("events:\n  - name: a\n    properties:\n      type: object\n      properties: {p: {type: strin}}\n  - name: a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"plan", "check", good}, nil, &out, &errOut); code != 0 {
		t.Fatalf("good plan: exit %d: %s", code, errOut.String())
	}
	if want := "ok, 2 events planned\n  enforcement: flag by default; off for legacy; reject for ios\n"; !strings.HasSuffix(out.String(), want) {
		t.Errorf("output %q, want …%q", out.String(), want)
	}
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"plan", "check", bad}, nil, &out, &errOut); code != 1 {
		t.Fatalf("bad plan: exit %d", code)
	}
	for _, w := range []string{bad + ":4: event \"a\": properties is not a valid JSON Schema", `event "a" is listed twice`, "2 problem(s)"} {
		if !strings.Contains(errOut.String(), w) {
			t.Errorf("errors %q lack %q", errOut.String(), w)
		}
	}
}

// TestPlanInferAcceptsItsData drafts a plan from simulated members' events
// and holds the same events to it, strictly: none breaks it.
func TestPlanInferAcceptsItsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := bulkLoad(ctx, bulkOptions{Dir: data, Events: 20_000, Days: 3, Users: loadgen.DefaultUsers, Seed: 11}, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	draft := filepath.Join(dir, "plan.yaml")
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"plan", "infer", "--data-dir", data, "--since", "7d", "-o", draft}, nil, &out, &errOut); code != 0 {
		t.Fatalf("infer: exit %d: %s", code, errOut.String())
	}
	b, err := os.ReadFile(draft)
	if err != nil {
		t.Fatal(err)
	}
	if code := run(ctx, []string{"plan", "check", draft}, nil, io.Discard, &errOut); code != 0 {
		t.Fatalf("the draft does not check: %s\n%s", errOut.String(), b)
	}
	strict, err := plan.Parse(bytes.Replace(bytes.Replace(b, []byte("default: off"), []byte("default: reject"), 1), []byte("unplanned: allow"), []byte("unplanned: violation"), 1))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, store.Options{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.DB().Query(`SELECT source, event, properties::VARCHAR FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n, broken := 0, 0
	names := map[string]bool{}
	for rows.Next() {
		var src, name, props string
		if err := rows.Scan(&src, &name, &props); err != nil {
			t.Fatal(err)
		}
		n++
		names[name] = true
		if v, reject := strict.Check(src, name, []byte(props)); len(v) > 0 || !reject && len(v) > 0 {
			if broken++; broken <= 5 {
				t.Errorf("%s %s breaks the drafted plan: %+v", name, props, v)
			}
		}
	}
	if n != 20_000 || len(strict.Events()) != len(names) || len(names) < 8 {
		t.Fatalf("%d events of %d names; the plan has %d", n, len(names), len(strict.Events()))
	}
	// The draft is a real schema, not "anything goes": a purchase without
	// its properties breaks it.
	for _, name := range strict.Events() {
		spec, _ := strict.Event(name)
		if spec.Properties.IsZero() {
			t.Errorf("%s has no schema", name)
		}
	}
	if v, _ := strict.Check("loadgen", "page_view", []byte(`{"url": 12}`)); len(v) == 0 {
		t.Error("a page_view whose url is a number passed the drafted plan")
	}
	if !bytes.Contains(b, []byte("examples:")) || !bytes.Contains(b, []byte("required:")) {
		t.Errorf("the draft lacks examples or required properties:\n%s", b)
	}
}

// TestServePlanEnforcement runs actlog serve with a tracking plan: flagged
// events are stored with their violations, rejected ones answered by index
// and kept, the violations summarised by the API; a new plan takes effect
// on SIGHUP without a restart.
func TestServePlanEnforcement(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	dir := t.TempDir()
	planFile := filepath.Join(dir, "plan.yaml")
	writePlan := func(mode string) {
		t.Helper()
		p := "enforcement: {default: " + mode + "}\nunplanned: violation\nevents:\n" +
			"  - name: purchase_completed\n    owner: payments\n    properties:\n      type: object\n      required: [plan, price]\n" +
			"      properties:\n        plan: {type: string, enum: [monthly, yearly]}\n        price: {type: number, minimum: 0}\n" +
			"  - name: page_view\n"
		if err := os.WriteFile(planFile+".tmp", []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(planFile+".tmp", planFile); err != nil {
			t.Fatal(err)
		}
	}
	writePlan("flag")
	port := freePort(t)
	srv := startServer(t, writeConfig(t, dir, port, "tracking_plan:\n  file: "+planFile+"\n  reload_interval: 1h\n"), port)
	defer srv.stop()

	post := func(body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.base+"/v1/batch", strings.NewReader(body))
		req.SetBasicAuth("test-write-key", "")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ans map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("post: %d %v %v", resp.StatusCode, ans, err)
		}
		return ans
	}
	batch := func(prefix string) string {
		return `{"batch":[
			{"type":"track","event":"purchase_completed","messageId":"` + prefix + `-ok","anonymousId":"a1","properties":{"plan":"yearly","price":99000}},
			{"type":"track","event":"purchase_completed","messageId":"` + prefix + `-bad","anonymousId":"a1","properties":{"plan":"daily","price":-1}},
			{"type":"track","event":"banner_clicked","messageId":"` + prefix + `-unplanned","anonymousId":"a1"},
			{"type":"page","messageId":"` + prefix + `-page","anonymousId":"a1","properties":{"path":"/"}}]}`
	}
	// flag: everything stored, the two bad ones with their rules.
	if ans := post(batch("f")); ans["accepted"].(float64) != 4 || len(ans["rejected"].([]any)) != 0 {
		t.Fatalf("flag: %v", ans)
	}
	rows := srv.sql(`SELECT event_id, coalesce(violations::VARCHAR, '') FROM events ORDER BY event_id`)
	want := [][]any{
		{"f-bad", `[{"rule":"enum","path":"/plan","message":"value must be one of 'monthly', 'yearly'"},{"rule":"minimum","path":"/price","message":"minimum: got -1, want 0"}]`},
		{"f-ok", ""}, {"f-page", ""},
		{"f-unplanned", `[{"rule":"unplanned","path":"","message":"event \"banner_clicked\" is not in the tracking plan"}]`},
	}
	if got, _ := json.Marshal(rows); string(got) != string(must(json.Marshal(want))) {
		t.Fatalf("flagged rows\n got %s\nwant %s", got, must(json.Marshal(want)))
	}

	// reject, after SIGHUP: the two bad ones answered by index and kept.
	writePlan("reject")
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for sum(scrape(t, srv.base), "actlog_plan_reloads_total", `result="loaded"`) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the plan was not reloaded on SIGHUP\n%s", srv.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ans := post(batch("r"))
	rj, _ := json.Marshal(ans["rejected"])
	if ans["accepted"].(float64) != 2 || string(rj) != `[{"error":"violates the tracking plan: /plan: value must be one of 'monthly', 'yearly' (enum) and 1 more","index":1,"messageId":"r-bad"},{"error":"violates the tracking plan: event \"banner_clicked\" is not in the tracking plan (unplanned)","index":2,"messageId":"r-unplanned"}]` {
		t.Fatalf("reject: %v %s", ans["accepted"], rj)
	}
	if got := srv.sql(`SELECT message_id, event, json_array_length(violations) FROM rejected ORDER BY message_id`); len(got) != 2 ||
		got[0][0] != "r-bad" || got[0][1] != "purchase_completed" || got[0][2] != float64(2) || got[1][1] != "banner_clicked" {
		t.Fatalf("rejected rows %v", got)
	}
	if n := srv.sql(`SELECT count(*) FROM events WHERE event_id LIKE 'r-%'`)[0][0]; n != float64(2) {
		t.Fatalf("%v r- events stored, want 2", n)
	}

	// off, after a file change and SIGHUP: nothing checked.
	writePlan("off")
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for sum(scrape(t, srv.base), "actlog_plan_reloads_total", `result="loaded"`) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the plan was not reloaded on SIGHUP\n%s", srv.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ans := post(batch("o")); ans["accepted"].(float64) != 4 {
		t.Fatalf("off: %v", ans)
	}
	if n := srv.sql(`SELECT count(*) FROM events WHERE event_id LIKE 'o-%' AND violations IS NULL`)[0][0]; n != float64(4) {
		t.Fatalf("off: %v events stored without violations, want 4", n)
	}

	// The summary by event and rule.
	req, _ := http.NewRequest(http.MethodGet, srv.base+"/api/v1/plan/violations", nil)
	req.Header.Set("Authorization", "Bearer "+srv.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sumry struct {
		Flagged  int64 `json:"flagged_events"`
		Rejected int64 `json:"rejected_events"`
		Rules    []struct {
			Event, Rule, Path string
			Flagged, Rejected int64
			Sources           []string
		} `json:"rules"`
		Plan struct {
			Events      int               `json:"events"`
			Enforcement map[string]string `json:"enforcement"`
		} `json:"plan"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&sumry); err != nil {
		t.Fatal(err)
	}
	if sumry.Flagged != 2 || sumry.Rejected != 2 || len(sumry.Rules) != 3 || sumry.Plan.Events != 2 || sumry.Plan.Enforcement["default"] != "off" {
		t.Fatalf("summary %+v", sumry)
	}
	for _, r := range sumry.Rules {
		if r.Flagged != 1 || r.Rejected != 1 || len(r.Sources) != 1 || r.Sources[0] != "web" {
			t.Errorf("rule %+v: want 1 flagged and 1 rejected from web", r)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestKafkaPlanViolations: the ingest tier holds events to the plan; what
// it flags reaches the process tier's store with its violations, and what
// it rejects reaches the rejected table with its event name and rules.
func TestKafkaPlanViolations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Kafka and subprocesses")
	}
	c := ktCluster(t)
	dir := t.TempDir()
	planFile := filepath.Join(dir, "plan.yaml")
	writePlan := func(mode string) {
		t.Helper()
		p := "enforcement: {default: " + mode + "}\nevents:\n  - name: purchase_completed\n    properties:\n      type: object\n      required: [plan]\n"
		if err := os.WriteFile(planFile, []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writePlan("flag")
	kcfg := ktKafkaYAML(c.ListenAddrs(), "plan")
	ing := ktStart(t, "ingest", "ingest", dir, kcfg+"tracking_plan:\n  file: "+planFile+"\n  reload_interval: 1h\n")
	proc := ktStart(t, "process", "process", dir, kcfg)
	post := func(id string) {
		t.Helper()
		body := `{"batch":[{"type":"track","event":"purchase_completed","messageId":"` + id + `","anonymousId":"a1","properties":{}}]}`
		if a := ktPost(http.DefaultClient, ing.base, []byte(body)); a.code != http.StatusOK {
			t.Fatalf("post %s: %+v", id, a)
		}
	}
	post("flagged")
	writePlan("reject")
	if err := ing.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	ktWait(t, 10*time.Second, "the reload", func() bool {
		return sum(scrape(t, ing.base), "actlog_plan_reloads_total", `result="loaded"`) >= 2
	})
	post("rejected")
	ktWait(t, 30*time.Second, "both events in the store", func() bool {
		return proc.sql(`SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM rejected)`)[0][0] == float64(2)
	})
	if got := proc.sql(`SELECT event_id, violations->>'$[0].rule' FROM events`); len(got) != 1 || got[0][0] != "flagged" || got[0][1] != "required" {
		t.Fatalf("events %v", got)
	}
	if got := proc.sql(`SELECT message_id, event, violations->>'$[0].rule', reason FROM rejected`); len(got) != 1 || got[0][0] != "rejected" ||
		got[0][1] != "purchase_completed" || got[0][2] != "required" || !strings.HasPrefix(got[0][3].(string), "violates the tracking plan") {
		t.Fatalf("rejected %v", got)
	}
}
