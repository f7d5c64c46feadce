package mongo

import (
	"slices"
	"strings"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// A client's state is one document (see doc.go): its window counters, the
// usage aggregates of the latest day charged (the live hours), and small
// lists of work that must leave the document for other collections (usage
// facts of earlier days, idempotency key records and their refund marks),
// each removed only after it has been written there. Every change to the
// state is one atomic step: a conditional update on MongoDB, the insert of
// the next version on FerretDB.

const dayNs = int64(24 * time.Hour)

// dayOf returns the UTC day of a Unix time in nanoseconds (floor division,
// so that times before 1970 fall on their own day).
func dayOf(ns int64) int64 {
	d := ns / dayNs
	if ns%dayNs < 0 {
		d--
	}
	return d
}

// maxLive bounds the usage counters the live hours hold: beyond it, the
// oldest live hours are sealed early into a usage fact.
const maxLive = 256

// slot is the counter of one period's window.
type slot struct {
	start, end, used int64
	fired            uint8
	held             bool
}

// usedFor returns the usage the slot holds for w: none if w starts after
// the slot's window (that one has ended), else the slot's (a window that
// starts before it is counted against the newer one, which never
// over-admits), as the memory store does.
func (sl *slot) usedFor(w *core.Window) int64 {
	if !sl.held || w.Start > sl.start {
		return 0
	}
	return sl.used
}

// labelCount is the usage of one label in one hour.
type labelCount struct {
	label string
	n     int64
}

// bucket is a live usage aggregate span (an hour) with its labels.
type bucket struct {
	start, end int64
	labels     []labelCount
}

// The kinds of usage facts: how a fact changes the aggregates of its day
// when the facts of the day are folded in order.
const (
	factAdd   = 1 // add n, capped at MaxUsage
	factSub   = 2 // subtract n, floored at 0
	factSet   = 3 // set to n
	factClear = 4 // remove the aggregates whose span starts in [from, to)
)

// factEntry is one aggregate a fact changes.
type factEntry struct {
	start, end int64
	label      string
	n          int64
}

// fact is a change to the usage aggregates of one day kept outside the
// client's document (the usage collection): the live hours sealed when a
// later day is charged, a charge or refund of an earlier day, a deletion,
// an import.
type fact struct {
	id       int64 // unique, so that writing it twice is seen
	day      int64
	kind     uint8
	entries  []factEntry
	from, to int64 // factClear
}

// keyEntry is an idempotency key record, or the mark that a record was
// refunded (dead), on its way to the keys collection.
type keyEntry struct {
	id   int64
	gen  int64 // the record's generation among the records of its key
	dead bool
	rec  core.KeyRecord // for a dead mark: Key and Expires
}

// checkpoint remembers when a version was written (FerretDB layout), for
// pruning old versions.
type checkpoint struct{ v, t int64 }

// state is a client's state.
type state struct {
	win    [core.MaxQuotas]slot
	hours  []bucket // live hours, by start
	lh     int64    // the start of the latest span charged
	hasLH  bool
	lo, hi int64 // days that may hold usage facts: [lo, hi]
	arch   bool
	facts  []fact
	keys   []keyEntry
	// Versions layout: when versions were written, every hintEvery.
	ck []checkpoint
}

// clone returns a deep copy of st that fn may change.
func (st *state) clone() *state {
	c := *st
	c.hours = make([]bucket, len(st.hours))
	for i, b := range st.hours {
		b.labels = slices.Clone(b.labels)
		c.hours[i] = b
	}
	c.facts = slices.Clone(st.facts) // entries are never changed in place
	c.keys = slices.Clone(st.keys)
	c.ck = slices.Clone(st.ck)
	return &c
}

// empty reports whether the state holds nothing worth a document.
func (st *state) empty() bool {
	for _, sl := range st.win {
		if sl.held {
			return false
		}
	}
	return len(st.hours) == 0 && !st.arch && len(st.facts) == 0 && len(st.keys) == 0
}

// liveDay returns the day of the live hours.
func (st *state) liveDay() int64 { return dayOf(st.lh) }

// findHour returns the position of the live hour starting at start, or
// where it would be inserted.
func (st *state) findHour(start int64) (int, bool) {
	return slices.BinarySearchFunc(st.hours, start, func(b bucket, s int64) int {
		switch {
		case b.start < s:
			return -1
		case b.start > s:
			return 1
		}
		return 0
	})
}

// live returns the live usage of an hour and label.
func (st *state) live(start int64, label string) int64 {
	if i, ok := st.findHour(start); ok {
		for _, l := range st.hours[i].labels {
			if l.label == label {
				return l.n
			}
		}
	}
	return 0
}

// liveCount returns how many counters the live hours hold.
func (st *state) liveCount() int {
	n := 0
	for _, b := range st.hours {
		n += len(b.labels)
	}
	return n
}

// mayArchive reports whether usage facts of day may exist, written or
// pending.
func (st *state) mayArchive(day int64) bool {
	if st.arch && st.lo <= day && day <= st.hi {
		return true
	}
	for _, f := range st.facts {
		if f.day == day {
			return true
		}
	}
	return false
}

// addFact queues a usage fact.
func (st *state) addFact(f fact, ids *idSource) {
	f.id = ids.next()
	st.facts = append(st.facts, f)
}

// noteArchived records that day holds usage facts.
func (st *state) noteArchived(day int64) {
	if !st.arch {
		st.lo, st.hi, st.arch = day, day, true
		return
	}
	st.lo, st.hi = min(st.lo, day), max(st.hi, day)
}

// sealBefore moves the live hours of days before day into facts.
func (st *state) sealBefore(day int64, ids *idSource) {
	k := 0
	for k < len(st.hours) && dayOf(st.hours[k].start) < day {
		k++
	}
	st.seal(st.hours[:k], ids)
	st.hours = slices.Delete(st.hours, 0, k)
}

// seal writes hours (of any days) into one fact per day.
func (st *state) seal(hours []bucket, ids *idSource) {
	for len(hours) > 0 {
		d := dayOf(hours[0].start)
		f := fact{day: d, kind: factAdd}
		k := 0
		for k < len(hours) && dayOf(hours[k].start) == d {
			for _, l := range hours[k].labels {
				if l.n != 0 {
					f.entries = append(f.entries, factEntry{hours[k].start, hours[k].end, l.label, l.n})
				}
			}
			k++
		}
		if len(f.entries) > 0 {
			st.addFact(f, ids)
			st.noteArchived(d)
		}
		hours = hours[k:]
	}
}

// addLive adds n (which may be negative, flooring at zero, or a set when
// set is true) to the live hour span and label, creating them as needed.
func (st *state) addLive(span core.Span, label string, n int64, set bool) {
	i, ok := st.findHour(span.Start)
	if !ok {
		st.hours = slices.Insert(st.hours, i, bucket{start: span.Start, end: span.End})
	}
	b := &st.hours[i]
	for j := range b.labels {
		if b.labels[j].label == label {
			switch {
			case set:
				b.labels[j].n = n
			case n < 0:
				b.labels[j].n = max(0, b.labels[j].n+n)
			default:
				b.labels[j].n = capAdd(b.labels[j].n, n)
			}
			return
		}
	}
	b.labels = append(b.labels, labelCount{label: strings.Clone(label), n: max(0, n)})
}

func capAdd(a, b int64) int64 {
	if a > core.MaxUsage-b {
		return core.MaxUsage
	}
	return a + b
}

// charge adds cost to the aggregate of span and label: to the live hours
// when the span is of the latest day charged (or later: then the live hours
// of earlier days are sealed), else as a fact of its day. It keeps the live
// hours within maxLive counters and drops those older than the retention.
func (st *state) charge(span core.Span, label string, cost int64, retention int64, ids *idSource) {
	d := dayOf(span.Start)
	if !st.hasLH || span.Start > st.lh {
		if st.hasLH && d > st.liveDay() {
			st.sealBefore(d, ids)
		}
		st.lh, st.hasLH = span.Start, true
	}
	if d < st.liveDay() {
		st.addFact(fact{day: d, kind: factAdd, entries: []factEntry{{span.Start, span.End, strings.Clone(label), cost}}}, ids)
		st.noteArchived(d)
		return
	}
	st.addLive(span, label, cost, false)
	st.trim(span.Start, retention, ids)
}

// trim drops live hours older than the retention before the latest span,
// and seals the oldest live hours but keep when they hold too many
// counters.
func (st *state) trim(keep int64, retention int64, ids *idSource) {
	if retention > 0 {
		cut := st.lh - retention
		k := 0
		for k < len(st.hours) && st.hours[k].start < cut {
			k++
		}
		st.hours = slices.Delete(st.hours, 0, k)
	}
	for st.liveCount() > maxLive && len(st.hours) > 1 {
		i := 0
		if st.hours[0].start == keep {
			i = 1
		}
		st.seal(st.hours[i:i+1], ids)
		st.hours = slices.Delete(st.hours, i, i+1)
	}
}

// cutoff returns the start before which usage aggregates are gone by the
// retention, and whether there is one.
func (st *state) cutoff(retention int64) (int64, bool) {
	if retention <= 0 || !st.hasLH {
		return 0, false
	}
	return st.lh - retention, true
}

// refundSpan takes cost back from the aggregate of span and label, from the
// live hours first and the rest through a fact, never below zero. It
// reports whether it changed anything.
func (st *state) refundSpan(span core.Span, label string, cost int64, ids *idSource) bool {
	rest := cost
	changed := false
	if i, ok := st.findHour(span.Start); ok {
		b := &st.hours[i]
		for j := range b.labels {
			if b.labels[j].label == label && b.labels[j].n > 0 {
				take := min(b.labels[j].n, rest)
				b.labels[j].n -= take
				rest -= take
				changed = true
			}
		}
	}
	d := dayOf(span.Start)
	if rest > 0 && st.mayArchive(d) {
		st.addFact(fact{day: d, kind: factSub, entries: []factEntry{{span.Start, span.End, strings.Clone(label), rest}}}, ids)
		changed = true
	}
	return changed
}

// idSource hands out the IDs of facts and key entries.
type idSource struct{ rnd func() int64 }

func (s *idSource) next() int64 {
	for {
		if id := s.rnd(); id != 0 {
			return id
		}
	}
}

// keyGrace is how long past its expiry a key record is kept, for callers
// whose clocks lag.
const keyGrace = int64(time.Hour)

// dropExpiredKeys removes the pending key entries whose records expired
// more than keyGrace before at: the keys collection need not hold them.
func (st *state) dropExpiredKeys(at int64) {
	cut := at - keyGrace
	if cut > at { // overflow
		return
	}
	st.keys = slices.DeleteFunc(st.keys, func(k keyEntry) bool { return k.rec.Expires < cut })
}
