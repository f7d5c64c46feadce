package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/snapshot"
)

var cmdExport = &command{
	name:  "export",
	args:  "-store URL -o FILE [-format text|json] [-progress MODE]",
	short: "write a store's whole state to a snapshot file",
	long: `Export writes the whole state of a store (live window counters, hourly
usage aggregates, unexpired idempotency keys) to a snapshot file: JSON Lines
in a documented, versioned, store-neutral format, ending with a trailer that
counts the records (see the package github.com/frappy-go/apibilling/snapshot).
The file is written under a temporary name and renamed into place when
complete. Import it into any store with apibilling import.

	-store URL     the store (see below)
	-prefix P      the key or table prefix of the app's store, if it sets one
	               (Redis, PostgreSQL, MySQL)
	-o FILE        the snapshot file to write, or - for stdout
	-format F      text (default) or json: the counts written
	-progress M    auto (default): a progress bar on stderr when it is a
	               terminal, else a plain line every 5 seconds; bar, log, none

The snapshot is consistent where the store can read one (a read transaction
for bbolt, PostgreSQL and MySQL; a client at a time for Redis).

Example:

	apibilling export -store apibilling.db -o usage.snapshot

` + storeURLHelp,
	run: runExport,
}

var cmdImport = &command{
	name:  "import",
	args:  "-store URL -i FILE [-merge] [-format text|json] [-progress MODE]",
	short: "read a snapshot file into a store",
	long: `Import reads a snapshot file written by apibilling export into a store.

	-store URL     the store (see below); a bbolt file is created if missing
	-prefix P      the key or table prefix of the app's store, if it sets one
	               (Redis, PostgreSQL, MySQL)
	-i FILE        the snapshot file, or - for stdin
	-merge         add the snapshot to a store that holds state already
	-format F      text (default) or json: the counts read
	-progress M    auto (default): a progress bar on stderr when it is a
	               terminal, else a plain line every 5 seconds; bar, log, none

Into an empty store, records are written as they are. A store that holds
state is refused unless -merge is given; merging adds usage aggregates and
the usage of windows with the same start, keeps the later of two windows of
one period, and keeps existing idempotency keys.

A file that is not a complete snapshot (no trailer, or a trailer that
disagrees with the records) is refused at its end; the store then holds the
records before it.

Interrupted (Ctrl-C, a failure, a damaged file), an import into an empty
store is finished by running the same command again: it resumes, writing
every record as it is. An interrupted merge cannot be finished exactly
(credits merged twice would add up twice): the next run refuses; restore the
store from a backup taken before the merge and merge again.

Example:

	apibilling import -store redis://127.0.0.1:6379/0 -i usage.snapshot

` + storeURLHelp,
	run: runImport,
}

// countsJSON is the JSON of an export's or import's counts.
type countsJSON struct {
	Store   string      `json:"store"`
	File    string      `json:"file"`
	Mode    string      `json:"mode,omitempty"`
	Records int64       `json:"records"`
	Windows int64       `json:"windows"`
	Usage   int64       `json:"usage"`
	Keys    int64       `json:"keys"`
	Credits creditsJSON `json:"credits"`
	Seconds float64     `json:"seconds"`
}

func newCountsJSON(store, file, mode string, c snapshot.Counts, took time.Duration) countsJSON {
	return countsJSON{Store: store, File: file, Mode: mode, Records: c.Records, Windows: c.Windows, Usage: c.Usage,
		Keys: c.Keys, Credits: creditsJSON(c.Credits), Seconds: took.Seconds()}
}

// countingStore counts the records a store exports.
type countingStore struct {
	core.Store
	p *progress
}

func (s countingStore) Export(ctx context.Context, fn func(*core.Record) error) error {
	return s.Store.Export(ctx, func(rec *core.Record) error {
		s.p.add(1)
		return fn(rec)
	})
}

func runExport(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	a := storeFlags(fs, "store", "prefix")
	out := fs.String("o", "", "")
	format := fs.String("format", "text", "")
	prog := fs.String("progress", "auto", "")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if err := oneOf("format", *format, "text", "json"); err != nil {
		return err
	}
	mode, err := parseProgress(*prog, e.stderrTTY)
	if err != nil {
		return err
	}
	if *out == "" {
		return usagef("-o is required: the snapshot file to write, or - for stdout")
	}
	s, err := openStore(ctx, e, *a, mustExist) // -store is required
	if err != nil {
		return err
	}
	defer s.Close()
	var w io.Writer = e.stdout
	var f *atomicFile
	report := e.stdout
	if *out != "-" {
		if f, err = createAtomic(*out); err != nil {
			return err
		}
		w = f
	} else {
		report = e.stderr
	}
	start := time.Now()
	p := startProgress(e.stderr, mode, "apibilling export", "exporting", "records", 0)
	c, err := snapshot.Write(ctx, w, countingStore{s, p})
	p.finish(err == nil)
	if err == nil && f != nil {
		err = f.commit()
	} else if f != nil {
		f.abort()
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted after %s records; no file was written", count(c.Records))
		}
		return fmt.Errorf("exporting %s: %w", redactURL(a.url), err)
	}
	if *format == "json" {
		return writeJSON(report, report == e.stdout && e.stdoutTTY || report == e.stderr && e.stderrTTY, newCountsJSON(redactURL(a.url), *out, "", c, time.Since(start)))
	}
	fmt.Fprintf(report, "exported %s records of %s to %s in %s: %s windows, %s usage aggregates (%s credits), %s idempotency keys\n",
		count(c.Records), redactURL(a.url), *out, time.Since(start).Round(time.Millisecond), count(c.Windows), count(c.Usage), credits(c.Credits), count(c.Keys))
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	p *progress
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.add(int64(n))
	return n, err
}

// readHeader reads a snapshot's header line from r.
func readHeader(r *bufio.Reader) (snapshot.Header, []byte, error) {
	var h snapshot.Header
	line, err := r.ReadBytes('\n')
	if err != nil && (err != io.EOF || len(line) == 0) {
		if err == io.EOF {
			return h, nil, fmt.Errorf("%w: empty file", snapshot.ErrFormat)
		}
		return h, nil, err
	}
	if json.Unmarshal(line, &h) != nil || h.Format != snapshot.Format {
		return h, nil, fmt.Errorf("%w: no header line", snapshot.ErrFormat)
	}
	if h.ID == "" {
		return h, nil, fmt.Errorf("%w: the header has no id", snapshot.ErrFormat)
	}
	return h, line, nil
}

func runImport(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	a := storeFlags(fs, "store", "prefix")
	in := fs.String("i", "", "")
	merge := fs.Bool("merge", false, "")
	format := fs.String("format", "text", "")
	prog := fs.String("progress", "auto", "")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if err := oneOf("format", *format, "text", "json"); err != nil {
		return err
	}
	mode, err := parseProgress(*prog, e.stderrTTY)
	if err != nil {
		return err
	}
	if *in == "" {
		return usagef("-i is required: the snapshot file to read, or - for stdin")
	}
	if err := a.required(); err != nil {
		return err
	}
	var r io.Reader = e.stdin
	var size int64
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		r = f
	}
	p := newProgress(e.stderr, mode, "apibilling import", "importing", "bytes", size)
	br := bufio.NewReaderSize(countingReader{r: r, p: p}, 64<<10)
	h, header, err := readHeader(br)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	s, err := openStore(ctx, e, *a, mayCreate)
	if err != nil {
		return err
	}
	defer s.Close()
	pl, err := planImport(ctx, s, h.ID, h.ID+"-merge", *merge)
	switch {
	case errors.Is(err, errNotEmpty):
		return fmt.Errorf("%s is not empty: add -merge to add the snapshot to its state, or import into an empty store (a store that holds an interrupted import of another snapshot is not empty either: finish that import, or empty the store)", redactURL(a.url))
	case errors.Is(err, errMergeInterrupted):
		return fmt.Errorf("an earlier merge of this snapshot into %s was interrupted: part of it is merged, and merging again would count that part twice. Restore the store from its backup taken before that merge, then run the import again", redactURL(a.url))
	case err != nil:
		return err
	}
	if pl.kind == planMerge {
		// The merge runs under an ID of its own, so that a later run can
		// tell an interrupted merge from an interrupted copy.
		h.ID = pl.id
		if header, err = json.Marshal(h); err != nil {
			return err
		}
		header = append(header, '\n')
	}
	if pl.kind == planResume {
		fmt.Fprintf(e.stderr, "apibilling import: %s holds an interrupted import of this snapshot: resuming it\n", redactURL(a.url))
	}
	start := time.Now()
	p.begin()
	c, err := snapshot.Read(ctx, io.MultiReader(bytes.NewReader(header), br), s, &snapshot.Options{Merge: pl.kind == planMerge})
	p.finish(err == nil)
	if err != nil {
		switch {
		case pl.kind == planMerge:
			return fmt.Errorf("the merge stopped after %s records (%w): part of the snapshot is merged into %s, and merging again would count that part twice. Restore the store from its backup taken before the merge, then run the import again", count(c.Records), err, redactURL(a.url))
		case ctx.Err() != nil:
			return fmt.Errorf("interrupted after %s records: %s holds part of the snapshot; run the same command again to finish the import", count(c.Records), redactURL(a.url))
		case errors.Is(err, snapshot.ErrFormat):
			return fmt.Errorf("%s: %w; %s holds the records before the problem: import a complete snapshot (the same export, if it was only cut short) to finish", *in, err, redactURL(a.url))
		}
		return fmt.Errorf("the import stopped after %s records: %w; run the same command again to finish it", count(c.Records), err)
	}
	modeName := map[planKind]string{planCopy: "copied", planResume: "resumed", planMerge: "merged"}[pl.kind]
	if *format == "json" {
		return writeJSON(e.stdout, e.stdoutTTY, newCountsJSON(redactURL(a.url), *in, modeName, c, time.Since(start)))
	}
	fmt.Fprintf(e.stdout, "imported %s records into %s (%s) in %s: %s windows, %s usage aggregates (%s credits), %s idempotency keys\n",
		count(c.Records), redactURL(a.url), modeName, time.Since(start).Round(time.Millisecond), count(c.Windows), count(c.Usage), credits(c.Credits), count(c.Keys))
	return nil
}
