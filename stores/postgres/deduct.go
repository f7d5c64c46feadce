package postgres

import (
	"context"
	"fmt"
	"math"

	"github.com/frappy-go/apibilling/core"
	"github.com/jackc/pgx/v5"
)

// Statuses of the deduct function.
const (
	statusRefused  = 0
	statusOK       = 1
	statusReplayed = 2
	statusConflict = 3
	statusOverflow = 4
)

func (s *Store) prepareQueries() {
	s.q = queries{
		deduct:      s.names(`SELECT * FROM {t}` + fnDeduct + `($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`),
		deductBatch: s.names(`SELECT * FROM {t}` + fnDeductBatch + `($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`),
		refund:      s.names(`SELECT {t}` + fnRefund + `($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`),
		delete:      s.names(`SELECT {t}` + fnDelete + `($1, $2, $3, $4, $5, $6, $7, $8, $9)`),
		usage:       s.names(`SELECT period, start_ns, used FROM {t}windows WHERE client = $1`),
		report: s.names(`SELECT hour_start, hour_end, label, used FROM {t}usage
			WHERE client = $1 AND hour_start >= $2 AND hour_start < $3`),
		exportWindows: s.names(`SELECT client, period, start_ns, end_ns, used, fired FROM {t}windows`),
		exportUsage:   s.names(`SELECT client, hour_start, hour_end, label, used FROM {t}usage`),
		exportKeys: s.names(`SELECT client, idem_key, label, cost, at_ns, expires_ns, hour_start, hour_end,
			periods, starts, ends, limits, used FROM {t}keys WHERE expires_ns > $1`),
		empty: s.names(`SELECT EXISTS (SELECT 1 FROM {t}windows) OR EXISTS (SELECT 1 FROM {t}usage)
			OR EXISTS (SELECT 1 FROM {t}keys)`),
		getImport: s.names(`SELECT value FROM {t}meta WHERE name = 'import'`),
		setImport: s.names(`INSERT INTO {t}meta (name, value) VALUES ('import', $1)
			ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`),
		endImp:     s.names(`DELETE FROM {t}meta WHERE name = 'import'`),
		lockClient: `SELECT pg_advisory_xact_lock($1, $2)`,
		// $7: merge. Merging follows core.MergeWindow: the same start adds
		// (capped) and joins the bits, a later start replaces, an earlier
		// one is dropped; without merge the record replaces the counter.
		importWindow: s.names(`INSERT INTO {t}windows AS w (client, period, start_ns, end_ns, used, fired)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (client, period) DO UPDATE SET
				start_ns = CASE WHEN NOT $7 OR EXCLUDED.start_ns >= w.start_ns THEN EXCLUDED.start_ns ELSE w.start_ns END,
				end_ns = CASE WHEN NOT $7 OR EXCLUDED.start_ns > w.start_ns THEN EXCLUDED.end_ns ELSE w.end_ns END,
				used = CASE WHEN NOT $7 OR EXCLUDED.start_ns > w.start_ns THEN EXCLUDED.used
					WHEN EXCLUDED.start_ns < w.start_ns THEN w.used
					WHEN w.used > 9223372036854775807 - EXCLUDED.used THEN 9223372036854775807
					ELSE w.used + EXCLUDED.used END,
				fired = CASE WHEN NOT $7 OR EXCLUDED.start_ns > w.start_ns THEN EXCLUDED.fired
					WHEN EXCLUDED.start_ns < w.start_ns THEN w.fired
					ELSE (w.fired::int | EXCLUDED.fired::int)::smallint END`),
		importUsage: s.names(`INSERT INTO {t}usage AS a (client, hour_start, label, hour_end, used)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (client, hour_start, label) DO UPDATE SET hour_end = EXCLUDED.hour_end,
				used = CASE WHEN NOT $6 THEN EXCLUDED.used
					WHEN a.used > 9223372036854775807 - EXCLUDED.used THEN 9223372036854775807
					ELSE a.used + EXCLUDED.used END`),
		importKey: s.names(`INSERT INTO {t}keys AS r (client, idem_key, label, cost, at_ns, expires_ns,
				hour_start, hour_end, periods, starts, ends, limits, used)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (client, idem_key) DO UPDATE SET label = EXCLUDED.label, cost = EXCLUDED.cost,
				at_ns = EXCLUDED.at_ns, expires_ns = EXCLUDED.expires_ns, hour_start = EXCLUDED.hour_start,
				hour_end = EXCLUDED.hour_end, periods = EXCLUDED.periods, starts = EXCLUDED.starts,
				ends = EXCLUDED.ends, limits = EXCLUDED.limits, used = EXCLUDED.used`),
		importKeyMerge: s.names(`INSERT INTO {t}keys (client, idem_key, label, cost, at_ns, expires_ns,
				hour_start, hour_end, periods, starts, ends, limits, used)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (client, idem_key) DO NOTHING`),
		pruneKeys: s.names(`DELETE FROM {t}keys WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM {t}keys WHERE expires_ns <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`),
		pruneUsage: s.names(`DELETE FROM {t}usage WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM {t}usage WHERE hour_start < $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`),
	}
}

// lockKey returns the int4 half of a client's advisory lock key that names
// the client: its FNV-1a hash. Two clients with the same hash share a lock,
// which only serializes their deductions.
func lockKey(s string) int32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return int32(h)
}

// checkOp refuses what no Billing sends: a negative cost or an unknown
// period.
func checkOp(op string, o *core.Op) error {
	if o.Cost < 0 {
		return fmt.Errorf("apibilling/postgres: %s: %w: %d micro-credits", op, core.ErrInvalidCost, o.Cost)
	}
	if o.N < 0 || o.N > core.MaxQuotas {
		return fmt.Errorf("apibilling/postgres: %s: %d windows", op, o.N)
	}
	for _, w := range o.Windows() {
		if !w.Period.Valid() {
			return fmt.Errorf("apibilling/postgres: %s: %w: %v", op, core.ErrInvalidQuota, w.Period)
		}
	}
	return nil
}

// windowArgs returns op's windows as the functions' array arguments.
func windowArgs(ws []core.Window, levels bool) (periods []int16, starts, ends, limits, lv []int64) {
	periods = make([]int16, len(ws))
	starts = make([]int64, len(ws))
	ends = make([]int64, len(ws))
	limits = make([]int64, len(ws))
	if levels {
		lv = make([]int64, 0, len(ws)*core.MaxLevels)
	}
	for i, w := range ws {
		periods[i] = int16(w.Period)
		starts[i], ends[i], limits[i] = w.Start, w.End, w.Limit
		if levels {
			lv = append(lv, w.Levels[:]...)
		}
	}
	return
}

// keyArg is the key argument: NULL for no key.
func keyArg(key string) any {
	if key == "" {
		return nil
	}
	return key
}

// cutoff returns the start before which the aggregates of a client charged
// in the hour starting at start are pruned, or nil to keep them.
func (s *Store) cutoff(start int64) any {
	if s.retention == 0 {
		return nil
	}
	c := start - s.retention
	if c > start { // overflow: nothing is that old
		return int64(math.MinInt64)
	}
	return c
}

// keyRow is a key record as the functions and tables hold it.
type keyRow struct {
	label                   []byte
	cost, at, expires       *int64
	hourStart, hourEnd      *int64
	periods                 []int16
	starts, ends, limits, u []int64
}

func (k *keyRow) dest() []any {
	return []any{&k.label, &k.cost, &k.at, &k.expires, &k.hourStart, &k.hourEnd,
		&k.periods, &k.starts, &k.ends, &k.limits, &k.u}
}

// record returns the key record of client's key.
func (k *keyRow) record(client, key string) (*core.KeyRecord, error) {
	n := len(k.periods)
	if k.cost == nil || n > core.MaxQuotas || len(k.starts) != n || len(k.ends) != n || len(k.limits) != n || len(k.u) != n {
		return nil, fmt.Errorf("malformed key record of %q", key)
	}
	r := &core.KeyRecord{Client: client, Key: key, Label: string(k.label), Cost: *k.cost, At: *k.at,
		Expires: *k.expires, Bucket: core.Span{Start: *k.hourStart, End: *k.hourEnd}, N: n}
	for i := range n {
		r.List[i] = core.Window{Period: core.Period(k.periods[i]), Start: k.starts[i], End: k.ends[i], Limit: k.limits[i]}
		r.Used[i] = k.u[i]
	}
	return r, nil
}

// Deduct implements [core.Store.Deduct] in one call of the deduct
// function: it locks the client's row, answers a recorded key, reads the
// counters, and only if every window has room writes them all, the hour
// aggregate and the key record. Concurrent calls are gathered into one
// call of the batch function (see groupcommit.go) unless
// [Options.NoGroupCommit] is set.
func (s *Store) Deduct(ctx context.Context, op *core.Op) (core.Result, error) {
	if err := checkOp("deduct", op); err != nil {
		return core.Result{}, err
	}
	if s.gc == nil || !batchable(op) {
		return s.deductOne(ctx, op)
	}
	return s.deductGrouped(ctx, op)
}

// deductOne sends op alone, in one call of the deduct function.
func (s *Store) deductOne(ctx context.Context, op *core.Op) (core.Result, error) {
	ws := op.Windows()
	periods, starts, ends, limits, levels := windowArgs(ws, true)
	args := []any{s.lockClass, lockKey(op.Client), []byte(op.Client), []byte(op.Label), op.Cost, op.Bucket.Start, op.Bucket.End,
		op.At, keyArg(op.Key), op.KeyExpires, periods, starts, ends, limits, levels,
		s.cutoff(op.Bucket.Start), s.lockWait}
	var row deductRow
	err := s.run(ctx, "deduct", true, func(ctx context.Context, c *pgx.Conn) error {
		return s.queryRow(ctx, c, s.q.deduct, args, row.dest()...)
	})
	if err != nil {
		return core.Result{}, err
	}
	return s.deductResult(op, &row)
}

// deductRow is the row of the deduct function (and of the batch
// function, after its index column).
type deductRow struct {
	status int32
	used   []int64
	fired  int64
	reset  int32
	k      keyRow
}

func (r *deductRow) dest() []any {
	return append([]any{&r.status, &r.used, &r.fired, &r.reset}, r.k.dest()...)
}

// deductResult returns the result of op that row answers.
func (s *Store) deductResult(op *core.Op, row *deductRow) (core.Result, error) {
	var res core.Result
	ws := op.Windows()
	switch row.status {
	case statusReplayed, statusConflict:
		rec, err := row.k.record(op.Client, op.Key)
		if err != nil {
			return res, errs.Failed("deduct", err)
		}
		res.Record = rec
		res.Replayed = row.status == statusReplayed
		res.OK = res.Replayed
		res.Conflict = !res.Replayed
		return res, nil
	case statusOK:
		res.OK = true
	case statusOverflow:
		res.Overflow = true
	}
	if len(row.used) != len(ws) {
		return res, errs.Failed("deduct", fmt.Errorf("%d counters for %d windows", len(row.used), len(ws)))
	}
	copy(res.Used[:], row.used)
	for i := range ws {
		res.Fired[i] = uint8(row.fired>>(4*i)) & 0xf
	}
	res.Reset = uint8(row.reset)
	if op.Key != "" && res.OK && s.keyed.Add(1)%1024 == 0 {
		s.pruner.Kick()
	}
	return res, nil
}

// Refund implements [core.Store.Refund] in one call of the refund
// function.
func (s *Store) Refund(ctx context.Context, op *core.Op) error {
	if err := checkOp("refund", op); err != nil {
		return err
	}
	if op.Key == "" && op.Cost == 0 {
		return s.check(ctx, "refund")
	}
	periods, starts, _, _, _ := windowArgs(op.Windows(), false)
	args := []any{s.lockClass, lockKey(op.Client), []byte(op.Client), []byte(op.Label), op.Cost, op.Bucket.Start,
		op.At, keyArg(op.Key), periods, starts, s.lockWait}
	var refunded int32
	return s.run(ctx, "refund", true, func(ctx context.Context, c *pgx.Conn) error {
		return s.queryRow(ctx, c, s.q.refund, args, &refunded)
	})
}

// Usage implements [core.Store.Usage] with one query of the client's
// counters.
func (s *Store) Usage(ctx context.Context, op *core.Op) (core.Result, error) {
	var res core.Result
	if err := checkOp("usage", op); err != nil {
		return res, err
	}
	ws := op.Windows()
	var held [core.MaxQuotas]struct {
		ok          bool
		start, used int64
	}
	err := s.run(ctx, "usage", false, func(ctx context.Context, c *pgx.Conn) error {
		held = [core.MaxQuotas]struct {
			ok          bool
			start, used int64
		}{}
		rows, err := c.Query(ctx, s.q.usage, []byte(op.Client))
		if err != nil {
			return err
		}
		var p int16
		var start, used int64
		_, err = pgx.ForEachRow(rows, []any{&p, &start, &used}, func() error {
			if p >= 0 && int(p) < core.MaxQuotas {
				held[p].ok, held[p].start, held[p].used = true, start, used
			}
			return nil
		})
		return err
	})
	if err != nil {
		return res, err
	}
	for i, w := range ws {
		if h := held[w.Period]; h.ok && w.Start <= h.start {
			res.Used[i] = h.used
		}
	}
	return res, nil
}
