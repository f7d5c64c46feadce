package mysql

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"time"

	"github.com/frappy-go/apibilling/core"
	gomysql "github.com/go-sql-driver/mysql"
)

// importBatch is how many records [Store.Import] writes in one
// transaction.
const importBatch = 256

// Export implements [core.Store.Export]: it reads the three tables in one
// REPEATABLE READ, READ ONLY transaction, so the records are one
// consistent snapshot, and streams them row by row. It is bounded by ctx
// alone, not by [Options.Timeout].
func (s *Store) Export(ctx context.Context, fn func(*core.Record) error) error {
	if err := s.check(ctx, "export"); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return errs.Failed("export", err)
	}
	defer tx.Rollback()
	var fnErr error
	each := func(query string, dest []any, rec func() *core.Record) error {
		rows, err := tx.QueryContext(ctx, query)
		if err != nil {
			return errs.Failed("export", err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return errs.Failed("export", err)
			}
			r := rec()
			if r == nil {
				continue
			}
			if fnErr = fn(r); fnErr != nil {
				return fnErr
			}
		}
		if err := rows.Err(); err != nil {
			return errs.Failed("export", err)
		}
		return nil
	}

	var rec core.Record
	var client, label, key []byte
	var period, fired int64
	if err := each(s.q.exportWindows, []any{&client, &period, &rec.Start, &rec.End, &rec.Used, &fired}, func() *core.Record {
		rec.Kind, rec.Client, rec.Period, rec.Fired = core.RecordWindow, string(client), core.Period(period), uint8(fired)
		return &rec
	}); err != nil {
		return err
	}
	rec = core.Record{}
	if err := each(s.q.exportUsage, []any{&client, &rec.Start, &rec.End, &label, &rec.Used}, func() *core.Record {
		rec.Kind, rec.Client, rec.Label = core.RecordUsage, string(client), string(label)
		return &rec
	}); err != nil {
		return err
	}
	var k keyRow
	var badKey error
	q := appendInt([]byte(s.q.exportKeys), time.Now().UnixNano())
	if err := each(string(q), append([]any{&client, &key}, k.dest()...), func() *core.Record {
		r, err := k.record(string(client), string(key))
		if err != nil {
			badKey = err
			return nil
		}
		rec = core.Record{Kind: core.RecordKey, Client: r.Client, Key: *r}
		return &rec
	}); err != nil {
		return err
	}
	if badKey != nil {
		return errs.Failed("export", badKey)
	}
	return nil
}

// Import implements [core.Store.Import]. It writes the records in
// transactions of 256, locking each record's client row before writing it,
// so it can run beside deductions. Merging is done by the upserts
// themselves ([core.MergeWindow], [core.MergeUsage]). Each transaction is
// bounded by ten times [Options.Timeout] (at least ten seconds); an import
// that fails can be run again with the same [core.ImportOptions].ID.
func (s *Store) Import(ctx context.Context, next func() (*core.Record, error), opts core.ImportOptions) error {
	if err := s.check(ctx, "import"); err != nil {
		return err
	}
	var current sql.NullString
	var full bool
	err := s.run(ctx, "import", false, func(ctx context.Context) (bool, error) {
		current = sql.NullString{}
		if err := s.db.QueryRowContext(ctx, s.q.getImport).Scan(&current); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return true, err
		}
		return true, s.db.QueryRowContext(ctx, s.q.empty).Scan(&full)
	})
	if err != nil {
		return err
	}
	resume := opts.ID != "" && current.Valid && current.String == opts.ID
	// A store holding an unfinished import is not empty, even if that
	// import wrote nothing yet.
	if !opts.Merge && !resume && (full || current.Valid) {
		return core.ErrNotEmpty
	}
	if opts.ID != "" {
		b := appendBytes([]byte(s.q.setImport), opts.ID)
		b = append(b, ") ON DUPLICATE KEY UPDATE value = "...)
		b = appendBytes(b, opts.ID)
		if err := s.exec(ctx, "import", b); err != nil {
			return err
		}
	}
	var stmts [][]byte
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
			return errors.New("apibilling/mysql: import: next returned a nil record without an error")
		}
		stmts = s.appendRecord(stmts, rec, opts.Merge)
		if len(stmts) >= 2*importBatch {
			if err := s.writeImport(ctx, stmts); err != nil {
				return err
			}
			stmts = stmts[:0]
		}
	}
	if err := s.writeImport(ctx, stmts); err != nil {
		return err
	}
	if opts.ID != "" {
		return s.exec(ctx, "import", []byte(s.q.endImport))
	}
	return nil
}

// appendRecord appends the statements that write rec: the lock of its
// client's row, then the upsert, whose values are written in.
func (s *Store) appendRecord(stmts [][]byte, rec *core.Record, merge bool) [][]byte {
	client := rec.Client
	if rec.Kind == core.RecordKey {
		client = rec.Key.Client
	}
	lock := appendBytes([]byte(s.q.lockClient), client)
	lock = append(lock, ") ON DUPLICATE KEY UPDATE client = client"...)
	var b []byte
	switch rec.Kind {
	case core.RecordWindow:
		if !rec.Period.Valid() {
			return stmts
		}
		b = appendBytes([]byte(s.q.importWindow), client)
		for _, v := range []int64{int64(rec.Period), rec.Start, rec.End, rec.Used, int64(rec.Fired)} {
			b = append(b, ',')
			b = appendInt(b, v)
		}
		// MySQL assigns left to right, each assignment seeing the ones
		// before it: start_ns, which the others compare with, comes last.
		// Merging follows core.MergeWindow: the same start adds (capped)
		// and joins the bits, a later start replaces, an earlier one is
		// dropped; without merge the record replaces the counter.
		start, used, fired := appendInt(nil, rec.Start), appendInt(nil, rec.Used), appendInt(nil, int64(rec.Fired))
		later := "(" + string(start) + " > start_ns)"
		if !merge {
			later = "TRUE"
		}
		b = append(b, ") ON DUPLICATE KEY UPDATE used = CASE WHEN "+later+" THEN "+string(used)+
			" WHEN "+string(start)+" < start_ns THEN used"+
			" WHEN used > 9223372036854775807 - "+string(used)+" THEN 9223372036854775807"+
			" ELSE used + "+string(used)+" END"+
			", fired = CASE WHEN "+later+" THEN "+string(fired)+
			" WHEN "+string(start)+" < start_ns THEN fired ELSE fired | "+string(fired)+" END"+
			", end_ns = CASE WHEN "+later+" THEN "+string(appendInt(nil, rec.End))+" ELSE end_ns END"+
			", start_ns = CASE WHEN "+later+" THEN "+string(start)+" ELSE start_ns END"...)
	case core.RecordUsage:
		b = appendBytes([]byte(s.q.importUsage), client)
		b = append(b, ',')
		b = appendInt(b, rec.Start)
		b = append(b, ',')
		b = appendBytes(b, rec.Label)
		b = append(b, ',')
		b = appendInt(b, rec.End)
		b = append(b, ',')
		b = appendInt(b, rec.Used)
		used := string(appendInt(nil, rec.Used))
		if merge {
			b = append(b, ") ON DUPLICATE KEY UPDATE used = CASE WHEN used > 9223372036854775807 - "+used+
				" THEN 9223372036854775807 ELSE used + "+used+" END"...)
		} else {
			b = append(b, ") ON DUPLICATE KEY UPDATE used = "+used...)
		}
	case core.RecordKey:
		k := &rec.Key
		if k.N < 0 || k.N > core.MaxQuotas {
			return stmts
		}
		label := string(appendBytes(nil, k.Label))
		list := string(appendBytes(nil, string(appendWindowList(nil, k.Windows(), k.Used[:k.N]))))
		var ints [5]string
		for i, v := range []int64{k.Cost, k.At, k.Expires, k.Bucket.Start, k.Bucket.End} {
			ints[i] = string(appendInt(nil, v))
		}
		b = appendBytes([]byte(s.q.importKey), client)
		b = append(b, ',')
		b = appendBytes(b, k.Key)
		b = append(b, ","+label+","+ints[0]+","+ints[1]+","+ints[2]+","+ints[3]+","+ints[4]+","+list...)
		if merge {
			b = append(b, ") ON DUPLICATE KEY UPDATE client = client"...) // a key held stays
		} else {
			b = append(b, ") ON DUPLICATE KEY UPDATE label = "+label+", cost = "+ints[0]+", at_ns = "+ints[1]+
				", expires_ns = "+ints[2]+", hour_start = "+ints[3]+", hour_end = "+ints[4]+", windows = "+list...)
		}
	default:
		return stmts
	}
	return append(stmts, lock, b)
}

// writeImport runs stmts in one transaction.
func (s *Store) writeImport(ctx context.Context, stmts [][]byte) error {
	if len(stmts) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, max(10*s.timeout, 10*time.Second))
	defer cancel()
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return errs.Failed("import", err)
	}
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, string(stmt)); err != nil {
			tx.Rollback()
			var me *gomysql.MySQLError
			return errs.Err("import", err, !errors.As(err, &me))
		}
	}
	if err := tx.Commit(); err != nil {
		var me *gomysql.MySQLError
		return errs.Err("import", err, !errors.As(err, &me))
	}
	return nil
}
