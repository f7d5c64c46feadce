package mongo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/internal/storecall"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

// Store is a [core.Store] in MongoDB (or FerretDB), shared by every
// instance of an API that uses the same database. Create it with [New] or
// [Open].
type Store struct {
	client    *mongo.Client
	owned     bool // Open connected the client: Close disconnects it
	db        *mongo.Database
	layout    Layout
	ferret    bool // the server is FerretDB
	reg       register
	keys      *mongo.Collection
	usage     *mongo.Collection
	meta      *mongo.Collection
	timeout   time.Duration
	retention int64 // nanoseconds; 0 keeps usage aggregates
	closed    atomic.Bool
	queues    queueMap
	ids       idSource

	// confirmed holds the IDs of pending facts and key entries this
	// process has written to their collections: the next change of their
	// client removes them from its document.
	confirmed confirmations
	// prunedTo holds, per client, the first day whose usage facts this
	// process has not deleted for the retention.
	prunedTo sync.Map // string -> int64

	stop chan struct{}
	bgMu sync.Mutex // orders background work with Close
	wg   sync.WaitGroup
}

var _ core.Store = (*Store)(nil)

// maxAttempts bounds how often a change is tried again after losing the
// race for its client's document.
const maxAttempts = 200

// New returns a store that keeps usage in client, which the application
// configured and closes itself: [Store.Close] leaves it connected. It
// creates the collections' indexes if they are missing and records the
// layout in the database; opts may be nil for the defaults.
func New(ctx context.Context, client *mongo.Client, opts *Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("apibilling/mongo: New expects a non-nil client")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{
		client:  client,
		timeout: o.Timeout,
		ids:     idSource{rnd: rand.Int64},
		stop:    make(chan struct{}),
	}
	if o.Retention > 0 {
		s.retention = int64(o.Retention)
	}
	s.db = client.Database(o.Database, options.Database().
		SetWriteConcern(o.WriteConcern).SetReadPreference(readpref.Primary()))
	name := func(n string) string { return o.Prefix + n }
	s.keys, s.usage, s.meta = s.db.Collection(name("keys")), s.db.Collection(name("usage")), s.db.Collection(name("meta"))

	ctx, cancel := context.WithTimeout(ctx, max(10*time.Second, o.Timeout))
	defer cancel()
	detected, err := detect(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("apibilling/mongo: New: %w", err)
	}
	s.ferret = detected == Versions
	layout := o.Layout
	if layout == Auto {
		layout = detected
	}
	if err := s.recordLayout(ctx, layout); err != nil {
		return nil, err
	}
	s.layout = layout
	switch layout {
	case Updates:
		s.reg = &updateReg{s: s, clients: s.db.Collection(name("clients"))}
	case Versions:
		if o.Horizon < 4*o.Timeout {
			return nil, fmt.Errorf("apibilling/mongo: New: Horizon (%v) must be at least four times Timeout (%v)", o.Horizon, o.Timeout)
		}
		s.reg = newVersionReg(s, s.db.Collection(name("versions")), o.Horizon)
	}
	if err := s.createIndexes(ctx); err != nil {
		return nil, fmt.Errorf("apibilling/mongo: New: creating indexes: %w", err)
	}
	if o.PruneEvery > 0 {
		s.wg.Add(1)
		go s.pruneLoop(o.PruneEvery)
	}
	return s, nil
}

// Open connects to the server at uri (a MongoDB connection string) and
// returns a store on it, which disconnects the client when closed. The
// database named in uri's path (mongodb://host/billing) is the store's,
// unless opts names one. Unless uri says otherwise (connectTimeoutMS), the
// client gives up opening a connection after [OpenConnectTimeout], so that
// it serves again soon after a network partition heals. For a client
// configured otherwise (TLS, credentials from elsewhere, monitors), connect
// it yourself and use [New].
func Open(ctx context.Context, uri string, opts *Options) (*Store, error) {
	cs, err := connstring.ParseAndValidate(uri)
	if err != nil {
		return nil, fmt.Errorf("apibilling/mongo: Open: %w", err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Database == "" {
		o.Database = cs.Database
	}
	client, err := mongo.Connect(options.Client().SetConnectTimeout(OpenConnectTimeout).ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("apibilling/mongo: Open: %w", err)
	}
	s, err := New(ctx, client, &o)
	if err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	s.owned = true
	return s, nil
}

// OpenConnectTimeout is how long a client that [Open] connects waits for a
// new connection. The driver opens connections in the background, bounded
// by this timeout rather than by the operations' contexts: after a network
// partition heals, it serves again once the connections it began during
// the partition have timed out. (The driver's own default is 30 s.)
const OpenConnectTimeout = 5 * time.Second

// detect returns the layout for the server: [Versions] on FerretDB, which
// names itself in its buildInfo answer, else [Updates].
func detect(ctx context.Context, client *mongo.Client) (Layout, error) {
	var info bson.Raw
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return 0, fmt.Errorf("buildInfo: %w", err)
	}
	if _, err := info.LookupErr("ferretdbVersion"); err == nil {
		return Versions, nil
	}
	return Updates, nil
}

// Layout returns the layout the store uses.
func (s *Store) Layout() Layout { return s.layout }

// Database returns the database of the store's collections.
func (s *Store) Database() *mongo.Database { return s.db }

// layoutVersion is the version of the documents' format, recorded with
// the layout.
const layoutVersion = 1

// recordLayout records the layout in the meta collection, or checks the
// one recorded.
func (s *Store) recordLayout(ctx context.Context, layout Layout) error {
	doc := bson.D{{Key: "_id", Value: "layout"}, {Key: "layout", Value: layout.String()}, {Key: "version", Value: int64(layoutVersion)}}
	_, err := s.meta.InsertOne(ctx, doc)
	if err == nil {
		return nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("apibilling/mongo: New: recording the layout: %w", err)
	}
	var got struct {
		Layout  string `bson:"layout"`
		Version int64  `bson:"version"`
	}
	if err := s.meta.FindOne(ctx, bson.D{{Key: "_id", Value: "layout"}}).Decode(&got); err != nil {
		return fmt.Errorf("apibilling/mongo: New: reading the layout: %w", err)
	}
	if got.Layout != layout.String() {
		return fmt.Errorf("apibilling/mongo: New: the database %q holds the %s layout, not %s: set Options.Layout to %s (or use another database)",
			s.db.Name(), got.Layout, layout, got.Layout)
	}
	if got.Version != layoutVersion {
		return fmt.Errorf("apibilling/mongo: New: the database %q holds documents of format %d; this version of the store reads format %d", s.db.Name(), got.Version, layoutVersion)
	}
	return nil
}

// createIndexes creates the indexes the store queries by, besides _id.
func (s *Store) createIndexes(ctx context.Context) error {
	for _, m := range []struct {
		c    *mongo.Collection
		keys bson.D
	}{
		{s.keys, bson.D{{Key: "c", Value: 1}, {Key: "k", Value: 1}}},
		{s.keys, bson.D{{Key: "x", Value: 1}}},
		{s.usage, bson.D{{Key: "c", Value: 1}, {Key: "d", Value: 1}, {Key: "n", Value: 1}}},
	} {
		if _, err := m.c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: m.keys}); err != nil {
			return err
		}
	}
	return s.reg.createIndexes(ctx)
}

// Close implements [core.Store.Close]: later calls fail with
// [core.ErrClosed]. The usage stays in the database; a client passed to
// [New] stays connected, one that [Open] connected is disconnected.
func (s *Store) Close() error {
	s.bgMu.Lock()
	already := s.closed.Swap(true)
	s.bgMu.Unlock()
	if already {
		return nil
	}
	close(s.stop)
	s.wg.Wait()
	if s.owned {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return s.client.Disconnect(ctx)
	}
	return nil
}

// begin checks that the store is open and ctx not done, and returns the
// context to run operation op under: ctx bounded by the store's timeout.
func (s *Store) begin(ctx context.Context, op string) (context.Context, context.CancelFunc, error) {
	if err := s.check(ctx, op); err != nil {
		return nil, nil, err
	}
	ctx, cancel := storecall.Bound(ctx, s.timeout)
	return ctx, cancel, nil
}

// register is how a layout reads and changes a client's state.
type register interface {
	// claim readies the client's state for a change by the caller, before
	// load reads it again after a change lost a race.
	claim(ctx context.Context, cid string) error
	// load returns the client's state: the latest, or, when cached is
	// true, one the process knew recently (head.fresh false).
	load(ctx context.Context, cid string, cached bool) (head, error)
	// verify returns the latest state if h is not it.
	verify(ctx context.Context, cid string, h head) (head, bool, error)
	// commit writes next in place of h's state, atomically, unless another
	// change came first: then it returns false and, if it knows it, the
	// newer head. It sets *sent before it sends a write.
	commit(ctx context.Context, cid string, h head, next *state, sent *bool) (bool, head, error)
	// after runs once a change is committed (maintenance of the layout).
	after(ctx context.Context, cid string, h head)
	// prepare adds to next what the layout keeps in the state.
	prepare(cid string, h head, next *state)
	createIndexes(ctx context.Context) error
	isEmpty(ctx context.Context) (bool, error)
	// each calls fn with the latest state of every client.
	each(ctx context.Context, fn func(cid string, st *state) error) error
}

// head is a client's state as read, with what the layout needs to change
// it: the version (0 when the client has no document yet).
type head struct {
	st    *state
	ver   int64
	fresh bool // read from the server just now, not from a cache
}

// change runs fn on the client's state, then commits what fn changed,
// atomically; when another change of the client came first, it runs fn
// again on the newer state. fn reports whether it changed the state; it may
// read other collections (after the state was read, as the protocols of
// keys.go and facts.go require) and must leave its results only in its
// closure. sent reports whether a write carrying fn's change may have
// reached the server.
//
// Changes of one client within the process are combined (group commit):
// while one commit is in flight, the changes that arrive queue, and the
// next commit applies them all in order to the latest state and writes
// them at once, so that a busy client costs one write per round trip
// rather than one per change.
func (s *Store) change(ctx context.Context, cid string, fn func(st *state) (bool, error), sent *bool) error {
	r := &request{ctx: ctx, fn: fn, done: make(chan outcome, 1)}
	q := s.queues.acquire(cid)
	defer s.queues.release(cid, q)
	if q.enqueue(r) {
		select {
		case out := <-r.done:
			if !out.lead {
				*sent = out.sent
				return out.err
			}
		case <-ctx.Done():
			if q.remove(r) {
				return ctx.Err()
			}
			out := <-r.done // taken into a batch: its commit is bounded
			if !out.lead {
				*sent = out.sent
				return out.err
			}
			q.handOff(q.last) // a leader whose caller is gone: pass it on
			return ctx.Err()
		}
	}
	// r leads: it commits a batch of the queued changes, r's first. Handed
	// the lead while the client is busy, it first lets the queue fill for
	// what remains of the pace since the last commit, so that a busy client
	// writes fewer, larger versions (the Versions layout, where every
	// version is a document to store and later delete).
	if s.layout == Versions {
		if wait := time.Until(q.last.Add(commitPace)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
		}
	}
	batch := append([]*request{r}, q.take(maxBatch-1)...)
	// The batch may take as long as the latest of its callers allows.
	end := time.Now().Add(s.timeout)
	if d, ok := ctx.Deadline(); ok {
		end = d
		for _, b := range batch[1:] {
			if d, ok := b.ctx.Deadline(); !ok || d.After(end) {
				end = d
				if !ok {
					end = time.Now().Add(s.timeout)
				}
			}
		}
	}
	bctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), end)
	defer cancel()
	h, err := s.commitBatch(bctx, cid, batch)
	for _, b := range batch[1:] {
		b.done <- b.out
	}
	q.handOff(time.Now())
	if err == nil && h.st != nil {
		// Maintenance, while the next batch commits.
		s.reg.after(bctx, cid, h)
		s.afterCommit(bctx, cid, h.st)
	}
	*sent = r.out.sent
	return r.out.err
}

// maxBatch bounds the changes one commit applies; commitPace is the
// shortest time between the commits of a busy client in the Versions
// layout.
const (
	maxBatch   = 256
	commitPace = 2 * time.Millisecond
)

// request is a change waiting to be committed.
type request struct {
	ctx     context.Context
	fn      func(st *state) (bool, error)
	done    chan outcome
	out     outcome
	changed bool
}

// outcome is what a request learns: its error, whether a write carrying
// it was sent, or that it leads the next batch.
type outcome struct {
	err  error
	sent bool
	lead bool
}

// commitBatch applies the changes of batch in order to the client's
// latest state and commits the result, trying again on a newer state when
// another change came first. It sets each request's outcome, and returns
// the head committed (whose st is nil if nothing was).
func (s *Store) commitBatch(ctx context.Context, cid string, batch []*request) (head, error) {
	fail := func(err error, sent bool) (head, error) {
		for _, r := range batch {
			if r.out.err == nil {
				r.out = outcome{err: err, sent: sent && r.changed}
			}
		}
		return head{}, err
	}
	h, err := s.reg.load(ctx, cid, true)
	if err != nil {
		return fail(err, false)
	}
	sent := false
	for attempt := 0; ; attempt++ {
		if attempt == maxAttempts {
			return fail(errContention, sent)
		}
		next := h.st
		any := false
		for _, r := range batch {
			r.out, r.changed = outcome{}, false
			if err := r.ctx.Err(); err != nil && attempt == 0 {
				r.out.err = err // gone before it was applied: nothing changes
				continue
			}
			c := next.clone()
			changed, err := r.fn(c)
			if err != nil {
				r.out.err = err
				continue
			}
			if changed {
				next, r.changed, any = c, true, true
			}
		}
		if !any {
			if h.fresh {
				return head{}, nil
			}
			// The answers came from a cached state: they stand only if that
			// is still the latest.
			latest, current, err := s.reg.verify(ctx, cid, h)
			if err != nil {
				return fail(err, sent)
			}
			if current {
				return head{}, nil
			}
			h = latest
			continue
		}
		if next == h.st {
			next = next.clone()
		}
		dropped := s.tidy(cid, next)
		s.reg.prepare(cid, h, next)
		ok, nh, err := s.reg.commit(ctx, cid, h, next, &sent)
		if err != nil {
			return fail(err, sent)
		}
		if ok {
			for _, r := range batch {
				r.out.sent = r.changed
			}
			s.confirmed.forget(dropped)
			return nh, nil
		}
		if err := s.reg.claim(ctx, cid); err != nil {
			return fail(err, sent)
		}
		if nh.st != nil && s.layout == Versions {
			h = nh
		} else if h, err = s.reg.load(ctx, cid, false); err != nil {
			return fail(err, sent)
		}
	}
}

// read returns the client's latest state, for operations that change
// nothing. It joins the client's queue of changes, so that reads and
// changes in flight share one check that the state is the latest.
func (s *Store) read(ctx context.Context, cid string) (*state, error) {
	var st *state
	var sent bool
	err := s.change(ctx, cid, func(c *state) (bool, error) {
		st = c
		return false, nil
	}, &sent)
	return st, err
}

// tidy removes from next the pending facts and key entries this process
// has written out, and the usage facts it has deleted for the retention,
// and returns the IDs it removed.
func (s *Store) tidy(cid string, next *state) []int64 {
	var dropped []int64
	if len(next.facts) > 0 {
		out := next.facts[:0:0]
		for _, f := range next.facts {
			if s.confirmed.has(f.id) {
				dropped = append(dropped, f.id)
			} else {
				out = append(out, f)
			}
		}
		next.facts = out
	}
	if len(next.keys) > 0 {
		out := next.keys[:0:0]
		for _, k := range next.keys {
			if s.confirmed.has(k.id) {
				dropped = append(dropped, k.id)
			} else {
				out = append(out, k)
			}
		}
		next.keys = out
	}
	if v, ok := s.prunedTo.Load(cid); ok && next.arch && v.(int64) > next.lo {
		next.lo = v.(int64)
		if next.lo > next.hi {
			next.arch, next.lo, next.hi = false, 0, 0
		}
	}
	return dropped
}

// afterCommit writes out the pending facts and key entries of the state
// just committed and deletes the usage facts past the retention. Failures
// are left for the next change: the work stays in the document until done.
func (s *Store) afterCommit(ctx context.Context, cid string, st *state) {
	for _, k := range st.keys {
		if !s.confirmed.has(k.id) {
			if s.writeKeyEntry(ctx, cid, &k) != nil {
				return
			}
			s.confirmed.add(k.id)
		}
	}
	for _, f := range st.facts {
		if !s.confirmed.has(f.id) {
			if s.writeFact(ctx, cid, &f) != nil {
				return
			}
			s.confirmed.add(f.id)
		}
	}
	s.pruneDays(ctx, cid, st)
}

// confirmations is a set of the IDs of pending items written out. An ID
// leaves it when a change removes its item from the client's document; the
// set is cleared if it grows large (items of clients this process stopped
// changing), which costs only one more write of an item already written.
type confirmations struct {
	mu  sync.Mutex
	ids map[int64]struct{}
}

const maxConfirmations = 100_000

func (c *confirmations) has(id int64) bool {
	c.mu.Lock()
	_, ok := c.ids[id]
	c.mu.Unlock()
	return ok
}

func (c *confirmations) add(id int64) {
	c.mu.Lock()
	if c.ids == nil || len(c.ids) >= maxConfirmations {
		c.ids = map[int64]struct{}{}
	}
	c.ids[id] = struct{}{}
	c.mu.Unlock()
}

func (c *confirmations) forget(ids []int64) {
	if len(ids) == 0 {
		return
	}
	c.mu.Lock()
	for _, id := range ids {
		delete(c.ids, id)
	}
	c.mu.Unlock()
}

// queueMap holds the queue of changes of each client with changes in
// flight.
type queueMap struct {
	mu sync.Mutex
	m  map[string]*queue
}

// queue is a client's changes: whether a batch is being committed, and the
// requests waiting for the next.
type queue struct {
	mu      sync.Mutex
	running bool
	pending []*request
	last    time.Time // when the last batch ended; set before a hand-off
	refs    int       // guarded by queueMap.mu
}

func (m *queueMap) acquire(cid string) *queue {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]*queue{}
	}
	q := m.m[cid]
	if q == nil {
		q = &queue{}
		m.m[cid] = q
	}
	q.refs++
	return q
}

func (m *queueMap) release(cid string, q *queue) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q.refs--
	if q.refs == 0 {
		delete(m.m, cid)
	}
}

// enqueue queues r behind a batch in flight and returns true, or marks a
// batch in flight (r's) and returns false.
func (q *queue) enqueue(r *request) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.running {
		q.running = true
		return false
	}
	q.pending = append(q.pending, r)
	return true
}

// remove takes r out of the queue, if it is still waiting there.
func (q *queue) remove(r *request) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, p := range q.pending {
		if p == r {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			return true
		}
	}
	return false
}

// take removes up to n waiting requests from the queue.
func (q *queue) take(n int) []*request {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := min(n, len(q.pending))
	out := append([]*request(nil), q.pending[:k]...)
	q.pending = append(q.pending[:0], q.pending[k:]...)
	return out
}

// handOff makes the first waiting request lead the next batch, or marks
// no batch in flight; last is when the batch ended.
func (q *queue) handOff(last time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.last = last
	if len(q.pending) == 0 {
		q.running = false
		return
	}
	next := q.pending[0]
	q.pending = q.pending[1:]
	next.done <- outcome{lead: true}
}

// maintenanceTimeout bounds background maintenance (deleting old
// versions), which runs with a deadline of its own.
func (s *Store) maintenanceTimeout() time.Duration { return max(10*time.Second, 10*s.timeout) }

// background runs f in a goroutine of the store, with a context that
// Close cancels.
func (s *Store) background(f func(ctx context.Context)) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.closed.Load() {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), s.maintenanceTimeout())
		defer cancel()
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-done:
			}
		}()
		f(ctx)
	}()
}

// pruneLoop deletes expired key records every period until Close.
func (s *Store) pruneLoop(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTimer(every / 10) // soon after start, then every period
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(time.Minute, s.timeout))
		go func() { // Close cancels a prune in progress
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		s.pruneKeys(ctx, time.Now().UnixNano())
		cancel()
		t.Reset(every)
	}
}
