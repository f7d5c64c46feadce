package mongo

import (
	"context"
	"strconv"

	"github.com/frappy-go/apibilling/core"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Idempotency key records live in the collection keys, insert-only:
//
//	{_id: "client|key|gen", c: client, k: key, g: gen, x: expires, r: record bytes}
//	{_id: "client|key|gen|x", c, k, g, x, d: true}   that record was refunded
//
// (client and key escaped). The first record of a key is generation 1; a
// record made after the last one was refunded or expired is the next
// generation. A lookup reads the client's document first, then the
// documents of the key (one query on c and k, indexed), and takes the
// highest generation.
//
// A charge with a key records it in the client's document, in the same
// atomic change as the charge; the record is then written to the
// collection and, only after that, removed from the document (by the next
// change). A refund by key marks the record dead the same way. Since a
// lookup reads the document before the collection, and a record leaves the
// document only after it is in the collection, a lookup always sees it, and
// a change made on what a lookup saw commits only if the document has not
// changed since. Records are deleted an hour after they expire.

// keyDocID returns the _id of a key record.
func keyDocID(cid, key string, gen int64) string {
	return cid + "|" + escape(key) + "|" + strconv.FormatInt(gen, 10)
}

// keyLookup is what lookupKey found.
type keyLookup struct {
	rec     *core.KeyRecord // the live record of the key, or nil
	gen     int64           // rec's generation
	nextGen int64           // the generation of a new record of the key
}

// lookupKey finds the live record of key (Expires > at, not refunded) for
// the client whose state st was just read, and the generation a new record
// would take.
func (s *Store) lookupKey(ctx context.Context, cid string, st *state, key string, at int64) (keyLookup, error) {
	var out keyLookup
	var rec *core.KeyRecord
	var gen int64
	dead := map[int64]bool{}
	cur, err := s.keys.Find(ctx, bson.D{{Key: "c", Value: cid}, {Key: "k", Value: escape(key)}})
	if err != nil {
		return out, err
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		g, ok := i64(cur.Current.Lookup("g"))
		if !ok {
			return out, corrupt("a key record without its generation")
		}
		out.nextGen = max(out.nextGen, g)
		if d, _ := cur.Current.Lookup("d").BooleanOK(); d {
			dead[g] = true
			continue
		}
		if g > gen {
			r, err := recordOf(cur.Current)
			if err != nil {
				return out, err
			}
			rec, gen = &r, g
		}
	}
	if err := cur.Err(); err != nil {
		return out, err
	}
	// The state's pending records and marks are newer, or the same.
	for i := range st.keys {
		k := &st.keys[i]
		if k.rec.Key != key {
			continue
		}
		out.nextGen = max(out.nextGen, k.gen)
		if k.dead {
			dead[k.gen] = true
		} else if k.gen > gen {
			r := k.rec
			rec, gen = &r, k.gen
		}
	}
	out.nextGen++
	if rec == nil || rec.Expires <= at || dead[gen] {
		return out, nil
	}
	out.rec, out.gen = rec, gen
	return out, nil
}

// recordKey adds the record rec to the state at the generation lookup
// found free.
func (st *state) recordKey(rec core.KeyRecord, l keyLookup, ids *idSource) {
	rec.Client, rec.Key, rec.Label = cloneString(rec.Client), cloneString(rec.Key), cloneString(rec.Label)
	st.keys = append(st.keys, keyEntry{id: ids.next(), gen: l.nextGen, rec: rec})
}

// markDead adds to the state the mark that the record of rec's key at
// generation gen was refunded.
func (st *state) markDead(rec *core.KeyRecord, gen int64, ids *idSource) {
	st.keys = append(st.keys, keyEntry{id: ids.next(), gen: gen, dead: true,
		rec: core.KeyRecord{Client: cloneString(rec.Client), Key: cloneString(rec.Key), Expires: rec.Expires}})
}

func cloneString(s string) string {
	if s == "" {
		return ""
	}
	return string([]byte(s))
}

// writeKeyEntry writes a pending key record or dead mark to the keys
// collection; one already there is fine (the same entry written before).
func (s *Store) writeKeyEntry(ctx context.Context, cid string, k *keyEntry) error {
	id := keyDocID(cid, k.rec.Key, k.gen)
	doc := bson.D{{Key: "_id", Value: id}, {Key: "c", Value: cid}, {Key: "k", Value: escape(k.rec.Key)},
		{Key: "g", Value: k.gen}, {Key: "x", Value: k.rec.Expires}}
	if k.dead {
		doc[0].Value = id + "|x"
		doc = append(doc, bson.E{Key: "d", Value: true})
	} else {
		b, _ := k.rec.AppendBinary(nil)
		doc = append(doc, bson.E{Key: "r", Value: bson.Binary{Data: b}})
	}
	_, err := s.keys.InsertOne(ctx, doc)
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return err
	}
	return nil
}

// pruneKeys deletes the key records (and their marks) that expired more
// than keyGrace before now.
func (s *Store) pruneKeys(ctx context.Context, now int64) error {
	_, err := s.keys.DeleteMany(ctx, bson.D{{Key: "x", Value: bson.D{{Key: "$lt", Value: now - keyGrace}}}})
	return err
}
