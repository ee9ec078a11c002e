package importer

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Format is the record format of an input.
type Format string

// The formats. Gzip compression is not a format: it is recognised by its
// magic bytes whatever a file is called.
const (
	FormatAuto   Format = ""       // by the file name, else by the content
	FormatNDJSON Format = "ndjson" // JSON records: one or more per line, or concatenated (Firehose)
	FormatCSV    Format = "csv"    // CSV rows read through a Mapping
)

// ParseFormat reads a --format value: auto, ndjson (also jsonl, json,
// firehose) or csv (also tsv).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return FormatAuto, nil
	case "ndjson", "jsonl", "json", "firehose":
		return FormatNDJSON, nil
	case "csv", "tsv":
		return FormatCSV, nil
	}
	return "", fmt.Errorf("unknown format %q: want auto, ndjson or csv", s)
}

// input is one file (or stdin) to import.
type input struct {
	name   string // as shown in reports: the path as given or walked; "<stdin>"
	path   string // absolute path; "" for stdin
	stdin  bool
	size   int64
	mtime  time.Time
	format Format
	tsv    bool // a .tsv name: tab-separated unless the mapping says otherwise
}

// StdinName is how reports name standard input.
const StdinName = "<stdin>"

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// discover expands the arguments into inputs: files as given, directories
// walked in lexical order (hidden files and directories, and the paths in
// skip, left out; files of no recognisable format noted and left out), "-"
// for stdin.
func discover(args []string, forced Format, skip map[string]bool) (ins []*input, notes []string, err error) {
	seen := map[string]bool{}
	add := func(name, path string, info fs.FileInfo, walked bool) error {
		if seen[path] || skip[path] {
			return nil
		}
		seen[path] = true
		in := &input{name: name, path: path, size: info.Size(), mtime: info.ModTime()}
		head, err := readHead(path)
		if err != nil {
			return err
		}
		f, tsv, ok := detect(name, head, forced)
		if !ok {
			if walked {
				notes = append(notes, fmt.Sprintf("skipped %s: not NDJSON, CSV or gzip by its name or content", name))
				return nil
			}
			return fmt.Errorf("%s: cannot tell its format: name it .ndjson, .jsonl, .json or .csv (.gz when compressed), or pass --format", name)
		}
		in.format, in.tsv = f, tsv
		ins = append(ins, in)
		return nil
	}
	stdin := false
	for _, arg := range args {
		if arg == "-" {
			if stdin {
				return nil, nil, fmt.Errorf("stdin (-) given twice")
			}
			stdin = true
			f := forced
			if f == FormatAuto {
				f = FormatNDJSON
			}
			ins = append(ins, &input{name: StdinName, stdin: true, size: -1, format: f})
			continue
		}
		abs, err := filepath.Abs(arg)
		if err != nil {
			return nil, nil, err
		}
		info, err := os.Stat(abs)
		if err != nil {
			return nil, nil, err
		}
		if !info.IsDir() {
			if !info.Mode().IsRegular() {
				return nil, nil, fmt.Errorf("%s is not a regular file (pipe data in on stdin with -)", arg)
			}
			if err := add(arg, abs, info, false); err != nil {
				return nil, nil, err
			}
			continue
		}
		err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != abs && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			info, err := os.Stat(p) // follows symbolic links
			if err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			rel, _ := filepath.Rel(abs, p)
			return add(filepath.Join(arg, rel), p, info, true)
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return ins, notes, nil
}

func readHead(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	return head[:n], nil
}

// detect tells the format of a file from its name and first bytes.
// Extensionless files (Kinesis Firehose names its S3 objects so) and
// unknown extensions are NDJSON when gzip-compressed or when they start
// with { or [.
func detect(name string, head []byte, forced Format) (f Format, tsv, ok bool) {
	base := strings.ToLower(filepath.Base(name))
	gz := bytes.HasPrefix(head, gzipMagic)
	for _, suf := range []string{".gz", ".gzip"} {
		if s, found := strings.CutSuffix(base, suf); found {
			base = s
			break
		}
	}
	ext := filepath.Ext(base)
	tsv = ext == ".tsv"
	if forced != FormatAuto {
		return forced, tsv, true
	}
	switch ext {
	case ".ndjson", ".jsonl", ".json", ".ldjson", ".jsonlines":
		return FormatNDJSON, false, true
	case ".csv", ".tsv":
		return FormatCSV, tsv, true
	}
	if gz {
		return FormatNDJSON, false, true
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return FormatNDJSON, false, true
	}
	return "", false, false
}

var utf8BOM = []byte{0xef, 0xbb, 0xbf}
