package ingest

import (
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// fastjson parses leniently: it accepts NaN and Infinity, malformed numbers
// such as "1.2.3" or "+1", raw control characters and invalid UTF-8 inside
// strings, and it re-encodes strings with strconv.Quote, whose \x and \U
// escapes are not JSON. A stored row must always be strict JSON, so actlog
// re-encodes parsed values itself with jsonWriter.

// jsonFault is why a value could not be encoded as strict JSON.
type jsonFault int

const (
	faultNone   jsonFault = iota
	faultUTF8             // a string or key is not valid UTF-8
	faultNaN              // a number is NaN or Infinity
	faultNumber           // a number is not in JSON's number syntax
	faultSize             // the output passed the writer's limit
)

// jsonWriter encodes parsed values as strict JSON (RFC 8259). In strict mode
// it stops at the first value that has no JSON form and records the fault;
// otherwise it sanitises (invalid UTF-8 becomes U+FFFD, a malformed number
// becomes a string), which is what the rejected table's raw column needs.
// Either way it stops soon after the output passes limit bytes, so that a
// large message costs no more than the limit plus its longest string.
type jsonWriter struct {
	buf    []byte
	strict bool
	limit  int
	fault  jsonFault
}

func (w *jsonWriter) reset(strict bool, limit int) {
	w.buf = w.buf[:0]
	w.strict = strict
	w.limit = limit
	w.fault = faultNone
}

func (w *jsonWriter) failed() bool { return w.fault != faultNone }

// full reports, and records, that the output passed the limit.
func (w *jsonWriter) full() bool {
	if len(w.buf) > w.limit {
		w.fault = faultSize
		return true
	}
	return false
}

func (w *jsonWriter) value(v *fastjson.Value) {
	if w.failed() || w.full() {
		return
	}
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		w.buf = append(w.buf, '{')
		w.members(o, nil, false)
		w.buf = append(w.buf, '}')
	case fastjson.TypeArray:
		a, _ := v.Array()
		w.buf = append(w.buf, '[')
		for i, c := range a {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.value(c)
			if w.failed() {
				return
			}
		}
		w.buf = append(w.buf, ']')
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		w.string(b)
	case fastjson.TypeNumber:
		w.number(v)
	case fastjson.TypeTrue:
		w.buf = append(w.buf, "true"...)
	case fastjson.TypeFalse:
		w.buf = append(w.buf, "false"...)
	default:
		w.buf = append(w.buf, "null"...)
	}
}

// members writes the members of o without the braces, leaving out the keys
// for which skip reports true. comma says whether a member was written
// before; members reports whether one has been written since.
func (w *jsonWriter) members(o *fastjson.Object, skip func(k []byte) bool, comma bool) bool {
	o.Visit(func(k []byte, v *fastjson.Value) {
		if w.failed() || (skip != nil && skip(k)) {
			return
		}
		if comma {
			w.buf = append(w.buf, ',')
		}
		comma = true
		w.string(k)
		w.buf = append(w.buf, ':')
		w.value(v)
	})
	return comma
}

func (w *jsonWriter) number(v *fastjson.Value) {
	start := len(w.buf)
	w.buf = v.MarshalTo(w.buf) // a number marshals as its raw text
	if validNumber(w.buf[start:]) {
		return
	}
	if w.strict {
		w.fault = faultNumber
		for _, c := range w.buf[start:] {
			switch c {
			case 'n', 'N', 'i', 'I':
				w.fault = faultNaN
			}
		}
		return
	}
	raw := string(w.buf[start:])
	w.buf = w.buf[:start]
	w.string([]byte(raw))
}

// validNumber reports whether s is a number in JSON's grammar.
func validNumber(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

const hexDigits = "0123456789abcdef"

func (w *jsonWriter) string(s []byte) {
	w.buf = append(w.buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			w.buf = append(w.buf, s[start:i]...)
			if w.full() {
				return
			}
			switch c {
			case '"', '\\':
				w.buf = append(w.buf, '\\', c)
			case '\n':
				w.buf = append(w.buf, '\\', 'n')
			case '\r':
				w.buf = append(w.buf, '\\', 'r')
			case '\t':
				w.buf = append(w.buf, '\\', 't')
			default:
				w.buf = append(w.buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			if w.strict {
				w.fault = faultUTF8
				return
			}
			w.buf = append(w.buf, s[start:i]...)
			w.buf = append(w.buf, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but not valid JavaScript: escape for readers that
			// embed the JSON in a script.
			w.buf = append(w.buf, s[start:i]...)
			w.buf = append(w.buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	w.buf = append(w.buf, s[start:]...)
	w.buf = append(w.buf, '"')
}
