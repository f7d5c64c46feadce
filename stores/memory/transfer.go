package memory

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// Export implements [core.Store.Export]. Each shard is read under its
// lock, one at a time, so the export is consistent per client, and holds
// one shard's records at a time; fn runs without the lock, so charges go
// on meanwhile. Keys are exported until they expire by the wall clock.
func (s *Store) Export(ctx context.Context, fn func(*core.Record) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var recs []core.Record
	for i := range s.shards {
		sh := &s.shards[i]
		recs = recs[:0]
		sh.mu.Lock()
		for ci := range sh.clients {
			c := &sh.clients[ci]
			for p, sl := range c.slots {
				if sl.held {
					recs = append(recs, core.Record{Kind: core.RecordWindow, Client: c.id, Period: core.Period(p),
						Start: sl.start, End: sl.end, Used: sl.used, Fired: sl.fired})
				}
			}
			c.allHours(func(h *hour) {
				for j := range h.n {
					l := h.label(j)
					recs = append(recs, core.Record{Kind: core.RecordUsage, Client: c.id, Start: h.start, End: h.end,
						Label: l.label, Used: l.credits})
				}
			})
		}
		now := time.Now().UnixNano()
		for _, r := range sh.keys {
			if r.Expires > now {
				recs = append(recs, core.Record{Kind: core.RecordKey, Client: r.Client, Key: *r})
			}
		}
		sh.mu.Unlock()
		for j := range recs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(&recs[j]); err != nil {
				return err
			}
		}
	}
	return nil
}

// empty reports whether the store holds no state.
func (s *Store) empty() bool {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n := len(sh.clients) + len(sh.keys)
		sh.mu.Unlock()
		if n > 0 {
			return false
		}
	}
	return true
}

// errNilRecord is the error of an import whose next returns neither a
// record nor an error.
var errNilRecord = errors.New("apibilling/memory: import: next returned a nil record without an error")

// Import implements [core.Store.Import]. The ID of an import is kept in
// memory while it runs, so an import can be resumed by the same store
// value, not after a restart (which loses everything anyway).
func (s *Store) Import(ctx context.Context, next func() (*core.Record, error), opts core.ImportOptions) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	held := s.importing.Load() // loaded once: another import may clear it
	resume := opts.ID != "" && held != nil && *held == opts.ID
	// A store holding an unfinished import is not empty, even if that import
	// wrote nothing yet.
	if !opts.Merge && !resume && (held != nil || !s.empty()) {
		return core.ErrNotEmpty
	}
	if opts.ID != "" {
		id := opts.ID
		s.importing.Store(&id)
	}
	for {
		if err := s.check(ctx); err != nil {
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
			return errNilRecord
		}
		s.importRecord(rec, opts.Merge)
	}
	s.importing.Store(nil)
	return nil
}

func (s *Store) importRecord(rec *core.Record, merge bool) {
	sh, h := s.shard(rec.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	switch rec.Kind {
	case core.RecordWindow:
		if !rec.Period.Valid() {
			return
		}
		sl := &sh.add(h, rec.Client).slots[rec.Period]
		st := core.MergeWindow(core.WindowState{Start: sl.start, End: sl.end, Used: sl.used, Fired: sl.fired, Held: sl.held}, rec, merge)
		*sl = slot{start: st.Start, end: st.End, used: st.Used, fired: st.Fired, held: st.Held}
	case core.RecordUsage:
		hr := sh.add(h, rec.Client).addHour(core.Span{Start: rec.Start, End: rec.End}, 0)
		if p := hr.find(rec.Label); p != nil {
			*p = core.MergeUsage(*p, rec.Used, merge)
		} else {
			hr.add(sh.intern(rec.Label), rec.Used)
		}
	case core.RecordKey:
		// The record's client is the key's: the shard is chosen by it.
		k := keyID{rec.Client, rec.Key.Key}
		if _, ok := sh.keys[k]; ok && merge {
			return // keys already held stay
		}
		r := rec.Key
		r.Client, r.Key, r.Label = strings.Clone(rec.Client), strings.Clone(r.Key), strings.Clone(r.Label)
		sh.keep(&r)
	}
}
