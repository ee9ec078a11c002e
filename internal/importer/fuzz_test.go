package importer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

// collect runs a splitter over input in pieces of n bytes and answers its
// records and their end positions.
func collect(sp splitter, input []byte, n int) (recs []string, ends []pos) {
	emit := func(r rec, end pos) error {
		recs = append(recs, fmt.Sprintf("%d|%s|%s", r.line, r.bad, r.data))
		ends = append(ends, end)
		return nil
	}
	for len(input) > 0 {
		k := min(n, len(input))
		_ = sp.feed(input[:k], emit)
		input = input[k:]
	}
	_ = sp.finish(emit)
	return recs, ends
}

// FuzzSplitJSON: the NDJSON / Firehose splitter finds the same records
// whatever the pieces it is fed, never a record longer than its limit,
// every position in order, and the same records again when restarted at
// any record's end (a resume from a checkpoint).
func FuzzSplitJSON(f *testing.F) {
	for _, s := range []string{
		"{\"a\":1}\n{\"b\":2}\n",
		`{"a":1}{"b":"}{"}[1,{"c":"\"\\"}]`,
		"{\"a\":\n{\"b\":\"x\\\n42\r\n\r\n  junk {\n",
		"{\"batch\":[{\"type\":\"track\"}],\"sentAt\":\"2021-01-01T00:00:00Z\"},{}",
		"\xef\xbb\xbf{}\x00\x00\x00",
		strings.Repeat("{", 40) + strings.Repeat("}", 39),
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, input []byte, piece uint8) {
		const limit = 300
		whole, ends := collect(newJSONSplitter(limit, pos{line: 1}), input, len(input)+1)
		parts, _ := collect(newJSONSplitter(limit, pos{line: 1}), input, int(piece%64)+1)
		if strings.Join(whole, "\x01") != strings.Join(parts, "\x01") {
			t.Fatalf("pieces of %d differ:\n%q\n%q", piece%64+1, whole, parts)
		}
		var last pos
		for i, e := range ends {
			if e.off < last.off || e.line < last.line || e.records != int64(i+1) || e.off > int64(len(input)) {
				t.Fatalf("end %d %+v after %+v", i, e, last)
			}
			last = e
		}
		for i, r := range whole {
			if _, data, _ := strings.Cut(strings.SplitN(r, "|", 2)[1], "|"); len(data) > limit {
				t.Fatalf("record %d longer than the limit: %d", i, len(data))
			}
		}
		if len(ends) > 0 {
			i := len(ends) / 2
			again, _ := collect(newJSONSplitter(limit, ends[i]), input[ends[i].off:], len(input)+1)
			if strings.Join(again, "\x01") != strings.Join(whole[i+1:], "\x01") {
				t.Fatalf("resumed at %+v:\n%q\n%q", ends[i], again, whole[i+1:])
			}
		}
	})
}

// FuzzCSVRow: CSV text through the splitter (the same records in any
// pieces), the field parser and the banner-click mapping: each row becomes
// a JSON object with a messageId, or a row error; never anything else.
func FuzzCSVRow(f *testing.F) {
	csv, err := os.ReadFile("testdata/banner_clicks.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(csv, uint8(7))
	f.Add([]byte("log_id,clicked_at\n\"a\"\"b\",\"x\ny\"\n1,2,3\n\"open"), uint8(1))
	f.Add([]byte("1001,2021-03-01 19:02:11,58211,d,b,t,s,1e3,yes,u,ua,\"{\"\"a\"\":[1]}\"\n"), uint8(2))
	f.Add([]byte("1,\xff\x00,,,,,,,,,,\n"), uint8(5))
	m, err := LoadMapping("testdata/banner_clicks.mapping.yaml")
	if err != nil {
		f.Fatal(err)
	}
	header := strings.Split("log_id,clicked_at,member_no,device_id,banner_code,banner_title,section,position,is_ad,page_url,user_agent,extra", ",")
	rm, err := m.bind(header)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, input []byte, piece uint8) {
		const limit = 1 << 10
		whole, _ := collect(newCSVSplitter(limit, ',', 0, pos{line: 1}), input, len(input)+1)
		parts, _ := collect(newCSVSplitter(limit, ',', 0, pos{line: 1}), input, int(piece%32)+1)
		if strings.Join(whole, "\x01") != strings.Join(parts, "\x01") {
			t.Fatalf("pieces differ:\n%q\n%q", whole, parts)
		}
		sp := newCSVSplitter(limit, ',', 0, pos{line: 1})
		var p fastjson.Parser
		emit := func(r rec, _ pos) error {
			fields, _, err := csvFields(r.data, ',', nil, nil)
			if err != nil {
				return nil
			}
			out, id, err := rm.message([]byte("prefix"), fields, "legacy")
			if !bytes.HasPrefix(out, []byte("prefix")) {
				t.Fatalf("message dropped what it was appended to: %q", out)
			}
			if err != nil {
				var re *rowError
				if !errors.As(err, &re) || len(out) != len("prefix") {
					t.Fatalf("error %v (%T) with output %q", err, err, out)
				}
				return nil
			}
			v, perr := p.ParseBytes(out[len("prefix"):])
			if perr != nil || v.Type() != fastjson.TypeObject {
				t.Fatalf("row %q mapped to invalid JSON %q: %v", r.data, out, perr)
			}
			if got := string(v.GetStringBytes("messageId")); got == "" || got != id {
				t.Fatalf("messageId %q, answered %q", got, id)
			}
			return nil
		}
		_ = sp.feed(input, emit)
		_ = sp.finish(emit)
	})
}

// FuzzMapping: any YAML is a mapping or an error, never a panic; a mapping
// maps a row of its own columns to a JSON object, or reports a row error.
func FuzzMapping(f *testing.F) {
	b, err := os.ReadFile("testdata/banner_clicks.mapping.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, []byte("x"))
	f.Add([]byte("event: {column: e, map: {a: b}}\nanonymousId: {column: a, default: d}\nmessageId: {columns: [a, e]}\nproperties: {p.q: {column: a, type: json}, n: 1.5, t: {column: e, type: timestamp, epoch: ms}}\ncsv: {delimiter: \"\\t\", null: [\"-\"], header: false, columns: [a, e]}"), []byte("1"))
	f.Add([]byte("type: {column: t}\nuserId: {column: u}\ntimestamp: {column: t, layout: \"02/01/2006 15:04\", timezone: Asia/Seoul}\ntraits: {plan: {column: p, type: bool}}"), []byte("Y"))
	f.Add([]byte("context: {page: {column: a}, page.url: {column: b}}"), []byte(""))
	f.Add([]byte("anonymousId: &x {column: a}\nuserId: *x\nevent: !!binary aGk="), []byte("\xff"))
	f.Fuzz(func(t *testing.T, yaml, value []byte) {
		m, err := ParseMapping(yaml, "fuzz.yaml")
		if err != nil {
			if m != nil {
				t.Fatal("a mapping and an error")
			}
			return
		}
		cols := m.columnsUsed()
		rm, err := m.bind(cols)
		if err != nil {
			if !strings.Contains(err.Error(), "twice") {
				t.Fatalf("bind to its own columns: %v", err)
			}
			return
		}
		fields := make([][]byte, len(cols))
		for i := range fields {
			fields[i] = value
		}
		out, _, err := rm.message(nil, fields, "legacy")
		if err != nil {
			var re *rowError
			if !errors.As(err, &re) {
				t.Fatalf("error %v (%T)", err, err)
			}
			return
		}
		var p fastjson.Parser
		if v, err := p.ParseBytes(out); err != nil || v.Type() != fastjson.TypeObject {
			t.Fatalf("mapped to invalid JSON %q: %v", out, err)
		}
	})
}
