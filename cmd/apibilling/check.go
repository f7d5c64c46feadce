package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/frappy-go/apibilling/stores/bolt"
	"github.com/frappy-go/apibilling/storeurl"
)

var cmdCheck = &command{
	name:  "check",
	args:  "[-format text|json] FILE...",
	short: "check a bbolt store file's integrity and count its records",
	long: `Check reads a whole bbolt store file without changing it: bbolt's own
consistency check, the store's format version, and every record, which it
counts (clients, window counters, usage aggregates, idempotency keys). It
exits with status 1 when a file is damaged, and is safe on any file,
however damaged: it reports, it never crashes.

	-format F   text (default), or json: one object per file with ok, error,
	            format, size, clients, windows, usage, keys, expired_keys,
	            log_segments, log_bytes and import_id

A file that a running app holds is locked: check a copy made while the app
runs (apibilling backup -api ... -o copy.db; backup checks its copy itself).
A store stopped without closing leaves a write-ahead log next to its file
(FILE-wal.*), which the next open replays: check counts it but does not
read it. A damaged file is best replaced by its latest backup.

Example:

	apibilling check /var/lib/api/apibilling.db
`,
	run: runCheck,
}

// checkJSON is the JSON of one file's check.
type checkJSON struct {
	File        string `json:"file"`
	OK          bool   `json:"ok"`
	Error       string `json:"error,omitempty"`
	Format      uint32 `json:"format"`
	Size        int64  `json:"size"`
	Clients     int    `json:"clients"`
	Windows     int    `json:"windows"`
	Usage       int    `json:"usage"`
	Keys        int    `json:"keys"`
	ExpiredKeys int    `json:"expired_keys"`
	LogSegments int    `json:"log_segments"`
	LogBytes    int64  `json:"log_bytes"`
	ImportID    string `json:"import_id,omitempty"`
}

func runCheck(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	format := fs.String("format", "text", "")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := oneOf("format", *format, "text", "json"); err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("no file given: apibilling check FILE")
	}
	paths := make([]string, len(files))
	for i, f := range files {
		kind, rest, err := storeurl.Parse(f)
		if err != nil || kind != "bolt" {
			return usagef("%q is not a bbolt file: check reads bbolt store files (a path or bolt:PATH)", redactURL(f))
		}
		paths[i] = rest
	}
	var results []checkJSON
	damaged := 0
	for _, path := range paths {
		rep, err := bolt.Check(ctx, path)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		r := checkResult(path, rep, err)
		if !r.OK {
			damaged++
		}
		results = append(results, r)
		if *format == "text" {
			printCheck(e.stdout, &r, len(paths) > 1)
		}
	}
	if *format == "json" {
		var v any = results
		if len(results) == 1 {
			v = results[0]
		}
		if err := writeJSON(e.stdout, e.stdoutTTY, v); err != nil {
			return err
		}
	}
	if damaged > 0 {
		if len(paths) == 1 {
			return errors.New(results[0].Error)
		}
		return fmt.Errorf("%d of %d files failed the check", damaged, len(paths))
	}
	return nil
}

// checkResult describes a check, with the fix for each failure.
func checkResult(path string, rep bolt.CheckReport, err error) checkJSON {
	r := checkJSON{File: path, OK: err == nil, Format: rep.Format, Size: rep.Size, Clients: rep.Clients,
		Windows: rep.Windows, Usage: rep.Usage, Keys: rep.Keys, ExpiredKeys: rep.ExpiredKeys,
		LogSegments: rep.LogSegments, LogBytes: rep.LogBytes, ImportID: rep.ImportID}
	switch {
	case err == nil:
	case errors.Is(err, bolt.ErrLocked):
		r.Error = fmt.Sprintf("%s is in use: a running app holds it. Check a copy instead (apibilling backup -api URL -token T -o copy.db checks its copy)", path)
	case errors.Is(err, bolt.ErrForeign):
		r.Error = fmt.Sprintf("%s is a bbolt file without an apibilling store: %v", path, err)
	case errors.Is(err, bolt.ErrNewerFormat):
		r.Error = fmt.Sprintf("%s was written by a newer apibilling: check it with that version's apibilling command (%v)", path, err)
	case errors.Is(err, bolt.ErrCorrupt):
		r.Error = fmt.Sprintf("%s is damaged: %v; restore it from its latest backup (apibilling backup makes them)", path, err)
	default:
		r.Error = fmt.Sprintf("%s cannot be checked: %v", path, err)
	}
	return r
}

func printCheck(w io.Writer, r *checkJSON, many bool) {
	tw := newTable(w)
	if many {
		fmt.Fprintf(tw, "%s\n", r.File)
	}
	status := "ok"
	if !r.OK {
		status = "FAILED"
	}
	fmt.Fprintf(tw, "file\t%s (%s)\n", r.File, bytesHuman(r.Size))
	if r.Format != 0 {
		fmt.Fprintf(tw, "format\t%d\n", r.Format)
		fmt.Fprintf(tw, "clients\t%s\n", count(int64(r.Clients)))
		fmt.Fprintf(tw, "windows\t%s\n", count(int64(r.Windows)))
		fmt.Fprintf(tw, "usage aggregates\t%s\n", count(int64(r.Usage)))
		keys := count(int64(r.Keys))
		if r.ExpiredKeys > 0 {
			keys += fmt.Sprintf(" (%s expired, removed by the next checkpoint)", count(int64(r.ExpiredKeys)))
		}
		fmt.Fprintf(tw, "idempotency keys\t%s\n", keys)
		if r.LogSegments > 0 {
			fmt.Fprintf(tw, "write-ahead log\t%d segments, %s, replayed by the next open\n", r.LogSegments, bytesHuman(r.LogBytes))
		}
		if r.ImportID != "" {
			fmt.Fprintf(tw, "unfinished import\t%s (run the same import or migration again to finish it)\n", r.ImportID)
		}
	}
	if many && !r.OK {
		fmt.Fprintf(tw, "problem\t%s\n", r.Error)
	}
	fmt.Fprintf(tw, "status\t%s\n", status)
	tw.Flush()
	if many {
		fmt.Fprintln(w)
	}
}
