package plan

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/actlog/actlog/internal/event"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const bookPlan = `
enforcement:
  default: flag
  sources:
    ios: reject
    legacy: off
unplanned: violation
events:
  - name: purchase_completed
    description: A member paid for a subscription.
    owner: payments
    properties:
      type: object
      required: [plan, price]
      properties:
        plan: {type: string, enum: [monthly, yearly]}
        price: {type: number, minimum: 0}
        coupon: {type: string, pattern: "^[A-Z0-9]{6}$"}
      additionalProperties: false
  - name: page_view
    description: Any page.
    owner: web
  - name: book_opened
    owner: reader
    properties:
      type: object
      properties:
        book_id: {type: string, minLength: 1}
        tags: {type: array, items: {$ref: "#/$defs/tag"}}
      $defs:
        tag: {type: string, maxLength: 5}
`

func mustParse(t *testing.T, s string) *Plan {
	t.Helper()
	p, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

func TestCheck(t *testing.T) {
	p := mustParse(t, bookPlan)
	for _, c := range []struct {
		name, source, event, props string
		rules                      []string // rule of each violation, in order
		paths                      []string
		reject                     bool
	}{
		{name: "valid", source: "web", event: "purchase_completed", props: `{"plan":"yearly","price":99000}`},
		{name: "missing required", source: "web", event: "purchase_completed", props: `{"plan":"yearly"}`, rules: []string{"required"}, paths: []string{""}},
		{name: "wrong type", source: "web", event: "purchase_completed", props: `{"plan":"yearly","price":"99000"}`, rules: []string{"type"}, paths: []string{"/price"}},
		{name: "enum and minimum", source: "web", event: "purchase_completed", props: `{"plan":"daily","price":-1}`, rules: []string{"enum", "minimum"}, paths: []string{"/plan", "/price"}},
		{name: "pattern", source: "web", event: "purchase_completed", props: `{"plan":"monthly","price":1,"coupon":"x"}`, rules: []string{"pattern"}, paths: []string{"/coupon"}},
		{name: "additional property", source: "web", event: "purchase_completed", props: `{"plan":"monthly","price":1,"extra":true}`, rules: []string{"additionalProperties"}, paths: []string{""}},
		{name: "rejected on a reject source", source: "ios", event: "purchase_completed", props: `{}`, rules: []string{"required"}, reject: true},
		{name: "valid on a reject source", source: "ios", event: "purchase_completed", props: `{"plan":"monthly","price":0}`},
		{name: "nothing on an off source", source: "legacy", event: "purchase_completed", props: `{}`},
		{name: "planned without schema", source: "web", event: "page_view", props: `{"anything":[1,2]}`},
		{name: "unplanned", source: "web", event: "banner_clicked", props: `{}`, rules: []string{"unplanned"}},
		{name: "unplanned rejected", source: "ios", event: "banner_clicked", props: `{}`, rules: []string{"unplanned"}, reject: true},
		{name: "ref into $defs", source: "web", event: "book_opened", props: `{"book_id":"b1","tags":["ok","toolong"]}`, rules: []string{"maxLength"}, paths: []string{"/tags/1"}},
		{name: "empty properties column", source: "web", event: "book_opened", props: ``},
		{name: "big numbers keep precision", source: "web", event: "purchase_completed", props: `{"plan":"yearly","price":123456789012345678901234567890}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, reject := p.Check(c.source, c.event, []byte(c.props))
			if reject != c.reject {
				t.Errorf("reject = %v, want %v", reject, c.reject)
			}
			var rules, paths []string
			for _, x := range v {
				rules = append(rules, x.Rule)
				paths = append(paths, x.Path)
				if x.Message == "" {
					t.Errorf("violation %+v has no message", x)
				}
			}
			if strings.Join(rules, ",") != strings.Join(c.rules, ",") {
				t.Errorf("rules %v, want %v (%+v)", rules, c.rules, v)
			}
			if c.paths != nil && strings.Join(paths, ",") != strings.Join(c.paths, ",") {
				t.Errorf("paths %v, want %v", paths, c.paths)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name, plan string
		want       []string // substrings of the error
	}{
		{"empty", ``, []string{"empty"}},
		{"not yaml", "events: [", []string{"not a valid plan"}},
		{"unknown field", "events:\n  - name: a\n    descripton: x\n", []string{"descripton"}},
		{"bad mode", "enforcement:\n  default: strict\n  sources: {web: loud}\n", []string{`"strict"`, `"loud"`}},
		{"bad unplanned", "unplanned: block\n", []string{"allow or violation"}},
		{"duplicate and nameless", "events:\n  - name: a\n  - name: a\n  - owner: x\n", []string{`"a" is listed twice`, "event 3 has no name"}},
		{"bad schema with its line", "events:\n  - name: a\n    properties:\n      type: object\n      properties:\n        p: {type: strin}\n", []string{"line 4:", `event "a"`, "not a valid JSON Schema"}},
		{"not an object schema", "events:\n  - name: a\n    properties: {type: string}\n", []string{"type object"}},
		{"external ref refused", "events:\n  - name: a\n    properties: {$ref: \"file:///etc/passwd\"}\n", []string{"cannot load"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.plan))
			if err == nil {
				t.Fatal("parsed")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestModes(t *testing.T) {
	p := mustParse(t, bookPlan)
	for src, want := range map[string]Mode{"ios": Reject, "legacy": Off, "web": Flag, "other": Flag} {
		if got := p.Mode(src); got != want {
			t.Errorf("mode of %s = %s, want %s", src, got, want)
		}
	}
	if got := mustParse(t, "events: []\n").Mode("web"); got != Off {
		t.Errorf("default mode = %s, want off", got)
	}
	if v, _ := mustParse(t, "enforcement: {default: reject}\nevents: []\n").Check("web", "anything", []byte(`{}`)); v != nil {
		t.Errorf("unplanned events are allowed by default, got %v", v)
	}
}

func TestWatcherReloads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.yaml")
	write := func(s string) {
		t.Helper()
		// Write beside and rename, as editors and config maps do.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("enforcement: {default: flag}\nevents:\n  - name: a\n    properties: {type: object, required: [x]}\n")
	reg := prometheus.NewRegistry()
	w, err := NewWatcher(path, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx, 5*time.Millisecond) }()
	defer func() { cancel(); <-done }()

	check := func() (int, bool) {
		v, reject := w.Check("web", "a", []byte(`{}`))
		return len(v), reject
	}
	if n, reject := check(); n != 1 || reject {
		t.Fatalf("first plan: %d violations, reject %v", n, reject)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// A changed file is put in force without a restart.
	write("enforcement: {default: reject}\nevents:\n  - name: a\n    properties: {type: object, required: [x]}\n")
	waitFor("the reject plan", func() bool { _, r := check(); return r })
	// A broken file is refused: the plan in force stays.
	write("enforcement: {default: reject}\nevents:\n  - name: a\n    properties: {type: strin}\n")
	waitFor("the failed reload", func() bool { return testutil.ToFloat64(w.reloads.WithLabelValues("failed")) >= 1 })
	if _, r := check(); !r {
		t.Fatal("a broken plan replaced the plan in force")
	}
	// Reload (SIGHUP) of an unchanged good file changes nothing.
	write("enforcement: {default: off}\nevents: []\n")
	waitFor("the off plan", func() bool { n, _ := check(); return n == 0 })
	if changed, err := w.Reload(); err != nil || changed {
		t.Fatalf("reload of the same file: changed %v, err %v", changed, err)
	}
	if got := testutil.ToFloat64(w.violations.WithLabelValues("web", "reject")); got < 1 {
		t.Errorf("reject violations counted %v", got)
	}
}

func TestNewWatcherRefusesABrokenPlan(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(path, []byte("enforcement: {default: loud}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewWatcher(path, nil, nil); err == nil || !strings.Contains(err.Error(), "loud") {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewWatcher(filepath.Join(t.TempDir(), "missing.yaml"), nil, nil); err == nil {
		t.Fatal("a missing plan file was accepted")
	}
}

func TestDraftParses(t *testing.T) {
	obs := []Observed{{
		Name: "book_opened", Count: 3, Sampled: 3, First: time.Unix(0, 0), Last: time.Unix(86400, 0), Sources: []string{"web"},
		Properties: []ObservedProperty{
			{Name: "book_id", Present: 3, Types: []string{"string"}, Examples: []any{"b1", "b2"}},
			{Name: "price", Present: 2, Types: []string{"integer", "null"}, Examples: []any{int64(9900)}},
			{Name: "odd/key~", Present: 3, Types: []string{"boolean"}},
		},
	}}
	b, err := Draft(obs, InferOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(b)
	if err != nil {
		t.Fatalf("the draft does not parse: %v\n%s", err, b)
	}
	spec, ok := p.Event("book_opened")
	if !ok || spec.Properties.IsZero() {
		t.Fatalf("book_opened missing from\n%s", b)
	}
	// Enforcement of a draft is off: turn it on to check the schema.
	strict := mustParse(t, strings.Replace(string(b), "default: off", "default: reject", 1))
	for _, c := range []struct {
		props  string
		reject bool
	}{
		{`{"book_id":"b9","odd/key~":true}`, false},
		{`{"book_id":"b9","odd/key~":true,"price":null}`, false},
		{`{"odd/key~":true}`, true},                             // book_id was always there
		{`{"book_id":"b9","odd/key~":true,"price":"1"}`, true},  // price was a number
		{`{"book_id":"b9","odd/key~":true,"price":12.5}`, true}, // an integer
	} {
		if _, r := strict.Check("web", "book_opened", []byte(c.props)); r != c.reject {
			t.Errorf("%s: reject %v, want %v", c.props, r, c.reject)
		}
	}
	_ = event.Violation{}
}
