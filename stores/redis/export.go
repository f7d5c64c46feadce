package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/frappy-go/apibilling/core"
	goredis "github.com/redis/go-redis/v9"
)

// exportDays is the most day hashes one export script reads.
const exportDays = 16

// importBatch is how many records Import sends in one pipeline.
const importBatch = 256

// globEscape escapes the glob characters of s for SCAN MATCH.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// forEachNode calls fn with each node to scan: every primary of a Cluster,
// every shard of a Ring, else the client itself. fn may run concurrently
// for several nodes.
func (s *Store) forEachNode(ctx context.Context, fn func(ctx context.Context, c goredis.UniversalClient) error) error {
	switch c := s.client.(type) {
	case *goredis.ClusterClient:
		return c.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error { return fn(ctx, n) })
	case *goredis.Ring:
		return c.ForEachShard(ctx, func(ctx context.Context, n *goredis.Client) error { return fn(ctx, n) })
	}
	return fn(ctx, s.client)
}

// scan calls fn with each key of node that matches pattern (and has type
// typ, unless empty), until fn returns false or an error.
func (s *Store) scan(ctx context.Context, node goredis.UniversalClient, pattern, typ string, fn func(key string) (bool, error)) error {
	var cursor uint64
	for {
		sctx, cancel := context.WithTimeout(ctx, s.adminTimeout)
		var keys []string
		var err error
		if typ != "" {
			keys, cursor, err = node.ScanType(sctx, cursor, pattern, 1000, typ).Result()
		} else {
			keys, cursor, err = node.Scan(sctx, cursor, pattern, 1000).Result()
		}
		cancel()
		if err != nil {
			return s.fail("scan", err, false)
		}
		for _, k := range keys {
			if more, err := fn(k); err != nil || !more {
				return err
			}
		}
		if cursor == 0 {
			return nil
		}
	}
}

// Export implements [core.Store.Export]. It finds the clients with SCAN
// (on every primary of a Cluster) and reads each client with one script,
// or, for a client with more than a few days of usage aggregates, with a
// few scripts that read the older days first and then, in one step, the
// latest days, the counters and the idempotency keys: each client is
// exported consistently. A client is exported once even if SCAN returns
// its key twice, which costs a set of the client keys seen.
func (s *Store) Export(ctx context.Context, fn func(rec *core.Record) error) error {
	if err := s.check(ctx, "export"); err != nil {
		return err
	}
	var mu sync.Mutex // fn is called by one goroutine at a time
	seen := map[string]struct{}{}
	pattern := globEscape(s.prefix) + ":{*}"
	err := s.forEachNode(ctx, func(ctx context.Context, node goredis.UniversalClient) error {
		return s.scan(ctx, node, pattern, "hash", func(key string) (bool, error) {
			client, ok := clientOf(key, s.prefix)
			if !ok {
				return true, nil
			}
			mu.Lock()
			defer mu.Unlock()
			if _, dup := seen[key]; dup {
				return true, nil
			}
			seen[key] = struct{}{}
			if err := s.check(ctx, "export"); err != nil {
				return false, err
			}
			return true, s.exportClient(ctx, key, client, fn)
		})
	})
	return err
}

// exportClient exports the client whose hash is h.
func (s *Store) exportClient(ctx context.Context, h, client string, fn func(*core.Record) error) error {
	from, d0 := "-inf", ""
	now := time.Now().UnixNano()
	var rec core.Record
	for {
		c := getCall()
		c.buf = append(c.buf, from...)
		c.end()
		c.buf = append(c.buf, d0...)
		c.end()
		c.buf = strconv.AppendInt(c.buf, exportDays, 10)
		c.end()
		c.prepare(exportScript, h)
		v, err := s.eval(ctx, "export", exportScript, c, false, s.adminTimeout)
		putCall(c)
		if err != nil {
			return err
		}
		r, ok := v.([]any)
		if !ok || len(r) < 4 {
			return s.badReply("export", v)
		}
		final, _ := r[0].(int64)
		d0, _ = r[1].(string)
		from, _ = r[2].(string)
		days, ok := r[3].([]any)
		if !ok || len(days)%2 != 0 {
			return s.badReply("export", v)
		}
		for i := 1; i < len(days); i += 2 {
			fields, ok := days[i].([]any)
			if !ok || len(fields)%2 != 0 {
				return s.badReply("export", v)
			}
			for j := 0; j < len(fields); j += 2 {
				u, ok := parseUsage(fields[j], fields[j+1])
				if !ok {
					return s.badReply("export", v)
				}
				rec = core.Record{Kind: core.RecordUsage, Client: client, Start: u.Bucket.Start, End: u.Bucket.End, Label: u.Label, Used: u.Credits}
				if err := fn(&rec); err != nil {
					return err
				}
			}
		}
		if final == 0 {
			continue
		}
		if len(r) != 6 {
			return s.badReply("export", v)
		}
		hash, ok1 := r[4].([]any)
		keys, ok2 := r[5].([]any)
		if !ok1 || !ok2 {
			return s.badReply("export", v)
		}
		if err := s.exportHash(client, hash, fn); err != nil {
			return err
		}
		for _, k := range keys {
			text, _ := k.(string)
			kr, err := parseRecord(text)
			if err != nil {
				return s.fail("export", err, false)
			}
			if kr.Expires <= now {
				continue
			}
			rec = core.Record{Kind: core.RecordKey, Client: client, Key: *kr}
			if err := fn(&rec); err != nil {
				return err
			}
		}
		return nil
	}
}

// exportHash exports a client hash: its window counters and the current
// hour's aggregates.
func (s *Store) exportHash(client string, hash []any, fn func(*core.Record) error) error {
	var ws [core.MaxQuotas]core.Record
	var counters [core.MaxQuotas]map[string]string // counter fields by start
	var bucket string
	var labels []any
	for j := 0; j+1 < len(hash); j += 2 {
		f, _ := hash[j].(string)
		val, _ := hash[j+1].(string)
		if len(f) == 0 {
			continue
		}
		switch c := f[0]; {
		case c >= '0' && c < '0'+core.MaxQuotas && len(f) == 1+timeLen:
			p := c - '0'
			if counters[p] == nil {
				counters[p] = map[string]string{}
			}
			counters[p][f[1:]] = val
		case (c == 's' || c == 'f') && len(f) == 2 && f[1] >= '0' && f[1] < '0'+core.MaxQuotas:
			w := &ws[f[1]-'0']
			if c == 's' {
				start, ok1 := parseTime(val[:min(timeLen, len(val))])
				end, ok2 := parseTime(val[min(timeLen, len(val)):])
				if !ok1 || !ok2 {
					return s.badReply("export", hash)
				}
				w.Kind, w.Start, w.End = core.RecordWindow, start, end
				continue
			}
			n, err := strconv.ParseUint(val, 10, 8)
			if err != nil {
				return s.badReply("export", hash)
			}
			w.Fired = uint8(n)
		case f == "b":
			bucket = val
		case c == 'l' && len(f) >= 1+timeLen:
			labels = append(labels, hash[j], hash[j+1])
		}
	}
	for p := range ws {
		w := &ws[p]
		if w.Kind != core.RecordWindow {
			continue
		}
		var start [timeLen]byte
		if u, ok := counters[p][string(appendTime(start[:0], w.Start))]; ok {
			n, err := strconv.ParseInt(u, 10, 64)
			if err != nil {
				return s.badReply("export", hash)
			}
			w.Used = n
		}
		w.Client, w.Period = client, core.Period(p)
		if err := fn(w); err != nil {
			return err
		}
	}
	if len(bucket) < 2*timeLen {
		return nil
	}
	var rec core.Record
	for j := 0; j < len(labels); j += 2 {
		f := labels[j].(string)
		u, ok := parseUsage(bucket[:2*timeLen]+f[1+timeLen:], labels[j+1])
		if !ok {
			return s.badReply("export", hash)
		}
		rec = core.Record{Kind: core.RecordUsage, Client: client, Start: u.Bucket.Start, End: u.Bucket.End, Label: u.Label, Used: u.Credits}
		if err := fn(&rec); err != nil {
			return err
		}
	}
	return nil
}

// importKey is the key that holds the ID of an import in progress.
func (s *Store) importKey() string { return s.prefix + ":import" }

// empty reports whether the store holds no client.
func (s *Store) empty(ctx context.Context) (bool, error) {
	var mu sync.Mutex
	empty := true
	pattern := globEscape(s.prefix) + ":{*"
	err := s.forEachNode(ctx, func(ctx context.Context, node goredis.UniversalClient) error {
		return s.scan(ctx, node, pattern, "", func(string) (bool, error) {
			mu.Lock()
			empty = false
			mu.Unlock()
			return false, nil
		})
	})
	return empty, err
}

// Import implements [core.Store.Import]. Records are written by one script
// each, sent in pipelines of a few hundred. While it runs, the key
// <prefix>:import holds opts.ID; it is deleted when the import ends.
func (s *Store) Import(ctx context.Context, next func() (*core.Record, error), opts core.ImportOptions) error {
	if err := s.check(ctx, "import"); err != nil {
		return err
	}
	held, err := admin(s, ctx, func(ctx context.Context) (string, error) {
		return s.client.Get(ctx, s.importKey()).Result()
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return s.fail("import", err, false)
	}
	resume := opts.ID != "" && held == opts.ID
	if !opts.Merge && !resume {
		// A store holding an unfinished import is not empty, even if that
		// import wrote nothing yet.
		empty := held == ""
		if empty {
			if empty, err = s.empty(ctx); err != nil {
				return err
			}
		}
		if !empty {
			return fmt.Errorf("apibilling/redis: import: %w", core.ErrNotEmpty)
		}
	}
	if opts.ID != "" {
		if _, err := admin(s, ctx, func(ctx context.Context) (string, error) {
			return s.client.Set(ctx, s.importKey(), opts.ID, 0).Result()
		}); err != nil {
			return s.fail("import", err, false)
		}
	}
	if _, err := admin(s, ctx, func(ctx context.Context) (string, error) {
		return s.client.ScriptLoad(ctx, importScript.src).Result()
	}); err != nil {
		return s.fail("import", err, false)
	}
	batch := make([]*call, 0, importBatch)
	defer func() {
		for _, c := range batch {
			putCall(c)
		}
	}()
	send := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.importRun(ctx, batch)
		for _, c := range batch {
			putCall(c)
		}
		batch = batch[:0]
		return err
	}
	for {
		if err := s.check(ctx, "import"); err != nil {
			return err
		}
		rec, err := next()
		if err == io.EOF {
			break
		}
		if err == nil && rec == nil {
			err = errors.New("apibilling/redis: import: next returned a nil record")
		}
		if err != nil {
			// The records read so far are written, as they would be one at
			// a time; the import stays unfinished, to be run again.
			return errors.Join(err, send())
		}
		c := getCall()
		if s.importArgs(c, rec, opts.Merge) {
			batch = append(batch, c)
		} else {
			putCall(c)
		}
		if len(batch) == importBatch {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if err := send(); err != nil {
		return err
	}
	if _, err := admin(s, ctx, func(ctx context.Context) (int64, error) {
		return s.client.Del(ctx, s.importKey()).Result()
	}); err != nil {
		return s.fail("import", err, false)
	}
	return nil
}

// admin runs f under the admin timeout.
func admin[T any](s *Store, ctx context.Context, f func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, s.adminTimeout)
	defer cancel()
	return f(ctx)
}

// importRun runs a batch of import scripts in one pipeline; scripts that
// Redis had lost from its cache run again with EVAL, in order.
func (s *Store) importRun(ctx context.Context, batch []*call) error {
	ctx, cancel := context.WithTimeout(ctx, s.adminTimeout)
	defer cancel()
	cmds := make([]*goredis.Cmd, len(batch))
	pipe := s.client.Pipeline()
	for i, c := range batch {
		cmds[i] = goredis.NewCmd(ctx, c.argv...)
		_ = pipe.Process(ctx, noRetry{cmds[i]})
	}
	s.stats.calls.Add(uint64(len(batch)))
	_, err := pipe.Exec(ctx)
	if err == nil {
		return nil
	}
	for i, cmd := range cmds {
		err := cmd.Err()
		switch {
		case err == nil:
		case isNoScript(err):
			if _, err := s.eval(ctx, "import", importScript, batch[i], true, s.adminTimeout); err != nil {
				return err
			}
		default:
			return s.fail("import", err, replyLost(err))
		}
	}
	return nil
}

// importArgs sets c to write rec, and reports whether rec is written at
// all (records of unknown kinds and periods are skipped, as the memory
// store does).
func (s *Store) importArgs(c *call, rec *core.Record, merge bool) bool {
	now := time.Now().UnixNano()
	m := "0"
	if merge {
		m = "1"
	}
	used := max(rec.Used, 0)
	switch rec.Kind {
	case core.RecordWindow:
		if !rec.Period.Valid() {
			return false
		}
		h, _ := s.clientKeys(rec.Client, "")
		c.buf = append(c.buf, 'w')
		c.end()
		c.buf = appendCounter(c.buf, &core.Window{Period: rec.Period, Start: rec.Start})
		c.end()
		c.buf = appendTime(c.buf, rec.End)
		c.end()
		c.buf = strconv.AppendInt(c.buf, used, 10)
		c.end()
		c.buf = appendRoom(c.buf, used)
		c.end()
		c.buf = strconv.AppendUint(c.buf, uint64(rec.Fired), 10)
		c.end()
		c.buf = append(c.buf, m...)
		c.end()
		var x int64
		if s.retention != 0 {
			x = msCeil(addSat(max(rec.End, now), s.grace))
		}
		c.buf = strconv.AppendInt(c.buf, x, 10)
		c.end()
		c.prepare(importScript, h)
	case core.RecordUsage:
		h, _ := s.clientKeys(rec.Client, "")
		keep := s.keepUntil(rec.End, now)
		c.buf = append(c.buf, 'u')
		c.end()
		bucket := core.Span{Start: rec.Start, End: rec.End}
		c.buf = appendBucket(c.buf, bucket)
		c.end()
		c.buf = appendLabelField(c.buf, bucket, rec.Label)
		c.end()
		c.buf = strconv.AppendInt(c.buf, used, 10)
		c.end()
		c.buf = appendRoom(c.buf, used)
		c.end()
		c.buf = append(c.buf, m...)
		c.end()
		c.buf = strconv.AppendInt(c.buf, keep, 10)
		c.end()
		c.buf = strconv.AppendInt(c.buf, keep, 10)
		c.end()
		c.prepare(importScript, h)
	case core.RecordKey:
		key := rec.Key // the caller's record stays as it is
		kr := &key
		if kr.Client == "" {
			kr.Client = rec.Client
		}
		client := kr.Client
		if !core.ValidKey(kr.Key) || kr.N < 0 || kr.N > core.MaxQuotas {
			return false
		}
		h, k := s.clientKeys(client, kr.Key)
		life := max(kr.Expires-now, kr.Expires-kr.At, 1)
		px := msCeil(life)
		score := now/1e6 + px
		c.buf = append(c.buf, 'k')
		c.end()
		var err error
		if c.buf, err = appendRecord(c.buf, kr); err != nil {
			return false
		}
		c.end()
		c.buf = append(c.buf, kr.Key...)
		c.end()
		c.buf = strconv.AppendInt(c.buf, px, 10)
		c.end()
		c.buf = strconv.AppendInt(c.buf, score, 10)
		c.end()
		c.buf = append(c.buf, m...)
		c.end()
		var x int64
		if s.retention != 0 {
			x = score
		}
		c.buf = strconv.AppendInt(c.buf, x, 10)
		c.end()
		c.prepare(importScript, h, k)
	default:
		return false
	}
	return true
}
