package httpbilling

import (
	"sync"
	"unsafe"
)

// Requests maps the requests in flight, by a pointer that identifies each
// while it runs (such as its framework context), to their charges, so that
// a handler can read its outcome without the middleware allocating a
// context store. Entries are removed when the request ends; in steady
// state, Put and Delete allocate nothing. It is safe for concurrent use.
type Requests[K any] struct {
	shards [requestShards]requestShard
}

const requestShards = 64

type requestShard struct {
	mu sync.Mutex
	m  map[unsafe.Pointer]*Charge
	_  [40]byte // keep shards on separate cache lines
}

func (r *Requests[K]) shard(k *K) *requestShard {
	p := uintptr(unsafe.Pointer(k))
	p ^= p >> 7 // contexts are a few hundred bytes apart: mix the middle bits
	p ^= p >> 13
	return &r.shards[p%requestShards]
}

// Put records ch as the charge of the request k.
func (r *Requests[K]) Put(k *K, ch *Charge) {
	s := r.shard(k)
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[unsafe.Pointer]*Charge)
	}
	s.m[unsafe.Pointer(k)] = ch
	s.mu.Unlock()
}

// Get returns the charge of the request k, or nil.
func (r *Requests[K]) Get(k *K) *Charge {
	s := r.shard(k)
	s.mu.Lock()
	ch := s.m[unsafe.Pointer(k)]
	s.mu.Unlock()
	return ch
}

// Delete removes the request k.
func (r *Requests[K]) Delete(k *K) {
	s := r.shard(k)
	s.mu.Lock()
	delete(s.m, unsafe.Pointer(k))
	s.mu.Unlock()
}
