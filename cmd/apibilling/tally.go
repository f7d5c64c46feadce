package main

import (
	"encoding/binary"
	"encoding/hex"
	"slices"

	"github.com/frappy-go/apibilling/core"
)

// fingerprint identifies the usage aggregates of a store's export,
// whatever the order of the records: every charge, refund and deletion of
// usage changes it, while the expiry of idempotency keys and of ended
// windows (which a store may drop on its own, as Redis does) does not.
type fingerprint struct {
	n    int64
	a, b uint64 // sums of each record's 128-bit hash, by halves
}

func (f *fingerprint) add(rec *core.Record) {
	if rec.Kind != core.RecordUsage {
		return
	}
	f.n++
	for i, seed := range [2]uint64{fnvOffset, fnvOffset2} {
		h := fnvString(seed, rec.Client)
		h = fnvInt(h, rec.Start)
		h = fnvInt(h, rec.End)
		h = fnvInt(h, rec.Used)
		h = fnvString(h, rec.Label)
		if i == 0 {
			f.a += h
		} else {
			f.b += h
		}
	}
}

// FNV-1a, 64 bits, from two offset bases.
const (
	fnvOffset  = 14695981039346656037
	fnvOffset2 = 0x9e3779b97f4a7c15
	fnvPrime   = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	// The length ends the string, so that "ab"+"c" and "a"+"bc" differ.
	return fnvInt(h, int64(len(s)))
}

func fnvInt(h uint64, n int64) uint64 {
	for i := 0; i < 8; i++ {
		h = (h ^ uint64(byte(n>>(8*i)))) * fnvPrime
	}
	return h
}

func (f fingerprint) String() string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[0:], uint64(f.n))
	binary.BigEndian.PutUint64(b[8:], f.a)
	binary.BigEndian.PutUint64(b[16:], f.b)
	return hex.EncodeToString(b[:])
}

// tally sums a store's records per client, to compare what a migration
// read with what the target holds afterwards.
type tally struct {
	// detail keeps the identities of usage aggregates and keys, which a
	// merge needs to predict the target's state.
	detail  bool
	clients map[string]*clientTally
	records int64
	fp      fingerprint
}

// clientTally is one client's records.
type clientTally struct {
	win     []winEntry
	usageN  int64
	credits int64   // micro-credits
	keys    []int64 // each key's expiry
	// With detail: the usage aggregates (by hour and label) and keys (by
	// key, with their expiry).
	aggs   map[uint64]struct{}
	keySet map[uint64]int64
}

// winEntry is one window counter.
type winEntry struct {
	start, end, used int64
	period           core.Period
	fired            uint8
}

func newTally(detail bool) *tally {
	return &tally{detail: detail, clients: map[string]*clientTally{}}
}

func (t *tally) client(id string) *clientTally {
	c := t.clients[id]
	if c == nil {
		c = &clientTally{}
		if t.detail {
			c.aggs, c.keySet = map[uint64]struct{}{}, map[uint64]int64{}
		}
		t.clients[id] = c
	}
	return c
}

// add counts rec.
func (t *tally) add(rec *core.Record) {
	t.records++
	t.fp.add(rec)
	switch rec.Kind {
	case core.RecordWindow:
		c := t.client(rec.Client)
		e := winEntry{start: rec.Start, end: rec.End, used: rec.Used, period: rec.Period, fired: rec.Fired}
		for i := range c.win {
			if c.win[i].period == rec.Period { // one counter per period: the last one read
				c.win[i] = e
				return
			}
		}
		c.win = append(c.win, e)
	case core.RecordUsage:
		c := t.client(rec.Client)
		c.usageN++
		c.credits = addCapped(c.credits, rec.Used)
		if t.detail {
			c.aggs[hashOf(rec.Label, rec.Start)] = struct{}{}
		}
	case core.RecordKey:
		id := rec.Key.Client
		if id == "" {
			id = rec.Client
		}
		c := t.client(id)
		if t.detail {
			c.keySet[hashOf(rec.Key.Key, 0)] = rec.Key.Expires
		} else {
			c.keys = append(c.keys, rec.Key.Expires)
		}
	}
}

func hashOf(s string, n int64) uint64 { return fnvString(fnvInt(fnvOffset, n), s) }

func addCapped(a, b int64) int64 {
	if a > core.MaxUsage-b {
		return core.MaxUsage
	}
	return a + b
}

// totals are what a migration compares per client: the live window
// counters (their number and usage), the usage aggregates (their number and
// credits) and the unexpired idempotency keys.
type totals struct {
	Windows    int64       `json:"windows"`
	WindowUsed creditsJSON `json:"window_used"`
	Usage      int64       `json:"usage_aggregates"`
	Credits    creditsJSON `json:"usage_credits"`
	Keys       int64       `json:"keys"`
}

func (t *totals) add(o totals) {
	t.Windows += o.Windows
	t.WindowUsed = creditsJSON(addCapped(int64(t.WindowUsed), int64(o.WindowUsed)))
	t.Usage += o.Usage
	t.Credits = creditsJSON(addCapped(int64(t.Credits), int64(o.Credits)))
	t.Keys += o.Keys
}

// totals returns c's totals, counting the windows that end and the keys
// that expire after cut (Unix nanoseconds): those that ended or expired
// before are stale, and a store may drop them.
func (c *clientTally) totals(cut int64) totals {
	var t totals
	if c == nil {
		return t
	}
	for _, w := range c.win {
		if w.end > cut {
			t.Windows++
			t.WindowUsed = creditsJSON(addCapped(int64(t.WindowUsed), w.used))
		}
	}
	t.Usage = c.usageN
	if c.aggs != nil {
		t.Usage = int64(len(c.aggs))
	}
	t.Credits = creditsJSON(c.credits)
	for _, exp := range c.keys {
		if exp > cut {
			t.Keys++
		}
	}
	for _, exp := range c.keySet {
		if exp > cut {
			t.Keys++
		}
	}
	return t
}

// merged returns the state that merging read into before leaves, as
// core.MergeWindow and core.MergeUsage say and keeping existing keys.
func merged(before, read *clientTally) *clientTally {
	out := &clientTally{aggs: map[uint64]struct{}{}, keySet: map[uint64]int64{}}
	for _, c := range []*clientTally{before, read} {
		if c == nil {
			continue
		}
		for h := range c.aggs {
			out.aggs[h] = struct{}{}
		}
		for h, exp := range c.keySet {
			if _, ok := out.keySet[h]; !ok {
				out.keySet[h] = exp
			}
		}
		out.credits = addCapped(out.credits, c.credits)
	}
	if before != nil {
		out.win = slices.Clone(before.win)
	}
	if read != nil {
		for _, r := range read.win {
			i := slices.IndexFunc(out.win, func(w winEntry) bool { return w.period == r.period })
			cur := core.WindowState{}
			if i >= 0 {
				w := out.win[i]
				cur = core.WindowState{Start: w.start, End: w.end, Used: w.used, Fired: w.fired, Held: true}
			}
			rec := core.Record{Kind: core.RecordWindow, Period: r.period, Start: r.start, End: r.end, Used: r.used, Fired: r.fired}
			st := core.MergeWindow(cur, &rec, true)
			e := winEntry{start: st.Start, end: st.End, used: st.Used, period: r.period, fired: st.Fired}
			if i >= 0 {
				out.win[i] = e
			} else {
				out.win = append(out.win, e)
			}
		}
	}
	return out
}
