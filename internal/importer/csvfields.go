package importer

import (
	"errors"
	"fmt"
)

// csvFields splits one CSV record (as found by csvSplitter, without its
// line ending) into fields. Quoted fields lose their quotes and have ""
// turned into "; their text is copied into scratch, which is returned for
// reuse. The fields point into rec or scratch and are valid until the next
// call with the same scratch.
func csvFields(rec []byte, delim byte, fields [][]byte, scratch []byte) ([][]byte, []byte, error) {
	fields, scratch = fields[:0], scratch[:0]
	if n := len(rec); n > 0 && rec[n-1] == '\r' {
		rec = rec[:n-1]
	}
	// Quoted fields are unescaped into scratch; grow it once so that the
	// slices taken of it stay valid.
	if cap(scratch) < len(rec) {
		scratch = make([]byte, 0, len(rec))
	}
	i := 0
	for {
		if i < len(rec) && rec[i] == '"' {
			// Quoted field.
			start := len(scratch)
			i++
			for {
				if i >= len(rec) {
					return fields, scratch, errors.New("unterminated quoted field")
				}
				c := rec[i]
				i++
				if c != '"' {
					scratch = append(scratch, c)
					continue
				}
				if i < len(rec) && rec[i] == '"' {
					scratch = append(scratch, '"')
					i++
					continue
				}
				break
			}
			fields = append(fields, scratch[start:len(scratch):len(scratch)])
			if i == len(rec) {
				return fields, scratch, nil
			}
			if rec[i] != delim {
				return fields, scratch, fmt.Errorf("field %d: text after the closing quote", len(fields))
			}
			i++
			continue
		}
		j := i
		for j < len(rec) && rec[j] != delim {
			j++
		}
		fields = append(fields, rec[i:j:j])
		if j == len(rec) {
			return fields, scratch, nil
		}
		i = j + 1
	}
}
