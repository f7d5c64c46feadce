package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/bolt"
	"github.com/frappy-go/apibilling/stores/mongo"
	"github.com/frappy-go/apibilling/stores/mysql"
	"github.com/frappy-go/apibilling/stores/postgres"
	"github.com/frappy-go/apibilling/stores/redis"
	"github.com/frappy-go/apibilling/storeurl"
)

// storeURLHelp describes store URLs, for the commands' help.
const storeURLHelp = `A store URL is one of:

	PATH or bolt:PATH
		the embedded bbolt file at PATH, such as apibilling.db
	redis://[:PASSWORD@]HOST:PORT/DB (rediss:// for TLS)
		Redis
	postgres://USER[:PASSWORD]@HOST:PORT/DB?sslmode=disable
		PostgreSQL, as pgx reads it (search_path=SCHEMA for a schema)
	mysql://USER[:PASSWORD]@tcp(HOST:PORT)/DB
		MySQL or MariaDB: the DSN of go-sql-driver/mysql after mysql://
	mongodb://HOST:PORT/DB
		MongoDB, when this build has the MongoDB store

A bbolt file that a running app holds is locked: stop the app, or work on a
copy (apibilling backup -api). Passwords are never printed: messages show
a URL with its password replaced by xxxxx.
`

// openMode says whether opening a bbolt file may create it.
type openMode int

const (
	mustExist openMode = iota // a store to read: a missing bbolt file is an error
	mayCreate                 // a store to write: a missing bbolt file is created
)

// storeArg is a store named on the command line: -store URL [-prefix P],
// or -from/-to with -from-prefix/-to-prefix.
type storeArg struct {
	flag, prefixFlag string // the flags' names
	url, prefix      string
}

// storeFlags binds a store's URL flag (name) and its prefix flag
// (prefixName) of fs to a new storeArg.
func storeFlags(fs *flag.FlagSet, name, prefixName string) *storeArg {
	a := &storeArg{flag: name, prefixFlag: prefixName}
	fs.StringVar(&a.url, name, "", "")
	fs.StringVar(&a.prefix, prefixName, "", "")
	return a
}

// required returns the usage error of a store URL flag not given, or nil.
func (a *storeArg) required() error {
	if a.url == "" {
		return usagef("-%s is required: the store URL, such as apibilling.db or redis://127.0.0.1:6379/0", a.flag)
	}
	return nil
}

// openStore opens the store that a names. Its password joins e.secrets
// first, so that no error prints it.
func openStore(ctx context.Context, e *env, a storeArg, mode openMode) (core.Store, error) {
	if err := a.required(); err != nil {
		return nil, err
	}
	flagName, rawURL, prefix := a.flag, a.url, a.prefix
	e.secrets = append(e.secrets, secretsOf(rawURL)...)
	kind, rest, err := storeurl.Parse(rawURL)
	if err != nil {
		return nil, usagef("-%s %s: %v", flagName, redactURL(rawURL), err)
	}
	if prefix != "" && kind != "redis" && kind != "postgres" && kind != "mysql" && kind != "mongo" {
		return nil, usagef("-%s applies to Redis, PostgreSQL, MySQL and MongoDB stores only", a.prefixFlag)
	}
	var o storeurl.Options
	o.PingTimeout = 10 * time.Second
	// Operator commands are not on a request's path: give each store call
	// room on a busy server.
	switch kind {
	case "bolt":
		if mode == mustExist {
			if _, err := os.Stat(rest); err != nil {
				return nil, fmt.Errorf("-%s: no bbolt file at %s (%v); a store URL is a bbolt file path, bolt:PATH, redis://, postgres://, mysql:// or mongodb://", flagName, rest, errors.Unwrap(err))
			}
		}
		o.Bolt = &bolt.Options{LockTimeout: 2 * time.Second}
	case "redis":
		o.Redis = &redis.Options{Prefix: prefix, Timeout: 10 * time.Second, AdminTimeout: 60 * time.Second}
	case "postgres":
		o.Postgres = &postgres.Options{Prefix: prefix, Timeout: 10 * time.Second}
	case "mysql":
		o.MySQL = &mysql.Options{Prefix: prefix, Timeout: 10 * time.Second}
	case "mongo":
		o.Mongo = &mongo.Options{Prefix: prefix, Timeout: 10 * time.Second}
	}
	s, err := storeurl.Open(ctx, rawURL, &o)
	if err != nil {
		if errors.Is(err, bolt.ErrLocked) {
			return nil, fmt.Errorf("%s is in use: a running app holds it. Stop the app, or work on a copy made while it runs (apibilling backup -api URL -token T -o copy.db)", rest)
		}
		return nil, fmt.Errorf("opening %s: %w", redactURL(rawURL), err)
	}
	return s, nil
}

// storeKey returns what identifies a store: the bbolt file's absolute
// path, or the URL without its password, with the prefix.
func storeKey(rawURL, prefix string) string {
	kind, rest, err := storeurl.Parse(rawURL)
	if err == nil && kind == "bolt" {
		if abs, err := filepath.Abs(rest); err == nil {
			rest = abs
		}
		return "bolt:" + rest
	}
	return redactURL(rawURL) + "#" + prefix
}

// sameStore reports whether two store URLs name the same store.
func sameStore(a, pa, b, pb string) bool {
	ka, kb := storeKey(a, pa), storeKey(b, pb)
	if ka == kb {
		return true
	}
	if strings.HasPrefix(ka, "bolt:") && strings.HasPrefix(kb, "bolt:") {
		fa, err1 := os.Stat(ka[5:])
		fb, err2 := os.Stat(kb[5:])
		return err1 == nil && err2 == nil && os.SameFile(fa, fb)
	}
	return false
}

const redacted = "xxxxx"

// redactURL returns rawURL with its password replaced by xxxxx: in the
// user information of a URL, in a MySQL DSN, and in a password query
// parameter.
func redactURL(rawURL string) string {
	kind, rest, err := storeurl.Parse(rawURL)
	if err == nil && (kind == "bolt" || kind == "memory") {
		return rawURL
	}
	if err == nil && kind == "mysql" {
		scheme := rawURL[:len(rawURL)-len(rest)]
		dsn, query, hasQuery := strings.Cut(rest, "?")
		if i := strings.LastIndex(dsn, "/"); i >= 0 {
			if j := strings.LastIndex(dsn[:i], "@"); j >= 0 {
				if user, _, ok := strings.Cut(dsn[:j], ":"); ok {
					dsn = user + ":" + redacted + dsn[j:]
				}
			}
		}
		if hasQuery {
			dsn += "?" + redactQuery(query)
		}
		return scheme + dsn
	}
	if u, err := url.Parse(rawURL); err == nil {
		u.RawQuery = redactQuery(u.RawQuery)
		return u.Redacted()
	}
	out := rawURL
	for _, p := range secretsOf(rawURL) {
		out = strings.ReplaceAll(out, p, redacted)
	}
	return out
}

// redactQuery replaces the values of password parameters in a query.
func redactQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		if k, _, ok := strings.Cut(p, "="); ok && isPasswordParam(k) {
			parts[i] = k + "=" + redacted
		}
	}
	return strings.Join(parts, "&")
}

// secretsOf returns the passwords that rawURL holds, as written in it and
// decoded.
func secretsOf(rawURL string) []string {
	var out []string
	add := func(p string) {
		if p == "" || p == redacted {
			return
		}
		out = append(out, p)
		if d, err := url.PathUnescape(p); err == nil && d != p {
			out = append(out, d)
		}
		if d, err := url.QueryUnescape(p); err == nil && d != p {
			out = append(out, d)
		}
	}
	kind, rest, err := storeurl.Parse(rawURL)
	if err != nil || kind == "bolt" || kind == "memory" {
		return nil
	}
	if kind == "mysql" {
		// [user[:password]@][net[(addr)]]/dbname[?params]: the password
		// may hold '@' and '/', so the last '/' ends the address and the
		// last '@' before it the user information.
		if i := strings.LastIndex(rest, "/"); i >= 0 {
			if j := strings.LastIndex(rest[:i], "@"); j >= 0 {
				if _, p, ok := strings.Cut(rest[:j], ":"); ok {
					add(p)
				}
			}
		}
		if _, q, ok := strings.Cut(rest, "?"); ok {
			if v, err := url.ParseQuery(q); err == nil {
				for k, vs := range v {
					if isPasswordParam(k) {
						for _, p := range vs {
							add(p)
						}
					}
				}
			}
		}
		return out
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// Unparsable: hide everything between "//" and the last '@'.
		if _, after, ok := strings.Cut(rawURL, "//"); ok {
			if j := strings.LastIndex(after, "@"); j >= 0 {
				if _, p, ok := strings.Cut(after[:j], ":"); ok {
					add(p)
				}
			}
		}
		return out
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
			// The URL may write it escaped.
			if _, after, ok := strings.Cut(u.Opaque+u.RawPath+rawURL, "//"); ok {
				if j := strings.LastIndex(after, "@"); j >= 0 {
					if _, raw, ok := strings.Cut(after[:j], ":"); ok {
						add(raw)
					}
				}
			}
		}
	}
	for k, vs := range u.Query() {
		if isPasswordParam(k) {
			for _, p := range vs {
				add(p)
			}
		}
	}
	return out
}

func isPasswordParam(k string) bool {
	switch strings.ToLower(k) {
	case "password", "pass", "pwd", "passwd", "sslpassword":
		return true
	}
	return false
}

// minScrub is the shortest secret that scrub replaces: our own messages
// print URLs through redactURL, and scrub is the net for messages that
// quote a URL or a token themselves; replacing every "t" of a one-letter
// password would make them unreadable.
const minScrub = 4

// scrub replaces every secret in s.
func scrub(s string, secrets []string) string {
	for _, p := range secrets {
		if len(p) >= minScrub {
			s = strings.ReplaceAll(s, p, redacted)
		}
	}
	return s
}
