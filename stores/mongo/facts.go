package mongo

import (
	"context"
	"strconv"

	"github.com/frappy-go/apibilling/core"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Usage aggregates of days before a client's latest day live in the
// collection usage, as facts appended to a list per client and UTC day:
//
//	{_id: "client|day|n", c: client, d: day, n: n, i: fact id, k: kind, b: [{s, e, l, n}], f, t}
//
// n = 0, 1, 2, ... in order. Usually a day has one fact: its live hours,
// sealed when the client is first charged on a later day. Later facts are
// rare: a charge or refund that arrives for an earlier day, a deletion, an
// import. The aggregates of a day are its facts folded in order. A fact
// is appended by inserting it at the next n, which exactly one writer can
// do; a writer first reads the day's facts (one query on c and d, indexed)
// and stops if it finds the fact's id there (written before), so a fact
// lands once. The facts of a day are deleted together, when the day passes
// the retention.

// factDocID returns the _id of the n-th fact of a client's day.
func factDocID(cid string, day, n int64) string {
	return cid + "|" + strconv.FormatInt(day, 10) + "|" + strconv.FormatInt(n, 10)
}

// aggKey identifies a usage aggregate within a client.
type aggKey struct {
	start int64
	label string
}

type aggVal struct{ end, n int64 }

// dayAgg is the aggregates of some days, as folded.
type dayAgg map[aggKey]aggVal

// apply folds f into a.
func (a dayAgg) apply(f *fact) {
	if f.kind == factClear {
		for k := range a {
			if f.from <= k.start && k.start < f.to {
				delete(a, k)
			}
		}
		return
	}
	for _, e := range f.entries {
		k := aggKey{e.start, e.label}
		v := a[k]
		v.end = e.end
		switch f.kind {
		case factAdd:
			v.n = capAdd(v.n, e.n)
		case factSub:
			v.n = max(0, v.n-e.n)
		case factSet:
			v.n = e.n
		}
		a[k] = v
	}
}

// readDays returns the facts of a client's days in [first, last] in the
// collection, by day, each day's in order.
func (s *Store) readDays(ctx context.Context, cid string, first, last int64) (map[int64][]fact, error) {
	filter := bson.D{{Key: "c", Value: cid}, {Key: "d", Value: bson.D{{Key: "$gte", Value: first}, {Key: "$lte", Value: last}}}}
	if first == last {
		filter[1].Value = first
	}
	cur, err := s.usage.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "d", Value: 1}, {Key: "n", Value: 1}}))
	if err != nil {
		return nil, err
	}
	defer cur.Close(context.WithoutCancel(ctx))
	out := map[int64][]fact{}
	for cur.Next(ctx) {
		f, err := decodeFact(cur.Current)
		if err != nil {
			return nil, err
		}
		if n, _ := i64(cur.Current.Lookup("n")); n != int64(len(out[f.day])) {
			return nil, corrupt("usage fact %d of day %d out of order", n, f.day)
		}
		out[f.day] = append(out[f.day], f)
	}
	return out, cur.Err()
}

// foldDays returns the aggregates of a client's days in [first, last]
// that may hold facts: their facts in the collection, then those still
// pending in the state st (read before), each once.
func (s *Store) foldDays(ctx context.Context, cid string, st *state, first, last int64) (dayAgg, error) {
	a := dayAgg{}
	days := st.daysIn(first, last)
	if len(days) == 0 {
		return a, nil
	}
	facts, err := s.readDays(ctx, cid, days[0], days[len(days)-1])
	if err != nil {
		return nil, err
	}
	for _, d := range days {
		seen := map[int64]bool{}
		for i, f := range facts[d] {
			seen[f.id] = true
			a.apply(&facts[d][i])
		}
		for i := range st.facts {
			if f := &st.facts[i]; f.day == d && !seen[f.id] {
				a.apply(f)
			}
		}
	}
	return a, nil
}

// writeFact appends a pending fact to its day's list, unless it is there.
func (s *Store) writeFact(ctx context.Context, cid string, f *fact) error {
	for {
		facts, err := s.readDays(ctx, cid, f.day, f.day)
		if err != nil {
			return err
		}
		n := int64(len(facts[f.day]))
		for _, g := range facts[f.day] {
			if g.id == f.id {
				return nil
			}
		}
		doc := factDoc(f, bson.D{{Key: "_id", Value: factDocID(cid, f.day, n)}, {Key: "c", Value: cid}, {Key: "n", Value: n}})
		_, err = s.usage.InsertOne(ctx, doc)
		if err == nil || !mongo.IsDuplicateKeyError(err) {
			return err
		}
		// n was taken meanwhile: read the list again.
	}
}

// pruneDays deletes the usage facts of the client's days that have passed
// the retention; the next change records it.
func (s *Store) pruneDays(ctx context.Context, cid string, st *state) {
	cut, ok := st.cutoff(s.retention)
	if !ok || !st.arch {
		return
	}
	lo := st.lo
	if v, ok := s.prunedTo.Load(cid); ok {
		lo = max(lo, v.(int64))
	}
	end := min(dayOf(cut), st.hi+1)
	if lo >= end {
		return
	}
	_, err := s.usage.DeleteMany(ctx, bson.D{{Key: "c", Value: cid}, {Key: "d", Value: bson.D{{Key: "$lt", Value: end}}}})
	if err == nil {
		s.prunedTo.Store(cid, end)
	}
}

// archived returns the usage aggregate of span and label kept in facts
// (without the live hours).
func (s *Store) archived(ctx context.Context, cid string, st *state, span core.Span, label string) (int64, error) {
	d := dayOf(span.Start)
	a, err := s.foldDays(ctx, cid, st, d, d)
	if err != nil {
		return 0, err
	}
	return a[aggKey{span.Start, label}].n, nil
}
