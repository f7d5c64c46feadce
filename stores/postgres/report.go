package postgres

import (
	"context"

	"github.com/frappy-go/apibilling/core"
	"github.com/jackc/pgx/v5"
)

// Report implements [core.Store.Report] with one query of the client's
// aggregates, by the primary key (client, hour_start, label).
func (s *Store) Report(ctx context.Context, q core.ReportQuery) ([]core.UsageRecord, error) {
	var out []core.UsageRecord
	err := s.run(ctx, "report", false, func(ctx context.Context, c *pgx.Conn) error {
		out = out[:0]
		rows, err := c.Query(ctx, s.q.report, []byte(q.Client), q.From, q.To)
		if err != nil {
			return err
		}
		var r core.UsageRecord
		var label []byte
		_, err = pgx.ForEachRow(rows, []any{&r.Bucket.Start, &r.Bucket.End, &label, &r.Credits}, func() error {
			r.Label = string(label)
			out = append(out, r)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete implements [core.Store.Delete] in one call of the delete
// function.
func (s *Store) Delete(ctx context.Context, op *core.DeleteOp) (int64, error) {
	ws := op.Windows()
	periods, starts, ends, _, _ := windowArgs(ws, false)
	var total int64
	err := s.run(ctx, "delete", true, func(ctx context.Context, c *pgx.Conn) error {
		return s.queryRow(ctx, c, s.q.delete, []any{s.lockClass, lockKey(op.Client), []byte(op.Client), op.From, op.To, periods, starts, ends, s.lockWait}, &total)
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}
