package mysql

import (
	"context"

	"github.com/frappy-go/apibilling/core"
)

// Report implements [core.Store.Report] with one query of the client's
// aggregates, by the primary key (client, hour_start, label).
func (s *Store) Report(ctx context.Context, q core.ReportQuery) ([]core.UsageRecord, error) {
	b := appendBytes([]byte(s.q.report), q.Client)
	b = append(b, " AND hour_start >= "...)
	b = appendInt(b, q.From)
	b = append(b, " AND hour_start < "...)
	b = appendInt(b, q.To)
	var out []core.UsageRecord
	var r core.UsageRecord
	var label []byte
	err := s.query(ctx, "report", b, []any{&r.Bucket.Start, &r.Bucket.End, &label, &r.Credits}, func() error {
		r.Label = string(label)
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete implements [core.Store.Delete] in one call of the delete
// procedure.
func (s *Store) Delete(ctx context.Context, op *core.DeleteOp) (int64, error) {
	b := append([]byte(nil), s.q.delete...)
	b = appendBytes(b, op.Client)
	b = append(b, ',')
	b = appendInt(b, op.From)
	b = append(b, ',')
	b = appendInt(b, op.To)
	b = append(b, ',')
	b = appendBytes(b, string(appendWindowList(nil, op.Windows(), nil)))
	b = append(b, ',')
	b = appendInt(b, s.lockWait)
	b = append(b, ')')
	var total int64
	if err := s.call(ctx, "delete", b, &total); err != nil {
		return 0, err
	}
	return total, nil
}
