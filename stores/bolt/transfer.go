package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// readSnapshot checkpoints the log into the file and runs fn in a read
// transaction begun right after: a consistent state the store had, which
// calls go on changing meanwhile. No checkpoint runs until fn returns, so
// that none waits for the transaction to grow the file; the log takes the
// changes meanwhile.
func (s *Store) readSnapshot(fn func(tx *bbolt.Tx) error) error {
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	if err := s.checkpointLocked(); err != nil {
		return err
	}
	return s.viewTx(fn)
}

// Export implements [core.Store.Export]. It reads a consistent snapshot in
// one bbolt read transaction, a record at a time, while billing goes on;
// idempotency keys that have expired by the wall clock are left out.
func (s *Store) Export(ctx context.Context, fn func(*core.Record) error) error {
	if err := s.checkArgs(ctx, "-", ""); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	s.mu.Lock()
	cut := s.retentionCut()
	s.mu.Unlock()
	return s.readSnapshot(func(tx *bbolt.Tx) error {
		b, err := openBuckets(tx)
		if err != nil {
			return err
		}
		var rec core.Record
		n := 0
		emit := func() error {
			if n++; n%256 == 0 {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("apibilling/bolt: %w", err)
				}
			}
			return callerFunc(fn, &rec)
		}
		c := b.clients.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var slots [core.MaxQuotas]slot
			var open openHour
			if err := decodeClientRecord(v, &slots, &open); err != nil {
				return err
			}
			for _, l := range open.labels {
				if open.start < cut {
					break
				}
				rec = core.Record{Kind: core.RecordUsage, Client: string(k), Start: open.start, End: open.end,
					Label: l.label, Used: l.credits}
				if err := emit(); err != nil {
					return err
				}
			}
			for p, sl := range slots {
				if !sl.held {
					continue
				}
				rec = core.Record{Kind: core.RecordWindow, Client: string(k), Period: core.Period(p),
					Start: sl.start, End: sl.end, Used: sl.used, Fired: sl.fired}
				if err := emit(); err != nil {
					return err
				}
			}
		}
		c = b.usage.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			client, start, label, err := parseUsageKey(k)
			if err != nil {
				return err
			}
			end, credits, err := decodeUsageValue(v)
			if err != nil {
				return err
			}
			if start < cut {
				continue
			}
			rec = core.Record{Kind: core.RecordUsage, Client: client, Start: start, End: end, Label: label, Used: credits}
			if err := emit(); err != nil {
				return err
			}
		}
		c = b.keys.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			r, err := decodeKeyRecord(v)
			if err != nil {
				return err
			}
			if r.Expires <= now {
				continue
			}
			rec = core.Record{Kind: core.RecordKey, Client: r.Client, Key: r}
			if err := emit(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Import implements [core.Store.Import]. Records go through the log like
// any change; the import's ID is kept in the meta bucket while it runs.
// In the durable mode Import returns once everything is on disk.
func (s *Store) Import(ctx context.Context, next func() (*core.Record, error), opts core.ImportOptions) error {
	if err := s.checkArgs(ctx, "-", ""); err != nil {
		return err
	}
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	resume := opts.ID != "" && s.importID == opts.ID
	s.mu.Unlock()
	if !opts.Merge && !resume {
		empty, err := s.empty()
		if err != nil {
			return err
		}
		if !empty {
			return core.ErrNotEmpty
		}
	}
	if opts.ID != "" {
		s.mu.Lock()
		s.setImport(strings.Clone(opts.ID))
		s.called()
		if err := s.wait(s.lsn, s.logEpoch); err != nil {
			return err
		}
	}
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("apibilling/bolt: %w", err)
		}
		rec, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if rec == nil {
			return errors.New("apibilling/bolt: import: next returned a nil record without an error")
		}
		if err := s.importRecord(rec, opts.Merge, n%4096 == 0); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if s.importID != "" {
		s.setImport("")
		s.called()
	}
	return s.wait(s.lsn, s.logEpoch)
}

// empty reports whether the store holds no state.
func (s *Store) empty() (bool, error) {
	if err := s.checkpoint(); err != nil { // the file then holds everything
		return false, err
	}
	empty := true
	err := s.view(func(b *buckets) error {
		for _, bk := range []*bbolt.Bucket{b.clients, b.usage, b.keys} {
			if k, _ := bk.Cursor().First(); k != nil {
				empty = false
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return empty && s.dirtyCount() == 0, nil
}

// importRecord writes one record, merging it if merge is set; with wait,
// it waits until the log holds it on disk.
func (s *Store) importRecord(rec *core.Record, merge, wait bool) error {
	var err error
	switch rec.Kind {
	case core.RecordWindow:
		if !rec.Period.Valid() {
			return nil
		}
		if err = checkRecord(rec.Client, "", rec.Used); err != nil {
			return err
		}
		s.mu.Lock()
		c, _, _, _, err := s.ensure(&want{client: rec.Client})
		if err != nil {
			s.mu.Unlock()
			return err
		}
		sl := &c.slots[rec.Period]
		st := core.MergeWindow(core.WindowState{Start: sl.start, End: sl.end, Used: sl.used, Fired: sl.fired, Held: sl.held}, rec, merge)
		*sl = slot{start: st.Start, end: st.End, used: st.Used, fired: st.Fired, held: st.Held}
		s.putClient(c)
	case core.RecordUsage:
		if err = checkRecord(rec.Client, rec.Label, rec.Used); err != nil {
			return err
		}
		s.mu.Lock()
		c, h, _, where, err := s.ensure(&want{client: rec.Client, hour: true, open: true, start: rec.Start, label: rec.Label})
		if err != nil {
			s.mu.Unlock()
			return err
		}
		if where == inOpen {
			s.openAt(c, core.Span{Start: rec.Start, End: rec.End})
			if i := c.open.label(rec.Label); i >= 0 {
				c.open.labels[i].credits = core.MergeUsage(c.open.labels[i].credits, rec.Used, merge)
			} else {
				c.open.labels = append(c.open.labels, labelCredits{label: strings.Clone(rec.Label), credits: rec.Used})
			}
			s.putClient(c)
			break
		}
		if h.exists {
			h.credits = core.MergeUsage(h.credits, rec.Used, merge)
		} else {
			h.exists, h.end, h.credits = true, rec.End, rec.Used
		}
		s.putHour(c, h)
	case core.RecordKey:
		r := rec.Key
		if err = checkRecord(r.Client, r.Label, 0); err != nil {
			return err
		}
		if !core.ValidKey(r.Key) || r.N < 0 || r.N > core.MaxQuotas {
			return fmt.Errorf("%w: an idempotency key record of client %q", core.ErrInvalidKey, r.Client)
		}
		kk := keyKey(nil, r.Client, r.Key)
		s.mu.Lock()
		_, _, k, _, err := s.ensure(&want{client: r.Client, kk: kk})
		if err != nil {
			s.mu.Unlock()
			return err
		}
		if k.exists && merge {
			s.mu.Unlock()
			return nil // a key already held stays
		}
		r.Client, r.Key, r.Label = strings.Clone(r.Client), strings.Clone(r.Key), strings.Clone(r.Label)
		k.rec, k.exists = r, true
		s.putKey(k)
	default:
		return nil
	}
	s.called()
	if !wait {
		s.mu.Unlock()
		return nil
	}
	return s.wait(s.lsn, s.logEpoch)
}

func checkRecord(client, label string, used int64) error {
	if err := core.ValidateClientID(client); err != nil {
		return err
	}
	if len(label) > core.MaxLabelLen {
		return fmt.Errorf("%w: %d bytes, at most %d", core.ErrInvalidLabel, len(label), core.MaxLabelLen)
	}
	if used < 0 {
		return fmt.Errorf("apibilling/bolt: import: negative usage %d of client %q", used, client)
	}
	return nil
}
