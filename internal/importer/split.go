package importer

import "bytes"

// Record splitters: state machines fed with arbitrary pieces of an input
// (as read, never needing to see it whole) that find where each record
// begins and ends, counting lines and bytes so that a checkpoint can say
// where to start again. Feeding the same input in pieces of any size gives
// the same records (FuzzSplitJSON checks it).

// rec is one record found by a splitter.
type rec struct {
	data []byte // the record's bytes; valid only during the emit call
	line int64  // the line it starts on (1-based)
	bad  string // non-empty: the splitter already knows the record is malformed
}

// pos is a place in an input: the byte offset in the (decompressed)
// stream, the line of the byte there, and the records before it.
type pos struct {
	off, line, records int64
}

type emitFunc func(r rec, end pos) error

// splitter finds records in a stream.
type splitter interface {
	// feed scans p, calling emit for each record completed in it.
	feed(p []byte, emit emitFunc) error
	// finish emits a record left open at the end of the input.
	finish(emit emitFunc) error
	// at is the position after the last byte fed.
	at() pos
}

// Reasons a splitter gives.
const (
	reasonNotJSON       = "not a JSON object"
	reasonJSONCut       = "the line ends inside a JSON value (a truncated record?)"
	reasonJSONEOF       = "the input ends inside a JSON value (a truncated record?)"
	reasonCSVUnclosed   = "unterminated quoted field: the input ends inside quotes"
	reasonCSVRunaway    = "quoted field not closed within the record size limit"
	reasonRecordTooLong = "record larger than the record size limit"
)

// JSON splitter states.
const (
	jBetween = iota // before a record: whitespace, commas, newlines
	jValue          // inside an object or array, outside strings
	jString         // inside a string
	jEscape         // after a backslash in a string
	jJunk           // a record that does not start with { or [: up to the end of the line
)

// jsonSplitter finds JSON records: objects or arrays, one or more per line
// (NDJSON, or JSON Lines; Kinesis Firehose concatenates records with no
// separator at all: `{...}{...}`), optionally separated by commas. A record
// never spans lines: a newline inside one means it was cut short (JSON
// encoders escape newlines in strings), and the next line starts afresh, so
// one truncated line costs one record, not the rest of the file. Anything
// else on a line is one malformed record up to the end of the line.
type jsonSplitter struct {
	max   int // record size limit in bytes
	pos   pos // after the last byte fed
	state uint8
	depth int
	start int64  // line the open record started on
	buf   []byte // the open record's bytes from earlier pieces (at most max)
	size  int    // the open record's length so far
}

func newJSONSplitter(max int, at pos) *jsonSplitter {
	return &jsonSplitter{max: max, pos: at}
}

func (s *jsonSplitter) at() pos { return s.pos }

func (s *jsonSplitter) feed(p []byte, emit emitFunc) error {
	begin := 0 // where the open record starts in p (0 when it began in an earlier piece)
	base := s.pos.off
	// done emits the open record, ending before p[end], with reason bad.
	done := func(end int, bad string) error {
		data := p[begin:end]
		size := s.size + end - begin
		if len(s.buf) > 0 {
			s.buf = appendMax(s.buf, data, s.max)
			data = s.buf
		}
		if bad == reasonNotJSON && size <= s.max {
			data = trimCR(data) // the CR of a CRLF line ending
		}
		if size > s.max {
			if len(data) > s.max {
				data = data[:s.max]
			}
			if bad == "" || bad == reasonNotJSON {
				bad = reasonRecordTooLong
			}
		}
		s.pos.off = base + int64(end)
		s.pos.records++
		err := emit(rec{data: data, line: s.start, bad: bad}, s.pos)
		s.buf, s.size, s.state, s.depth = s.buf[:0], 0, jBetween, 0
		return err
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch s.state {
		case jBetween:
			switch c {
			case '\n':
				s.pos.line++
			case ' ', '\t', '\r', ',':
			case '{', '[':
				s.state, s.depth, s.start, begin = jValue, 1, s.pos.line, i
			default:
				s.state, s.start, begin = jJunk, s.pos.line, i
			}
		case jValue:
			switch c {
			case '"':
				s.state = jString
			case '{', '[':
				s.depth++
			case '}', ']':
				if s.depth--; s.depth == 0 {
					if err := done(i+1, ""); err != nil {
						return err
					}
				}
			case '\n':
				if err := done(i, reasonJSONCut); err != nil {
					return err
				}
				s.pos.line++
			}
		case jString:
			if c != '"' && c != '\\' && c != '\n' {
				// Most of a record is text: skip to its next special byte.
				j := bytes.IndexAny(p[i:], "\"\\\n")
				if j < 0 {
					i = len(p)
					continue
				}
				i += j
				c = p[i]
			}
			switch c {
			case '"':
				s.state = jValue
			case '\\':
				s.state = jEscape
			case '\n':
				if err := done(i, reasonJSONCut); err != nil {
					return err
				}
				s.pos.line++
			}
		case jEscape:
			if c == '\n' {
				if err := done(i, reasonJSONCut); err != nil {
					return err
				}
				s.pos.line++
				continue
			}
			s.state = jString
		case jJunk:
			if c == '\n' {
				if err := done(i, reasonNotJSON); err != nil {
					return err
				}
				s.pos.line++
			}
		}
	}
	if s.state != jBetween {
		s.size += len(p) - begin
		s.buf = appendMax(s.buf, p[begin:], s.max)
	}
	s.pos.off = base + int64(len(p))
	return nil
}

func (s *jsonSplitter) finish(emit emitFunc) error {
	if s.state == jBetween {
		return nil
	}
	bad := reasonJSONEOF
	if s.state == jJunk {
		bad = reasonNotJSON
	}
	if s.size > s.max {
		bad = reasonRecordTooLong
	}
	s.pos.records++
	err := emit(rec{data: s.buf, line: s.start, bad: bad}, s.pos)
	s.buf, s.size, s.state = s.buf[:0], 0, jBetween
	return err
}

// trimCR drops the carriage return of a CRLF line ending.
func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// appendMax appends q to b without letting b grow past max bytes.
func appendMax(b, q []byte, max int) []byte {
	if room := max - len(b); room < len(q) {
		if room <= 0 {
			return b
		}
		q = q[:room]
	}
	return append(b, q...)
}

// CSV splitter states.
const (
	cStart   = iota // at the start of a record
	cField          // at the start of a field (after a delimiter)
	cBare           // in an unquoted field
	cQuoted         // in a quoted field
	cQuote          // after a quote in a quoted field: closing, or the first of ""
	cComment        // in a comment line
)

// csvSplitter finds CSV records (RFC 4180): a record ends at a newline
// outside quotes, so quoted fields may hold newlines. A quote opens a
// quoted field only at the start of a field; elsewhere it is text (as with
// encoding/csv's LazyQuotes). Blank lines and, when comment is set, lines
// starting with it are skipped. A quoted field still open past the record
// size limit is one malformed record, and splitting starts again at the
// next line.
type csvSplitter struct {
	max     int
	delim   byte
	comment byte // 0: none
	pos     pos
	state   uint8
	start   int64
	buf     []byte
	size    int
}

func newCSVSplitter(max int, delim, comment byte, at pos) *csvSplitter {
	return &csvSplitter{max: max, delim: delim, comment: comment, pos: at}
}

func (s *csvSplitter) at() pos { return s.pos }

func (s *csvSplitter) feed(p []byte, emit emitFunc) error {
	begin := 0
	base := s.pos.off
	// done emits the open record, whose text ends before p[end] and which
	// is followed by the position next (the byte after its newline).
	done := func(end, next int, bad string) error {
		data := p[begin:end]
		size := s.size + end - begin
		if len(s.buf) > 0 {
			s.buf = appendMax(s.buf, data, s.max)
			data = s.buf
		}
		if bad == "" && size <= s.max {
			data = trimCR(data)
		}
		if len(data) > s.max {
			data = data[:s.max]
		}
		if size > s.max && bad == "" {
			bad = reasonRecordTooLong
		}
		s.pos.off = base + int64(next)
		s.pos.records++
		err := emit(rec{data: data, line: s.start, bad: bad}, s.pos)
		s.buf, s.size = s.buf[:0], 0
		return err
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if s.state == cStart {
			switch {
			case c == '\n':
				s.pos.line++
				continue
			case c == '\r':
				continue // blank CRLF line (a lone \r before text is dropped too)
			case s.comment != 0 && c == s.comment:
				s.state = cComment
				continue
			}
			s.state, s.start, begin = cField, s.pos.line, i
		}
		switch s.state {
		case cField:
			switch c {
			case '"':
				s.state = cQuoted
			case '\n':
				s.pos.line++
				if err := done(i, i+1, ""); err != nil {
					return err
				}
				s.state = cStart
			case s.delim:
			default:
				s.state = cBare
			}
		case cBare, cQuote:
			switch c {
			case s.delim:
				s.state = cField
			case '"':
				if s.state == cQuote {
					s.state = cQuoted
				}
			case '\n':
				s.pos.line++
				if err := done(i, i+1, ""); err != nil {
					return err
				}
				s.state = cStart
			default:
				s.state = cBare
			}
		case cQuoted:
			switch c {
			case '"':
				s.state = cQuote
			case '\n':
				s.pos.line++
				if s.size+i-begin > s.max {
					// A quote that never closes: give up on this record here.
					if err := done(i, i+1, reasonCSVRunaway); err != nil {
						return err
					}
					s.state = cStart
				}
			}
		case cComment:
			if c == '\n' {
				s.pos.line++
				s.state = cStart
			}
		}
	}
	switch s.state {
	case cStart, cComment:
	default:
		s.size += len(p) - begin
		s.buf = appendMax(s.buf, p[begin:], s.max)
	}
	s.pos.off = base + int64(len(p))
	return nil
}

func (s *csvSplitter) finish(emit emitFunc) error {
	switch s.state {
	case cStart, cComment:
		return nil
	}
	bad := ""
	if s.state == cQuoted {
		bad = reasonCSVUnclosed
	} else if s.size > s.max {
		bad = reasonRecordTooLong
	}
	data := s.buf
	if bad == "" && s.size <= s.max {
		data = trimCR(data)
	}
	s.pos.records++
	err := emit(rec{data: data, line: s.start, bad: bad}, s.pos)
	s.buf, s.size, s.state = s.buf[:0], 0, cStart
	return err
}
