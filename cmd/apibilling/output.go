package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
)

// credits formats micro-credits as an exact decimal number of credits
// ("12.5"), for any int64 (totals may pass core.MaxCredits).
func credits(micro int64) string {
	neg := micro < 0
	u := uint64(micro)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u/1_000_000, 10)
	if f := u % 1_000_000; f != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%06d", f), "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// creditsJSON is micro-credits written as a JSON number of credits.
type creditsJSON int64

func (c creditsJSON) MarshalJSON() ([]byte, error) { return []byte(credits(int64(c))), nil }

func (c *creditsJSON) UnmarshalJSON(b []byte) error {
	whole, frac, _ := strings.Cut(string(b), ".")
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || len(frac) > 6 {
		return fmt.Errorf("credits %s: want a decimal number with at most 6 decimals", b)
	}
	f := int64(0)
	if frac != "" {
		if f, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64); err != nil || f < 0 {
			return fmt.Errorf("credits %s: want a decimal number with at most 6 decimals", b)
		}
	}
	if w < 0 || w > (1<<63-1-f)/1_000_000 {
		return fmt.Errorf("credits %s: out of range", b)
	}
	*c = creditsJSON(w*1_000_000 + f)
	return nil
}

// count formats n with thousands separators, for people.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + count(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// bytesHuman formats a size for people.
func bytesHuman(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// writeJSON writes v as JSON: indented for a terminal, else on one line
// (a migration's report of a million clients stays a fraction of the size).
func writeJSON(w io.Writer, tty bool, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if tty {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

// newTable returns a tabwriter for a table for people.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// cell makes a client ID or label safe to print in a table: control
// characters and invalid UTF-8 are quoted.
func cell(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\t' || r == 0xfffd || r == ' ' {
			return strconv.Quote(s)
		}
	}
	return s
}

// atomicFile is a file written under a temporary name and renamed into
// place once complete, so that a failure never leaves a partial file
// under the final name.
type atomicFile struct {
	*os.File
	path string
}

func createAtomic(path string) (*atomicFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("cannot write %s: %w", path, errors.Unwrap(err))
	}
	return &atomicFile{File: f, path: path}, nil
}

// commit syncs the file and renames it into place.
func (f *atomicFile) commit() error {
	if err := f.finish(); err != nil {
		return err
	}
	return f.rename()
}

// finish syncs and closes the file, which stays under its temporary name
// (f.Name()); on failure it is removed.
func (f *atomicFile) finish() error {
	if err := f.Sync(); err != nil {
		f.abort()
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// rename renames a finished file into place.
func (f *atomicFile) rename() error {
	if err := os.Rename(f.Name(), f.path); err != nil {
		os.Remove(f.Name())
		return err
	}
	if d, err := os.Open(filepath.Dir(f.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// abort removes the temporary file.
func (f *atomicFile) abort() {
	f.Close()
	os.Remove(f.Name())
}
