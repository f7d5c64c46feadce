package memory

import (
	"strings"
	"sync"

	"github.com/frappy-go/apibilling/core"
)

// shardBits is the number of the top bits of a client ID's hash that
// choose its shard.
const shardBits = 6

// maxInterned is the most labels a shard keeps one copy of for all its
// clients; labels beyond it are copied per client.
const maxInterned = 4096

// shard holds the clients whose ID hashes to it, under one lock.
type shard struct {
	mu sync.Mutex
	// table indexes clients by the hash of their ID, with open addressing:
	// each entry is a tag of the hash (high 32 bits) and the position in
	// clients plus one (low 32 bits), or 0 for none. It is at most half
	// full, and never loses an entry (clients are never removed).
	table []uint64
	// clients holds every client's state by value, so a charge reaches
	// its counters in one step from the table; hashes holds the hash of
	// each one's ID, to grow the table.
	clients []client
	hashes  []uint64
	// labels holds one copy of each label charged, shared by the
	// shard's clients, so comparing labels reads memory already cached.
	labels map[string]string
	keys   map[keyID]*core.KeyRecord
	expiry []keyID // keys in the order they were recorded, for pruning
	_      [8]byte
}

// client is one client's usage: one counter per period (replaced when a
// later window starts, so ended windows are dropped) and the usage
// aggregates by hour. The latest hour, where nearly every charge goes, is
// held in the client itself with its first label, so a charge reads no
// memory but the client's.
type client struct {
	id    string
	cur   hour   // the latest hour charged; n == 0 if none (then hours is empty)
	hours []hour // the hours before cur, oldest first
	slots [core.MaxQuotas]slot
}

type slot struct {
	start, end int64
	used       int64
	fired      uint8
	held       bool // the slot counts a window
}

func (sh *shard) reset() {
	sh.table = nil
	sh.clients = nil
	sh.hashes = nil
	sh.labels = make(map[string]string)
	sh.keys = make(map[keyID]*core.KeyRecord)
	sh.expiry = nil
}

// shard returns the shard of the client id and the hash of id.
func (s *Store) shard(id string) (*shard, uint64) {
	h := core.HashClient(id)
	return &s.shards[h>>(64-shardBits)], h
}

// locate locks the shard of op's client and returns it, the hash of the
// client's ID and its state there, or nil if it has none. It hashes the ID
// only if op.ClientHash, a hint any caller may set, is 0 or finds nothing:
// a client is added only where its ID's own hash puts it, and lookup
// returns only a client with op's ID, so a client found where the hint
// points is the one; when none is found there, the ID is hashed to be
// sure (a wrong hint costs a second look-up, never a second client).
func (s *Store) locate(op *core.Op) (*shard, uint64, *client) {
	h := op.ClientHash
	if h == 0 {
		h = core.HashClient(op.Client)
	}
	sh := &s.shards[h>>(64-shardBits)]
	sh.mu.Lock()
	c := sh.lookup(h, op.Client)
	if c == nil && op.ClientHash != 0 {
		if own := core.HashClient(op.Client); own != h {
			sh.mu.Unlock()
			h = own
			sh = &s.shards[h>>(64-shardBits)]
			sh.mu.Lock()
			c = sh.lookup(h, op.Client)
		}
	}
	return sh, h, c
}

// tag returns the bits of a hash that an entry of a shard's table keeps:
// neither those that chose the shard nor the lowest, which choose the
// entry.
func tag(h uint64) uint64 { return uint64(uint32(h>>26)) << 32 }

// lookup returns the state of the client id, whose hash is h, or nil.
func (sh *shard) lookup(h uint64, id string) *client {
	t := sh.table
	if len(t) == 0 {
		return nil
	}
	mask := uint64(len(t) - 1)
	want := tag(h)
	for i := h & mask; ; i = (i + 1) & mask {
		e := t[i]
		if e == 0 {
			return nil
		}
		if e&^0xffffffff == want {
			if c := &sh.clients[uint32(e)-1]; c.id == id {
				return c
			}
		}
	}
}

// add returns the state of the client id, whose hash is h, created if
// needed.
func (sh *shard) add(h uint64, id string) *client {
	if c := sh.lookup(h, id); c != nil {
		return c
	}
	if 2*(len(sh.clients)+1) > len(sh.table) {
		sh.table = make([]uint64, max(16, 2*len(sh.table)))
		for n, h := range sh.hashes {
			sh.insert(h, n)
		}
	}
	n := len(sh.clients)
	sh.clients = append(sh.clients, client{id: strings.Clone(id)})
	sh.hashes = append(sh.hashes, h)
	sh.insert(h, n)
	return &sh.clients[n]
}

// insert adds the client at position n, whose ID's hash is h, to the
// table.
func (sh *shard) insert(h uint64, n int) {
	mask := uint64(len(sh.table) - 1)
	i := h & mask
	for sh.table[i] != 0 {
		i = (i + 1) & mask
	}
	sh.table[i] = tag(h) | uint64(n+1)
}

// intern returns the shard's copy of label.
func (sh *shard) intern(label string) string {
	if l, ok := sh.labels[label]; ok {
		return l
	}
	l := strings.Clone(label)
	if len(sh.labels) < maxInterned {
		sh.labels[l] = l
	}
	return l
}
