package importer

import (
	"os"
	"strings"
	"testing"
)

// mapRow maps one CSV record (with its header) through a mapping.
func mapRow(t *testing.T, m *Mapping, header, row string) (string, string, error) {
	t.Helper()
	h, _, err := csvFields([]byte(header), ',', nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range h {
		names = append(names, string(f))
	}
	rm, err := m.bind(names)
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	fields, _, err := csvFields([]byte(row), ',', nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, id, err := rm.message(nil, fields, "legacy")
	return string(out), id, err
}

func TestMappingBannerClicks(t *testing.T) {
	m, err := LoadMapping("testdata/banner_clicks.mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile("testdata/banner_clicks.csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(csv), "\n")
	got, id, err := mapRow(t, m, lines[0], lines[1])
	if err != nil {
		t.Fatal(err)
	}
	// 19:02:11 in Seoul (UTC+9) is 10:02:11 UTC.
	want := `{"messageId":"1001","type":"track","event":"banner_click","userId":"58211","anonymousId":"d-9f1c","timestamp":"2021-03-01T10:02:11Z",` +
		`"properties":{"banner":"spring_sale_2021","banner_title":"Spring sale: 50% off","section":"home_top","position":1,"is_ad":true,"experiment":{"ab":"B"},"imported_from":"event_banner_log"},` +
		`"context":{"page":{"url":"https://books.example/?utm_source=app&utm_campaign=spring"},"userAgent":"Mozilla/5.0 (Linux; Android 11; SM-G991N) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0.4389.105 Mobile Safari/537.36"}}`
	if got != want || id != "1001" {
		t.Fatalf("got  %s (%s)\nwant %s", got, id, want)
	}
	// Missing values (empty, NULL) leave their fields out.
	got, _, err = mapRow(t, m, lines[0], lines[2])
	if err != nil {
		t.Fatal(err)
	}
	want = `{"messageId":"1002","type":"track","event":"banner_click","anonymousId":"d-77aa","timestamp":"2021-03-01T10:05:40Z",` +
		`"properties":{"banner":"new_series","banner_title":"New series \"Moonlight\"","section":"now_feed","position":3,"is_ad":false,"imported_from":"event_banner_log"},` +
		`"context":{"page":{"url":"https://books.example/now"}}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if _, _, err = mapRow(t, m, lines[0], lines[3]); err == nil || err.Error() != `column "position": "one" is not an integer` {
		t.Fatalf("row 3: %v", err)
	}
	if _, _, err = mapRow(t, m, lines[0], lines[4]); err == nil || err.Error() != "the row has 10 fields, the header 12" {
		t.Fatalf("row 4: %v", err)
	}
}

func TestMappingValues(t *testing.T) {
	const header = "id,v,w"
	for _, tc := range []struct {
		name, mapping, row, want, err string
	}{
		{name: "number keeps its text", mapping: `properties: {x: {column: v, type: number}}`, row: "1,1.50,", want: `"properties":{"x":1.50}`},
		{name: "number normalised", mapping: `properties: {x: {column: v, type: number}}`, row: "1,+.5,", want: `"properties":{"x":0.5}`},
		{name: "not a number", mapping: `properties: {x: {column: v, type: number}}`, row: "1,NaN,", err: `column "v": "NaN" is not a number`},
		{name: "bool words", mapping: `properties: {a: {column: v, type: bool}, b: {column: w, type: bool}}`, row: "1,yes,F", want: `"properties":{"a":true,"b":false}`},
		{name: "bad bool", mapping: `properties: {a: {column: v, type: bool}}`, row: "1,maybe,", err: `column "v": "maybe" is not true or false`},
		{name: "json", mapping: `properties: {a: {column: v, type: json}}`, row: `1,"[1,{""b"":2}]",`, want: `"properties":{"a":[1,{"b":2}]}`},
		{name: "bad json", mapping: `properties: {a: {column: v, type: json}}`, row: `1,{x,`, err: `column "v": "{x" is not JSON`},
		{name: "epoch ms", mapping: `timestamp: {column: v, epoch: ms}`, row: "1,1614592931123,", want: `"timestamp":"2021-03-01T10:02:11.123Z"`},
		{name: "epoch s with fraction", mapping: `timestamp: {column: v, epoch: s}`, row: "1,1614592931.5,", want: `"timestamp":"2021-03-01T10:02:11.5Z"`},
		{name: "rfc 3339 by default", mapping: `timestamp: {column: v}`, row: "1,2021-03-01T19:02:11+09:00,", want: `"timestamp":"2021-03-01T10:02:11Z"`},
		{name: "zoneless in the time zone", mapping: `timestamp: {column: v, timezone: Asia/Seoul}`, row: "1,2021-03-01 19:02:11.250,", want: `"timestamp":"2021-03-01T10:02:11.25Z"`},
		{name: "layout mismatch", mapping: `timestamp: {column: v, layout: "20060102"}`, row: "1,2021-03-01,", err: `column "v": "2021-03-01" does not match the layout "20060102"`},
		{name: "timestamp property", mapping: `properties: {at: {column: v, type: timestamp, epoch: s}}`, row: "1,0,", want: `"properties":{"at":"1970-01-01T00:00:00Z"}`},
		{name: "default", mapping: `properties: {p: {column: v, default: web}}`, row: "1,,", want: `"properties":{"p":"web"}`},
		{name: "value map", mapping: `event: {column: v, map: {CLK: banner_click, IMP: banner_impression}}`, row: "1,IMP,", want: `"event":"banner_impression"`},
		{name: "value map keeps others", mapping: `event: {column: v, map: {CLK: banner_click}}`, row: "1,open,", want: `"event":"open"`},
		{name: "trimmed", mapping: `properties: {p: {column: v}}`, row: "1,  x  ,", want: `"properties":{"p":"x"}`},
		{name: "not trimmed", mapping: "csv: {trim: false}\nproperties: {p: {column: v}}", row: "1, x ,", want: `"properties":{"p":" x "}`},
		{name: "null values", mapping: "csv: {null: [\"\\\\N\", \"-\"]}\nproperties: {p: {column: v}, q: {column: w}}", row: `1,\N,-`, want: `"properties":{}`},
		{name: "constants keep their YAML type", mapping: `properties: {n: 3, f: 1.5, b: true, s: "3", z: null, o: {value: {k: [1, x]}}}` + "\nuserId: {column: v}", row: "1,u,", want: `"properties":{"n":3,"f":1.5,"b":true,"s":"3","z":null,"o":{"k":[1,"x"]}}`},
		{name: "dotted paths nest", mapping: `context: {page.url: {column: v}, page.title: {column: w}, campaign.source: app}`, row: "1,u,t", want: `"context":{"page":{"url":"u","title":"t"},"campaign":{"source":"app"}}`},
		{name: "control characters escaped", mapping: `properties: {p: {column: v}}`, row: "1,\"a\tb\x01\",", want: `"properties":{"p":"a\tb\u0001"}`},
		{name: "invalid UTF-8", mapping: `properties: {p: {column: v}}`, row: "1,\xff,", err: `column "v": "\xff" is not valid UTF-8 text`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMapping([]byte("event: e\nanonymousId: {column: id}\n"+tc.mapping), "m.yaml")
			if strings.Contains(tc.mapping, "event:") {
				m, err = ParseMapping([]byte("anonymousId: {column: id}\n"+tc.mapping), "m.yaml")
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := mapRow(t, m, header, tc.row)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil || !strings.Contains(got, tc.want) {
				t.Fatalf("got %s %v\nwant it to contain %s", got, err, tc.want)
			}
		})
	}
}

func TestMappingDerivedIDs(t *testing.T) {
	parse := func(y string) *Mapping {
		m, err := ParseMapping([]byte(y), "m.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	whole := parse("event: e\nanonymousId: {column: a}\n")
	keyed := parse("event: e\nanonymousId: {column: a}\nmessageId: {columns: [a, t]}\n")
	_, id1, _ := mapRow(t, whole, "a,t,x", "u1,2021,1")
	_, id2, _ := mapRow(t, whole, "a,t,x", "u1,2021,2")
	_, id3, _ := mapRow(t, whole, "a,t,x", "u1,2021,1")
	if !strings.HasPrefix(id1, DerivedIDPrefix) || len(id1) != len(DerivedIDPrefix)+32 || id1 == id2 || id1 != id3 {
		t.Fatalf("whole-row ids %s %s %s", id1, id2, id3)
	}
	_, k1, _ := mapRow(t, keyed, "a,t,x", "u1,2021,1")
	_, k2, _ := mapRow(t, keyed, "a,t,x", "u1,2021,2")
	_, k3, _ := mapRow(t, keyed, "a,t,x", "u1,2022,1")
	if k1 != k2 || k1 == k3 || k1 == id1 {
		t.Fatalf("keyed ids %s %s %s", k1, k2, k3)
	}
	// An empty id column falls back to the whole row.
	byCol := parse("event: e\nanonymousId: {column: a}\nmessageId: {column: x}\n")
	_, c1, _ := mapRow(t, byCol, "a,t,x", "u1,2021,")
	_, w1, _ := mapRow(t, whole, "a,t,x", "u1,2021,")
	if c1 != w1 {
		t.Fatalf("empty id column: %s, want %s", c1, w1)
	}
}

func TestMappingErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, err string }{
		{"", "mapping m.yaml is empty"},
		{"- a", "m.yaml:1: a mapping is a YAML map"},
		{"event: e\nuserId: 58211", "m.yaml:2: userId: a constant would make every row the same person"},
		{"event: e\nanonymousId: {column: a}\nmessageId: x1", "m.yaml:3: messageId: a constant would make every row the same event"},
		{"event: e\nanonymousId: {column: a}\ntimestamp: now", "m.yaml:3: timestamp: a constant"},
		{"type: click\nanonymousId: {column: a}", `m.yaml:1: type: "click" is not a Segment type`},
		{"event: e\nanonymousId: {column: a}\nuser: {column: u}", `m.yaml:3: unknown field "user"`},
		{"event: e\nanonymousId: {colum: a}", `m.yaml:2: anonymousId: unknown key "colum"`},
		{"event: e\nanonymousId: {column: a, value: b}", "m.yaml:2: anonymousId: give exactly one of column, value"},
		{"event: e\nanonymousId: {column: a}\nproperties: {p: {column: a, type: float}}", `m.yaml:3: properties.p: type "float"`},
		{"event: e\nanonymousId: {column: a}\ntimestamp: {column: t, timezone: Mars/Base}", `m.yaml:3: timestamp: time zone "Mars/Base"`},
		{"event: e\nanonymousId: {column: a}\ntimestamp: {column: t, layout: YYYY-MM-DD}", `m.yaml:3: timestamp: layout "YYYY-MM-DD" is not a Go time layout`},
		{"event: e\nanonymousId: {column: a}\ntimestamp: {column: t, epoch: min}", `m.yaml:3: timestamp: epoch "min"`},
		{"event: e\nanonymousId: {column: a}\nproperties: {p: {column: a, layout: x}}", "m.yaml:3: properties.p: layout, timezone and epoch are for timestamps"},
		{"event: e\nanonymousId: {column: a}\nproperties:\n  page: {column: a}\n  page.url: {column: b}", "m.yaml:5: properties.page.url: properties.page is already a value"},
		{"event: e\nanonymousId: {column: a}\ncontext: {actlog.x: 1}", "m.yaml:3: context.actlog is actlog's own"},
		{"event: e\nanonymousId: {column: a}\ncsv: {delimiter: ';;'}", "m.yaml:3: csv.delimiter must be one ASCII character"},
		{"event: e\nanonymousId: {column: a}\ncsv: {header: false}", "csv.header is false: name the columns"},
		{"event: e\nanonymousId: {column: a}\nevent: f", "m.yaml:3: event given twice"},
		{"event: e", "maps no column"},
		{"event: {column: [a]}", "m.yaml:1: event: column must be text"},
		{"event: e\nanonymousId: {column: a}\nproperties: {a..b: 1}", "empty name in the dotted path"},
	} {
		_, err := ParseMapping([]byte(tc.yaml), "m.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: err %v, want %q", tc.yaml, err, tc.err)
		}
	}
}

func TestMappingBind(t *testing.T) {
	m, err := ParseMapping([]byte("event: e\nanonymousId: {column: Device}\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.bind([]string{"device", "x"}); err == nil || !strings.Contains(err.Error(), `column "Device", which the file does not have (there is "device"`) {
		t.Fatalf("bind: %v", err)
	}
	if _, err := m.bind([]string{"Device", "Device"}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("bind: %v", err)
	}
}
