package mongo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/frappy-go/apibilling/core"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Export implements [core.Store.Export]. It reads the clients' documents,
// then the usage facts, then the key records, a record at a time: the
// store has no snapshot across documents (multi-document transactions are
// not used), so an export during charges sees each document as it was when
// read. Pending work of each client is written out first, so that the
// collections hold it. Export is not bounded by [Options.Timeout]; ctx
// bounds it.
func (s *Store) Export(ctx context.Context, fn func(*core.Record) error) error {
	if err := s.check(ctx, "export"); err != nil {
		return err
	}
	errStop := func(err error) error { return &stopped{err} }
	var rec core.Record
	err := s.reg.each(ctx, func(cid string, st *state) error {
		client, err := unescape(cid)
		if err != nil {
			return corrupt("client %q", cid)
		}
		if err := s.writePending(ctx, cid, st); err != nil {
			return err
		}
		for p := core.Period(0); p < core.MaxQuotas; p++ {
			if sl := &st.win[p]; sl.held {
				rec = core.Record{Kind: core.RecordWindow, Client: client, Period: p, Start: sl.start, End: sl.end, Used: sl.used, Fired: sl.fired}
				if err := fn(&rec); err != nil {
					return errStop(err)
				}
			}
		}
		cut, hasCut := st.cutoff(s.retention)
		withFacts := map[int64]bool{} // days whose live hours go with their facts
		for _, b := range st.hours {
			d := dayOf(b.start)
			if _, ok := withFacts[d]; !ok {
				doc, err := s.usageDoc(ctx, factDocID(cid, d, 0))
				if err != nil {
					return err
				}
				withFacts[d] = doc != nil
			}
		}
		for _, b := range st.hours {
			if hasCut && b.start < cut || withFacts[dayOf(b.start)] {
				continue
			}
			for _, l := range b.labels {
				if l.n == 0 {
					continue
				}
				rec = core.Record{Kind: core.RecordUsage, Client: client, Start: b.start, End: b.end, Label: l.label, Used: l.n}
				if err := fn(&rec); err != nil {
					return errStop(err)
				}
			}
		}
		return ctx.Err()
	})
	if err == nil {
		err = s.exportUsage(ctx, fn)
	}
	if err == nil {
		err = s.exportKeys(ctx, fn)
	}
	var st *stopped
	if errors.As(err, &st) {
		return st.err
	}
	if err != nil && !errors.Is(err, ctx.Err()) {
		return opError("export", err, false)
	}
	if err != nil {
		return errs.Failed("export", err)
	}
	return nil
}

// stopped carries fn's error out of an export.
type stopped struct{ err error }

func (e *stopped) Error() string { return e.err.Error() }
func (e *stopped) Unwrap() error { return e.err }

// check reports why an operation without the store's timeout cannot
// start.
func (s *Store) check(ctx context.Context, op string) error {
	return errs.Check(ctx, s.closed.Load(), op)
}

// writePending writes out a client's pending facts and key entries (not
// removing them from its document: its next change does).
func (s *Store) writePending(ctx context.Context, cid string, st *state) error {
	for i := range st.keys {
		if err := s.writeKeyEntry(ctx, cid, &st.keys[i]); err != nil {
			return err
		}
	}
	for i := range st.facts {
		if err := s.writeFact(ctx, cid, &st.facts[i]); err != nil {
			return err
		}
	}
	return nil
}

// usageDoc returns the usage fact of that _id, or nil.
func (s *Store) usageDoc(ctx context.Context, id string) (bson.Raw, error) {
	raw, err := s.usage.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	return raw, err
}

// exportUsage exports the usage aggregates of the days in facts, with the
// live hours of those days: the facts read in one pass, by client, day and
// n, each day folded when the next begins.
func (s *Store) exportUsage(ctx context.Context, fn func(*core.Record) error) error {
	cur, err := s.usage.Find(ctx, bson.D{},
		options.Find().SetSort(bson.D{{Key: "c", Value: 1}, {Key: "d", Value: 1}, {Key: "n", Value: 1}}))
	if err != nil {
		return err
	}
	defer cur.Close(context.WithoutCancel(ctx))
	var (
		cid, client string
		st          *state
		day         int64
		facts       []fact
		rec         core.Record
	)
	emit := func() error {
		if len(facts) == 0 {
			return nil
		}
		a := dayAgg{}
		seen := map[int64]bool{}
		for i := range facts {
			seen[facts[i].id] = true
			a.apply(&facts[i])
		}
		for i := range st.facts {
			if f := &st.facts[i]; f.day == day && !seen[f.id] {
				a.apply(f)
			}
		}
		// The live hours of the day, if the day also has facts.
		for _, b := range st.hours {
			if dayOf(b.start) != day {
				continue
			}
			for _, l := range b.labels {
				k := aggKey{b.start, l.label}
				v := a[k]
				v.end, v.n = b.end, capAdd(v.n, l.n)
				a[k] = v
			}
		}
		facts = facts[:0]
		cut, hasCut := st.cutoff(s.retention)
		for k, v := range a {
			if v.n == 0 || hasCut && k.start < cut {
				continue
			}
			rec = core.Record{Kind: core.RecordUsage, Client: client, Start: k.start, End: v.end, Label: k.label, Used: v.n}
			if err := fn(&rec); err != nil {
				return &stopped{err}
			}
		}
		return nil
	}
	for cur.Next(ctx) {
		c, ok := cur.Current.Lookup("c").StringValueOK()
		if !ok {
			return corrupt("a usage fact without its client")
		}
		f, err := decodeFact(cur.Current)
		if err != nil {
			return err
		}
		if st == nil || c != cid || f.day != day {
			if err := emit(); err != nil {
				return err
			}
			if st == nil || c != cid {
				if client, err = unescape(c); err != nil {
					return corrupt("client %q", c)
				}
				cid = c
				if st, err = s.read(ctx, cid); err != nil {
					return err
				}
			}
			day = f.day
		}
		facts = append(facts, f)
	}
	if err := cur.Err(); err != nil {
		return err
	}
	return emit()
}

// exportKeys exports the latest record of each key, if it is unexpired by
// the wall clock and not refunded: the documents by client, key and
// generation, newest first.
func (s *Store) exportKeys(ctx context.Context, fn func(*core.Record) error) error {
	now := time.Now().UnixNano()
	cur, err := s.keys.Find(ctx, bson.D{},
		options.Find().SetSort(bson.D{{Key: "c", Value: 1}, {Key: "k", Value: 1}, {Key: "g", Value: -1}}))
	if err != nil {
		return err
	}
	defer cur.Close(context.WithoutCancel(ctx))
	var (
		c, k   string // the key being read
		gen    int64  // its latest generation
		dead   bool   // which a mark says was refunded
		latest *core.KeyRecord
		rec    core.Record
	)
	emit := func() error {
		if latest != nil && !dead && latest.Expires > now {
			rec = core.Record{Kind: core.RecordKey, Client: latest.Client, Key: *latest}
			if err := fn(&rec); err != nil {
				return &stopped{err}
			}
		}
		latest = nil
		return nil
	}
	for cur.Next(ctx) {
		dc, _ := cur.Current.Lookup("c").StringValueOK()
		dk, _ := cur.Current.Lookup("k").StringValueOK()
		g, ok := i64(cur.Current.Lookup("g"))
		if !ok {
			return corrupt("a key record without its generation")
		}
		if dc != c || dk != k {
			if err := emit(); err != nil {
				return err
			}
			c, k, gen, dead = dc, dk, g, false
		}
		if g != gen {
			continue // an older generation: refunded or expired
		}
		if d, _ := cur.Current.Lookup("d").BooleanOK(); d {
			dead = true
			continue
		}
		r, err := recordOf(cur.Current)
		if err != nil {
			return err
		}
		latest = &r
	}
	if err := cur.Err(); err != nil {
		return err
	}
	return emit()
}

// importBatch is how many records of one client Import commits at once.
const importBatch = 256

// Import implements [core.Store.Import]. Records of one client that come
// one after the other (as Export gives them) are committed together, in
// batches. The import's ID is kept in the meta collection while it runs.
// Import is not bounded by [Options.Timeout] as a whole (each batch is);
// ctx bounds it.
func (s *Store) Import(ctx context.Context, next func() (*core.Record, error), opts core.ImportOptions) error {
	if err := s.check(ctx, "import"); err != nil {
		return err
	}
	id := ""
	var m bson.Raw
	err := s.meta.FindOne(ctx, bson.D{{Key: "_id", Value: "import"}}).Decode(&m)
	switch {
	case err == nil:
		id, _ = m.Lookup("id").StringValueOK()
	case !errors.Is(err, mongo.ErrNoDocuments):
		return opError("import", err, false)
	}
	resume := opts.ID != "" && id == opts.ID
	if !opts.Merge && !resume {
		empty, err := s.isEmpty(ctx)
		if err != nil {
			return opError("import", err, false)
		}
		if !empty || id != "" {
			return fmt.Errorf("apibilling/mongo: import: %w", core.ErrNotEmpty)
		}
	}
	if opts.ID != "" {
		_, err := s.meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: "import"}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "id", Value: opts.ID}}}}, options.UpdateOne().SetUpsert(true))
		if err != nil {
			return opError("import", err, true)
		}
	}
	var batch []core.Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.importRecords(ctx, batch, opts.Merge)
		batch = batch[:0]
		return err
	}
	for {
		if err := s.check(ctx, "import"); err != nil {
			return err
		}
		rec, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if rec == nil {
			return errors.New("apibilling/mongo: import: next returned a nil record without an error")
		}
		if len(batch) > 0 && (rec.Client != batch[0].Client || len(batch) == importBatch) {
			if err := flush(); err != nil {
				return err
			}
		}
		r := *rec
		r.Client, r.Label = strings.Clone(r.Client), strings.Clone(r.Label)
		r.Key.Client, r.Key.Key, r.Key.Label = strings.Clone(r.Key.Client), strings.Clone(r.Key.Key), strings.Clone(r.Key.Label)
		batch = append(batch, r)
	}
	if err := flush(); err != nil {
		return err
	}
	if opts.ID != "" {
		if _, err := s.meta.DeleteOne(ctx, bson.D{{Key: "_id", Value: "import"}}); err != nil {
			return opError("import", err, true)
		}
	}
	return nil
}

// isEmpty reports whether the store holds no state.
func (s *Store) isEmpty(ctx context.Context) (bool, error) {
	for _, f := range []func(context.Context) (bool, error){
		s.reg.isEmpty,
		func(ctx context.Context) (bool, error) { return collectionEmpty(ctx, s.keys) },
		func(ctx context.Context) (bool, error) { return collectionEmpty(ctx, s.usage) },
	} {
		if empty, err := f(ctx); err != nil || !empty {
			return false, err
		}
	}
	return true, nil
}

// importRecords commits records of one client.
func (s *Store) importRecords(ctx context.Context, recs []core.Record, merge bool) error {
	ctx, cancel, err := s.begin(ctx, "import")
	if err != nil {
		return err
	}
	defer cancel()
	cid := escape(recs[0].Client)
	var sent bool
	err = s.change(ctx, cid, func(st *state) (bool, error) {
		changed := false
		for i := range recs {
			c, err := s.importRecord(ctx, cid, st, &recs[i], merge)
			if err != nil {
				return false, err
			}
			changed = changed || c
		}
		return changed, nil
	}, &sent)
	return opError("import", err, sent)
}

// importRecord adds rec to the state st.
func (s *Store) importRecord(ctx context.Context, cid string, st *state, rec *core.Record, merge bool) (bool, error) {
	switch rec.Kind {
	case core.RecordWindow:
		if !rec.Period.Valid() {
			return false, nil
		}
		sl := &st.win[rec.Period]
		w := core.MergeWindow(core.WindowState{Start: sl.start, End: sl.end, Used: sl.used, Fired: sl.fired, Held: sl.held}, rec, merge)
		*sl = slot{start: w.Start, end: w.End, used: w.Used, fired: w.Fired, held: w.Held}
		return true, nil
	case core.RecordUsage:
		span := core.Span{Start: rec.Start, End: rec.End}
		d := dayOf(rec.Start)
		if !st.hasLH || d >= st.liveDay() {
			if !st.hasLH || rec.Start > st.lh {
				if st.hasLH && d > st.liveDay() {
					st.sealBefore(d, &s.ids)
				}
				st.lh, st.hasLH = rec.Start, true
			}
			if merge {
				st.addLive(span, rec.Label, rec.Used, false)
				return true, nil
			}
			st.addLive(span, rec.Label, rec.Used, true)
			if st.mayArchive(d) { // the facts of the span count nothing more
				st.addFact(fact{day: d, kind: factSet, entries: []factEntry{{rec.Start, rec.End, rec.Label, 0}}}, &s.ids)
			}
			return true, nil
		}
		kind := uint8(factAdd)
		if !merge {
			kind = factSet
			if i, ok := st.findHour(rec.Start); ok { // the live part counts nothing more
				for j := range st.hours[i].labels {
					if st.hours[i].labels[j].label == rec.Label {
						st.hours[i].labels[j].n = 0
					}
				}
			}
		}
		st.addFact(fact{day: d, kind: kind, entries: []factEntry{{rec.Start, rec.End, rec.Label, rec.Used}}}, &s.ids)
		st.noteArchived(d)
		return true, nil
	case core.RecordKey:
		l, err := s.lookupKey(ctx, cid, st, rec.Key.Key, math.MinInt64)
		if err != nil {
			return false, err
		}
		if l.rec != nil {
			if merge || *l.rec == rec.Key {
				return false, nil // a key the store holds stays
			}
			st.markDead(l.rec, l.gen, &s.ids)
		}
		kr := rec.Key
		kr.Client = rec.Client
		st.recordKey(kr, l, &s.ids)
		return true, nil
	}
	return false, nil
}
