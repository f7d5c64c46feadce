package mongo

import (
	"context"
	"slices"

	"github.com/frappy-go/apibilling/core"
)

// Deduct implements [core.Store.Deduct]. In the [Updates] layout a charge
// without a key, to windows and an hour the client's document already
// counts, is one findAndModify; anything else reads the document and
// commits the next one.
func (s *Store) Deduct(ctx context.Context, op *core.Op) (core.Result, error) {
	var res core.Result
	ctx, cancel, err := s.begin(ctx, "deduct")
	if err != nil {
		return res, err
	}
	defer cancel()
	cid := escape(op.Client)
	var sent bool
	if ur, ok := s.reg.(*updateReg); ok && op.Key == "" && op.Cost > 0 {
		r, done, err := ur.deductFast(ctx, cid, op, &sent)
		if err != nil {
			return res, opError("deduct", err, sent)
		}
		if done {
			return r, nil
		}
	}
	err = s.change(ctx, cid, func(st *state) (bool, error) {
		res = core.Result{}
		return s.deduct(ctx, cid, st, op, &res)
	}, &sent)
	if err != nil {
		return core.Result{}, opError("deduct", err, sent)
	}
	return res, nil
}

// deduct applies a deduction to the state st, as the memory store does.
func (s *Store) deduct(ctx context.Context, cid string, st *state, op *core.Op, res *core.Result) (bool, error) {
	var l keyLookup
	if op.Key != "" {
		var err error
		if l, err = s.lookupKey(ctx, cid, st, op.Key, op.At); err != nil {
			return false, err
		}
		if l.rec != nil {
			rec := *l.rec
			res.Record = &rec
			if rec.Matches(op) {
				res.OK, res.Replayed = true, true
			} else {
				res.Conflict = true
			}
			return false, nil
		}
	}
	ws := op.Windows()
	res.OK = true
	for i := range ws {
		w := &ws[i]
		u := st.win[w.Period].usedFor(w)
		res.Used[i] = u
		if !w.Fits(u, op.Cost) {
			res.OK = false
		}
		if core.Overflows(u, op.Cost) {
			res.OK, res.Overflow = false, true
		}
	}
	if res.OK && op.Cost > 0 {
		agg := st.live(op.Bucket.Start, op.Label)
		if st.mayArchive(dayOf(op.Bucket.Start)) {
			a, err := s.archived(ctx, cid, st, op.Bucket, op.Label)
			if err != nil {
				return false, err
			}
			agg = capAdd(agg, a)
		}
		if core.Overflows(agg, op.Cost) {
			res.OK, res.Overflow = false, true
		}
	}
	if !res.OK {
		return false, nil
	}
	if op.Cost > 0 { // a zero cost counts nothing: no state is created
		for i := range ws {
			w := &ws[i]
			sl := &st.win[w.Period]
			if !sl.held || w.Start > sl.start {
				if sl.held && sl.fired != 0 {
					res.Reset |= 1 << i
				}
				*sl = slot{start: w.Start, end: w.End, held: true}
			}
			sl.used += op.Cost
			res.Used[i] = sl.used
			if bits := w.Reached(sl.used, sl.fired); bits != 0 {
				sl.fired |= bits
				res.Fired[i] = bits
			}
		}
		st.charge(op.Bucket, op.Label, op.Cost, s.retention, &s.ids)
	}
	if op.Key != "" {
		st.dropExpiredKeys(op.At)
		st.recordKey(op.Record(&res.Used), l, &s.ids)
	}
	return op.Cost > 0 || op.Key != "", nil
}

// Refund implements [core.Store.Refund].
func (s *Store) Refund(ctx context.Context, op *core.Op) error {
	ctx, cancel, err := s.begin(ctx, "refund")
	if err != nil {
		return err
	}
	defer cancel()
	cid := escape(op.Client)
	var sent bool
	err = s.change(ctx, cid, func(st *state) (bool, error) {
		return s.refund(ctx, cid, st, op)
	}, &sent)
	return opError("refund", err, sent)
}

func (s *Store) refund(ctx context.Context, cid string, st *state, op *core.Op) (bool, error) {
	changed := false
	if op.Key != "" {
		l, err := s.lookupKey(ctx, cid, st, op.Key, op.At)
		if err != nil || l.rec == nil {
			return false, err
		}
		st.markDead(l.rec, l.gen, &s.ids)
		r := l.rec.Op()
		op = &r
		changed = true
	}
	if op.Cost == 0 {
		return changed, nil
	}
	for _, w := range op.Windows() {
		if sl := &st.win[w.Period]; sl.held && sl.start == w.Start && sl.used > 0 {
			sl.used = max(0, sl.used-op.Cost)
			changed = true
		}
	}
	if st.refundSpan(op.Bucket, op.Label, op.Cost, &s.ids) {
		changed = true
	}
	return changed, nil
}

// Usage implements [core.Store.Usage].
func (s *Store) Usage(ctx context.Context, op *core.Op) (core.Result, error) {
	var res core.Result
	ctx, cancel, err := s.begin(ctx, "usage")
	if err != nil {
		return res, err
	}
	defer cancel()
	st, err := s.read(ctx, escape(op.Client))
	if err != nil {
		return res, opError("usage", err, false)
	}
	ws := op.Windows()
	for i := range ws {
		res.Used[i] = st.win[ws[i].Period].usedFor(&ws[i])
	}
	return res, nil
}

// Report implements [core.Store.Report].
func (s *Store) Report(ctx context.Context, q core.ReportQuery) ([]core.UsageRecord, error) {
	ctx, cancel, err := s.begin(ctx, "report")
	if err != nil {
		return nil, err
	}
	defer cancel()
	if q.From >= q.To {
		return nil, nil
	}
	cid := escape(q.Client)
	st, err := s.read(ctx, cid)
	if err != nil {
		return nil, opError("report", err, false)
	}
	agg, err := s.aggregates(ctx, cid, st, q.From, q.To)
	if err != nil {
		return nil, opError("report", err, false)
	}
	cut, hasCut := st.cutoff(s.retention)
	var out []core.UsageRecord
	for k, v := range agg {
		if v.n != 0 && (!hasCut || k.start >= cut) {
			out = append(out, core.UsageRecord{Bucket: core.Span{Start: k.start, End: v.end}, Label: k.label, Credits: v.n})
		}
	}
	return out, nil
}

// aggregates returns the client's usage aggregates whose span starts in
// [from, to): the live hours of its state st plus the facts of the days
// before.
func (s *Store) aggregates(ctx context.Context, cid string, st *state, from, to int64) (dayAgg, error) {
	agg := dayAgg{}
	if from >= to {
		return agg, nil
	}
	a, err := s.foldDays(ctx, cid, st, dayOf(from), dayOf(to-1))
	if err != nil {
		return nil, err
	}
	for k, v := range a {
		if from <= k.start && k.start < to {
			agg[k] = v
		}
	}
	for _, b := range st.hours {
		if b.start < from || b.start >= to {
			continue
		}
		for _, l := range b.labels {
			k := aggKey{b.start, l.label}
			v := agg[k]
			v.end, v.n = b.end, capAdd(v.n, l.n)
			agg[k] = v
		}
	}
	return agg, nil
}

// daysIn returns the days in [first, last] that may hold usage facts, in
// order.
func (st *state) daysIn(first, last int64) []int64 {
	var days []int64
	if st.arch {
		for d := max(first, st.lo); d <= min(last, st.hi); d++ {
			days = append(days, d)
		}
	}
	for _, f := range st.facts {
		if first <= f.day && f.day <= last && !slices.Contains(days, f.day) {
			days = append(days, f.day)
		}
	}
	slices.Sort(days)
	return days
}

// Delete implements [core.Store.Delete].
func (s *Store) Delete(ctx context.Context, op *core.DeleteOp) (int64, error) {
	ctx, cancel, err := s.begin(ctx, "delete")
	if err != nil {
		return 0, err
	}
	defer cancel()
	cid := escape(op.Client)
	var total int64
	var sent bool
	err = s.change(ctx, cid, func(st *state) (bool, error) {
		total = 0
		return s.delete(ctx, cid, st, op, &total)
	}, &sent)
	if err != nil {
		return 0, opError("delete", err, sent)
	}
	return total, nil
}

func (s *Store) delete(ctx context.Context, cid string, st *state, op *core.DeleteOp, total *int64) (bool, error) {
	if op.From >= op.To {
		return false, nil
	}
	ws := op.Windows()
	var inWindow [core.MaxQuotas]int64
	count := func(start, end, n int64) {
		*total = capAdd(*total, n)
		for i := range ws {
			if start < ws[i].End && ws[i].Start < end {
				inWindow[i] = capAdd(inWindow[i], n)
			}
		}
	}
	changed := false
	a, err := s.foldDays(ctx, cid, st, dayOf(op.From), dayOf(op.To-1))
	if err != nil {
		return false, err
	}
	var cleared []int64 // days with aggregates in the range
	for k, v := range a {
		if op.From <= k.start && k.start < op.To {
			count(k.start, v.end, v.n)
			if d := dayOf(k.start); !slices.Contains(cleared, d) {
				cleared = append(cleared, d)
			}
		}
	}
	slices.Sort(cleared)
	for _, d := range cleared {
		st.addFact(fact{day: d, kind: factClear, from: op.From, to: op.To}, &s.ids)
		changed = true
	}
	kept := st.hours[:0]
	for _, b := range st.hours {
		if b.start < op.From || b.start >= op.To {
			kept = append(kept, b)
			continue
		}
		for _, l := range b.labels {
			count(b.start, b.end, l.n)
		}
		changed = true
	}
	st.hours = kept
	for i := range ws {
		if sl := &st.win[ws[i].Period]; sl.held && sl.start == ws[i].Start && inWindow[i] > 0 && sl.used > 0 {
			sl.used = max(0, sl.used-inWindow[i])
			changed = true
		}
	}
	return changed, nil
}
