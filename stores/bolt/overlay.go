package bolt

import (
	"unsafe"

	"github.com/frappy-go/apibilling/core"
)

// overlay holds the records that a batch of operations (durable mode) or the
// interval mode reads and changes, keyed by their bbolt key. Records missing
// from it are loaded from the file once; changed records are marked dirty
// and written back by flush. Every decision (has this window room?) is made
// on the overlay, which always holds the latest state of the records it has.
type overlay struct {
	recs  map[string]*record
	dirty []*record
	load  func(day bool, key []byte) (record, error)
	kb    keyBuf
	// vals holds the encoded values of the last flush: bbolt keeps the
	// value slices given to Put until the transaction ends.
	vals []byte
}

func newOverlay(load func(day bool, key []byte) (record, error)) *overlay {
	return &overlay{recs: make(map[string]*record), load: load, kb: keyBuf{b: make([]byte, 0, 64)}}
}

// reset forgets every record. Call it only after the transaction that the
// last flush wrote to has ended.
func (o *overlay) reset() {
	o.forget()
	o.vals = o.vals[:0]
}

// get returns the record of key, loading it if needed.
func (o *overlay) get(day bool, key []byte) (*record, error) {
	if r, ok := o.recs[string(key)]; ok {
		return r, nil
	}
	v, err := o.load(day, key)
	if err != nil {
		return nil, err
	}
	v.day = day
	v.key = string(key)
	r := &v
	o.recs[v.key] = r
	return r, nil
}

func (o *overlay) markDirty(r *record) {
	r.exists = true
	if r.dirty {
		return
	}
	r.dirty = true
	o.dirty = append(o.dirty, r)
}

// usedFor returns the usage a window counter holds for w: none if w starts
// after the counter's window (that one has ended), else the counter's (a
// window that starts before it is counted against the newer one, which
// never over-admits). It is the memory store's rule.
func (r *record) usedFor(w core.Window) core.Credits {
	if w.Start > r.start || r.end == 0 {
		return 0
	}
	return r.used
}

// deduct applies [core.Store.Deduct] to the overlay.
func (o *overlay) deduct(op *core.Op) (core.Result, error) {
	var res core.Result
	var recs [core.MaxQuotas]*record
	res.OK = true
	for i, w := range op.Windows() {
		k := o.kb.window(op.Client, w.Period)
		r, err := o.get(false, k)
		if err != nil {
			return core.Result{}, err
		}
		recs[i] = r
		res.Used[i] = r.usedFor(w)
		if !w.Fits(res.Used[i], op.Cost) {
			res.OK = false
		}
	}
	if !res.OK || op.Cost == 0 {
		return res, nil
	}
	for i, w := range op.Windows() {
		r := recs[i]
		if w.Start > r.start || r.end == 0 {
			r.start, r.end, r.used = w.Start, w.End, 0
		}
		r.used += op.Cost
		res.Used[i] = r.used
		o.markDirty(r)
	}
	k := o.kb.day(op.Client, op.Day.Start, op.Label)
	d, err := o.get(true, k)
	if err != nil {
		return core.Result{}, err
	}
	if !d.exists {
		d.end = op.Day.End
	}
	d.used += op.Cost
	o.markDirty(d)
	return res, nil
}

// refund applies [core.Store.Refund] to the overlay.
func (o *overlay) refund(op *core.Op) error {
	for _, w := range op.Windows() {
		k := o.kb.window(op.Client, w.Period)
		r, err := o.get(false, k)
		if err != nil {
			return err
		}
		if r.end != 0 && r.start == w.Start {
			r.used = max(0, r.used-op.Cost)
			o.markDirty(r)
		}
	}
	k := o.kb.day(op.Client, op.Day.Start, op.Label)
	d, err := o.get(true, k)
	if err != nil {
		return err
	}
	if d.exists {
		d.used = max(0, d.used-op.Cost)
		o.markDirty(d)
	}
	return nil
}

// usage applies [core.Store.Usage] to the overlay.
func (o *overlay) usage(op *core.Op) (core.Result, error) {
	var res core.Result
	for i, w := range op.Windows() {
		r, err := o.get(false, o.kb.window(op.Client, w.Period))
		if err != nil {
			return core.Result{}, err
		}
		res.Used[i] = r.usedFor(w)
	}
	return res, nil
}

// flush writes the dirty records to b; they stay dirty until the caller
// knows the transaction committed. The values written stay valid until
// [overlay.reset].
func (o *overlay) flush(b buckets) error {
	for _, r := range o.dirty {
		bk := b.windows
		if r.day {
			bk = b.days
		}
		n := len(o.vals)
		o.vals = r.encode(o.vals)
		// bbolt copies the key but keeps the value until the transaction
		// ends; a grown o.vals leaves earlier values in the old array.
		if err := bk.Put(unsafe.Slice(unsafe.StringData(r.key), len(r.key)), o.vals[n:len(o.vals):len(o.vals)]); err != nil {
			return err
		}
	}
	return nil
}

// forget drops every record, keeping the values of the last flush for the
// transaction that is still open.
func (o *overlay) forget() {
	clear(o.recs)
	clear(o.dirty)
	o.dirty = o.dirty[:0]
}
