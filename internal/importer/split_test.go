package importer

import (
	"fmt"
	"strings"
	"testing"
)

// split feeds input to a splitter in pieces of size n (all at once when n
// is 0) and answers the records as "line|bad|data" and the final position.
func split(t *testing.T, sp splitter, input string, n int) ([]string, pos) {
	t.Helper()
	var out []string
	last := sp.at()
	emit := func(r rec, end pos) error {
		if end.records != last.records+1 || end.off < last.off {
			t.Fatalf("record %q ends at %+v after %+v", r.data, end, last)
		}
		last = end
		out = append(out, fmt.Sprintf("%d|%s|%s", r.line, r.bad, r.data))
		return nil
	}
	b := []byte(input)
	if n <= 0 {
		n = len(b) + 1
	}
	for len(b) > 0 {
		k := min(n, len(b))
		if err := sp.feed(b[:k], emit); err != nil {
			t.Fatal(err)
		}
		b = b[k:]
	}
	if err := sp.finish(emit); err != nil {
		t.Fatal(err)
	}
	return out, sp.at()
}

func TestJSONSplitter(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"ndjson", "{\"a\":1}\n{\"b\":2}\n", []string{`1||{"a":1}`, `2||{"b":2}`}},
		{"no final newline", "{\"a\":1}\n{\"b\":2}", []string{`1||{"a":1}`, `2||{"b":2}`}},
		{"crlf and blank lines", "{\"a\":1}\r\n\r\n\n  {\"b\":2}  \r\n", []string{`1||{"a":1}`, `4||{"b":2}`}},
		{"firehose concatenated", `{"a":1}{"b":"}{"}{"c":[1,{"d":2}]}`, []string{`1||{"a":1}`, `1||{"b":"}{"}`, `1||{"c":[1,{"d":2}]}`}},
		{"commas between records", "{\"a\":1},\n{\"b\":2},", []string{`1||{"a":1}`, `2||{"b":2}`}},
		{"escaped quotes and braces in strings", `{"a":"x\"}{\\"}` + "\n", []string{`1||{"a":"x\"}{\\"}`}},
		{"array record", "[{\"a\":1},{\"b\":2}]\n", []string{`1||[{"a":1},{"b":2}]`}},
		{"junk line", "hello world\r\n{\"a\":1}\n", []string{`1|` + reasonNotJSON + `|hello world`, `2||{"a":1}`}},
		{"junk after a record", "{\"a\":1} trailing\n", []string{`1||{"a":1}`, `1|` + reasonNotJSON + `|trailing`}},
		{"number line", "42\n", []string{`1|` + reasonNotJSON + `|42`}},
		{"truncated line", "{\"a\":\n{\"b\":2}\n", []string{`1|` + reasonJSONCut + `|{"a":`, `2||{"b":2}`}},
		{"truncated in a string", "{\"a\":\"xy\n{\"b\":2}\n", []string{`1|` + reasonJSONCut + `|{"a":"xy`, `2||{"b":2}`}},
		{"truncated after an escape", "{\"a\":\"x\\\n{\"b\":2}\n", []string{`1|` + reasonJSONCut + `|{"a":"x\`, `2||{"b":2}`}},
		{"input ends inside a record", "{\"a\":1}\n{\"b\":", []string{`1||{"a":1}`, `2|` + reasonJSONEOF + `|{"b":`}},
		{"input ends in junk", "{\"a\":1}\nxyz", []string{`1||{"a":1}`, `2|` + reasonNotJSON + `|xyz`}},
		{"too long", "{\"a\":\"" + strings.Repeat("x", 300) + "\"}\n{\"b\":2}\n", []string{`1|` + reasonRecordTooLong + `|{"a":"` + strings.Repeat("x", 250), `2||{"b":2}`}},
		{"empty", "", nil},
		{"only space", " \n\n\t\r\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{0, 1, 2, 3, 7, 64} {
				got, end := split(t, newJSONSplitter(256, pos{line: 1}), tc.in, n)
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Fatalf("pieces of %d:\ngot  %q\nwant %q", n, got, tc.want)
				}
				if end.off != int64(len(tc.in)) || end.records != int64(len(tc.want)) || end.line != int64(1+strings.Count(tc.in, "\n")) {
					t.Fatalf("pieces of %d: end %+v", n, end)
				}
			}
		})
	}
}

// TestJSONSplitterResume restarts a splitter at each record's end position
// and checks it finds the same following records with the same lines.
func TestJSONSplitterResume(t *testing.T) {
	in := "{\"a\":1}\n\n{\"b\":2}{\"c\":3}\nbad\n{\"d\":\n{\"e\":5}"
	var ends []pos
	var all []string
	sp := newJSONSplitter(1<<10, pos{line: 1})
	_ = sp.feed([]byte(in), func(r rec, end pos) error {
		ends = append(ends, end)
		all = append(all, fmt.Sprintf("%d|%s|%s", r.line, r.bad, r.data))
		return nil
	})
	_ = sp.finish(func(r rec, end pos) error {
		ends = append(ends, end)
		all = append(all, fmt.Sprintf("%d|%s|%s", r.line, r.bad, r.data))
		return nil
	})
	for i, at := range ends {
		got, _ := split(t, newJSONSplitter(1<<10, at), in[at.off:], 0)
		if strings.Join(got, "\n") != strings.Join(all[i+1:], "\n") {
			t.Fatalf("resumed at %+v:\ngot  %q\nwant %q", at, got, all[i+1:])
		}
	}
}

func TestCSVSplitter(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		comment  byte
		want     []string
	}{
		{"rows", "a,b\n1,2\n", 0, []string{"1||a,b", "2||1,2"}},
		{"crlf, no final newline", "a,b\r\n1,2", 0, []string{"1||a,b", "2||1,2"}},
		{"blank lines skipped", "a,b\n\n\r\n1,2\n", 0, []string{"1||a,b", "4||1,2"}},
		{"quoted newline", "a,b\n\"x\ny\",2\n3,4\n", 0, []string{"1||a,b", "2||\"x\ny\",2", "4||3,4"}},
		{"escaped quotes", "\"a \"\"q\"\" b\",c\n", 0, []string{"1||\"a \"\"q\"\" b\",c"}},
		{"bare quote is text", "12\" screen,x\nnext,y\n", 0, []string{"1||12\" screen,x", "2||next,y"}},
		{"comments", "# exported 2021\na,b\n#x\n1,2\n", '#', []string{"2||a,b", "4||1,2"}},
		{"unclosed at the end", "a,b\n1,\"open\n", 0, []string{"1||a,b", "2|" + reasonCSVUnclosed + "|1,\"open\n"}},
		{"runaway quote", "a\n\"" + strings.Repeat("x\n", 200) + "z\n", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{0, 1, 2, 5, 64} {
				got, end := split(t, newCSVSplitter(256, ',', tc.comment, pos{line: 1}), tc.in, n)
				if tc.want == nil { // runaway: cut at the limit, then rows again
					if len(got) < 3 || !strings.HasPrefix(got[1], "2|"+reasonCSVRunaway) || !strings.HasSuffix(got[len(got)-1], "|z") {
						t.Fatalf("pieces of %d: %q", n, got)
					}
					continue
				}
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Fatalf("pieces of %d:\ngot  %q\nwant %q", n, got, tc.want)
				}
				if end.off != int64(len(tc.in)) {
					t.Fatalf("end %+v", end)
				}
			}
		})
	}
}

func TestCSVFields(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "a,b,c", want: []string{"a", "b", "c"}},
		{in: "a,,", want: []string{"a", "", ""}},
		{in: "", want: []string{""}},
		{in: `"x, y","say ""hi""",z`, want: []string{"x, y", `say "hi"`, "z"}},
		{in: "\"multi\nline\",2\r", want: []string{"multi\nline", "2"}},
		{in: `12" screen,x`, want: []string{`12" screen`, "x"}},
		{in: `"a"b,c`, err: "field 1: text after the closing quote"},
		{in: `"open`, err: "unterminated quoted field"},
	} {
		got, _, err := csvFields([]byte(tc.in), ',', nil, nil)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		var s []string
		for _, f := range got {
			s = append(s, string(f))
		}
		if err != nil || strings.Join(s, "|") != strings.Join(tc.want, "|") || len(s) != len(tc.want) {
			t.Errorf("%q: got %q %v, want %q", tc.in, s, err, tc.want)
		}
	}
}
