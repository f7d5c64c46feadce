package bolt

import (
	"bytes"
	"slices"
	"time"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// A checkpoint writes the changes of the log into the bbolt file, in
// transactions of at most chunkOps records taken in key order, so that
// no transaction grows with the number of clients: bbolt reuses the pages
// that one transaction frees in the next ones, and the heap holds one
// chunk's pages at a time. Expired idempotency keys and usage aggregates
// past the retention are removed a few at a time in the same
// transactions. Calls go on meanwhile: they write to the next log segment,
// and only a write of the log waits (for the last records of the segment
// being closed).

// snapshot is what a checkpoint writes: the records of the entries that
// changed, each the entry's value at one instant.
type snapshot struct {
	buf []byte
	ops []snapOp
	now int64 // the latest charge seen, for pruning

	cl  []*clientEntry // clients whose window counters are written
	hs  []snapHour
	ks  []*keyEntry
	imp bool
}

type snapOp struct {
	bk     byte
	del    bool
	ko, kl int
	vo, vl int
}

type snapHour struct {
	c *clientEntry
	h *hourEntry
}

func (o *snapOp) key(buf []byte) []byte { return buf[o.ko : o.ko+o.kl] }
func (o *snapOp) val(buf []byte) []byte { return buf[o.vo : o.vo+o.vl] }

func (sn *snapshot) add(bk byte, del bool, k []byte, v []byte) {
	op := snapOp{bk: bk, del: del, ko: len(sn.buf), kl: len(k)}
	sn.buf = append(sn.buf, k...)
	op.vo = len(sn.buf)
	op.vl = len(v)
	sn.buf = append(sn.buf, v...)
	sn.ops = append(sn.ops, op)
}

// takeSnapshot takes the dirty entries' values, with mu held, and marks
// them clean.
func (s *Store) takeSnapshot() *snapshot {
	sn := &snapshot{now: s.maxAt}
	for _, c := range s.dirtyCl {
		c.listed = false
		if c.dirty {
			c.dirty = false
			if c.exists {
				s.kb = appendClientRecord(s.kb[:0], &c.slots, &c.open)
				sn.add(bkClients, false, []byte(c.id), s.kb)
			}
			sn.cl = append(sn.cl, c)
		}
		for _, h := range c.hours {
			if !h.dirty {
				continue
			}
			h.dirty = false
			s.kb = usageKey(s.kb[:0], c.id, h.start, h.label)
			n := len(s.kb)
			if h.exists {
				s.kb = appendUsageValue(s.kb, h.end, h.credits)
			}
			sn.add(bkUsage, !h.exists, s.kb[:n], s.kb[n:])
			sn.hs = append(sn.hs, snapHour{c, h})
		}
	}
	clear(s.dirtyCl)
	s.dirtyCl = s.dirtyCl[:0]
	for _, k := range s.dirtyKeys {
		k.listed = false
		s.kb = s.kb[:0]
		if k.exists {
			s.kb, _ = k.rec.AppendBinary(s.kb)
		}
		sn.add(bkKeys, !k.exists, []byte(k.k), s.kb)
		sn.ks = append(sn.ks, k)
	}
	clear(s.dirtyKeys)
	s.dirtyKeys = s.dirtyKeys[:0]
	if s.importSet {
		s.importSet = false
		sn.imp = true
		sn.add(bkMeta, s.importID == "", importKey, []byte(s.importID))
	}
	return sn
}

// sort puts the snapshot's records in key order, which bbolt writes
// fastest. It runs without the store's lock.
func (sn *snapshot) sort() {
	slices.SortFunc(sn.ops, func(a, b snapOp) int {
		if a.bk != b.bk {
			return int(a.bk) - int(b.bk)
		}
		return bytes.Compare(a.key(sn.buf), b.key(sn.buf))
	})
}

// remark marks the entries of a snapshot that was not written dirty
// again, with mu held; entries of an earlier cache are left alone.
func (s *Store) remark(sn *snapshot) {
	for _, c := range sn.cl {
		if c.epoch == s.epoch {
			c.dirty = true
			s.listClient(c)
		}
	}
	for _, sh := range sn.hs {
		if sh.c.epoch == s.epoch {
			sh.h.dirty = true
			s.listClient(sh.c)
		}
	}
	for _, k := range sn.ks {
		if k.epoch == s.epoch && !k.listed {
			k.listed = true
			s.dirtyKeys = append(s.dirtyKeys, k)
		}
	}
	if sn.imp {
		s.importSet = true
	}
}

// checkpointLoop runs checkpoints when the log or the cache asks for one.
func (s *Store) checkpointLoop() {
	defer s.bg.Done()
	for {
		select {
		case <-s.quit:
			return
		case <-s.ckReq:
			_ = s.checkpoint()
		}
	}
}

// checkpoint writes every change made so far into the bbolt file.
func (s *Store) checkpoint() error {
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	return s.checkpointLocked()
}

// idle reports whether a checkpoint has nothing to write: no change since
// the last one, and no log segment but the current, empty one.
func (s *Store) idle() bool {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dirtyCount() == 0 && !s.importSet && len(s.pending) == frameHeader &&
		s.wal.off == 0 && s.logFirst == s.wal.seq && len(s.clients)+len(s.keys) < cacheLimit
}

// checkpointLocked is checkpoint with ckMu held.
func (s *Store) checkpointLocked() error {
	if s.idle() {
		return nil
	}
	<-s.validated
	if s.validErr != nil {
		s.mu.Lock()
		if s.broken == nil {
			s.broken = s.validErr
			s.durCond.Broadcast()
		}
		s.mu.Unlock()
		return s.validErr
	}
	next := s.wal.seq + 1
	f, err := createSegment(s.path, next, s.opts.FileMode)
	if err != nil {
		return err
	}
	s.flushMu.Lock()
	s.mu.Lock()
	if s.broken != nil {
		err := s.broken
		s.mu.Unlock()
		s.flushMu.Unlock()
		f.Close()
		return err
	}
	buf, calls, target := s.takePending()
	sn := s.takeSnapshot()
	s.mu.Unlock()
	if len(buf) > frameHeader {
		if err := s.writeFrame(buf, calls, target, sn); err != nil {
			s.flushMu.Unlock()
			f.Close()
			return err
		}
	}
	s.wal.switchTo(f, next)
	s.mu.Lock()
	s.sinceCk = 0
	s.mu.Unlock()
	s.flushMu.Unlock()

	sn.sort()
	if err := s.applySnapshot(sn, next); err != nil {
		s.mu.Lock()
		s.remark(sn)
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	s.evict()
	s.evictions++
	s.durCond.Broadcast() // calls waiting for room in the cache
	s.mu.Unlock()
	s.checkpoints.Add(1)
	s.mu.Lock()
	s.logFirst = next
	s.mu.Unlock()
	return removeSegments(s.path, next)
}

// applySnapshot writes sn into the file in transactions of at most
// chunkOps records, prunes a little in each, and records in the last one
// that the log segments before next are in the file.
func (s *Store) applySnapshot(sn *snapshot, next uint64) error {
	var kb []byte
	i := 0
	for {
		end := min(i+chunkOps, len(sn.ops))
		last := end == len(sn.ops)
		t0 := time.Now()
		err := s.updateTx(func(tx *bbolt.Tx) error {
			b, err := openBuckets(tx)
			if err != nil {
				return err
			}
			for j := i; j < end; j++ {
				op := &sn.ops[j]
				if op.del {
					err = applyDelete(&b, op.bk, op.key(sn.buf), &kb)
				} else {
					err = applyPut(&b, op.bk, op.key(sn.buf), op.val(sn.buf), &kb)
				}
				if err != nil {
					return err
				}
			}
			if err := s.prune(&b, sn.now); err != nil {
				return err
			}
			if last {
				return b.meta.Put(walKey, putUint64(next))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if last {
			return nil
		}
		i = end
		// Leave the disk and the processor to calls for as long as the
		// transaction took (at most 100 ms): the log's writes wait behind a
		// checkpoint's, and a checkpoint at full speed slowed deductions to
		// a third while it ran (measured at a million clients). Not when
		// the cache is full: then calls wait for the checkpoint.
		s.mu.Lock()
		full := len(s.clients)+len(s.keys) >= cacheLimit
		s.mu.Unlock()
		if !full {
			t := time.NewTimer(min(since(t0), 100*time.Millisecond))
			select {
			case <-t.C:
			case <-s.quit: // closing: finish at full speed
				t.Stop()
			}
		}
	}
}

// prune removes up to pruneOps expired idempotency keys (expired at now,
// the latest charge time seen) and examines up to pruneOps usage
// aggregates for the retention, continuing where the last call stopped.
func (s *Store) prune(b *buckets, now int64) error {
	if now == 0 {
		return nil
	}
	var doomed [][]byte
	c := b.expiry.Cursor()
	for k, _ := c.First(); k != nil && len(doomed) < pruneOps; k, _ = c.Next() {
		if len(k) < 8 || readTime(k) > now {
			break
		}
		doomed = append(doomed, bytes.Clone(k))
	}
	for _, k := range doomed {
		kk := k[8:]
		if v := b.keys.Get(kk); v != nil {
			if r, err := decodeKeyRecord(v); err == nil && r.Expires == readTime(k) {
				if err := b.keys.Delete(kk); err != nil {
					return err
				}
			}
		}
		if err := b.expiry.Delete(k); err != nil {
			return err
		}
	}
	if s.opts.Retention < 0 {
		return nil
	}
	cut := now - int64(s.opts.Retention)
	doomed = doomed[:0]
	c = b.usage.Cursor()
	k, _ := c.Seek(s.sweep)
	for n := 0; k != nil && n < pruneOps; n++ {
		if p, ok := clientPrefixLen(k); ok && len(k) >= p+usageKeyFixed && readTime(k[p:]) < cut {
			doomed = append(doomed, bytes.Clone(k))
		}
		k, _ = c.Next()
	}
	if k == nil {
		s.sweep = s.sweep[:0] // start again from the first
	} else {
		s.sweep = append(s.sweep[:0], k...)
	}
	for _, k := range doomed {
		if err := b.usage.Delete(k); err != nil {
			return err
		}
	}
	return s.pruneOpenHours(b, cut)
}

// pruneOpenHours clears the open hours older than cut of up to pruneOps
// client records, continuing where the last call stopped. Clients in the
// cache are left for a later pass: the cache holds their latest record.
func (s *Store) pruneOpenHours(b *buckets, cut int64) error {
	type old struct {
		id    []byte
		slots [core.MaxQuotas]slot
		open  openHour
	}
	var found []old
	c := b.clients.Cursor()
	k, v := c.Seek(s.sweepCl)
	for n := 0; k != nil && n < pruneOps; n++ {
		var o old
		if err := decodeClientRecord(v, &o.slots, &o.open); err != nil {
			return err
		}
		if o.open.held && o.open.start < cut && len(o.open.labels) > 0 {
			o.id = bytes.Clone(k)
			found = append(found, o)
		}
		k, v = c.Next()
	}
	if k == nil {
		s.sweepCl = s.sweepCl[:0]
	} else {
		s.sweepCl = append(s.sweepCl[:0], k...)
	}
	if len(found) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range found {
		o := &found[i]
		if s.clients[string(o.id)] != nil {
			continue
		}
		o.open.labels = nil
		if err := b.clients.Put(o.id, appendClientRecord(nil, &o.slots, &o.open)); err != nil {
			return err
		}
	}
	return nil
}
