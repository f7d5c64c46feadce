package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"

	"github.com/frappy-go/apibilling/core"
)

// Statuses of the deduct procedure.
const (
	statusRefused  = 0
	statusOK       = 1
	statusReplayed = 2
	statusConflict = 3
	statusOverflow = 4
)

func (s *Store) prepareQueries() {
	s.q = queries{
		deduct:        s.names("CALL {t}" + procDeduct + "("),
		refund:        s.names("CALL {t}" + procRefund + "("),
		delete:        s.names("CALL {t}" + procDelete + "("),
		usage:         s.names("SELECT period, start_ns, used FROM {t}windows WHERE client = "),
		report:        s.names("SELECT hour_start, hour_end, label, used FROM {t}usage WHERE client = "),
		exportWindows: s.names("SELECT client, period, start_ns, end_ns, used, fired FROM {t}windows"),
		exportUsage:   s.names("SELECT client, hour_start, hour_end, label, used FROM {t}usage"),
		exportKeys: s.names("SELECT client, idem_key, label, cost, at_ns, expires_ns, hour_start, hour_end, windows" +
			" FROM {t}keys WHERE expires_ns > "),
		empty: s.names("SELECT EXISTS (SELECT 1 FROM {t}windows) OR EXISTS (SELECT 1 FROM {t}usage)" +
			" OR EXISTS (SELECT 1 FROM {t}keys)"),
		getImport:    s.names("SELECT value FROM {t}meta WHERE name = 'import'"),
		setImport:    s.names("INSERT INTO {t}meta (name, value) VALUES ('import', "),
		endImport:    s.names("DELETE FROM {t}meta WHERE name = 'import'"),
		lockClient:   s.names("INSERT INTO {t}clients (client) VALUES ("),
		importWindow: s.names("INSERT INTO {t}windows (client, period, start_ns, end_ns, used, fired) VALUES ("),
		importUsage:  s.names("INSERT INTO {t}usage (client, hour_start, label, hour_end, used) VALUES ("),
		importKey: s.names("INSERT INTO {t}keys (client, idem_key, label, cost, at_ns, expires_ns," +
			" hour_start, hour_end, windows) VALUES ("),
		pruneKeysSelect:  s.names("SELECT client, idem_key FROM {t}keys WHERE expires_ns <= "),
		pruneKeysDelete:  s.names("DELETE FROM {t}keys WHERE (client, idem_key) IN ("),
		pruneUsageSelect: s.names("SELECT client, hour_start, label FROM {t}usage WHERE hour_start < "),
		pruneUsageDelete: s.names("DELETE FROM {t}usage WHERE (client, hour_start, label) IN ("),
	}
}

// checkOp refuses what no Billing sends: a negative cost or an unknown
// period.
func checkOp(op string, o *core.Op) error {
	if o.Cost < 0 {
		return fmt.Errorf("apibilling/mysql: %s: %w: %d micro-credits", op, core.ErrInvalidCost, o.Cost)
	}
	if o.N < 0 || o.N > core.MaxQuotas {
		return fmt.Errorf("apibilling/mysql: %s: %d windows", op, o.N)
	}
	for _, w := range o.Windows() {
		if !w.Period.Valid() {
			return fmt.Errorf("apibilling/mysql: %s: %w: %v", op, core.ErrInvalidQuota, w.Period)
		}
	}
	return nil
}

// appendWindowList appends ws as the procedures' text list
// "period,start,end,limit,used;" per window, with used from used (or 0).
func appendWindowList(b []byte, ws []core.Window, used []int64) []byte {
	for i, w := range ws {
		b = strconv.AppendInt(b, int64(w.Period), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, w.Start, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, w.End, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, w.Limit, 10)
		b = append(b, ',')
		var u int64
		if i < len(used) {
			u = used[i]
		}
		b = strconv.AppendInt(b, u, 10)
		b = append(b, ';')
	}
	return b
}

// parseWindowList reads a list that appendWindowList wrote into r.
func parseWindowList(list []byte, r *core.KeyRecord) error {
	r.N = 0
	for len(list) > 0 {
		item, rest, _ := bytes.Cut(list, []byte{';'})
		list = rest
		if r.N == core.MaxQuotas {
			return fmt.Errorf("more than %d windows", core.MaxQuotas)
		}
		var f [5]int64
		for j := range f {
			var field []byte
			field, item, _ = bytes.Cut(item, []byte{','})
			v, err := strconv.ParseInt(string(field), 10, 64)
			if err != nil {
				return fmt.Errorf("window %d: %w", r.N, err)
			}
			f[j] = v
		}
		if f[0] < 0 || f[0] >= core.MaxQuotas {
			return fmt.Errorf("window %d: period %d", r.N, f[0])
		}
		r.List[r.N] = core.Window{Period: core.Period(f[0]), Start: f[1], End: f[2], Limit: f[3]}
		r.Used[r.N] = f[4]
		r.N++
	}
	return nil
}

// appendWindows appends the deduct procedure's window parameters: eight
// per window (period, start, end, limit and four alert levels), NULL past
// the op's windows.
func appendWindows(b []byte, ws []core.Window) []byte {
	for i := range core.MaxQuotas {
		if i >= len(ws) {
			b = append(b, ",NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL"...)
			continue
		}
		w := &ws[i]
		for _, v := range [...]int64{int64(w.Period), w.Start, w.End, w.Limit, w.Levels[0], w.Levels[1], w.Levels[2], w.Levels[3]} {
			b = append(b, ',')
			b = appendInt(b, v)
		}
	}
	return b
}

// appendKey appends the key argument: NULL for no key.
func appendKey(b []byte, key string) []byte {
	if key == "" {
		return append(b, "NULL"...)
	}
	return appendBytes(b, key)
}

// appendCutoff appends the start before which the aggregates of a client
// charged in the hour starting at start are pruned, or NULL to keep them.
func (s *Store) appendCutoff(b []byte, start int64) []byte {
	if s.retention == 0 {
		return append(b, "NULL"...)
	}
	c := start - s.retention
	if c > start { // overflow: nothing is that old
		c = math.MinInt64
	}
	return appendInt(b, c)
}

// keyRow is a key record as the procedures and tables hold it.
type keyRow struct {
	label                                 []byte
	cost, at, expires, hourStart, hourEnd sql.NullInt64
	windows                               []byte
}

func (k *keyRow) dest() []any {
	return []any{&k.label, &k.cost, &k.at, &k.expires, &k.hourStart, &k.hourEnd, &k.windows}
}

// record returns the key record of client's key.
func (k *keyRow) record(client, key string) (*core.KeyRecord, error) {
	if !k.cost.Valid {
		return nil, fmt.Errorf("no key record of %q", key)
	}
	r := &core.KeyRecord{Client: client, Key: key, Label: string(k.label), Cost: k.cost.Int64, At: k.at.Int64,
		Expires: k.expires.Int64, Bucket: core.Span{Start: k.hourStart.Int64, End: k.hourEnd.Int64}}
	if err := parseWindowList(k.windows, r); err != nil {
		return nil, fmt.Errorf("key record of %q: %w", key, err)
	}
	return r, nil
}

// Deduct implements [core.Store.Deduct] in one call of the deduct
// procedure: it locks the client's row, answers a recorded key, reads the
// counters, and only if every window has room writes them all, the hour
// aggregate and the key record, then commits.
func (s *Store) Deduct(ctx context.Context, op *core.Op) (core.Result, error) {
	var res core.Result
	if err := checkOp("deduct", op); err != nil {
		return res, err
	}
	ws := op.Windows()
	q := make([]byte, 0, 512+2*(len(op.Client)+len(op.Label)+len(op.Key))+len(ws)*8*20)
	q = append(q, s.q.deduct...)
	q = appendBytes(q, op.Client)
	q = append(q, ',')
	q = appendBytes(q, op.Label)
	q = append(q, ',')
	q = appendInt(q, op.Cost)
	q = append(q, ',')
	q = appendInt(q, op.Bucket.Start)
	q = append(q, ',')
	q = appendInt(q, op.Bucket.End)
	q = append(q, ',')
	q = appendInt(q, op.At)
	q = append(q, ',')
	q = appendKey(q, op.Key)
	q = append(q, ',')
	q = appendInt(q, op.KeyExpires)
	q = append(q, ',')
	q = appendInt(q, int64(len(ws)))
	q = append(q, ',')
	q = s.appendCutoff(q, op.Bucket.Start)
	q = append(q, ',')
	q = appendInt(q, s.lockWait)
	q = appendWindows(q, ws)
	q = append(q, ')')
	var (
		status       int64
		used         []byte
		fired, reset int64
		k            keyRow
	)
	if err := s.call(ctx, "deduct", q, append([]any{&status, &used, &fired, &reset}, k.dest()...)...); err != nil {
		return res, err
	}
	switch status {
	case statusReplayed, statusConflict:
		rec, err := k.record(op.Client, op.Key)
		if err != nil {
			return res, errs.Failed("deduct", err)
		}
		res.Record = rec
		res.Replayed = status == statusReplayed
		res.OK = res.Replayed
		res.Conflict = !res.Replayed
		return res, nil
	case statusOK:
		res.OK = true
	case statusOverflow:
		res.Overflow = true
	}
	for i := range ws {
		var field []byte
		field, used, _ = bytes.Cut(used, []byte{','})
		u, err := strconv.ParseInt(string(field), 10, 64)
		if err != nil {
			return res, errs.Failed("deduct", fmt.Errorf("usage of window %d: %w", i, err))
		}
		res.Used[i] = u
		res.Fired[i] = uint8(fired>>(4*i)) & 0xf
	}
	res.Reset = uint8(reset)
	if op.Key != "" && res.OK && s.keyed.Add(1)%1024 == 0 {
		s.pruner.Kick()
	}
	return res, nil
}

// Refund implements [core.Store.Refund] in one call of the refund
// procedure.
func (s *Store) Refund(ctx context.Context, op *core.Op) error {
	if err := checkOp("refund", op); err != nil {
		return err
	}
	if op.Key == "" && op.Cost == 0 {
		return s.check(ctx, "refund")
	}
	q := make([]byte, 0, 256)
	q = append(q, s.q.refund...)
	q = appendBytes(q, op.Client)
	q = append(q, ',')
	q = appendBytes(q, op.Label)
	q = append(q, ',')
	q = appendInt(q, op.Cost)
	q = append(q, ',')
	q = appendInt(q, op.Bucket.Start)
	q = append(q, ',')
	q = appendInt(q, op.At)
	q = append(q, ',')
	q = appendKey(q, op.Key)
	q = append(q, ',')
	q = appendBytes(q, string(appendWindowList(nil, op.Windows(), nil)))
	q = append(q, ',')
	q = appendInt(q, s.lockWait)
	q = append(q, ')')
	var refunded int64
	return s.call(ctx, "refund", q, &refunded)
}

// Usage implements [core.Store.Usage] with one query of the client's
// counters.
func (s *Store) Usage(ctx context.Context, op *core.Op) (core.Result, error) {
	var res core.Result
	if err := checkOp("usage", op); err != nil {
		return res, err
	}
	var held [core.MaxQuotas]struct {
		ok          bool
		start, used int64
	}
	q := appendBytes([]byte(s.q.usage), op.Client)
	var p, start, used int64
	err := s.query(ctx, "usage", q, []any{&p, &start, &used}, func() error {
		if p >= 0 && p < core.MaxQuotas {
			held[p].ok, held[p].start, held[p].used = true, start, used
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	for i, w := range op.Windows() {
		if h := held[w.Period]; h.ok && w.Start <= h.start {
			res.Used[i] = h.used
		}
	}
	return res, nil
}
