package mongo

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"

	"github.com/frappy-go/apibilling/core"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// updateReg is the [Updates] layout: one document per client in the
// collection clients, {_id: client, ver: version, n: writer's nonce,
// ...state}. A deduction that needs no new window or hour is one
// findAndModify that $incs the counters (deductFast); it also $incs ver.
// Any other change reads the document and replaces it if its ver is still
// the one read. A change that lost that race claims the document ($set b:
// true) before it reads it again; the fast path's filter requires no b,
// so that deductions then queue behind the change instead of moving ver on
// and making it start again (for ever, under a steady stream of
// deductions). The replacement has no b. A claim left by a process that
// died only sends deductions to the slow path until the next replace.
type updateReg struct {
	s       *Store
	clients *mongo.Collection
}

func (r *updateReg) claim(ctx context.Context, cid string) error {
	_, err := r.clients.UpdateOne(ctx, bson.D{{Key: "_id", Value: cid}}, bson.D{{Key: "$set", Value: bson.D{{Key: "b", Value: true}}}})
	return err
}

func (r *updateReg) load(ctx context.Context, cid string, _ bool) (head, error) {
	raw, err := r.clients.FindOne(ctx, bson.D{{Key: "_id", Value: cid}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return head{st: &state{}, fresh: true}, nil
	}
	if err != nil {
		return head{}, err
	}
	return r.decode(raw)
}

func (r *updateReg) decode(raw bson.Raw) (head, error) {
	st, err := decodeState(raw)
	if err != nil {
		return head{}, err
	}
	ver, _, err := fieldInt(raw, "ver")
	if err != nil {
		return head{}, err
	}
	return head{st: st, ver: ver, fresh: true}, nil
}

func (r *updateReg) verify(_ context.Context, _ string, h head) (head, bool, error) {
	return h, true, nil
}

func (r *updateReg) commit(ctx context.Context, cid string, h head, next *state, sent *bool) (bool, head, error) {
	nonce := rand.Int64()
	doc := bson.D{{Key: "_id", Value: cid}, {Key: "ver", Value: h.ver + 1}, {Key: "n", Value: nonce}}
	doc = appendState(doc, next)
	*sent = true
	if h.ver == 0 {
		_, err := r.clients.InsertOne(ctx, doc)
		if err == nil {
			return true, head{st: next, ver: 1, fresh: true}, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return false, head{}, err
		}
	} else {
		res, err := r.clients.ReplaceOne(ctx, bson.D{{Key: "_id", Value: cid}, {Key: "ver", Value: h.ver}}, doc)
		if err != nil {
			return false, head{}, err
		}
		if res.MatchedCount == 1 {
			return true, head{st: next, ver: h.ver + 1, fresh: true}, nil
		}
	}
	// Another change came first, or the driver retried a write that had
	// been applied: the nonce tells.
	raw, err := r.clients.FindOne(ctx, bson.D{{Key: "_id", Value: cid}}).Raw()
	if err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, head{st: &state{}, fresh: true}, nil
		}
		return false, head{}, err
	}
	latest, err := r.decode(raw)
	if err != nil {
		return false, head{}, err
	}
	if n, _, _ := fieldInt(raw, "n"); n == nonce {
		return true, latest, nil
	}
	return false, latest, nil
}

func (r *updateReg) prepare(string, head, *state)        {}
func (r *updateReg) after(context.Context, string, head) {}

func (r *updateReg) createIndexes(context.Context) error { return nil }

func (r *updateReg) isEmpty(ctx context.Context) (bool, error) {
	return collectionEmpty(ctx, r.clients)
}

func (r *updateReg) each(ctx context.Context, fn func(string, *state) error) error {
	cur, err := r.clients.Find(ctx, bson.D{})
	if err != nil {
		return err
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		cid, ok := cur.Current.Lookup("_id").StringValueOK()
		if !ok {
			return corrupt("a client document whose _id is not a string")
		}
		h, err := r.decode(cur.Current)
		if err != nil {
			return err
		}
		if err := fn(cid, h.st); err != nil {
			return err
		}
	}
	return cur.Err()
}

// collectionEmpty reports whether c holds no document.
func collectionEmpty(ctx context.Context, c *mongo.Collection) (bool, error) {
	err := c.FindOne(ctx, bson.D{}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return true, nil
	}
	return false, err
}

// deductFast charges op (a cost without a key) with one findAndModify
// whose filter holds when every window of op is the one the document
// counts and has room, no threshold level is crossed that is not already
// fired, and op's hour is live; the update $incs every counter. It
// returns done false when the filter does not hold (a window or hour to
// start, a refusal, a level to fire, or no document): the caller then
// reads the document and changes it as a whole.
func (r *updateReg) deductFast(ctx context.Context, cid string, op *core.Op, sent *bool) (core.Result, bool, error) {
	var res core.Result
	cost := op.Cost
	ws := op.Windows()
	filter := make(bson.D, 0, 5+2*len(ws))
	filter = append(filter, bson.E{Key: "_id", Value: cid}, bson.E{Key: "b", Value: bson.D{{Key: "$exists", Value: false}}})
	inc := make(bson.D, 0, 2+len(ws))
	var levels bson.A
	for i := range ws {
		w := &ws[i]
		p := "w." + w.Period.String()
		bound := core.MaxUsage - cost
		if !w.Unlimited() {
			bound = min(bound, w.Limit-cost)
		}
		filter = append(filter,
			bson.E{Key: p + ".s", Value: w.Start},
			bson.E{Key: p + ".u", Value: bson.D{{Key: "$lte", Value: bound}}})
		for k, l := range w.Levels {
			if l <= 0 {
				continue
			}
			// Either this charge stays below the level, or its bit is set.
			levels = append(levels, bson.D{{Key: "$or", Value: bson.A{
				bson.D{{Key: p + ".u", Value: bson.D{{Key: "$lt", Value: l - cost}}}},
				bson.D{{Key: p + ".f", Value: bson.D{{Key: "$in", Value: withBit(k)}}}},
			}}})
		}
		inc = append(inc, bson.E{Key: p + ".u", Value: cost})
	}
	if len(levels) > 0 {
		filter = append(filter, bson.E{Key: "$and", Value: levels})
	}
	h := "h." + strconv.FormatInt(op.Bucket.Start, 10)
	lf := h + ".l." + labelField(op.Label)
	filter = append(filter,
		bson.E{Key: h + ".e", Value: op.Bucket.End},
		bson.E{Key: lf, Value: bson.D{{Key: "$not", Value: bson.D{{Key: "$gt", Value: core.MaxUsage - cost}}}}})
	inc = append(inc, bson.E{Key: lf, Value: cost}, bson.E{Key: "ver", Value: int64(1)})
	*sent = true
	raw, err := r.clients.FindOneAndUpdate(ctx, filter, bson.D{{Key: "$inc", Value: inc}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		*sent = false // nothing matched: nothing changed
		return res, false, nil
	}
	if err != nil {
		return res, false, err
	}
	for i := range ws {
		u, ok := i64(raw.Lookup("w", ws[i].Period.String(), "u"))
		if !ok {
			return res, false, corrupt("window %s without usage after a charge", ws[i].Period)
		}
		res.Used[i] = u
	}
	res.OK = true
	return res, true, nil
}

// withBit returns the threshold bit sets (of MaxLevels bits) that hold bit
// k.
func withBit(k int) bson.A {
	var a bson.A
	for f := range int64(1 << core.MaxLevels) {
		if f&(1<<k) != 0 {
			a = append(a, f)
		}
	}
	return a
}
