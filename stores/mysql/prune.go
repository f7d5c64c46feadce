package mysql

import (
	"context"
	"database/sql"
	"math"
	"time"
)

// Pruned counts the rows one [Store.Prune] deleted.
type Pruned struct {
	Keys  int64 // idempotency key records that had expired
	Usage int64 // usage aggregates past the retention
}

// Prune deletes the idempotency key records that expired at now and the
// usage aggregates of hours that started more than [Options.Retention]
// before now, in READ COMMITTED transactions of [Options.PruneBatch] rows
// that skip rows other transactions hold (FOR UPDATE SKIP LOCKED), so that
// it never waits for a deduction nor makes one wait for long. Several
// processes may prune at once. It returns when nothing is left to delete
// or ctx ends.
//
// The store calls it every [Options.PruneInterval] and after many keyed
// deductions; an application that turned that off calls it itself, with
// time.Now().
func (s *Store) Prune(ctx context.Context, now time.Time) (Pruned, error) {
	var p Pruned
	if err := s.check(ctx, "prune"); err != nil {
		return p, err
	}
	at := now.UnixNano()
	cut := int64(math.MinInt64)
	if s.retention > 0 && at-s.retention < at {
		cut = at - s.retention
	}
	for {
		n, err := s.pruneBatch(ctx, s.q.pruneKeysSelect, " ORDER BY expires_ns", s.q.pruneKeysDelete, at, 2)
		p.Keys += n
		if err != nil || n < int64(s.batch) {
			if err != nil {
				return p, err
			}
			break
		}
	}
	for s.retention > 0 {
		n, err := s.pruneBatch(ctx, s.q.pruneUsageSelect, " ORDER BY hour_start", s.q.pruneUsageDelete, cut, 3)
		p.Usage += n
		if err != nil {
			return p, err
		}
		if n < int64(s.batch) {
			break
		}
	}
	return p, nil
}

// pruneBatch selects and locks up to a batch of rows below bound, skipping
// locked ones, and deletes them by their primary key of cols columns.
func (s *Store) pruneBatch(ctx context.Context, sel, order, del string, bound int64, cols int) (int64, error) {
	var n int64
	err := s.run(ctx, "prune", false, func(ctx context.Context) (bool, error) {
		n = 0
		tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
		if err != nil {
			return false, err
		}
		defer tx.Rollback()
		q := appendInt([]byte(sel), bound)
		q = append(q, order...)
		q = append(q, " LIMIT "...)
		q = appendInt(q, int64(s.batch))
		q = append(q, " FOR UPDATE SKIP LOCKED"...)
		rows, err := tx.QueryContext(ctx, string(q))
		if err != nil {
			return true, err
		}
		d := []byte(del)
		vals := make([][]byte, cols)
		dest := make([]any, cols)
		for i := range vals {
			dest[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return true, err
			}
			if n > 0 {
				d = append(d, ',')
			}
			d = append(d, '(')
			for i, v := range vals {
				if i > 0 {
					d = append(d, ',')
				}
				if cols == 3 && i == 1 { // hour_start
					d = append(d, v...)
				} else {
					d = appendBytes(d, string(v))
				}
			}
			d = append(d, ')')
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return true, err
		}
		if n == 0 {
			return true, nil
		}
		d = append(d, ')')
		if _, err := tx.ExecContext(ctx, string(d)); err != nil {
			return true, err
		}
		return true, tx.Commit()
	})
	return n, err
}

// PruneError returns the error of the last pruning pass of the store's
// goroutine, or nil if it succeeded (or none ran yet).
func (s *Store) PruneError() error { return s.pruner.Err() }
