package mongo

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// inserter combines concurrent inserts into one collection (group commit
// across clients): while one insertMany is in flight, the inserts that
// arrive queue, and the next insertMany carries them all, unordered, each
// succeeding or failing on its own as if inserted alone. A server that
// commits each write to disk (FerretDB on SQLite does) then commits many
// versions, of as many clients, at once.
type inserter struct {
	coll    *mongo.Collection
	timeout time.Duration

	mu      sync.Mutex
	running bool
	pending []*insertReq
}

type insertReq struct {
	ctx  context.Context
	doc  bson.D
	done chan insertOutcome
	err  error
}

type insertOutcome struct {
	err  error
	lead bool
}

// maxInsertBatch bounds the documents of one insertMany.
const maxInsertBatch = 256

// insert inserts doc, alone or with others.
func (in *inserter) insert(ctx context.Context, doc bson.D) error {
	r := &insertReq{ctx: ctx, doc: doc, done: make(chan insertOutcome, 1)}
	in.mu.Lock()
	if in.running {
		in.pending = append(in.pending, r)
		in.mu.Unlock()
		var out insertOutcome
		select {
		case out = <-r.done:
		case <-ctx.Done():
			if in.remove(r) {
				return ctx.Err()
			}
			out = <-r.done // taken into a batch: its insert is bounded
			if out.lead {
				in.handOff()
				return ctx.Err()
			}
		}
		if !out.lead {
			return out.err
		}
	} else {
		in.running = true
		in.mu.Unlock()
	}
	batch := append([]*insertReq{r}, in.take(maxInsertBatch-1)...)
	in.run(ctx, batch)
	for _, b := range batch[1:] {
		b.done <- insertOutcome{err: b.err}
	}
	in.handOff()
	return r.err
}

// run inserts the documents of batch and sets each request's error. The
// insert may take as long as the latest of its callers allows.
func (in *inserter) run(ctx context.Context, batch []*insertReq) {
	end, bounded := time.Time{}, true
	for _, r := range batch {
		d, ok := r.ctx.Deadline()
		if !ok {
			bounded = false
			break
		}
		if d.After(end) {
			end = d
		}
	}
	if !bounded {
		end = time.Now().Add(in.timeout)
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), end)
	defer cancel()
	docs := make([]any, len(batch))
	for i, r := range batch {
		docs[i] = r.doc
	}
	_, err := in.coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bwe mongo.BulkWriteException
	if err != nil && errors.As(err, &bwe) && bwe.WriteConcernError == nil {
		for _, we := range bwe.WriteErrors {
			if we.Index >= 0 && we.Index < len(batch) {
				batch[we.Index].err = mongo.WriteException{WriteErrors: []mongo.WriteError{we.WriteError}}
			}
		}
		return
	}
	for _, r := range batch {
		r.err = err
	}
}

func (in *inserter) remove(r *insertReq) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, p := range in.pending {
		if p == r {
			in.pending = append(in.pending[:i], in.pending[i+1:]...)
			return true
		}
	}
	return false
}

func (in *inserter) take(n int) []*insertReq {
	in.mu.Lock()
	defer in.mu.Unlock()
	k := min(n, len(in.pending))
	out := append([]*insertReq(nil), in.pending[:k]...)
	in.pending = append(in.pending[:0], in.pending[k:]...)
	return out
}

func (in *inserter) handOff() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.pending) == 0 {
		in.running = false
		return
	}
	next := in.pending[0]
	in.pending = in.pending[1:]
	next.done <- insertOutcome{lead: true}
}
