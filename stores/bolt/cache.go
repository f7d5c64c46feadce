package bolt

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// The cache holds the records that calls read and change: a client's
// window counters (one entry per client, with the usage aggregates of the
// client that calls touched) and idempotency key records. An entry missing
// from the cache is read from the file, which then holds its latest value:
// entries are only evicted after a checkpoint has written them. Changed
// entries are dirty until the next checkpoint takes them.

type clientEntry struct {
	id     string
	slots  [core.MaxQuotas]slot
	open   openHour
	exists bool // the client has a record
	dirty  bool // the record changed since the last checkpoint
	listed bool // in Store.dirtyCl
	epoch  uint64
	// hours holds aggregates of the usage bucket: loaded, or changed
	// since the last checkpoint. All those of hours from scanFrom on are
	// here (math.MaxInt64: none is known to be).
	hours    []*hourEntry
	scanFrom int64
}

type hourEntry struct {
	start, end int64
	label      string
	credits    int64
	exists     bool
	dirty      bool
}

type keyEntry struct {
	k      string // the bbolt key
	rec    core.KeyRecord
	exists bool
	listed bool // in Store.dirtyKeys
	epoch  uint64
}

// hour returns the cached aggregate of the hour starting at start and
// label, or nil.
func (c *clientEntry) hour(start int64, label string) *hourEntry {
	for i := len(c.hours) - 1; i >= 0; i-- { // the latest hour is the last
		if h := c.hours[i]; h.start == start && h.label == label {
			return h
		}
	}
	return nil
}

// hourOrNew returns the cached aggregate of the hour and label, adding an
// empty one if there is none. Use it only where the cache is known to hold
// the aggregate if it exists.
func (c *clientEntry) hourOrNew(start, end int64, label string) *hourEntry {
	if h := c.hour(start, label); h != nil {
		return h
	}
	h := &hourEntry{start: start, end: end, label: strings.Clone(label)}
	c.hours = append(c.hours, h)
	return h
}

// canOpen reports, for a client without an open hour whose aggregates
// from start on are cached, whether the hour starting at start can become
// its open hour: no aggregate of a later hour exists.
func (c *clientEntry) canOpen(start int64) bool {
	for _, h := range c.hours {
		if h.exists && h.start > start {
			return false
		}
	}
	return true
}

// want says what a call needs from the cache.
type want struct {
	client string
	// hour: the call reads the aggregate of the hour starting at start
	// and label; open: it may make that hour the client's open hour (a
	// charge or an import adding usage).
	hour, open bool
	start      int64
	label      string
	kk         []byte // the key record's bbolt key, if any
}

// The place of a call's aggregate.
const (
	inEntry = iota // an aggregate of the usage bucket, h
	inOpen         // the client's open hour (or the hour that will replace it)
)

// ensure returns the cache entries a call needs: the client's, the
// aggregate of the hour (h, or nil and where == inOpen when it is in the
// client's open hour or becomes it) and the key record's, reading what the
// cache lacks from the file. It is called with s.mu held and returns with
// it held, but releases it while it reads the file; it fails if the store
// takes no calls.
func (s *Store) ensure(w *want) (c *clientEntry, h *hourEntry, k *keyEntry, where int, err error) {
	waited := false
	for {
		if err := s.usable(); err != nil {
			return nil, nil, nil, 0, err
		}
		c = s.clients[w.client]
		h, k, where = nil, nil, inEntry
		if w.kk != nil {
			k = s.keys[string(w.kk)]
		}
		needHour, needScan := false, false
		if c != nil && w.hour {
			switch {
			case c.open.held && w.start >= c.open.start:
				where = inOpen
			case c.open.held:
				h = c.hour(w.start, w.label)
				needHour = h == nil
			case w.open && c.scanFrom <= w.start:
				if c.canOpen(w.start) {
					where = inOpen
				} else {
					h = c.hourOrNew(w.start, 0, w.label)
				}
			case w.open:
				needScan = true
			default:
				h = c.hour(w.start, w.label)
				needHour = h == nil
			}
		}
		if c != nil && !needHour && !needScan && (k != nil || w.kk == nil) {
			return c, h, k, where, nil
		}
		if !waited && len(s.clients)+len(s.keys) >= cacheHard {
			waited = s.waitEviction() // once per call: then it goes on
			continue
		}
		gen := s.gen
		s.mu.Unlock()
		var lc *clientEntry
		var lh []*hourEntry
		var lk *keyEntry
		err := s.viewTx(func(tx *bbolt.Tx) error {
			// Only the buckets needed: each costs a search.
			root := tx.Bucket(rootBucket)
			if root == nil {
				return errMissing
			}
			var err error
			if c == nil {
				bk := root.Bucket(clientsBucket)
				if bk == nil {
					return errMissing
				}
				if lc, err = loadClient(bk, w.client); err != nil {
					return err
				}
				if w.hour {
					switch {
					case lc.open.held && w.start >= lc.open.start:
					case lc.open.held || !w.open:
						needHour = true
					default:
						needScan = true
					}
				}
			}
			if needHour || needScan {
				bk := root.Bucket(usageBucket)
				if bk == nil {
					return errMissing
				}
				if needScan {
					lh, err = loadHours(bk, w.client, w.start)
				} else {
					lh, err = loadHour(bk, w.client, w.start, w.label)
				}
				if err != nil {
					return err
				}
			}
			if w.kk != nil && k == nil {
				bk := root.Bucket(keysBucket)
				if bk == nil {
					return errMissing
				}
				lk, err = loadKey(bk, w.kk)
			}
			return err
		})
		s.mu.Lock()
		if err != nil {
			return nil, nil, nil, 0, err
		}
		if gen != s.gen {
			continue // entries were evicted meanwhile: what was read may be stale
		}
		// Nothing was evicted: what the file holds is the latest of what the
		// cache lacks.
		if c = s.clients[w.client]; c == nil {
			c = lc
			c.epoch = s.epoch
			s.clients[c.id] = c
		}
		for _, nh := range lh {
			if nh.exists && c.hour(nh.start, nh.label) == nil {
				c.hours = append(c.hours, nh)
			}
		}
		if needScan {
			c.scanFrom = min(c.scanFrom, w.start)
		} else if needHour && c.hour(w.start, w.label) == nil {
			c.hours = append(c.hours, &hourEntry{start: w.start, label: strings.Clone(w.label)})
		}
		if w.kk != nil && s.keys[string(w.kk)] == nil {
			lk.epoch = s.epoch
			s.keys[lk.k] = lk
		}
		if len(s.clients)+len(s.keys) >= cacheLimit {
			select { // a checkpoint evicts what did not change
			case s.ckReq <- struct{}{}:
			default:
			}
		}
	}
}

// waitEviction asks for a checkpoint and waits, with mu held, until one
// has evicted entries or cacheWait has passed; it reports whether it
// waited.
func (s *Store) waitEviction() bool {
	if s.closing || s.broken != nil {
		return false
	}
	select {
	case s.ckReq <- struct{}{}:
	default:
	}
	gen, deadline := s.evictions, time.Now().Add(cacheWait)
	t := time.AfterFunc(cacheWait, func() {
		s.mu.Lock()
		s.durCond.Broadcast()
		s.mu.Unlock()
	})
	defer t.Stop()
	for s.evictions == gen && time.Now().Before(deadline) && !s.closing && s.broken == nil {
		s.durCond.Wait()
	}
	return true
}

var errMissing = fmt.Errorf("%w: a bucket of %q is missing", ErrCorrupt, rootBucket)

func loadClient(b *bbolt.Bucket, client string) (*clientEntry, error) {
	c := &clientEntry{id: strings.Clone(client), scanFrom: math.MaxInt64}
	if v := b.Get([]byte(client)); v != nil {
		if err := decodeClientRecord(v, &c.slots, &c.open); err != nil {
			return nil, err
		}
		c.exists = true
	}
	return c, nil
}

// loadHour reads the aggregate of the hour and label, if it exists.
func loadHour(b *bbolt.Bucket, client string, start int64, label string) ([]*hourEntry, error) {
	v := b.Get(usageKey(nil, client, start, label))
	if v == nil {
		return nil, nil
	}
	h := &hourEntry{start: start, label: strings.Clone(label), exists: true}
	var err error
	if h.end, h.credits, err = decodeUsageValue(v); err != nil {
		return nil, err
	}
	return []*hourEntry{h}, nil
}

// loadHours reads the aggregates of client from the hour starting at from
// on.
func loadHours(b *bbolt.Bucket, client string, from int64) ([]*hourEntry, error) {
	var out []*hourEntry
	err := scanUsage(b, client, from, math.MaxInt64, func(start, end int64, label []byte, credits int64) error {
		out = append(out, &hourEntry{start: start, end: end, label: string(label), credits: credits, exists: true})
		return nil
	})
	return out, err
}

func loadKey(b *bbolt.Bucket, kk []byte) (*keyEntry, error) {
	k := &keyEntry{k: string(kk)}
	if v := b.Get(kk); v != nil {
		var err error
		if k.rec, err = decodeKeyRecord(v); err != nil {
			return nil, err
		}
		k.exists = true
	}
	return k, nil
}

// openAt makes the hour span the open hour of c, with mu held: the
// previous open hour's labels become aggregates of the usage bucket, and
// aggregates of the new hour already there (a client that had no open
// hour) move into it. The caller knows that span starts at or after the
// open hour and, for a client without one, that canOpen holds.
func (s *Store) openAt(c *clientEntry, span core.Span) {
	if c.open.held && c.open.start == span.Start {
		return
	}
	if c.open.held {
		for _, l := range c.open.labels {
			h := c.hourOrNew(c.open.start, c.open.end, l.label)
			h.exists, h.end, h.credits = true, c.open.end, l.credits
			s.putHour(c, h)
		}
		c.open = openHour{start: span.Start, end: span.End, held: true}
		return
	}
	c.open = openHour{start: span.Start, end: span.End, held: true}
	for _, h := range c.hours {
		if h.exists && h.start == span.Start {
			c.open.labels = append(c.open.labels, labelCredits{label: h.label, credits: h.credits})
			h.exists, h.credits = false, 0
			s.putHour(c, h)
		}
	}
}

// addOpen adds credits (which may be negative) to label in c's open
// hour, never below zero, creating the label if needed.
func (c *clientEntry) addOpen(label string, credits int64) {
	if i := c.open.label(label); i >= 0 {
		c.open.labels[i].credits = max(0, c.open.labels[i].credits+credits)
		return
	}
	if credits > 0 {
		c.open.labels = append(c.open.labels, labelCredits{label: strings.Clone(label), credits: credits})
	}
}

// openCredits returns the credits of label in the open hour starting at
// start, or 0.
func (c *clientEntry) openCredits(start int64, label string) int64 {
	if c.open.held && c.open.start == start {
		if i := c.open.label(label); i >= 0 {
			return c.open.labels[i].credits
		}
	}
	if !c.open.held { // hour aggregates that openAt would move in
		for _, h := range c.hours {
			if h.exists && h.start == start && h.label == label {
				return h.credits
			}
		}
	}
	return 0
}

// Log record operations.
const (
	logPut byte = iota + 1
	logDelete
)

// appendLog appends one log record (an operation on a bucket's key) to
// s.pending, with mu held.
func (s *Store) appendLog(op, bk byte, k, v []byte) {
	n := len(s.pending)
	s.pending = append(s.pending, op, bk)
	s.pending = binary.AppendUvarint(s.pending, uint64(len(k)))
	s.pending = append(s.pending, k...)
	if op == logPut {
		s.pending = binary.AppendUvarint(s.pending, uint64(len(v)))
		s.pending = append(s.pending, v...)
	}
	s.lsn += uint64(len(s.pending) - n)
}

// putClient records that c's window counters changed.
func (s *Store) putClient(c *clientEntry) {
	c.exists = true
	c.dirty = true
	s.listClient(c)
	s.kb = appendClientRecord(s.kb[:0], &c.slots, &c.open)
	s.appendLog(logPut, bkClients, []byte(c.id), s.kb)
}

func (s *Store) listClient(c *clientEntry) {
	if !c.listed {
		c.listed = true
		s.dirtyCl = append(s.dirtyCl, c)
	}
}

// putHour records that the aggregate h of c changed (or was removed).
func (s *Store) putHour(c *clientEntry, h *hourEntry) {
	h.dirty = true
	s.listClient(c)
	s.kb = usageKey(s.kb[:0], c.id, h.start, h.label)
	n := len(s.kb)
	if h.exists {
		s.kb = appendUsageValue(s.kb, h.end, h.credits)
		s.appendLog(logPut, bkUsage, s.kb[:n], s.kb[n:])
	} else {
		s.appendLog(logDelete, bkUsage, s.kb[:n], nil)
	}
}

// putKey records that the key record k changed (or was removed).
func (s *Store) putKey(k *keyEntry) {
	if !k.listed {
		k.listed = true
		s.dirtyKeys = append(s.dirtyKeys, k)
	}
	if k.exists {
		s.kb, _ = k.rec.AppendBinary(s.kb[:0])
		s.appendLog(logPut, bkKeys, []byte(k.k), s.kb)
	} else {
		s.appendLog(logDelete, bkKeys, []byte(k.k), nil)
	}
}

// setImport records the ID of an import in progress ("" for none).
func (s *Store) setImport(id string) {
	s.importID = id
	s.importSet = true
	if id != "" {
		s.appendLog(logPut, bkMeta, importKey, []byte(id))
	} else {
		s.appendLog(logDelete, bkMeta, importKey, nil)
	}
}

// dirtyCount is how many entries wait for a checkpoint, with mu held.
func (s *Store) dirtyCount() int { return len(s.dirtyCl) + len(s.dirtyKeys) }

// evict drops the entries that did not change since the last checkpoint,
// with mu held: the file holds their latest value.
func (s *Store) evict() {
	s.gen++
	n := 0
	clients, keys, epoch := s.clients, s.keys, s.epoch
	pause := func() bool {
		// Let calls in: the maps may change between two steps of the loop
		// as they may in one goroutine, and calls that read the file
		// meanwhile read again (gen changed). A rebuilt cache ends it.
		s.mu.Unlock()
		s.mu.Lock()
		s.gen++
		return s.epoch == epoch
	}
	for id, c := range clients {
		if n++; n%4096 == 0 && !pause() {
			return
		}
		if !c.listed {
			delete(clients, id)
			continue
		}
		kept := c.hours[:0]
		for _, h := range c.hours {
			if h.dirty {
				kept = append(kept, h)
			}
		}
		clear(c.hours[len(kept):])
		c.hours = kept
		c.scanFrom = math.MaxInt64
	}
	for k, e := range keys {
		if n++; n%4096 == 0 && !pause() {
			return
		}
		if !e.listed {
			delete(keys, k)
		}
	}
}

// resetCache forgets every entry, with mu held.
func (s *Store) resetCache() {
	s.epoch++
	s.gen++
	s.clients = make(map[string]*clientEntry)
	s.keys = make(map[string]*keyEntry)
	clear(s.dirtyCl)
	s.dirtyCl = s.dirtyCl[:0]
	clear(s.dirtyKeys)
	s.dirtyKeys = s.dirtyKeys[:0]
	s.importSet = false
}
