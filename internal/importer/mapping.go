package importer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // mapping time zones such as Asia/Seoul work on hosts without zoneinfo
	"unicode/utf8"

	"github.com/valyala/fastjson"
	"go.yaml.in/yaml/v3"
)

// Mapping says how the rows of a CSV file become Segment messages: which
// column (or constant) gives each field, how values are typed, and the CSV
// dialect. docs/import.md is its reference. A Mapping is immutable and safe
// for concurrent use.
type Mapping struct {
	CSV CSVDialect

	file      string       // for messages
	top       []*valueSpec // type, event, name, userId, anonymousId, groupId, previousId, timestamp
	messageID *valueSpec   // nil: derived from the whole row
	objects   []*node      // properties, context, traits (those mapped)
	hasType   bool
}

// CSVDialect is the csv: section of a mapping.
type CSVDialect struct {
	Delimiter byte     // 0: comma (tab for .tsv files)
	Header    bool     // the first row names the columns (default true)
	Columns   []string // column names: when Header is false, or to rename the header's
	Comment   byte     // lines starting with it are skipped; 0: none
	Nulls     []string // cell values read as missing (default: the empty cell)
	Trim      bool     // trim spaces and tabs around cells (default true)
}

// value kinds
const (
	kString = iota
	kNumber
	kInteger
	kBool
	kJSON
	kTimestamp
)

var kindNames = map[string]int{"string": kString, "number": kNumber, "integer": kInteger, "bool": kBool, "json": kJSON, "timestamp": kTimestamp}

// valueSpec is where one field of the message comes from.
type valueSpec struct {
	name     string // its place in the message: "userId", "properties.banner_id"
	key      string // its own key in the JSON object
	line     int    // in the mapping file
	column   string // "" for a constant
	columns  []string
	constant []byte // the constant's JSON
	kind     int
	layout   string // for timestamps: a Go layout, or "" for RFC 3339 and the like
	loc      *time.Location
	epoch    time.Duration // for timestamps: the unit of epoch numbers; 0: not epoch
	def      *string
	valueMap map[string]string
}

// node is an object of the message (properties, context, traits and the
// objects their dotted names make) or a value in it.
type node struct {
	key  string
	spec *valueSpec // a value; nil for an object
	kids []*node
}

// Segment fields a mapping may set at the top level of a message, in the
// order they are written.
var topFields = []string{"type", "event", "name", "userId", "anonymousId", "groupId", "previousId", "timestamp"}

// LoadMapping reads a mapping file.
func LoadMapping(path string) (*Mapping, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mapping: %w", err)
	}
	return ParseMapping(b, path)
}

// ParseMapping parses a mapping; name is used in its error messages.
func ParseMapping(b []byte, name string) (*Mapping, error) {
	m := &Mapping{file: name, CSV: CSVDialect{Header: true, Trim: true}}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("mapping %s: %w", name, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("mapping %s is empty", name)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, m.errorf(root, "a mapping is a YAML map of Segment fields to columns")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if seen[key] {
			return nil, m.errorf(k, "%s given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "csv":
			err = m.parseDialect(v)
		case "messageId":
			m.messageID, err = m.parseSpec("messageId", "messageId", v, true)
			if err == nil && m.messageID.column == "" && len(m.messageID.columns) == 0 {
				err = m.errorf(v, "messageId: a constant would make every row the same event; use {column: NAME} or {columns: [A, B]}")
			}
		case "properties", "context", "traits":
			var n *node
			n, err = m.parseObject(key, v)
			if n != nil {
				m.objects = append(m.objects, n)
			}
		default:
			if !slices.Contains(topFields, key) {
				return nil, m.errorf(k, "unknown field %q: a mapping sets type, event, name, userId, anonymousId, groupId, previousId, messageId, timestamp, properties, context, traits and csv", key)
			}
			var s *valueSpec
			s, err = m.parseSpec(key, key, v, false)
			if err == nil {
				err = m.checkTop(s, v)
			}
			if s != nil {
				m.top = append(m.top, s)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	m.hasType = seen["type"]
	// Write the top-level fields in a fixed order.
	slices.SortStableFunc(m.top, func(a, b *valueSpec) int {
		return slices.Index(topFields, a.name) - slices.Index(topFields, b.name)
	})
	if !m.CSV.Header && len(m.CSV.Columns) == 0 {
		return nil, fmt.Errorf("mapping %s: csv.header is false: name the columns in csv.columns", name)
	}
	if len(m.CSV.Nulls) == 0 {
		m.CSV.Nulls = []string{""}
	}
	if len(m.columnsUsed()) == 0 {
		return nil, fmt.Errorf("mapping %s maps no column", name)
	}
	return m, nil
}

func (m *Mapping) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("mapping %s:%d: %s", m.file, n.Line, fmt.Sprintf(format, args...))
}

// checkTop applies the rules of the top-level fields.
func (m *Mapping) checkTop(s *valueSpec, v *yaml.Node) error {
	switch s.name {
	case "userId", "anonymousId":
		if s.column == "" {
			return m.errorf(v, "%s: a constant would make every row the same person; use {column: NAME}", s.name)
		}
	case "timestamp":
		if s.column == "" {
			return m.errorf(v, "timestamp: a constant would give every row the same time; use {column: NAME, layout: ...}")
		}
		s.kind = kTimestamp
		return nil
	case "type":
		if s.column == "" {
			var t string
			_ = json.Unmarshal(s.constant, &t)
			switch t {
			case "track", "page", "screen", "identify", "group", "alias":
			default:
				return m.errorf(v, "type: %q is not a Segment type (track, page, screen, identify, group, alias)", t)
			}
		}
	}
	if s.kind != kString {
		return m.errorf(v, "%s is text: leave out its type", s.name)
	}
	if s.column == "" && (len(s.constant) == 0 || s.constant[0] != '"') {
		return m.errorf(v, "%s: a constant here must be text", s.name)
	}
	return nil
}

func (m *Mapping) parseDialect(v *yaml.Node) error {
	if v.Kind != yaml.MappingNode {
		return m.errorf(v, "csv: want a map of delimiter, header, columns, comment, null, trim")
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		var err error
		switch k.Value {
		case "delimiter":
			m.CSV.Delimiter, err = m.oneByte(k.Value, val)
			if err == nil && (m.CSV.Delimiter == '"' || m.CSV.Delimiter == '\n' || m.CSV.Delimiter == '\r') {
				err = m.errorf(val, "csv.delimiter cannot be a quote or a line break")
			}
		case "comment":
			m.CSV.Comment, err = m.oneByte(k.Value, val)
		case "header":
			err = val.Decode(&m.CSV.Header)
		case "trim":
			err = val.Decode(&m.CSV.Trim)
		case "columns":
			err = val.Decode(&m.CSV.Columns)
			if err == nil {
				for _, c := range m.CSV.Columns {
					if c == "" {
						err = m.errorf(val, "csv.columns: a column name is empty")
					}
				}
			}
		case "null", "nulls":
			if val.Kind == yaml.ScalarNode {
				m.CSV.Nulls = append(m.CSV.Nulls, val.Value)
			} else {
				err = val.Decode(&m.CSV.Nulls)
			}
		default:
			return m.errorf(k, "csv.%s: unknown key (delimiter, header, columns, comment, null, trim)", k.Value)
		}
		if err != nil {
			var te *yaml.TypeError
			if errors.As(err, &te) {
				return m.errorf(val, "csv.%s: %s", k.Value, strings.Join(te.Errors, "; "))
			}
			return err
		}
	}
	return nil
}

func (m *Mapping) oneByte(key string, v *yaml.Node) (byte, error) {
	if v.Kind != yaml.ScalarNode || len(v.Value) != 1 || v.Value[0] >= utf8.RuneSelf {
		return 0, m.errorf(v, "csv.%s must be one ASCII character, such as \",\" or \"\\t\"", key)
	}
	return v.Value[0], nil
}

// parseObject reads properties, context or traits: a map of (dotted) names
// to value specs.
func (m *Mapping) parseObject(name string, v *yaml.Node) (*node, error) {
	if v.Kind != yaml.MappingNode {
		return nil, m.errorf(v, "%s: want a map of names to columns or constants", name)
	}
	root := &node{key: name}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		path := strings.Split(k.Value, ".")
		for _, p := range path {
			if p == "" {
				return nil, m.errorf(k, "%s.%s: empty name in the dotted path", name, k.Value)
			}
		}
		full := name + "." + k.Value
		s, err := m.parseSpec(full, path[len(path)-1], val, false)
		if err != nil {
			return nil, err
		}
		if s.name == "context.actlog" || strings.HasPrefix(s.name, "context.actlog.") {
			return nil, m.errorf(k, "context.actlog is actlog's own: map to another name")
		}
		at := root
		for _, p := range path[:len(path)-1] {
			var next *node
			for _, kid := range at.kids {
				if kid.key == p {
					next = kid
				}
			}
			if next == nil {
				next = &node{key: p}
				at.kids = append(at.kids, next)
			} else if next.spec != nil {
				return nil, m.errorf(k, "%s: %s is already a value, it cannot also hold %s", full, next.spec.name, p)
			}
			at = next
		}
		for _, kid := range at.kids {
			if kid.key == s.key {
				return nil, m.errorf(k, "%s is mapped twice (or is also the object of a dotted name)", full)
			}
		}
		at.kids = append(at.kids, &node{key: s.key, spec: s})
	}
	return root, nil
}

// parseSpec reads one value: a scalar is a constant; a map has column (or
// value, or for messageId columns) and options.
func (m *Mapping) parseSpec(name, key string, v *yaml.Node, isID bool) (*valueSpec, error) {
	s := &valueSpec{name: name, key: key, line: v.Line, loc: time.UTC}
	switch v.Kind {
	case yaml.ScalarNode:
		c, err := constantJSON(v)
		if err != nil {
			return nil, m.errorf(v, "%s: %v", name, err)
		}
		s.constant = c
		return s, nil
	case yaml.MappingNode:
	default:
		return nil, m.errorf(v, "%s: want a constant or {column: NAME, ...}", name)
	}
	var tz string
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		str := func() (string, error) {
			if val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
				return "", m.errorf(val, "%s: %s must be text", name, k.Value)
			}
			return val.Value, nil
		}
		var err error
		switch k.Value {
		case "column":
			s.column, err = str()
			if err == nil && s.column == "" {
				err = m.errorf(val, "%s: column is empty", name)
			}
		case "columns":
			if !isID {
				return nil, m.errorf(k, "%s: columns is for messageId only (a key made of several columns)", name)
			}
			if err = val.Decode(&s.columns); err == nil && len(s.columns) == 0 {
				err = m.errorf(val, "messageId: columns is empty")
			}
		case "value":
			s.constant, err = constantJSON(val)
			if err != nil {
				err = m.errorf(val, "%s: %v", name, err)
			}
		case "type":
			var t string
			if t, err = str(); err == nil {
				kind, ok := kindNames[t]
				if !ok {
					err = m.errorf(val, "%s: type %q: want string, number, integer, bool, json or timestamp", name, t)
				}
				s.kind = kind
			}
		case "layout", "format":
			s.layout, err = str()
		case "timezone", "tz":
			tz, err = str()
		case "epoch":
			var u string
			if u, err = str(); err == nil {
				units := map[string]time.Duration{"s": time.Second, "ms": time.Millisecond, "us": time.Microsecond, "ns": time.Nanosecond}
				if s.epoch = units[u]; s.epoch == 0 {
					err = m.errorf(val, "%s: epoch %q: want s, ms, us or ns", name, u)
				}
			}
		case "default":
			var d string
			if d, err = str(); err == nil {
				s.def = &d
			}
		case "map":
			if val.Kind != yaml.MappingNode {
				err = m.errorf(val, "%s: map: want a map of values to what they become", name)
				break
			}
			s.valueMap = map[string]string{}
			for j := 0; j+1 < len(val.Content); j += 2 {
				s.valueMap[val.Content[j].Value] = val.Content[j+1].Value
			}
		default:
			return nil, m.errorf(k, "%s: unknown key %q: a value is a constant or {column: NAME, type, layout, timezone, epoch, default, map}; nest with dotted names (page.url)", name, k.Value)
		}
		if err != nil {
			var te *yaml.TypeError
			if errors.As(err, &te) {
				return nil, m.errorf(val, "%s.%s: %s", name, k.Value, strings.Join(te.Errors, "; "))
			}
			return nil, err
		}
	}
	sources := 0
	for _, set := range []bool{s.column != "", len(s.columns) > 0, s.constant != nil} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, m.errorf(v, "%s: give exactly one of column, value%s", name, map[bool]string{true: " or columns"}[isID])
	}
	if s.constant != nil && (s.kind != kString || s.layout != "" || tz != "" || s.epoch != 0 || s.def != nil || s.valueMap != nil) {
		return nil, m.errorf(v, "%s: a constant (value) takes no other option", name)
	}
	if tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return nil, m.errorf(v, "%s: time zone %q: %v", name, tz, err)
		}
		s.loc = loc
	}
	if (s.layout != "" || tz != "" || s.epoch != 0) && s.kind != kTimestamp && name != "timestamp" {
		return nil, m.errorf(v, "%s: layout, timezone and epoch are for timestamps: add type: timestamp", name)
	}
	if s.layout != "" && s.epoch != 0 {
		return nil, m.errorf(v, "%s: give layout or epoch, not both", name)
	}
	if s.layout != "" {
		// A layout must be able to parse what it formats.
		ref := time.Date(2021, 3, 4, 15, 6, 7, 0, time.UTC)
		if _, err := time.ParseInLocation(s.layout, ref.Format(s.layout), s.loc); err != nil || ref.Format(s.layout) == s.layout {
			return nil, m.errorf(v, "%s: layout %q is not a Go time layout (the reference time is 2006-01-02 15:04:05)", name, s.layout)
		}
	}
	return s, nil
}

// constantJSON is the JSON of a YAML constant, typed as YAML types it.
func constantJSON(v *yaml.Node) ([]byte, error) {
	var x any
	if err := v.Decode(&x); err != nil {
		return nil, err
	}
	x = plainYAML(x)
	if f, ok := x.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return nil, errors.New("NaN and infinities are not JSON")
	}
	b, err := json.Marshal(x)
	if err != nil {
		return nil, fmt.Errorf("constant cannot be JSON: %v", err)
	}
	return b, nil
}

// plainYAML turns maps with non-string keys (YAML allows them) into JSON
// objects.
func plainYAML(x any) any {
	switch t := x.(type) {
	case map[string]any:
		for k, v := range t {
			t[k] = plainYAML(v)
		}
	case map[any]any:
		o := make(map[string]any, len(t))
		for k, v := range t {
			o[fmt.Sprint(k)] = plainYAML(v)
		}
		return o
	case []any:
		for i := range t {
			t[i] = plainYAML(t[i])
		}
	}
	return x
}

// columnsUsed lists the columns the mapping reads.
func (m *Mapping) columnsUsed() []string {
	var out []string
	add := func(s *valueSpec) {
		if s == nil {
			return
		}
		if s.column != "" && !slices.Contains(out, s.column) {
			out = append(out, s.column)
		}
		for _, c := range s.columns {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	for _, s := range m.top {
		add(s)
	}
	add(m.messageID)
	var walk func(n *node)
	walk = func(n *node) {
		add(n.spec)
		for _, k := range n.kids {
			walk(k)
		}
	}
	for _, o := range m.objects {
		walk(o)
	}
	return out
}

// rowMapper is a Mapping bound to one file's columns.
type rowMapper struct {
	m      *Mapping
	header []string
	index  map[string]int
	idCols []int // messageId from these columns (nil: the whole row)
	idCol  int   // messageId from this column; -1: derived
	trim   bool
	nulls  []string
	sep    byte // the file's delimiter
}

func (r *rowMapper) delim() byte { return r.sep }

// bind checks that the columns the mapping reads are in header (the
// file's column names) and returns the mapper of its rows.
func (m *Mapping) bind(header []string) (*rowMapper, error) {
	r := &rowMapper{m: m, header: header, index: make(map[string]int, len(header)), idCol: -1, trim: m.CSV.Trim, nulls: m.CSV.Nulls}
	dup := map[string]bool{}
	for i, h := range header {
		if _, ok := r.index[h]; ok {
			dup[h] = true
		}
		r.index[h] = i
	}
	for _, c := range m.columnsUsed() {
		if _, ok := r.index[c]; !ok {
			hint := ""
			for _, h := range header {
				if strings.EqualFold(strings.TrimSpace(h), c) {
					hint = fmt.Sprintf(" (there is %q: names are matched exactly)", h)
				}
			}
			return nil, fmt.Errorf("the mapping reads column %q, which the file does not have%s; its columns are: %s", c, hint, strings.Join(header, ", "))
		}
		if dup[c] {
			return nil, fmt.Errorf("the mapping reads column %q, which the file has twice", c)
		}
	}
	if s := m.messageID; s != nil {
		if s.column != "" {
			r.idCol = r.index[s.column]
		}
		for _, c := range s.columns {
			r.idCols = append(r.idCols, r.index[c])
		}
	}
	return r, nil
}

// rowError is a value that cannot be read as its mapping says.
type rowError struct{ msg string }

func (e *rowError) Error() string { return e.msg }

// cell is the value of column col in fields, and false when it is missing
// (empty or one of the mapping's null values).
func (r *rowMapper) cell(fields [][]byte, col int) ([]byte, bool) {
	v := fields[col]
	if r.trim {
		v = bytes.Trim(v, " \t")
	}
	for _, n := range r.nulls {
		if string(v) == n {
			return nil, false
		}
	}
	return v, true
}

// message appends the Segment message of a row to dst. source keys the
// derived messageId. It answers the messageId.
func (r *rowMapper) message(dst []byte, fields [][]byte, source string) ([]byte, string, error) {
	if len(fields) != len(r.header) {
		return dst, "", &rowError{fmt.Sprintf("the row has %d fields, the header %d", len(fields), len(r.header))}
	}
	start := len(dst)
	var id string
	switch {
	case r.idCol >= 0:
		if v, ok := r.cell(fields, r.idCol); ok {
			if !utf8.Valid(v) {
				return dst, "", &rowError{fmt.Sprintf("column %q: messageId is not valid UTF-8 text", r.m.messageID.column)}
			}
			id = string(v)
		}
	case r.idCols != nil:
		h := sha256.New()
		h.Write([]byte(source))
		h.Write([]byte{0, 'k'})
		var n [binary.MaxVarintLen64]byte
		for _, c := range r.idCols {
			v, _ := r.cell(fields, c)
			h.Write(n[:binary.PutUvarint(n[:], uint64(len(r.header[c])))])
			h.Write([]byte(r.header[c]))
			h.Write(n[:binary.PutUvarint(n[:], uint64(len(v)))])
			h.Write(v)
		}
		id = derivedID(h.Sum(nil))
	}
	if id == "" {
		id = rowID(source, r.header, fields)
	}
	dst = append(dst, `{"messageId":`...)
	dst = appendJSONString(dst, []byte(id))
	if !r.m.hasType {
		dst = append(dst, `,"type":"track"`...)
	}
	var err error
	for _, s := range r.m.top {
		if dst, err = r.field(dst, s, fields, true); err != nil {
			return dst[:start], id, err
		}
	}
	for _, o := range r.m.objects {
		dst = append(dst, ',')
		if dst, err = r.object(dst, o, fields); err != nil {
			return dst[:start], id, err
		}
	}
	dst = append(dst, '}')
	return dst, id, nil
}

// object appends "key":{...} of n.
func (r *rowMapper) object(dst []byte, n *node, fields [][]byte) ([]byte, error) {
	dst = appendJSONString(dst, []byte(n.key))
	dst = append(dst, ":{"...)
	first := true
	var err error
	for _, k := range n.kids {
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		if k.spec == nil {
			dst, err = r.object(dst, k, fields)
		} else {
			n0 := len(dst)
			dst, err = r.field(dst, k.spec, fields, false)
			if err == nil && len(dst) == n0 { // missing: leave the key out
				dst = dst[:mark]
				continue
			}
		}
		if err != nil {
			return dst, err
		}
		first = false
	}
	return append(dst, '}'), nil
}

// field appends the value of s ("key":value, with a leading comma when
// comma is set), or nothing when its column is missing in the row.
func (r *rowMapper) field(dst []byte, s *valueSpec, fields [][]byte, comma bool) ([]byte, error) {
	if comma {
		dst = append(dst, ',')
	}
	mark := len(dst)
	dst = appendJSONString(dst, []byte(s.key))
	dst = append(dst, ':')
	if s.constant != nil {
		return append(dst, s.constant...), nil
	}
	v, ok := r.cell(fields, r.index[s.column])
	if !ok {
		if s.def == nil {
			if comma {
				mark--
			}
			return dst[:mark], nil
		}
		v = []byte(*s.def)
	}
	if s.valueMap != nil {
		if to, ok := s.valueMap[string(v)]; ok {
			v = []byte(to)
		}
	}
	out, err := r.convert(dst, s, v)
	if err != nil {
		if comma {
			mark--
		}
		return dst[:mark], err
	}
	return out, nil
}

// convert appends v as the JSON value its spec types it.
func (r *rowMapper) convert(dst []byte, s *valueSpec, v []byte) ([]byte, error) {
	bad := func(what string) error {
		shown := v
		if len(shown) > 64 {
			shown = shown[:64]
		}
		return &rowError{fmt.Sprintf("column %q: %q is not %s", s.column, shown, what)}
	}
	switch s.kind {
	case kString:
		if !utf8.Valid(v) {
			return dst, bad("valid UTF-8 text")
		}
		return appendJSONString(dst, v), nil
	case kNumber:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, bad("a number")
		}
		if fastjson.ValidateBytes(v) == nil {
			return append(dst, v...), nil
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64), nil
	case kInteger:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return dst, bad("an integer")
		}
		return strconv.AppendInt(dst, n, 10), nil
	case kBool:
		switch strings.ToLower(string(v)) {
		case "true", "t", "1", "yes", "y":
			return append(dst, "true"...), nil
		case "false", "f", "0", "no", "n":
			return append(dst, "false"...), nil
		}
		return dst, bad("true or false")
	case kJSON:
		if !utf8.Valid(v) || fastjson.ValidateBytes(v) != nil {
			return dst, bad("JSON")
		}
		return append(dst, v...), nil
	case kTimestamp:
		t, err := s.parseTime(v)
		if err != nil {
			return dst, &rowError{fmt.Sprintf("column %q: %v", s.column, err)}
		}
		dst = append(dst, '"')
		dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"'), nil
	}
	return dst, fmt.Errorf("unknown kind %d", s.kind)
}

// Layouts tried for a timestamp without a layout: RFC 3339, and the same
// without a zone (read in the spec's time zone, UTC by default).
var autoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

func (s *valueSpec) parseTime(v []byte) (time.Time, error) {
	text := string(v)
	shown := text
	if len(shown) > 64 {
		shown = shown[:64]
	}
	if s.epoch != 0 {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			if s.epoch > time.Nanosecond && (n > math.MaxInt64/int64(s.epoch) || n < math.MinInt64/int64(s.epoch)) {
				return time.Time{}, fmt.Errorf("%q is out of range", shown)
			}
			return time.Unix(0, n*int64(s.epoch)), nil
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f*float64(s.epoch)) > math.MaxInt64/2 {
			return time.Time{}, fmt.Errorf("%q is not a Unix time in %s", shown, map[time.Duration]string{time.Second: "seconds", time.Millisecond: "milliseconds", time.Microsecond: "microseconds", time.Nanosecond: "nanoseconds"}[s.epoch])
		}
		return time.Unix(0, int64(f*float64(s.epoch))), nil
	}
	if s.layout != "" {
		t, err := time.ParseInLocation(s.layout, text, s.loc)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q does not match the layout %q", shown, s.layout)
		}
		return t, nil
	}
	for _, l := range autoLayouts {
		if t, err := time.ParseInLocation(l, text, s.loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (give a layout or epoch)", shown)
}

// rowID derives the messageId of a row from the source, the column names
// and every field.
func rowID(source string, header []string, fields [][]byte) string {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0, 'c'})
	var n [binary.MaxVarintLen64]byte
	for i, f := range fields {
		var name string
		if i < len(header) {
			name = header[i]
		}
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(name)))])
		h.Write([]byte(name))
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write(f)
	}
	return derivedID(h.Sum(nil))
}

// jsonID derives the messageId of a JSON message from the source and its
// canonical JSON (as re-encoded by the parser: no insignificant space).
func jsonID(source string, canonical []byte) string {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0, 'j'})
	h.Write(canonical)
	return derivedID(h.Sum(nil))
}

// DerivedIDPrefix starts every messageId the importer derives.
const DerivedIDPrefix = "imp-"

func derivedID(sum []byte) string {
	return DerivedIDPrefix + hex.EncodeToString(sum[:16])
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
