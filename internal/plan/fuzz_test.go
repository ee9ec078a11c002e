package plan

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParse: a plan file of any bytes parses or fails with an error that
// says what is wrong; it never panics, and a plan that parses checks any
// event without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte(bookPlan))
	f.Add([]byte("enforcement: {default: reject}\nunplanned: violation\nevents:\n  - name: a\n    properties: {type: object, required: [x]}\n"))
	f.Add([]byte("events:\n  - name: a\n    properties: {$ref: \"#/$defs/x\", $defs: {x: {type: object}}}\n"))
	f.Add([]byte("events:\n  - name: a\n    properties: {type: object, properties: {p: {pattern: \"(\"}}}\n"))
	f.Add([]byte("events: [{name: a, properties: true}]\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("&a [*a, *a]"))
	f.Add([]byte("events:\n  - name: \"\\u0000\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		for _, name := range append(p.Events(), "unplanned-event") {
			for _, props := range []string{`{}`, `{"x":1,"p":"a","price":-1}`, `[]`, ``, `{"a":{"b":[1,2,{"c":null}]}}`} {
				v, reject := p.Check("web", name, []byte(props))
				if reject && len(v) == 0 {
					t.Fatalf("%s rejected without a violation", name)
				}
			}
		}
	})
}

// FuzzCheck: any properties column is checked without panicking; a
// violation always has a rule and a message, and a valid JSON path.
func FuzzCheck(f *testing.F) {
	p, err := Parse([]byte(bookPlan))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{`{"plan":"yearly","price":99000}`, `{"plan":"daily","price":-1,"extra":[1]}`, `{}`, `{"book_id":"","tags":["a","toolongtag"]}`,
		`{"price":1e400}`, `{"price":123456789012345678901234567890}`, `{"plan":"\ud800"}`, `not json`, `{"a":1}{"b":2}`, `{"~/":1}`} {
		f.Add("web", "purchase_completed", []byte(s))
		f.Add("ios", "book_opened", []byte(s))
	}
	f.Fuzz(func(t *testing.T, source, name string, props []byte) {
		v, reject := p.Check(source, name, props)
		if reject && len(v) == 0 {
			t.Fatal("rejected without a violation")
		}
		if len(v) > MaxViolations {
			t.Fatalf("%d violations", len(v))
		}
		for _, x := range v {
			if x.Rule == "" || x.Message == "" || (x.Path != "" && !strings.HasPrefix(x.Path, "/")) {
				t.Fatalf("violation %+v", x)
			}
			if _, err := json.Marshal(x); err != nil {
				t.Fatal(err)
			}
		}
	})
}
