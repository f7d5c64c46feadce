package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/frappy-go/apibilling/stores/bolt"
	"github.com/frappy-go/apibilling/storeurl"
)

var cmdBackup = &command{
	name:  "backup",
	args:  "(-db FILE | -api URL [-token T]) -o OUT [-format text|json]",
	short: "back up a bbolt store file, offline or from a running app",
	long: `Backup writes a consistent copy of a bbolt store to OUT, then checks the
copy as apibilling check does; OUT is written under a temporary name and
renamed into place only once checked, so a failed backup never replaces a
good one.

	-db FILE     offline: the store file of a stopped app. The store is
	             opened (its write-ahead log, if any, is replayed into it)
	             and copied from a read transaction.
	-api URL     online: the usage API of the running app, where it is
	             mounted (such as http://127.0.0.1:8080/billing). Its
	             operator endpoint GET api/backup streams a copy from a read
	             transaction while billing goes on.
	-token T     the app's admin token (default: $APIBILLING_ADMIN_TOKEN;
	             the environment keeps it out of the process list)
	-o OUT       the backup file to write (replaced if it exists)
	-format F    text (default) or json: the copy's check, as check -format json

A backup is itself a store file: restore it by stopping the app and putting
the copy in place of the file (and removing the old FILE-wal.* files next to
it), or open it with -store in any command.

Examples:

	apibilling backup -db apibilling.db -o backup.db
	APIBILLING_ADMIN_TOKEN=... apibilling backup -api http://127.0.0.1:8080/billing -o backup.db
`,
	run: runBackup,
}

func runBackup(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	db := fs.String("db", "", "")
	api := fs.String("api", "", "")
	token := fs.String("token", "", "")
	out := fs.String("o", "", "")
	format := fs.String("format", "text", "")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if err := oneOf("format", *format, "text", "json"); err != nil {
		return err
	}
	if (*db == "") == (*api == "") {
		return usagef("give either -db FILE (a stopped app's store file) or -api URL (a running app's usage API)")
	}
	if *out == "" {
		return usagef("-o is required: the backup file to write")
	}
	tokenSet := false
	fs.Visit(func(f *flag.Flag) { tokenSet = tokenSet || f.Name == "token" })
	if tokenSet && *api == "" {
		return usagef("-token goes with -api")
	}
	if *token == "" {
		*token = os.Getenv("APIBILLING_ADMIN_TOKEN")
	}
	if *token != "" {
		e.secrets = append(e.secrets, *token)
	}
	start := time.Now()
	var n int64
	var source string
	var f *atomicFile
	if *db != "" {
		kind, path, err := storeurl.Parse(*db)
		if err != nil || kind != "bolt" {
			return usagef("-db %q: want a bbolt store file (for other stores, use apibilling export)", redactURL(*db))
		}
		if sameFile(path, *out) {
			return usagef("-o names the store file itself: write the backup elsewhere")
		}
		source = path
		f, n, err = backupOffline(ctx, e, path, *out)
		if err != nil {
			return err
		}
	} else {
		source = redactURL(*api)
		var err error
		if f, n, err = backupOnline(ctx, *api, *token, *out); err != nil {
			return err
		}
	}
	// Check the copy under its temporary name: a copy that fails never
	// replaces an earlier backup.
	rep, err := bolt.Check(ctx, f.Name())
	r := checkResult(*out, rep, err)
	if !r.OK {
		os.Remove(f.Name())
		return fmt.Errorf("the copy failed its check, and was not kept: %s", scrubPath(r.Error, f.Name(), *out))
	}
	if err := f.rename(); err != nil {
		return err
	}
	if *format == "json" {
		return writeJSON(e.stdout, e.stdoutTTY, struct {
			Source string `json:"source"`
			Bytes  int64  `json:"bytes"`
			checkJSON
		}{source, n, r})
	}
	fmt.Fprintf(e.stdout, "backed up %s to %s in %s: %s, format %d, %s clients, %s windows, %s usage aggregates, %s idempotency keys; the copy passed its check\n",
		source, *out, time.Since(start).Round(time.Millisecond), bytesHuman(n), r.Format, count(int64(r.Clients)), count(int64(r.Windows)),
		count(int64(r.Usage)), count(int64(r.Keys)))
	return nil
}

// sameFile reports whether two paths name one existing file.
func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// scrubPath replaces a temporary file's name in a message.
func scrubPath(msg, tmp, out string) string { return strings.ReplaceAll(msg, tmp, out) }

// backupOffline opens the store file at path and writes its backup to a
// finished temporary file beside out.
func backupOffline(ctx context.Context, e *env, path, out string) (*atomicFile, int64, error) {
	s, err := openStore(ctx, e, storeArg{flag: "db", url: "bolt:" + path}, mustExist)
	if err != nil {
		return nil, 0, err
	}
	bs, ok := s.(*bolt.Store)
	if !ok {
		s.Close()
		return nil, 0, fmt.Errorf("%s did not open as a bbolt store", path)
	}
	f, err := createAtomic(out)
	if err != nil {
		s.Close()
		return nil, 0, err
	}
	n, err := bs.Backup(ctx, f)
	if cerr := s.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		f.abort()
		return nil, n, fmt.Errorf("backing up %s: %w", path, err)
	}
	return f, n, f.finish()
}

// backupOnline downloads GET {api}/api/backup into a finished temporary
// file beside out.
func backupOnline(ctx context.Context, api, token, out string) (*atomicFile, int64, error) {
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, 0, usagef("-api %q: want the URL where the app mounts its usage API, such as http://127.0.0.1:8080/billing", redactURL(api))
	}
	if token == "" {
		return nil, 0, usagef("-api needs the app's admin token: -token T, or APIBILLING_ADMIN_TOKEN")
	}
	endpoint := strings.TrimSuffix(u.String(), "/") + "/api/backup"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("the app's usage API does not answer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		detail := problemDetail(resp)
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return nil, 0, fmt.Errorf("%s refused the token (%d%s): pass the app's admin token (its -admin-token or APIBILLING_ADMIN_TOKEN)", redactURL(endpoint), resp.StatusCode, detail)
		case http.StatusNotFound:
			return nil, 0, fmt.Errorf("%s answered 404%s: -api must be where the app mounts its usage API (such as http://127.0.0.1:8080/billing), the app must have an admin token set, and its store must be bbolt (for other stores, use apibilling export)", redactURL(endpoint), detail)
		}
		return nil, 0, fmt.Errorf("%s answered %s%s", redactURL(endpoint), resp.Status, detail)
	}
	f, err := createAtomic(out)
	if err != nil {
		return nil, 0, err
	}
	n, err := io.Copy(f, resp.Body)
	if err != nil {
		f.abort()
		if ctx.Err() != nil {
			return nil, n, fmt.Errorf("interrupted after %s: %w", bytesHuman(n), ctx.Err())
		}
		return nil, n, fmt.Errorf("the copy stopped after %s: %w; run the backup again", bytesHuman(n), err)
	}
	return f, n, f.finish()
}

// problemDetail returns ": detail" of a problem+json answer, or "".
func problemDetail(resp *http.Response) string {
	var p struct {
		Detail string `json:"detail"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if json.Unmarshal(b, &p) == nil && p.Detail != "" {
		return ": " + p.Detail
	}
	return ""
}
