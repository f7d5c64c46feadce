package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/frappy-go/apibilling/core"
)

var cmdMigrate = &command{
	name:  "migrate",
	args:  "-from URL -to URL [-merge] [-format table|csv|json] [-summary] [-progress MODE]",
	short: "copy a store's whole state to another store, exactly, and compare",
	long: `Migrate copies the whole state of one store (live window counters, hourly
usage aggregates, unexpired idempotency keys) into another, through the
stores' export and import, such as from the embedded bbolt file to Redis,
PostgreSQL or MySQL when an API outgrows one machine. Then it reads the
target back and compares, client by client, what it read with what the
target holds, and exits with status 1 on any difference.

	-from URL         the store to copy (see below); it is not changed
	-from-prefix P    the source's key or table prefix, if its app sets one
	                  (Redis, PostgreSQL, MySQL)
	-to URL           the store to copy into; a bbolt file is created if missing
	-to-prefix P      the target's key or table prefix (Redis, PostgreSQL, MySQL):
	                  the one the app will use
	-merge            add the source to a target that holds state already
	-format F         table (default), csv or json: the comparison per client
	-summary          print the totals and the clients that differ only
	-progress M       auto (default): a progress bar on stderr when it is a
	                  terminal, else a plain line every 5 seconds; bar, log, none

Stop the app first (or point it at the target): usage charged in the source
after it is read is not copied, and a source that changes while the
migration reads it fails the migration.

What is compared, per client, read and written: the live window counters
(their number and the credits they hold), the usage aggregates (their number
and credits) and the idempotency keys. Windows that ended and keys that
expired by the end of the comparison are left out on both sides: they no
longer count, and a store may drop them (Redis expires them). With -merge,
the target's own state is read first, and what it must hold afterwards is
computed by the merge rules: merging adds usage aggregates and the usage of
windows with the same start, keeps the later of two windows of one period,
and keeps existing idempotency keys.

A target that holds state is refused unless -merge is given.

Interrupted (Ctrl-C, a failure), a migration is resumed by running the same
command again: it goes on under the same import ID, derived from the two
stores and a fingerprint of the source's usage, and writes every record as
it is again, which is exact. If the source changed in between (an app still
wrote to it), its fingerprint differs: the run is refused as a target that
is not empty, and the target must be emptied (or dropped) and the migration
run again with the app stopped. An interrupted -merge cannot be finished
exactly (credits merged twice add up twice): the next run refuses; restore
the target from a backup taken before the merge and run it again.

Example:

	apibilling migrate -from apibilling.db -to redis://127.0.0.1:6379/0

` + storeURLHelp,
	run: runMigrate,
}

// migration is the state of one run of migrate.
type migration struct {
	e    *env
	mode progressMode
	from storeArg
	to   storeArg
	src  core.Store
	dst  core.Store
}

func (m *migration) logf(format string, args ...any) {
	fmt.Fprintf(m.e.stderr, "apibilling migrate: "+format+"\n", args...)
}

func runMigrate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	m := &migration{e: e}
	from, to := storeFlags(fs, "from", "from-prefix"), storeFlags(fs, "to", "to-prefix")
	merge := fs.Bool("merge", false, "")
	format := fs.String("format", "table", "")
	summary := fs.Bool("summary", false, "")
	prog := fs.String("progress", "auto", "")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if err := oneOf("format", *format, "table", "csv", "json"); err != nil {
		return err
	}
	var err error
	if m.mode, err = parseProgress(*prog, e.stderrTTY); err != nil {
		return err
	}
	m.from, m.to = *from, *to
	if m.from.url == "" || m.to.url == "" {
		return usagef("-from and -to are required: the store to copy and the store to copy into")
	}
	e.secrets = append(e.secrets, secretsOf(m.from.url)...)
	e.secrets = append(e.secrets, secretsOf(m.to.url)...)
	if sameStore(m.from.url, m.from.prefix, m.to.url, m.to.prefix) {
		return usagef("-from and -to name the same store")
	}
	if m.src, err = openStore(ctx, e, m.from, mustExist); err != nil {
		return err
	}
	defer m.src.Close()
	if m.dst, err = openStore(ctx, e, m.to, mayCreate); err != nil {
		return err
	}
	defer m.dst.Close()
	start := time.Now()

	// 1. Read the source once: the records to copy (for the progress bar)
	// and the fingerprint of its usage, which names the migration.
	var first fingerprint
	var n int64
	p := startProgress(e.stderr, m.mode, "apibilling migrate", "reading", "records", 0)
	err = m.src.Export(ctx, func(rec *core.Record) error {
		first.add(rec)
		n++
		p.add(1)
		return nil
	})
	p.finish(err == nil)
	if err == nil {
		err = testHook(ctx, e, "read", n)
	}
	if err != nil {
		return m.stopped(ctx, fmt.Errorf("reading %s: %w", redactURL(m.from.url), err), "nothing was written")
	}

	// 2. Decide how to import.
	copyID := migrationID("copy", m.from, m.to, first.String())
	mergeID := migrationID("merge", m.from, m.to, "")
	pl, err := planImport(ctx, m.dst, copyID, mergeID, *merge)
	switch {
	case errors.Is(err, errNotEmpty):
		return fmt.Errorf("the target %s is not empty: add -merge to add the source to its state, or migrate into an empty store. "+
			"If it holds an interrupted run of this migration, the source has changed since that run (an app still writes to it): "+
			"stop the app, empty the target, and run the migration again", redactURL(m.to.url))
	case errors.Is(err, errMergeInterrupted):
		return fmt.Errorf("an earlier merge from this source into %s was interrupted: part of the source is merged, and merging again would count that part twice. "+
			"Restore the target from its backup taken before that merge, then run the migration again", redactURL(m.to.url))
	case err != nil:
		return m.stopped(ctx, err, "nothing was written")
	}
	var before *tally
	switch pl.kind {
	case planResume:
		m.logf("%s holds an interrupted run of this migration: resuming it", redactURL(m.to.url))
	case planMerge:
		before = newTally(true)
		p := startProgress(e.stderr, m.mode, "apibilling migrate", "reading the target", "records", 0)
		err := m.dst.Export(ctx, func(rec *core.Record) error {
			before.add(rec)
			p.add(1)
			return nil
		})
		p.finish(err == nil)
		if err != nil {
			return m.stopped(ctx, fmt.Errorf("reading the target %s: %w", redactURL(m.to.url), err), "nothing was written")
		}
	}

	// 3. Copy: the source's export streamed into the target's import.
	read := newTally(pl.kind == planMerge)
	p = startProgress(e.stderr, m.mode, "apibilling migrate", "copying", "records", n)
	err = copyStore(ctx, m.src, m.dst, pl.options(), func(rec *core.Record) error {
		read.add(rec)
		p.add(1)
		return testHook(ctx, e, "copy", read.records)
	}, func() error {
		if read.fp != first {
			return errSourceChanged
		}
		return nil
	})
	p.finish(err == nil)
	if err != nil {
		if pl.kind == planMerge {
			return fmt.Errorf("the merge stopped after %s records (%v): part of the source is merged into %s, and merging again would count that part twice. "+
				"Restore the target from its backup taken before the merge, then run the migration again", count(read.records), err, redactURL(m.to.url))
		}
		if errors.Is(err, errSourceChanged) {
			return fmt.Errorf("the source changed while it was copied: an app still writes to it. The target holds an unfinished copy: " +
				"stop the app (or point it at the target), empty the target, and run the migration again")
		}
		return m.stopped(ctx, err, fmt.Sprintf("the copy stopped after %s of %s records; run the same command again to resume", count(read.records), count(n)))
	}

	// 4. Read the target back and compare.
	written := newTally(false)
	p = startProgress(e.stderr, m.mode, "apibilling migrate", "verifying", "records", 0)
	err = m.dst.Export(ctx, func(rec *core.Record) error {
		written.add(rec)
		p.add(1)
		return nil
	})
	p.finish(err == nil)
	if err != nil {
		return m.stopped(ctx, fmt.Errorf("reading the target back: %w", err), "the copy completed, but was not compared with the source")
	}
	cut := time.Now().UnixNano()
	rep := compare(read, before, written, cut)
	rep.Source, rep.Target, rep.Mode = redactURL(m.from.url), redactURL(m.to.url), pl.kind.String()
	rep.Records = read.records
	rep.Seconds = time.Since(start).Seconds()
	if err := rep.print(e.stdout, e.stdoutTTY, *format, *summary); err != nil {
		return err
	}
	verdict := "every total equal"
	if !rep.OK {
		verdict = fmt.Sprintf("%s of %s clients differ", count(rep.Mismatches), count(int64(len(rep.Clients))))
	}
	m.logf("%s %s records of %s clients from %s into %s in %s; compared: %s",
		map[planKind]string{planCopy: "copied", planResume: "copied (resumed)", planMerge: "merged"}[pl.kind],
		count(read.records), count(int64(len(read.clients))), rep.Source, rep.Target, time.Since(start).Round(100*time.Millisecond), verdict)
	if !rep.OK {
		return fmt.Errorf("the target differs from the source for %s clients (see the report); the stores did not copy exactly, or an app changed one of them", count(rep.Mismatches))
	}
	return nil
}

var errSourceChanged = errors.New("the source changed while it was copied")

// stopped describes a migration that stopped with err: interrupted, or
// failed; what says what the target holds.
func (m *migration) stopped(ctx context.Context, err error, what string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %s", what)
	}
	return fmt.Errorf("%w; %s", err, what)
}

// migrationID names a migration's import: the same for every run of the
// same migration, so that a run resumes an interrupted one. Passwords are
// not part of it, so a changed password changes nothing.
func migrationID(kind string, from, to storeArg, fp string) string {
	h := sha256.New()
	for _, s := range []string{"apibilling migrate 1", kind, storeKey(from.url, from.prefix), storeKey(to.url, to.prefix), fp} {
		io.WriteString(h, s)
		h.Write([]byte{0})
	}
	return "migrate-" + kind + "-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// copyBatch is a batch of records on their way from the export to the
// import.
type copyBatch struct {
	recs [256]core.Record
	n    int
}

// copyStore streams src's export into dst's import. onRecord sees each
// record before the import does; atEnd runs when the export is complete,
// and an error from it fails the import before it completes.
func copyStore(ctx context.Context, src, dst core.Store, opts core.ImportOptions, onRecord func(*core.Record) error, atEnd func() error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	const batches = 8
	full := make(chan *copyBatch, batches)
	free := make(chan *copyBatch, batches)
	for range batches {
		free <- &copyBatch{}
	}
	var exportErr error
	go func() {
		defer close(full)
		b := <-free
		exportErr = src.Export(ctx, func(rec *core.Record) error {
			b.recs[b.n] = *rec
			b.n++
			if b.n < len(b.recs) {
				return nil
			}
			select {
			case full <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case b = <-free:
				b.n = 0
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if exportErr == nil && b.n > 0 {
			full <- b // full has room for every batch
		}
	}()
	var cur *copyBatch
	i := 0
	next := func() (*core.Record, error) {
		for cur == nil || i == cur.n {
			if cur != nil {
				free <- cur
				cur = nil
			}
			b, ok := <-full
			if !ok {
				if exportErr != nil {
					return nil, fmt.Errorf("reading the source: %w", exportErr)
				}
				if err := atEnd(); err != nil {
					return nil, err
				}
				return nil, io.EOF
			}
			cur, i = b, 0
		}
		rec := &cur.recs[i]
		i++
		if err := onRecord(rec); err != nil {
			return nil, err
		}
		return rec, nil
	}
	err := dst.Import(ctx, next, opts)
	cancel()
	for range full { // wait for the export to end
	}
	if err != nil {
		return fmt.Errorf("writing the target: %w", err)
	}
	return nil
}

// report is the comparison of a migration.
type report struct {
	Source     string         `json:"source"`
	Target     string         `json:"target"`
	Mode       string         `json:"mode"`
	Records    int64          `json:"records"`
	Seconds    float64        `json:"seconds"`
	OK         bool           `json:"ok"`
	Mismatches int64          `json:"mismatches"`
	Total      clientReport   `json:"total"`
	Clients    []clientReport `json:"clients"`
}

// clientReport compares one client: what was read from the source, what
// the target held before (with -merge), what it must hold (read, or the
// merge of both), and what it holds.
type clientReport struct {
	Client string `json:"client,omitempty"`
	// ClientB64 holds a client ID that is not valid UTF-8, which JSON
	// cannot carry, base64-encoded (as snapshots write it).
	ClientB64 string  `json:"client_b64,omitempty"`
	Read      totals  `json:"read"`
	Before    *totals `json:"before,omitempty"`
	Expected  totals  `json:"expected"`
	Written   totals  `json:"written"`
	OK        bool    `json:"ok"`
}

// compare compares, per client, what the target must hold with what it
// holds.
func compare(read, before, written *tally, cut int64) *report {
	ids := make([]string, 0, len(read.clients))
	for id := range read.clients {
		ids = append(ids, id)
	}
	for _, t := range []*tally{before, written} {
		if t == nil {
			continue
		}
		for id := range t.clients {
			if _, ok := read.clients[id]; !ok {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	rep := &report{OK: true, Clients: make([]clientReport, 0, len(ids)), Total: clientReport{OK: true}}
	if before != nil {
		rep.Total.Before = &totals{}
	}
	for _, id := range ids {
		r := read.clients[id]
		c := clientReport{Client: id, Read: r.totals(cut), Written: written.clients[id].totals(cut)}
		if !utf8.ValidString(id) {
			c.ClientB64 = base64.StdEncoding.EncodeToString([]byte(id))
		}
		if before != nil {
			b := before.clients[id].totals(cut)
			c.Before = &b
			c.Expected = merged(before.clients[id], r).totals(cut)
			rep.Total.Before.add(b)
		} else {
			c.Expected = c.Read
		}
		c.OK = c.Expected == c.Written
		if !c.OK {
			rep.OK = false
			rep.Mismatches++
		}
		rep.Total.Read.add(c.Read)
		rep.Total.Expected.add(c.Expected)
		rep.Total.Written.add(c.Written)
		rep.Clients = append(rep.Clients, c)
	}
	rep.Total.OK = rep.OK
	return rep
}

// print writes the report: every client, or with summary the totals and
// the clients that differ.
func (rep *report) print(w io.Writer, tty bool, format string, summary bool) error {
	list := rep.Clients
	if summary {
		list = slices.DeleteFunc(slices.Clone(list), func(c clientReport) bool { return c.OK })
	}
	switch format {
	case "json":
		out := *rep
		out.Clients = list
		return writeJSON(w, tty, out)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"client", "windows_expected", "windows_written", "window_used_expected", "window_used_written",
			"usage_aggregates_expected", "usage_aggregates_written", "usage_credits_expected", "usage_credits_written",
			"keys_expected", "keys_written", "ok"})
		for _, c := range list {
			x, y := c.Expected, c.Written
			cw.Write([]string{c.Client, i64(x.Windows), i64(y.Windows), credits(int64(x.WindowUsed)), credits(int64(y.WindowUsed)),
				i64(x.Usage), i64(y.Usage), credits(int64(x.Credits)), credits(int64(y.Credits)), i64(x.Keys), i64(y.Keys), strconv.FormatBool(c.OK)})
		}
		cw.Flush()
		return cw.Error()
	}
	col := "READ"
	if rep.Mode == "merge" {
		col = "EXPECTED"
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "CLIENT\tWINDOWS %[1]s\tWRITTEN\tWINDOW USAGE %[1]s\tWRITTEN\tAGGREGATES %[1]s\tWRITTEN\tCREDITS %[1]s\tWRITTEN\tKEYS %[1]s\tWRITTEN\t\n", col)
	line := func(name string, c clientReport) {
		x, y := c.Expected, c.Written
		status := ""
		if !c.OK {
			status = "DIFFERS"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, count(x.Windows), count(y.Windows),
			credits(int64(x.WindowUsed)), credits(int64(y.WindowUsed)), count(x.Usage), count(y.Usage),
			credits(int64(x.Credits)), credits(int64(y.Credits)), count(x.Keys), count(y.Keys), status)
	}
	for _, c := range list {
		line(cell(c.Client), c)
	}
	line(fmt.Sprintf("(total: %s clients)", count(int64(len(rep.Clients)))), rep.Total)
	return tw.Flush()
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }
