package bolt

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

var errMissing = fmt.Errorf("%w: a bucket of %q is missing", ErrCorrupt, rootBucket)

// The cache holds the records that calls read and change: a client's
// window counters (one entry per client, with the usage aggregates of the
// client that calls touched) and idempotency key records. An entry missing
// from the cache is read from the file, which then holds its latest value:
// entries are only evicted after a checkpoint has written them. Changed
// entries are dirty until the next checkpoint takes them.

type clientEntry struct {
	id     string
	slots  [core.MaxQuotas]slot
	exists bool // the client has a record
	dirty  bool // slots changed since the last checkpoint
	listed bool // in Store.dirtyCl
	epoch  uint64
	hours  []*hourEntry // aggregates cached, in any order
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

// ensure returns the cache entries of client, of its aggregate of the hour
// starting at start and label (if wantHour) and of the key record kk (if
// not nil), reading what the cache lacks from the file. It is called with
// s.mu held and returns with it held, but releases it while it reads the
// file; it fails if the store takes no calls.
func (s *Store) ensure(client string, wantHour bool, start int64, label string, kk []byte) (*clientEntry, *hourEntry, *keyEntry, error) {
	for {
		if err := s.usable(); err != nil {
			return nil, nil, nil, err
		}
		c := s.clients[client]
		var h *hourEntry
		if c != nil && wantHour {
			h = c.hour(start, label)
		}
		var k *keyEntry
		if kk != nil {
			k = s.keys[string(kk)]
		}
		if c != nil && (h != nil || !wantHour) && (k != nil || kk == nil) {
			return c, h, k, nil
		}
		gen := s.gen
		s.mu.Unlock()
		var lc *clientEntry
		var lh *hourEntry
		var lk *keyEntry
		err := s.viewTx(func(tx *bbolt.Tx) error {
			// Only the buckets needed: each costs a search.
			var b buckets
			root := tx.Bucket(rootBucket)
			if root == nil {
				return fmt.Errorf("%w: bucket %q is missing", ErrCorrupt, rootBucket)
			}
			var err error
			if c == nil {
				if b.clients = root.Bucket(clientsBucket); b.clients == nil {
					return errMissing
				}
				if lc, err = loadClient(&b, client); err != nil {
					return err
				}
			}
			if wantHour && h == nil {
				if b.usage = root.Bucket(usageBucket); b.usage == nil {
					return errMissing
				}
				if lh, err = loadHour(&b, client, start, label); err != nil {
					return err
				}
			}
			if kk != nil && k == nil {
				if b.keys = root.Bucket(keysBucket); b.keys == nil {
					return errMissing
				}
				lk, err = loadKey(&b, kk)
			}
			return err
		})
		s.mu.Lock()
		if err != nil {
			return nil, nil, nil, err
		}
		if gen != s.gen {
			continue // entries were evicted meanwhile: what was read may be stale
		}
		if c == nil {
			if c = s.clients[client]; c == nil {
				c = lc
				c.epoch = s.epoch
				s.clients[c.id] = c
			}
		}
		if wantHour && h == nil {
			if h = c.hour(start, label); h == nil {
				h = lh
				c.hours = append(c.hours, h)
			}
		}
		if kk != nil && k == nil {
			if k = s.keys[string(kk)]; k == nil {
				k = lk
				k.epoch = s.epoch
				s.keys[k.k] = k
			}
		}
		return c, h, k, nil
	}
}

func loadClient(b *buckets, client string) (*clientEntry, error) {
	c := &clientEntry{id: strings.Clone(client)}
	if v := b.clients.Get([]byte(client)); v != nil {
		if err := decodeClientRecord(v, &c.slots); err != nil {
			return nil, err
		}
		c.exists = true
	}
	return c, nil
}

func loadHour(b *buckets, client string, start int64, label string) (*hourEntry, error) {
	h := &hourEntry{start: start, label: strings.Clone(label)}
	if v := b.usage.Get(usageKey(nil, client, start, label)); v != nil {
		var err error
		if h.end, h.credits, err = decodeUsageValue(v); err != nil {
			return nil, err
		}
		h.exists = true
	}
	return h, nil
}

func loadKey(b *buckets, kk []byte) (*keyEntry, error) {
	k := &keyEntry{k: string(kk)}
	if v := b.keys.Get(kk); v != nil {
		var err error
		if k.rec, err = decodeKeyRecord(v); err != nil {
			return nil, err
		}
		k.exists = true
	}
	return k, nil
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
	s.kb = appendClientRecord(s.kb[:0], &c.slots)
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
	for id, c := range s.clients {
		if !c.listed {
			delete(s.clients, id)
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
	}
	for k, e := range s.keys {
		if !e.listed {
			delete(s.keys, k)
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
