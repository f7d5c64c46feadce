package postgres

import (
	"context"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

// Pruned counts the rows one [Store.Prune] deleted.
type Pruned struct {
	Keys  int64 // idempotency key records that had expired
	Usage int64 // usage aggregates past the retention
}

// Prune deletes the idempotency key records that expired at now and the
// usage aggregates of hours that started more than [Options.Retention]
// before now, in transactions of [Options.PruneBatch] rows that skip rows
// other transactions hold (FOR UPDATE SKIP LOCKED), so that it never waits
// for a deduction nor makes one wait for long. Several processes may prune
// at once. It returns when nothing is left to delete or ctx ends.
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
	for _, step := range []struct {
		sql   string
		bound int64
		n     *int64
		skip  bool
	}{
		{s.q.pruneKeys, at, &p.Keys, false},
		{s.q.pruneUsage, cut, &p.Usage, s.retention == 0},
	} {
		for !step.skip {
			var n int64
			err := s.run(ctx, "prune", false, func(ctx context.Context, c *pgx.Conn) error {
				tag, err := c.Exec(ctx, step.sql, step.bound, s.batch)
				n = tag.RowsAffected()
				return err
			})
			if err != nil {
				return p, err
			}
			*step.n += n
			if n < int64(s.batch) {
				break
			}
		}
	}
	return p, nil
}

// PruneError returns the error of the last pruning pass of the store's
// goroutine, or nil if it succeeded (or none ran yet).
func (s *Store) PruneError() error { return s.pruner.Err() }
