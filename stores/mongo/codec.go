package mongo

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/frappy-go/apibilling/core"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// The fields of a client's document (both layouts):
//
//	w   windows by period name: {s: start, e: end, u: used, f: threshold bits}
//	h   live hours by decimal start: {e: end, l: {"_"+escaped label: credits}}
//	lh  the start of the latest span charged
//	lo, hi  the first and last day that may hold usage facts
//	o   pending usage facts:  [{i, d, k, b: [{s, e, l, n}], f, t}]
//	k   pending key records and refund marks: [{i, g, x (mark), r (record)}]
//	ck  Versions layout: version checkpoints [{v, t}]
//
// (FerretDB refuses arrays of arrays.)
//
// Every number is an int64 (never a double).

// errCorrupt is the error of a document the store did not write.
var errCorrupt = errors.New("apibilling/mongo: malformed document")

func corrupt(what string, args ...any) error {
	return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(what, args...))
}

// appendState appends the fields of st to d.
func appendState(d bson.D, st *state) bson.D {
	var w bson.D
	for p := core.Period(0); p < core.MaxQuotas; p++ {
		sl := &st.win[p]
		if !sl.held {
			continue
		}
		w = append(w, bson.E{Key: p.String(), Value: bson.D{
			{Key: "s", Value: sl.start}, {Key: "e", Value: sl.end},
			{Key: "u", Value: sl.used}, {Key: "f", Value: int64(sl.fired)},
		}})
	}
	d = append(d, bson.E{Key: "w", Value: orEmpty(w)})
	h := make(bson.D, 0, len(st.hours))
	for _, b := range st.hours {
		ls := make(bson.D, 0, len(b.labels))
		for _, l := range b.labels {
			ls = append(ls, bson.E{Key: labelField(l.label), Value: l.n})
		}
		h = append(h, bson.E{Key: strconv.FormatInt(b.start, 10), Value: bson.D{
			{Key: "e", Value: b.end}, {Key: "l", Value: ls},
		}})
	}
	d = append(d, bson.E{Key: "h", Value: h})
	if st.hasLH {
		d = append(d, bson.E{Key: "lh", Value: st.lh})
	}
	if st.arch {
		d = append(d, bson.E{Key: "lo", Value: st.lo}, bson.E{Key: "hi", Value: st.hi})
	}
	if len(st.facts) > 0 {
		a := make(bson.A, len(st.facts))
		for i := range st.facts {
			a[i] = factDoc(&st.facts[i], nil)
		}
		d = append(d, bson.E{Key: "o", Value: a})
	}
	if len(st.keys) > 0 {
		a := make(bson.A, len(st.keys))
		for i := range st.keys {
			k := &st.keys[i]
			b, _ := k.rec.AppendBinary(nil)
			e := bson.D{{Key: "i", Value: k.id}, {Key: "g", Value: k.gen}}
			if k.dead {
				e = append(e, bson.E{Key: "x", Value: true})
			}
			a[i] = append(e, bson.E{Key: "r", Value: bson.Binary{Data: b}})
		}
		d = append(d, bson.E{Key: "k", Value: a})
	}
	if len(st.ck) > 0 {
		a := make(bson.A, len(st.ck))
		for i, c := range st.ck {
			a[i] = bson.D{{Key: "v", Value: c.v}, {Key: "t", Value: c.t}}
		}
		d = append(d, bson.E{Key: "ck", Value: a})
	}
	return d
}

func orEmpty(d bson.D) bson.D {
	if d == nil {
		return bson.D{}
	}
	return d
}

// factDoc returns the fields of a fact, appended to head.
func factDoc(f *fact, head bson.D) bson.D {
	d := append(head, bson.E{Key: "i", Value: f.id}, bson.E{Key: "d", Value: f.day}, bson.E{Key: "k", Value: int64(f.kind)})
	if f.kind == factClear {
		return append(d, bson.E{Key: "f", Value: f.from}, bson.E{Key: "t", Value: f.to})
	}
	es := make(bson.A, len(f.entries))
	for i, e := range f.entries {
		es[i] = bson.D{{Key: "s", Value: e.start}, {Key: "e", Value: e.end}, {Key: "l", Value: escape(e.label)}, {Key: "n", Value: e.n}}
	}
	return append(d, bson.E{Key: "b", Value: es})
}

// i64 reads an integer field (int64, or int32 from a server that narrows
// small numbers); doubles are refused, as the store never writes them.
func i64(v bson.RawValue) (int64, bool) {
	switch v.Type {
	case bson.TypeInt64:
		return v.Int64OK()
	case bson.TypeInt32:
		n, ok := v.Int32OK()
		return int64(n), ok
	}
	return 0, false
}

// fieldInt reads the integer field key of doc; a missing field is 0.
func fieldInt(doc bson.Raw, key string) (int64, bool, error) {
	v, err := doc.LookupErr(key)
	if err != nil {
		return 0, false, nil
	}
	n, ok := i64(v)
	if !ok {
		return 0, false, corrupt("field %q is %v, not an integer", key, v.Type)
	}
	return n, true, nil
}

// decodeState reads a client's state from its document.
func decodeState(doc bson.Raw) (*state, error) {
	st := &state{}
	elems, err := doc.Elements()
	if err != nil {
		return nil, corrupt("%v", err)
	}
	for _, el := range elems {
		v := el.Value()
		var err error
		switch el.Key() {
		case "w":
			err = decodeWindows(st, v)
		case "h":
			err = decodeHours(st, v)
		case "lh":
			st.lh, st.hasLH, err = intOf(v)
		case "lo":
			st.lo, st.arch, err = intOf(v)
		case "hi":
			st.hi, _, err = intOf(v)
		case "o":
			err = eachDoc(v, func(d bson.Raw) error {
				f, err := decodeFact(d)
				if err == nil {
					st.facts = append(st.facts, f)
				}
				return err
			})
		case "k":
			err = eachDoc(v, func(d bson.Raw) error {
				k, err := decodeKeyEntry(d)
				if err == nil {
					st.keys = append(st.keys, k)
				}
				return err
			})
		case "ck":
			err = eachDoc(v, func(d bson.Raw) error {
				var c checkpoint
				var err1, err2 error
				c.v, _, err1 = fieldInt(d, "v")
				c.t, _, err2 = fieldInt(d, "t")
				st.ck = append(st.ck, c)
				return errors.Join(err1, err2)
			})
		}
		if err != nil {
			return nil, err
		}
	}
	return st, nil
}

func intOf(v bson.RawValue) (int64, bool, error) {
	n, ok := i64(v)
	if !ok {
		return 0, false, corrupt("an integer field is %v", v.Type)
	}
	return n, true, nil
}

// eachDoc calls fn with each document of the array v.
func eachDoc(v bson.RawValue, fn func(bson.Raw) error) error {
	a, ok := v.ArrayOK()
	if !ok {
		return corrupt("%v, not an array", v.Type)
	}
	vals, err := a.Values()
	if err != nil {
		return corrupt("%v", err)
	}
	for _, x := range vals {
		d, ok := x.DocumentOK()
		if !ok {
			return corrupt("an array item is %v, not a document", x.Type)
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

func decodeWindows(st *state, v bson.RawValue) error {
	d, ok := v.DocumentOK()
	if !ok {
		return corrupt("w is not a document")
	}
	elems, err := d.Elements()
	if err != nil {
		return corrupt("%v", err)
	}
	for _, el := range elems {
		p, err := core.ParsePeriod(el.Key())
		if err != nil {
			return corrupt("window of period %q", el.Key())
		}
		wd, ok := el.Value().DocumentOK()
		if !ok {
			return corrupt("window %q is not a document", el.Key())
		}
		sl := &st.win[p]
		var e1, e2, e3, e4 error
		var f int64
		sl.start, _, e1 = fieldInt(wd, "s")
		sl.end, _, e2 = fieldInt(wd, "e")
		sl.used, _, e3 = fieldInt(wd, "u")
		f, _, e4 = fieldInt(wd, "f")
		if err := errors.Join(e1, e2, e3, e4); err != nil {
			return err
		}
		sl.fired, sl.held = uint8(f), true
	}
	return nil
}

func decodeHours(st *state, v bson.RawValue) error {
	d, ok := v.DocumentOK()
	if !ok {
		return corrupt("h is not a document")
	}
	elems, err := d.Elements()
	if err != nil {
		return corrupt("%v", err)
	}
	for _, el := range elems {
		start, err := strconv.ParseInt(el.Key(), 10, 64)
		if err != nil {
			return corrupt("hour %q", el.Key())
		}
		hd, ok := el.Value().DocumentOK()
		if !ok {
			return corrupt("hour %q is not a document", el.Key())
		}
		b := bucket{start: start}
		if b.end, _, err = fieldInt(hd, "e"); err != nil {
			return err
		}
		if lv, err := hd.LookupErr("l"); err == nil {
			ld, ok := lv.DocumentOK()
			if !ok {
				return corrupt("labels of hour %q", el.Key())
			}
			les, err := ld.Elements()
			if err != nil {
				return corrupt("%v", err)
			}
			for _, le := range les {
				label, err := labelOf(le.Key())
				if err != nil {
					return corrupt("label field %q", le.Key())
				}
				n, ok := i64(le.Value())
				if !ok {
					return corrupt("usage of label %q is %v", le.Key(), le.Value().Type)
				}
				b.labels = append(b.labels, labelCount{label, n})
			}
		}
		i, found := st.findHour(start)
		if found {
			return corrupt("hour %q twice", el.Key())
		}
		st.hours = append(st.hours[:i], append([]bucket{b}, st.hours[i:]...)...)
	}
	return nil
}

// decodeFact reads a fact (from a state's list or the usage collection).
func decodeFact(d bson.Raw) (fact, error) {
	var f fact
	var kind int64
	var e1, e2, e3 error
	f.id, _, e1 = fieldInt(d, "i")
	f.day, _, e2 = fieldInt(d, "d")
	kind, _, e3 = fieldInt(d, "k")
	if err := errors.Join(e1, e2, e3); err != nil {
		return f, err
	}
	f.kind = uint8(kind)
	switch f.kind {
	case factClear:
		var err1, err2 error
		f.from, _, err1 = fieldInt(d, "f")
		f.to, _, err2 = fieldInt(d, "t")
		return f, errors.Join(err1, err2)
	case factAdd, factSub, factSet:
	default:
		return f, corrupt("fact of kind %d", kind)
	}
	v, err := d.LookupErr("b")
	if err != nil {
		return f, corrupt("fact without entries")
	}
	err = eachDoc(v, func(ed bson.Raw) error {
		var e factEntry
		var e1, e2, e3 error
		e.start, _, e1 = fieldInt(ed, "s")
		e.end, _, e2 = fieldInt(ed, "e")
		e.n, _, e3 = fieldInt(ed, "n")
		if err := errors.Join(e1, e2, e3); err != nil {
			return err
		}
		ls, ok := ed.Lookup("l").StringValueOK()
		if !ok {
			return corrupt("fact entry without a label")
		}
		if e.label, err = unescape(ls); err != nil {
			return corrupt("fact entry label %q", ls)
		}
		f.entries = append(f.entries, e)
		return nil
	})
	return f, err
}

// decodeKeyEntry reads a pending key record or refund mark.
func decodeKeyEntry(d bson.Raw) (keyEntry, error) {
	var k keyEntry
	var e1, e2 error
	k.id, _, e1 = fieldInt(d, "i")
	k.gen, _, e2 = fieldInt(d, "g")
	if err := errors.Join(e1, e2); err != nil {
		return k, err
	}
	k.dead, _ = d.Lookup("x").BooleanOK()
	rec, err := recordOf(d)
	k.rec = rec
	return k, err
}

// recordOf reads the key record in field r of d.
func recordOf(d bson.Raw) (core.KeyRecord, error) {
	var rec core.KeyRecord
	_, b, ok := d.Lookup("r").BinaryOK()
	if !ok {
		return rec, corrupt("key record without its bytes")
	}
	if err := rec.UnmarshalBinary(b); err != nil {
		return rec, corrupt("key record: %v", err)
	}
	return rec, nil
}
