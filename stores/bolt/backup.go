package bolt

import (
	"context"
	"fmt"
	"io"

	bbolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the store's file to w while billing
// goes on, and returns the number of bytes written. It first writes the log
// into the file (a checkpoint), then copies the file from a bbolt read
// transaction (bbolt's Tx.WriteTo): the copy holds the state the store had
// at that instant, and opens with [Open] as a store of its own. Calls go on
// meanwhile; the log holds their changes until the copy is done. An error
// from ctx stops the copy.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := s.checkArgs(ctx, "-", ""); err != nil {
		return 0, err
	}
	var n int64
	err := s.readSnapshot(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("apibilling/bolt: backup: %w", err)
	}
	return n, nil
}

// ctxWriter stops writing once its context is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
