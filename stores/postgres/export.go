package postgres

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/jackc/pgx/v5"
)

// importBatch is how many records [Store.Import] sends in one round trip
// and one transaction.
const importBatch = 256

// Export implements [core.Store.Export]: it reads the three tables in one
// REPEATABLE READ, READ ONLY transaction, so the records are one
// consistent snapshot, and streams them row by row. It is bounded by ctx
// alone, not by [Options.Timeout].
func (s *Store) Export(ctx context.Context, fn func(*core.Record) error) error {
	if err := s.check(ctx, "export"); err != nil {
		return err
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return errs.Failed("export", err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		defer cancel()
		tx.Rollback(rctx)
	}()
	var fnErr error
	call := func(rec *core.Record) error {
		if fnErr = fn(rec); fnErr != nil {
			return fnErr
		}
		return nil
	}
	fail := func(err error) error {
		if fnErr != nil {
			return fnErr
		}
		return errs.Failed("export", err)
	}

	var rec core.Record
	var client, label []byte
	var period, fired int16
	rows, err := tx.Query(ctx, s.q.exportWindows)
	if err != nil {
		return fail(err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&client, &period, &rec.Start, &rec.End, &rec.Used, &fired}, func() error {
		rec.Kind, rec.Client, rec.Period, rec.Fired = core.RecordWindow, string(client), core.Period(period), uint8(fired)
		return call(&rec)
	}); err != nil {
		return fail(err)
	}

	rec = core.Record{}
	if rows, err = tx.Query(ctx, s.q.exportUsage); err != nil {
		return fail(err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&client, &rec.Start, &rec.End, &label, &rec.Used}, func() error {
		rec.Kind, rec.Client, rec.Label = core.RecordUsage, string(client), string(label)
		return call(&rec)
	}); err != nil {
		return fail(err)
	}

	rec = core.Record{}
	var key string
	var k keyRow
	if rows, err = tx.Query(ctx, s.q.exportKeys, time.Now().UnixNano()); err != nil {
		return fail(err)
	}
	if _, err := pgx.ForEachRow(rows, append([]any{&client, &key}, k.dest()...), func() error {
		r, err := k.record(string(client), key)
		if err != nil {
			return err
		}
		rec = core.Record{Kind: core.RecordKey, Client: r.Client, Key: *r}
		return call(&rec)
	}); err != nil {
		return fail(err)
	}
	return nil
}

// Import implements [core.Store.Import]. It sends the records in batches
// of 256, each batch one round trip and one transaction that locks each
// record's client row before writing it, so it can run beside deductions.
// Merging is done by the upserts themselves ([core.MergeWindow],
// [core.MergeUsage]). Each batch is bounded by ten times
// [Options.Timeout] (at least ten seconds); an import that fails can be
// run again with the same [core.ImportOptions].ID.
func (s *Store) Import(ctx context.Context, next func() (*core.Record, error), opts core.ImportOptions) error {
	if err := s.check(ctx, "import"); err != nil {
		return err
	}
	var current *string
	var full bool
	err := s.run(ctx, "import", false, func(ctx context.Context, c *pgx.Conn) error {
		current = nil
		if err := c.QueryRow(ctx, s.q.getImport).Scan(&current); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return c.QueryRow(ctx, s.q.empty).Scan(&full)
	})
	if err != nil {
		return err
	}
	resume := opts.ID != "" && current != nil && *current == opts.ID
	// A store holding an unfinished import is not empty, even if that
	// import wrote nothing yet.
	if !opts.Merge && !resume && (full || current != nil) {
		return core.ErrNotEmpty
	}
	if opts.ID != "" {
		if err := s.exec(ctx, "import", s.q.setImport, opts.ID); err != nil {
			return err
		}
	}
	b := &pgx.Batch{}
	for {
		if err := s.check(ctx, "import"); err != nil {
			return err
		}
		rec, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if rec == nil {
			return errors.New("apibilling/postgres: import: next returned a nil record without an error")
		}
		s.queueRecord(b, rec, opts.Merge)
		if len(b.QueuedQueries) >= 2*importBatch {
			if err := s.sendImport(ctx, b); err != nil {
				return err
			}
			b = &pgx.Batch{}
		}
	}
	if err := s.sendImport(ctx, b); err != nil {
		return err
	}
	if opts.ID != "" {
		return s.exec(ctx, "import", s.q.endImp)
	}
	return nil
}

// queueRecord queues the statements that write rec: the lock of its
// client's row, then the upsert.
func (s *Store) queueRecord(b *pgx.Batch, rec *core.Record, merge bool) {
	client := []byte(rec.Client)
	switch rec.Kind {
	case core.RecordWindow:
		if !rec.Period.Valid() {
			return
		}
		b.Queue(s.q.lockClient, s.lockClass, lockKey(string(client)))
		b.Queue(s.q.importWindow, client, int16(rec.Period), rec.Start, rec.End, rec.Used, int16(rec.Fired), merge)
	case core.RecordUsage:
		b.Queue(s.q.lockClient, s.lockClass, lockKey(string(client)))
		b.Queue(s.q.importUsage, client, rec.Start, []byte(rec.Label), rec.End, rec.Used, merge)
	case core.RecordKey:
		k := &rec.Key
		if k.N < 0 || k.N > core.MaxQuotas {
			return
		}
		client = []byte(k.Client)
		periods, starts, ends, limits, _ := windowArgs(k.Windows(), false)
		q := s.q.importKey
		if merge {
			q = s.q.importKeyMerge
		}
		b.Queue(s.q.lockClient, s.lockClass, lockKey(string(client)))
		b.Queue(q, client, k.Key, []byte(k.Label), k.Cost, k.At, k.Expires, k.Bucket.Start, k.Bucket.End,
			periods, starts, ends, limits, append([]int64(nil), k.Used[:k.N]...))
	}
}

// sendImport sends b in one round trip, inside one transaction.
func (s *Store) sendImport(ctx context.Context, b *pgx.Batch) error {
	if len(b.QueuedQueries) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, max(10*s.timeout, 10*time.Second))
	defer cancel()
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return errs.Failed("import", err)
	}
	defer c.Release()
	full := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(b.QueuedQueries)+2)}
	full.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	full.QueuedQueries = append(full.QueuedQueries, b.QueuedQueries...)
	full.Queue("COMMIT")
	if err := c.SendBatch(ctx, full).Close(); err != nil {
		return errs.Err("import", err, true)
	}
	return nil
}

// exec runs one statement that changes no usage.
func (s *Store) exec(ctx context.Context, op, sql string, args ...any) error {
	return s.run(ctx, op, false, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, sql, args...)
		return err
	})
}
