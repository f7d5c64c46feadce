package mongo

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// versionReg is the [Versions] layout. A client's state is a chain of
// insert-only documents in the collection versions,
//
//	{_id: "client|v", c: client, v: v, t: written at (Unix ns), n: nonce, ...state}
//
// and a change inserts version v+1: the unique _id admits exactly one
// writer, on FerretDB too, whose updates are not atomic across
// connections but whose inserts are checked against its backend's unique
// index. The latest version is the one with the highest v (a query on c,
// indexed on MongoDB). A process also keeps the latest version it wrote or
// read, and inserts after it without reading, if it learnt it less than a
// quarter of the horizon ago: a deduction of a client that one process
// charges is then one insert.
//
// Superseded versions are deleted once their successor is older than the
// horizon, so that no writer can insert a version whose _id was deleted:
// a writer inserts v+1 only on the strength of a read of v younger than a
// quarter of the horizon, and v+1 is deleted only a horizon after v+2 was
// written, which was after v+1 was written, which was after that read.
// The latest keepLatest versions are never deleted.
type versionReg struct {
	s        *Store
	versions *mongo.Collection
	horizon  time.Duration

	ins   inserter // version inserts of all clients, combined
	mu    sync.Mutex
	cache map[string]*cachedHead
	// pruned holds, per client, the version below which this process has
	// deleted every version; pruning, the clients being pruned; failed,
	// when pruning a client last failed.
	pruned, pruning, failed sync.Map
}

type cachedHead struct {
	v  int64
	st *state
	at time.Time
}

const (
	checkEvery  = 8    // versions between checks for versions to delete
	keepLatest  = 16   // versions never deleted below the latest
	minPrune    = 64   // versions deleted at least at once
	maxCache    = 8192 // clients whose latest version a process keeps
	maxCheckpts = 16
)

func newVersionReg(s *Store, versions *mongo.Collection, horizon time.Duration) *versionReg {
	return &versionReg{s: s, versions: versions, horizon: horizon, cache: map[string]*cachedHead{},
		ins: inserter{coll: versions, timeout: s.timeout}}
}

// versionID returns the _id of a client's version.
func versionID(cid string, v int64) string { return cid + "|" + strconv.FormatInt(v, 10) }

func (r *versionReg) cached(cid string) *cachedHead {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cache[cid]
	if c == nil || time.Since(c.at) >= r.horizon/4 {
		return nil
	}
	return c
}

func (r *versionReg) remember(cid string, v int64, st *state, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.cache[cid]; c != nil && c.v > v {
		return
	}
	if len(r.cache) >= maxCache {
		for k := range r.cache { // drop about an eighth, at random
			delete(r.cache, k)
			if len(r.cache) < maxCache*7/8 {
				break
			}
		}
	}
	r.cache[cid] = &cachedHead{v: v, st: st, at: at}
}

func (r *versionReg) forgetClient(cid string) {
	r.mu.Lock()
	delete(r.cache, cid)
	r.mu.Unlock()
}

func (r *versionReg) claim(context.Context, string) error { return nil }

func (r *versionReg) load(ctx context.Context, cid string, cached bool) (head, error) {
	if cached {
		if c := r.cached(cid); c != nil {
			return head{st: c.st, ver: c.v}, nil
		}
	}
	return r.fetch(ctx, cid)
}

// get returns version v of the client, or nil.
func (r *versionReg) get(ctx context.Context, cid string, v int64) (bson.Raw, error) {
	raw, err := r.versions.FindOne(ctx, bson.D{{Key: "_id", Value: versionID(cid, v)}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	return raw, err
}

// latest returns the client's latest version above after (0: any), or
// nil. (FerretDB answers it by reading the whole collection, and refuses
// $natural order outside capped collections.)
func (r *versionReg) latest(ctx context.Context, cid string, after int64) (bson.Raw, error) {
	filter := bson.D{{Key: "c", Value: cid}}
	if after > 0 {
		filter = append(filter, bson.E{Key: "v", Value: bson.D{{Key: "$gt", Value: after}}})
	}
	raw, err := r.versions.FindOne(ctx, filter, options.FindOne().SetSort(bson.D{{Key: "v", Value: -1}})).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	return raw, err
}

// fetch reads the client's latest version.
func (r *versionReg) fetch(ctx context.Context, cid string) (head, error) {
	start := time.Now()
	doc, err := r.latest(ctx, cid, 0)
	if err != nil {
		return head{}, err
	}
	return r.decode(cid, doc, start)
}

// decode returns the head of a version document read at start (nil: the
// client has none).
func (r *versionReg) decode(cid string, doc bson.Raw, start time.Time) (head, error) {
	if doc == nil {
		return head{st: &state{}, fresh: true}, nil
	}
	v, _, err := fieldInt(doc, "v")
	if err != nil {
		return head{}, err
	}
	st, err := decodeState(doc)
	if err != nil {
		return head{}, err
	}
	r.remember(cid, v, st, start)
	return head{st: st, ver: v, fresh: true}, nil
}

// verify tells whether h is still the client's latest version by
// inserting its successor with the same state: an insert is answered from
// the unique index on every server (a query for a newer version would scan
// the collection on FerretDB). If another writer came first, it reads the
// latest version.
func (r *versionReg) verify(ctx context.Context, cid string, h head) (head, bool, error) {
	if h.ver == 0 {
		start := time.Now()
		doc, err := r.latest(ctx, cid, 0)
		if err != nil || doc == nil {
			return head{st: h.st, fresh: true}, err == nil, err
		}
		latest, err := r.decode(cid, doc, start)
		return latest, false, err
	}
	next := h.st.clone()
	r.prepare(cid, h, next)
	var sent bool
	ok, nh, err := r.commit(ctx, cid, h, next, &sent)
	if err != nil {
		return head{}, false, err
	}
	if ok {
		r.after(ctx, cid, nh)
	} else if nh.st == nil {
		nh, err = r.fetch(ctx, cid)
	}
	return nh, ok, err
}

func (r *versionReg) commit(ctx context.Context, cid string, h head, next *state, sent *bool) (bool, head, error) {
	start := time.Now()
	v := h.ver + 1
	nonce := rand.Int64()
	doc := bson.D{
		{Key: "_id", Value: versionID(cid, v)}, {Key: "c", Value: cid}, {Key: "v", Value: v},
		{Key: "t", Value: start.UnixNano()}, {Key: "n", Value: nonce},
	}
	doc = appendState(doc, next)
	*sent = true
	err := r.ins.insert(ctx, doc)
	if err == nil {
		r.remember(cid, v, next, start)
		return true, head{st: next, ver: v, fresh: true}, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		r.forgetClient(cid)
		return false, head{}, err
	}
	// Another writer inserted v first, or the driver retried our insert
	// after it had been applied: the nonce tells.
	got, err := r.get(ctx, cid, v)
	if err != nil {
		return false, head{}, err
	}
	if got == nil { // deleted already: read the chain again
		r.forgetClient(cid)
		return false, head{}, nil
	}
	if n, _, _ := fieldInt(got, "n"); n == nonce {
		r.remember(cid, v, next, start)
		return true, head{st: next, ver: v, fresh: true}, nil
	}
	latest, err := r.fetch(ctx, cid)
	return false, latest, err
}

// prepare records in next when this version is written, if the last
// checkpoint is older than an eighth of the horizon: the checkpoints then
// span two horizons whatever the rate of writes, in at most maxCheckpts
// entries. Those below what this process has pruned are dropped.
func (r *versionReg) prepare(cid string, h head, next *state) {
	v := h.ver + 1
	if p, ok := r.pruned.Load(cid); ok {
		k := 0
		for k < len(next.ck) && next.ck[k].v < p.(int64) {
			k++
		}
		next.ck = next.ck[k:]
	}
	now := time.Now().UnixNano()
	if n := len(next.ck); n == 0 || now-next.ck[n-1].t >= int64(r.horizon/8) {
		next.ck = append(next.ck, checkpoint{v: v, t: now})
		if len(next.ck) > maxCheckpts {
			next.ck = next.ck[len(next.ck)-maxCheckpts:]
		}
	}
}

// after deletes the versions whose successors are older than the horizon,
// when enough can go (checked every checkEvery versions), in the
// background: one statement at a time per client, with a deadline of its
// own, so that no caller waits for it. FerretDB reads the whole collection
// for a delete and holds its backend's one write lock meanwhile: deleting
// only when at least half of the client's versions can go keeps the cost of
// deleting each version constant, however many there are.
func (r *versionReg) after(_ context.Context, cid string, h head) {
	if h.ver%checkEvery != 0 {
		return
	}
	now := time.Now()
	cut := now.Add(-r.horizon).UnixNano()
	var upTo int64 // versions below it may go
	for _, c := range h.st.ck {
		if c.t < cut && c.v <= h.ver-keepLatest {
			upTo = max(upTo, c.v)
		}
	}
	var done int64
	if p, ok := r.pruned.Load(cid); ok {
		done = p.(int64)
	}
	if n := upTo - done; n < minPrune || n < (h.ver-done)/2 {
		return
	}
	if _, busy := r.pruning.LoadOrStore(cid, now); busy {
		return
	}
	if t, ok := r.failed.Load(cid); ok && now.Sub(t.(time.Time)) < r.horizon/8 {
		r.pruning.Delete(cid)
		return
	}
	r.s.background(func(ctx context.Context) {
		defer r.pruning.Delete(cid)
		_, err := r.versions.DeleteMany(ctx, bson.D{{Key: "c", Value: cid}, {Key: "v", Value: bson.D{{Key: "$lt", Value: upTo}}}})
		if err != nil {
			r.failed.Store(cid, time.Now())
			return
		}
		r.failed.Delete(cid)
		r.pruned.Store(cid, upTo)
	})
}

func (r *versionReg) createIndexes(ctx context.Context) error {
	_, err := r.versions.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "c", Value: 1}, {Key: "v", Value: -1}}})
	return err
}

func (r *versionReg) isEmpty(ctx context.Context) (bool, error) {
	return collectionEmpty(ctx, r.versions)
}

// each calls fn with the latest version of every client: the versions
// sorted by client and version, the first of each client.
func (r *versionReg) each(ctx context.Context, fn func(string, *state) error) error {
	cur, err := r.versions.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "c", Value: 1}, {Key: "v", Value: -1}}))
	if err != nil {
		return err
	}
	defer cur.Close(context.WithoutCancel(ctx))
	last := ""
	first := true
	for cur.Next(ctx) {
		cid, ok := cur.Current.Lookup("c").StringValueOK()
		if !ok {
			return corrupt("a version without its client")
		}
		if !first && cid == last {
			continue
		}
		first, last = false, cid
		// The first of the client is its latest, unless one was written
		// since the query began.
		h, err := r.decode(cid, cur.Current, time.Now())
		if err != nil {
			return err
		}
		if doc, err := r.latest(ctx, cid, h.ver); err != nil {
			return err
		} else if doc != nil {
			if h, err = r.decode(cid, doc, time.Now()); err != nil {
				return err
			}
		}
		if err := fn(cid, h.st); err != nil {
			return err
		}
	}
	return cur.Err()
}
