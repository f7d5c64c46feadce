package storetest_test

import (
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/frappy-go/apibilling/core"
)

// The broken stores of the contract's second part: idempotency keys,
// overflow, threshold bits, export and import.

// replayCharges charges a replayed key again.
type replayCharges struct{ core.Store }

func (s replayCharges) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	res, err := s.Store.Deduct(ctx, opp)
	if err == nil && res.Replayed {
		o := *opp
		o.Key = ""
		_, err = s.Store.Deduct(ctx, &o)
	}
	return res, err
}

// conflictCharges charges a key reused for another cost or label instead
// of refusing it.
type conflictCharges struct{ core.Store }

func (s conflictCharges) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	res, err := s.Store.Deduct(ctx, opp)
	if err == nil && res.Conflict {
		o := *opp
		o.Key = ""
		return s.Store.Deduct(ctx, &o)
	}
	return res, err
}

// zeroCostNoKey records no key for a charge of zero cost.
type zeroCostNoKey struct{ core.Store }

func (s zeroCostNoKey) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	o := *opp
	if o.Cost == 0 {
		o.Key = ""
	}
	return s.Store.Deduct(ctx, &o)
}

// ownKeys keeps the idempotency keys itself, beside the memory store's
// charges, with one of several defects.
type ownKeys struct {
	core.Store
	mu   *sync.Mutex
	recs map[[2]string]core.KeyRecord

	recordRefused bool // records the key of a refused charge
	byKeyOnly     bool // keys of different clients collide
	noExpiry      bool // records never expire
	racy          bool // checks the key, then charges outside the lock
}

func newOwnKeys(s core.Store, k ownKeys) core.Store {
	k.Store, k.mu, k.recs = s, new(sync.Mutex), map[[2]string]core.KeyRecord{}
	return k
}

func (s ownKeys) id(o *core.Op) [2]string {
	if s.byKeyOnly {
		return [2]string{"", o.Key}
	}
	return [2]string{o.Client, o.Key}
}

func (s ownKeys) live(r core.KeyRecord, o *core.Op) bool { return s.noExpiry || r.Expires > o.At }

func (s ownKeys) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	if opp.Key == "" {
		return s.Store.Deduct(ctx, opp)
	}
	id := s.id(opp)
	s.mu.Lock()
	if r, ok := s.recs[id]; ok && s.live(r, opp) {
		s.mu.Unlock()
		res := core.Result{Record: &r}
		if r.Matches(opp) {
			res.OK, res.Replayed = true, true
		} else {
			res.Conflict = true
		}
		return res, nil
	}
	if s.racy {
		s.mu.Unlock()
		runtime.Gosched()
	}
	o := *opp
	o.Key = ""
	res, err := s.Store.Deduct(ctx, &o)
	if s.racy {
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if err == nil && (res.OK || s.recordRefused) {
		s.recs[id] = opp.Record(&res.Used)
	}
	return res, err
}

func (s ownKeys) Refund(ctx context.Context, opp *core.Op) error {
	if opp.Key == "" {
		return s.Store.Refund(ctx, opp)
	}
	id := s.id(opp)
	s.mu.Lock()
	r, ok := s.recs[id]
	if ok && s.live(r, opp) {
		delete(s.recs, id)
	}
	s.mu.Unlock()
	if !ok || !s.live(r, opp) {
		return nil
	}
	o := r.Op()
	o.Key = ""
	return s.Store.Refund(ctx, &o)
}

// refundByKeyRefundsOp refunds the op itself, however often, instead of the
// charge recorded under its key.
type refundByKeyRefundsOp struct{ core.Store }

func (s refundByKeyRefundsOp) Refund(ctx context.Context, opp *core.Op) error {
	o := *opp
	o.Key = ""
	return s.Store.Refund(ctx, &o)
}

// refundTwice refunds a keyed charge once by its record, and every later
// refund by the same key again from the op.
type refundTwice struct {
	core.Store
	mu   *sync.Mutex
	done map[[2]string]bool
}

func newRefundTwice(s core.Store) core.Store {
	return refundTwice{s, new(sync.Mutex), map[[2]string]bool{}}
}

func (s refundTwice) Refund(ctx context.Context, opp *core.Op) error {
	if opp.Key == "" {
		return s.Store.Refund(ctx, opp)
	}
	id := [2]string{opp.Client, opp.Key}
	s.mu.Lock()
	again := s.done[id]
	s.done[id] = true
	s.mu.Unlock()
	o := *opp
	if again {
		o.Key = ""
	}
	return s.Store.Refund(ctx, &o)
}

// overflowUnchecked admits a charge that would pass MaxUsage, reporting
// the wrapped sum, as an int64 counter would hold it.
type overflowUnchecked struct{ core.Store }

func (s overflowUnchecked) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	res, err := s.Store.Deduct(ctx, opp)
	if err == nil && res.Overflow {
		res.OK, res.Overflow = true, false
		for i := range opp.N {
			res.Used[i] += opp.Cost
		}
	}
	return res, err
}

// firedAgain reports every threshold bit the usage has reached, at every
// charge.
type firedAgain struct{ core.Store }

func (s firedAgain) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	res, err := s.Store.Deduct(ctx, opp)
	if err == nil && res.OK && !res.Replayed && opp.Cost > 0 {
		for i, w := range opp.Windows() {
			res.Fired[i] |= w.Reached(res.Used[i], 0)
		}
	}
	return res, err
}

// noReset never reports a reset.
type noReset struct{ core.Store }

func (s noReset) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	res, err := s.Store.Deduct(ctx, opp)
	res.Reset = 0
	return res, err
}

// exportDropsFired exports window counters without their threshold bits.
type exportDropsFired struct{ core.Store }

func (s exportDropsFired) Export(ctx context.Context, fn func(*core.Record) error) error {
	return s.Store.Export(ctx, func(r *core.Record) error {
		c := *r
		c.Fired = 0
		return fn(&c)
	})
}

// exportMissesKeys exports no idempotency keys.
type exportMissesKeys struct{ core.Store }

func (s exportMissesKeys) Export(ctx context.Context, fn func(*core.Record) error) error {
	return s.Store.Export(ctx, func(r *core.Record) error {
		if r.Kind == core.RecordKey {
			return nil
		}
		return fn(r)
	})
}

// exportIgnoresError goes on after fn fails, and returns nil.
type exportIgnoresError struct{ core.Store }

func (s exportIgnoresError) Export(ctx context.Context, fn func(*core.Record) error) error {
	return s.Store.Export(ctx, func(r *core.Record) error {
		_ = fn(r)
		return nil
	})
}

// importAlwaysMerges merges into a store that is not empty instead of
// refusing.
type importAlwaysMerges struct{ core.Store }

func (s importAlwaysMerges) Import(ctx context.Context, next func() (*core.Record, error), opts core.ImportOptions) error {
	opts.Merge = true
	return s.Store.Import(ctx, next, opts)
}

// errStop ends an import that only records its ID.
var errStop = errors.New("stop")

// mergeOverwrites writes merged records as they are, as into an empty
// store. It starts an import that fails at once to hold an ID, then
// resumes it.
type mergeOverwrites struct{ core.Store }

func (s mergeOverwrites) Import(ctx context.Context, next func() (*core.Record, error), opts core.ImportOptions) error {
	if !opts.Merge {
		return s.Store.Import(ctx, next, opts)
	}
	const id = "overwrite"
	_ = s.Store.Import(ctx, func() (*core.Record, error) { return nil, errStop }, core.ImportOptions{Merge: true, ID: id})
	return s.Store.Import(ctx, next, core.ImportOptions{ID: id})
}

// noResume forgets import IDs.
type noResume struct{ core.Store }

func (s noResume) Import(ctx context.Context, next func() (*core.Record, error), opts core.ImportOptions) error {
	opts.ID = ""
	return s.Store.Import(ctx, next, opts)
}

// resumeMerges merges the records of an import with an ID, so a resumed
// import counts the records written before twice.
type resumeMerges struct{ core.Store }

func (s resumeMerges) Import(ctx context.Context, next func() (*core.Record, error), opts core.ImportOptions) error {
	if opts.ID != "" {
		opts.Merge = true
	}
	return s.Store.Import(ctx, next, opts)
}

// labelsCut cuts labels at the first NUL byte.
type labelsCut struct{ core.Store }

func (s labelsCut) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	o := *opp
	if i := strings.IndexByte(o.Label, 0); i >= 0 {
		o.Label = o.Label[:i]
	}
	return s.Store.Deduct(ctx, &o)
}

// reportDropsLatest leaves the latest hour out of reports.
type reportDropsLatest struct{ core.Store }

func (s reportDropsLatest) Report(ctx context.Context, q core.ReportQuery) ([]core.UsageRecord, error) {
	recs, err := s.Store.Report(ctx, q)
	latest := int64(math.MinInt64)
	for _, r := range recs {
		latest = max(latest, r.Bucket.Start)
	}
	return slices.DeleteFunc(recs, func(r core.UsageRecord) bool { return r.Bucket.Start == latest }), err
}
