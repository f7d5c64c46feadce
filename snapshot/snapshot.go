package snapshot

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/frappy-go/apibilling/core"
)

// Format and Version identify the format in the header.
const (
	Format  = "apibilling-snapshot"
	Version = 1
)

// ErrFormat is the error of a file that is not a complete snapshot of a
// version this package reads.
var ErrFormat = errors.New("apibilling/snapshot: not a valid snapshot")

// Counts sums a snapshot's records, as its trailer does.
type Counts struct {
	Records int64 `json:"records"`
	Windows int64 `json:"windows"`
	Usage   int64 `json:"usage"`
	Keys    int64 `json:"keys"`
	// Credits sums the usage aggregates, in micro-credits.
	Credits int64 `json:"-"`
}

// Header is a snapshot's first line.
type Header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	ID      string `json:"id"`
	Created string `json:"created"`
}

// Write exports s to w: a header, every record of the store, and the
// trailer. It returns the counts it wrote.
func Write(ctx context.Context, w io.Writer, s core.Store) (Counts, error) {
	var c Counts
	bw := bufio.NewWriterSize(w, 64<<10)
	var id [12]byte
	rand.Read(id[:])
	h := Header{Format: Format, Version: Version, ID: hex.EncodeToString(id[:]), Created: time.Now().UTC().Format(time.RFC3339)}
	if err := writeLine(bw, h); err != nil {
		return c, err
	}
	err := s.Export(ctx, func(rec *core.Record) error {
		line, err := encode(rec)
		if err != nil {
			return err
		}
		c.add(rec)
		return writeLine(bw, line)
	})
	if err != nil {
		return c, err
	}
	if err := writeLine(bw, trailer{Kind: "end", Counts: c, Credits: json.Number(credits(c.Credits))}); err != nil {
		return c, err
	}
	return c, bw.Flush()
}

func (c *Counts) add(rec *core.Record) {
	c.Records++
	switch rec.Kind {
	case core.RecordWindow:
		c.Windows++
	case core.RecordUsage:
		c.Usage++
		if c.Credits > core.MaxUsage-rec.Used {
			c.Credits = core.MaxUsage
		} else {
			c.Credits += rec.Used
		}
	case core.RecordKey:
		c.Keys++
	}
}

type trailer struct {
	Kind string `json:"kind"`
	Counts
	Credits json.Number `json:"credits"`
}

func writeLine(w *bufio.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Write(b)
	return w.WriteByte('\n')
}

// Options says how [Read] imports.
type Options struct {
	// Merge adds the snapshot to a store that holds state already (see
	// [core.ImportOptions]). Without it, a store that is not empty is
	// refused with [core.ErrNotEmpty], unless it holds an interrupted
	// import of the same snapshot, which is then resumed.
	Merge bool
	// Progress, when set, is called after every record read.
	Progress func(c Counts)
}

// Read imports the snapshot in r into s and returns the counts it read,
// which equal the trailer's. A file without a valid header or trailer, or
// whose trailer disagrees with the records, is refused with [ErrFormat]:
// the store may then hold part of it, and reading the complete file again
// resumes.
func Read(ctx context.Context, r io.Reader, s core.Store, opts *Options) (Counts, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	var c Counts
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	if !sc.Scan() {
		return c, fmt.Errorf("%w: empty file", ErrFormat)
	}
	var h Header
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Format != Format {
		return c, fmt.Errorf("%w: no header line", ErrFormat)
	}
	if h.Version != Version {
		return c, fmt.Errorf("%w: version %d, this package reads %d", ErrFormat, h.Version, Version)
	}
	line := 1
	var end *trailer
	var rec core.Record
	next := func() (*core.Record, error) {
		for {
			if end != nil {
				if sc.Scan() {
					return nil, fmt.Errorf("%w: line %d: data after the trailer", ErrFormat, line+1)
				}
				// Check the trailer before the import completes, so that a
				// damaged file leaves the import resumable.
				want := end.Counts
				want.Credits, _ = parseCredits(string(end.Credits))
				if want != c {
					return nil, fmt.Errorf("%w: the trailer counts %+v, the file holds %+v", ErrFormat, want, c)
				}
				return nil, io.EOF
			}
			if !sc.Scan() {
				if err := sc.Err(); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("%w: no trailer: the file is incomplete", ErrFormat)
			}
			line++
			var kind struct {
				Kind string `json:"kind"`
			}
			if err := json.Unmarshal(sc.Bytes(), &kind); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrFormat, line, err)
			}
			if kind.Kind == "end" {
				var t trailer
				if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
					return nil, fmt.Errorf("%w: line %d: %v", ErrFormat, line, err)
				}
				end = &t
				continue
			}
			var l recordLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrFormat, line, err)
			}
			if err := l.decode(&rec); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrFormat, line, err)
			}
			c.add(&rec)
			if o.Progress != nil {
				o.Progress(c)
			}
			return &rec, nil
		}
	}
	err := s.Import(ctx, next, core.ImportOptions{Merge: o.Merge, ID: h.ID})
	if err != nil {
		return c, err
	}
	if end == nil {
		return c, fmt.Errorf("%w: no trailer", ErrFormat)
	}
	return c, nil
}

// recordLine is one record as JSON.
type recordLine struct {
	Kind        string       `json:"kind"`
	Client      string       `json:"client,omitempty"`
	ClientB64   string       `json:"client_b64,omitempty"`
	Period      string       `json:"period,omitempty"`
	Start       string       `json:"start,omitempty"`
	End         string       `json:"end,omitempty"`
	Used        json.Number  `json:"used,omitempty"`
	Fired       uint8        `json:"fired,omitempty"`
	Label       *string      `json:"label,omitempty"`
	LabelB64    string       `json:"label_b64,omitempty"`
	Credits     json.Number  `json:"credits,omitempty"`
	Key         string       `json:"key,omitempty"`
	Cost        json.Number  `json:"cost,omitempty"`
	At          string       `json:"at,omitempty"`
	Expires     string       `json:"expires,omitempty"`
	BucketStart string       `json:"bucket_start,omitempty"`
	BucketEnd   string       `json:"bucket_end,omitempty"`
	Windows     []windowJSON `json:"windows,omitempty"`
}

type windowJSON struct {
	Period string      `json:"period"`
	Start  string      `json:"start"`
	End    string      `json:"end"`
	Limit  json.Number `json:"limit"`
	Used   json.Number `json:"used"`
}

func encode(rec *core.Record) (*recordLine, error) {
	l := &recordLine{}
	setBytes(&l.Client, &l.ClientB64, rec.Client)
	switch rec.Kind {
	case core.RecordWindow:
		if !rec.Period.Valid() {
			return nil, fmt.Errorf("apibilling/snapshot: window of client %q has period %d", rec.Client, rec.Period)
		}
		l.Kind, l.Period, l.Start, l.End = "window", rec.Period.String(), ts(rec.Start), ts(rec.End)
		l.Used, l.Fired = json.Number(credits(rec.Used)), rec.Fired
	case core.RecordUsage:
		l.Kind, l.Start, l.End, l.Credits = "usage", ts(rec.Start), ts(rec.End), json.Number(credits(rec.Used))
		lab := ""
		setBytes(&lab, &l.LabelB64, rec.Label)
		if l.LabelB64 == "" {
			l.Label = &lab
		}
	case core.RecordKey:
		k := &rec.Key
		l.Kind, l.Key, l.Cost = "key", k.Key, json.Number(credits(k.Cost))
		lab := ""
		setBytes(&lab, &l.LabelB64, k.Label)
		if l.LabelB64 == "" {
			l.Label = &lab
		}
		l.At, l.Expires, l.BucketStart, l.BucketEnd = ts(k.At), ts(k.Expires), ts(k.Bucket.Start), ts(k.Bucket.End)
		for i := range k.N {
			w := &k.List[i]
			l.Windows = append(l.Windows, windowJSON{Period: w.Period.String(), Start: ts(w.Start), End: ts(w.End),
				Limit: json.Number(limit(w.Limit)), Used: json.Number(credits(k.Used[i]))})
		}
		if k.N == 0 {
			l.Windows = []windowJSON{}
		}
	default:
		return nil, fmt.Errorf("apibilling/snapshot: record of unknown kind %d", rec.Kind)
	}
	return l, nil
}

func (l *recordLine) decode(rec *core.Record) error {
	*rec = core.Record{}
	var err error
	if rec.Client, err = getBytes(l.Client, l.ClientB64); err != nil {
		return err
	}
	if err := core.ValidateClientID(rec.Client); err != nil {
		return err
	}
	label := func() (string, error) {
		if l.LabelB64 != "" {
			return getBytes("", l.LabelB64)
		}
		if l.Label == nil {
			return "", errors.New("no label")
		}
		return *l.Label, nil
	}
	switch l.Kind {
	case "window":
		rec.Kind = core.RecordWindow
		if rec.Period, err = core.ParsePeriod(l.Period); err != nil {
			return err
		}
		if rec.Start, rec.End, err = span(l.Start, l.End); err != nil {
			return err
		}
		if rec.Used, err = parseCredits(string(l.Used)); err != nil {
			return err
		}
		rec.Fired = l.Fired
	case "usage":
		rec.Kind = core.RecordUsage
		if rec.Start, rec.End, err = span(l.Start, l.End); err != nil {
			return err
		}
		if rec.Used, err = parseCredits(string(l.Credits)); err != nil {
			return err
		}
		if rec.Label, err = label(); err != nil {
			return err
		}
	case "key":
		rec.Kind = core.RecordKey
		k := &rec.Key
		k.Client, k.Key = rec.Client, l.Key
		if !core.ValidKey(k.Key) {
			return errors.New("invalid idempotency key")
		}
		if k.Label, err = label(); err != nil {
			return err
		}
		if k.Cost, err = parseCredits(string(l.Cost)); err != nil {
			return err
		}
		if k.At, err = parseTime(l.At); err != nil {
			return err
		}
		if k.Expires, err = parseTime(l.Expires); err != nil {
			return err
		}
		if k.Bucket.Start, k.Bucket.End, err = span(l.BucketStart, l.BucketEnd); err != nil {
			return err
		}
		if len(l.Windows) > core.MaxQuotas {
			return fmt.Errorf("%d windows", len(l.Windows))
		}
		k.N = len(l.Windows)
		for i, w := range l.Windows {
			p, err := core.ParsePeriod(w.Period)
			if err != nil {
				return err
			}
			s, e, err := span(w.Start, w.End)
			if err != nil {
				return err
			}
			lim, err := parseLimit(string(w.Limit))
			if err != nil {
				return err
			}
			used, err := parseCredits(string(w.Used))
			if err != nil {
				return err
			}
			k.List[i] = core.Window{Period: p, Start: s, End: e, Limit: lim}
			k.Used[i] = used
		}
	default:
		return fmt.Errorf("unknown kind %q", l.Kind)
	}
	return nil
}

// setBytes stores s in plain if it is valid UTF-8, else base64 in b64.
func setBytes(plain, b64 *string, s string) {
	if utf8.ValidString(s) {
		*plain = s
	} else {
		*b64 = base64.StdEncoding.EncodeToString([]byte(s))
	}
}

func getBytes(plain, b64 string) (string, error) {
	if b64 == "" {
		return plain, nil
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	return string(b), err
}

func ts(n int64) string { return time.Unix(0, n).UTC().Format(time.RFC3339Nano) }

func parseTime(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	if t.Year() < 1678 || t.Year() > 2261 {
		return 0, fmt.Errorf("time %s out of range", s)
	}
	return t.UnixNano(), nil
}

func span(s, e string) (int64, int64, error) {
	a, err := parseTime(s)
	if err != nil {
		return 0, 0, err
	}
	b, err := parseTime(e)
	if err != nil {
		return 0, 0, err
	}
	if b <= a {
		return 0, 0, fmt.Errorf("span %s to %s is empty", s, e)
	}
	return a, b, nil
}

// credits formats micro-credits as an exact decimal number of credits.
func credits(n int64) string {
	c, err := core.Micro(n)
	if err != nil {
		return strconv.FormatInt(n, 10) + "e-6"
	}
	b, _ := c.AppendText(nil)
	return string(b)
}

func limit(n int64) string {
	if n < 0 {
		return "-1"
	}
	return credits(n)
}

// parseCredits parses an exact, non-negative decimal number of credits up
// to core.MaxUsage micro-credits.
func parseCredits(s string) (int64, error) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || dot && (frac == "" || len(frac) > 6) {
		return 0, fmt.Errorf("amount %q is not a decimal number of credits with at most 6 decimals", s)
	}
	w, err := strconv.ParseUint(whole, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %v", s, err)
	}
	var f uint64
	if dot {
		frac += strings.Repeat("0", 6-len(frac))
		if f, err = strconv.ParseUint(frac, 10, 32); err != nil {
			return 0, fmt.Errorf("amount %q: %v", s, err)
		}
	}
	if w > (uint64(core.MaxUsage)-f)/1_000_000 {
		return 0, fmt.Errorf("amount %q is above the largest usage", s)
	}
	return int64(w*1_000_000 + f), nil
}

func parseLimit(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	return parseCredits(s)
}
