package postgres

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// gcOp returns a deduction of cost from client at hour h (day and minute
// windows with a limit, levels at 5 and 8), with key if not empty.
func gcOp(client, label, key string, cost, limit int64, h int64) *core.Op {
	at := h*hour + 1
	o := &core.Op{Client: client, Label: label, Cost: cost, At: at, Key: key,
		Bucket: core.Span{Start: h * hour, End: (h + 1) * hour}, N: 2}
	if key != "" {
		o.KeyExpires = at + hour
	}
	o.List[0] = core.Window{Period: core.Day, Start: 0, End: 24 * hour, Limit: limit, Levels: [core.MaxLevels]int64{5, 8}}
	o.List[1] = core.Window{Period: core.Hour, Start: h * hour, End: (h + 1) * hour, Limit: -1}
	return o
}

// gcOps is a sequence whose answers depend on its order: refusals at the
// limit, a key charged, replayed and conflicting, thresholds, a reset (a
// later hour window), an overflow, ops of several clients interleaved.
func gcOps() []*core.Op {
	return []*core.Op{
		gcOp("x", "", "", 3, 10, 0),
		gcOp("y", "/a", "", 4, 10, 0),
		gcOp("x", "/a", "k", 4, 10, 0), // 7: fires level 5
		gcOp("y", "/a", "", 7, 10, 0),  // refused: 11 > 10
		gcOp("x", "/a", "k", 4, 10, 0), // replay
		gcOp("x", "", "k", 5, 10, 0),   // conflict
		gcOp("x", "", "", 3, 10, 0),    // 10: fires 8, at the limit
		gcOp("x", "", "", 1, 10, 0),    // refused
		gcOp("z", "", "", 0, 10, 0),    // nothing to charge
		gcOp("y", "", "", 1, 10, 1),    // 5, a new hour window
		gcOp("w", "", "", 9223372036854775000, -1, 0),
		gcOp("w", "", "", 1000, -1, 0), // overflow
		gcOp("y\x00\xff", "", "j", 2, 10, 0),
		gcOp("x", "", "", 0, 10, 0),
	}
}

// holdInFlight makes s behave as if a call were in flight, so that
// deductions queue; the returned function ends it, sending the queue.
func holdInFlight(t *testing.T, s *Store) func() {
	t.Helper()
	s.gc.mu.Lock()
	if s.gc.inFlight {
		s.gc.mu.Unlock()
		t.Fatal("a call is in flight")
	}
	s.gc.inFlight = true
	s.gc.mu.Unlock()
	return s.sendQueued
}

// queued returns how many deductions wait in s's queue.
func queued(s *Store) int {
	s.gc.mu.Lock()
	defer s.gc.mu.Unlock()
	return len(s.gc.queue)
}

func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); queued(s) != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d deductions queued, want %d", queued(s), n)
		}
		time.Sleep(time.Millisecond)
	}
}

type gcAnswer struct {
	res core.Result
	err error
}

// queueAll queues ops in their order through deduct (each from a
// goroutine of its own, started once the previous one is queued) and
// returns a function that waits for their answers.
func queueAll(t *testing.T, s *Store, ops []*core.Op, deduct func(context.Context, *core.Op) (core.Result, error)) func() []gcAnswer {
	t.Helper()
	out := make([]gcAnswer, len(ops))
	var wg sync.WaitGroup
	base := queued(s)
	for i, o := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].res, out[i].err = deduct(context.Background(), o)
		}()
		waitQueued(t, s, base+i+1)
	}
	return func() []gcAnswer { wg.Wait(); return out }
}

// TestGroupCommitOrder sends one batch of ops of several clients, the
// ops of each in a given order, and compares each answer and the export
// with the memory store's applying the ops one by one in that order.
func TestGroupCommitOrder(t *testing.T) {
	s := newStore(t, sharedPool(t), &Options{Timeout: time.Minute})
	var sizes []int
	s.gc.onBatch = func(n int) { sizes = append(sizes, n) }
	ops := gcOps()
	release := holdInFlight(t, s)
	wait := queueAll(t, s, ops, s.Deduct)
	release()
	got := wait()
	if !reflect.DeepEqual(sizes, []int{len(ops)}) {
		t.Fatalf("batches %v, want one of %d", sizes, len(ops))
	}
	m := memory.New()
	defer m.Close()
	for i, o := range ops {
		want, werr := m.Deduct(t.Context(), o)
		if got[i].err != nil || werr != nil || !reflect.DeepEqual(got[i].res, want) {
			t.Errorf("op %d (%q cost %d key %q): %+v, %v; want %+v, %v", i, o.Client, o.Cost, o.Key, got[i].res, got[i].err, want, werr)
		}
	}
	compareExports(t, s, m)

	// The same ops again, alone: the same answers as the memory store's.
	for i, o := range ops {
		res, err := s.Deduct(t.Context(), o)
		want, werr := m.Deduct(t.Context(), o)
		if err != nil || werr != nil || !reflect.DeepEqual(res, want) {
			t.Errorf("op %d alone: %+v, %v; want %+v, %v", i, res, err, want, werr)
		}
	}
	compareExports(t, s, m)
}

func compareExports(t *testing.T, a, b core.Store) {
	t.Helper()
	read := func(s core.Store) []core.Record {
		var out []core.Record
		if err := s.Export(t.Context(), func(r *core.Record) error {
			if r.Kind != core.RecordKey && !(r.Kind == core.RecordUsage && r.Used == 0) {
				out = append(out, *r)
			}
			return nil
		}); err != nil {
			t.Fatalf("Export: %v", err)
		}
		return out
	}
	got, want := read(a), read(b)
	key := func(r core.Record) string {
		return fmt.Sprintf("%d %q %d %d %q", r.Kind, r.Client, r.Period, r.Start, r.Label)
	}
	index := map[string]core.Record{}
	for _, r := range want {
		index[key(r)] = r
	}
	if len(got) != len(want) {
		t.Errorf("export: %d records, want %d", len(got), len(want))
	}
	for _, r := range got {
		if w, ok := index[key(r)]; !ok || !reflect.DeepEqual(r, w) {
			t.Errorf("export: %+v, want %+v", r, w)
		}
	}
}

// TestGroupCommitOpFailsAlone: a batch that the server refuses (here for
// a key that is not UTF-8, which Deduct itself never puts in a batch)
// rolls back; each of its ops is then sent alone, so only the bad one
// fails.
func TestGroupCommitOpFailsAlone(t *testing.T) {
	s := newStore(t, sharedPool(t), &Options{Timeout: time.Minute})
	var sizes []int
	s.gc.onBatch = func(n int) { sizes = append(sizes, n) }
	ops := []*core.Op{gcOp("a", "", "", 1, 10, 0), gcOp("b", "", "bad\xff", 1, 10, 0), gcOp("a", "", "", 2, 10, 0)}
	release := holdInFlight(t, s)
	wait := queueAll(t, s, ops, s.deductGrouped)
	release()
	got := wait()
	if len(sizes) != 1 || sizes[0] != 3 {
		t.Fatalf("batches %v, want one of 3", sizes)
	}
	if got[0].err != nil || !got[0].res.OK || got[2].err != nil || !got[2].res.OK || got[2].res.Used[0] != 3 {
		t.Errorf("the good ops: %+v, %+v; want both admitted, 3 used", got[0], got[2])
	}
	if err := got[1].err; err == nil || !errors.Is(err, core.ErrStoreUnavailable) || errors.Is(err, core.ErrOutcomeUnknown) {
		t.Errorf("the bad op: %v; want ErrStoreUnavailable, not ErrOutcomeUnknown", err)
	}
	// Deduct sends such an op alone: the same answer.
	if _, err := s.Deduct(t.Context(), ops[1]); err == nil || errors.Is(err, core.ErrOutcomeUnknown) {
		t.Errorf("the bad op through Deduct: %v; want an error", err)
	}
}

// TestGroupCommitCancel: a deduction whose context ends while it is
// queued leaves the queue, fails without ErrOutcomeUnknown and charges
// nothing; a deduction whose context ends while its batch is in flight
// fails with ErrOutcomeUnknown.
func TestGroupCommitCancel(t *testing.T) {
	s := newStore(t, sharedPool(t), &Options{Timeout: time.Minute})
	release := holdInFlight(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := s.Deduct(ctx, gcOp("a", "", "", 1, 10, 0))
		done <- err
	}()
	waitQueued(t, s, 1)
	cancel()
	if err := <-done; !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, context.Canceled) || errors.Is(err, core.ErrOutcomeUnknown) {
		t.Errorf("cancelled while queued: %v; want ErrStoreUnavailable and context.Canceled, not ErrOutcomeUnknown", err)
	}
	if n := queued(s); n != 0 {
		t.Errorf("%d deductions queued after the cancel, want 0", n)
	}
	release()
	res, err := s.Usage(t.Context(), gcOp("a", "", "", 1, 10, 0))
	if err != nil || res.Used[0] != 0 {
		t.Errorf("usage after the cancelled deduction: %+v, %v; want nothing charged", res.Used, err)
	}

	// A batch whose server call waits for a client's lock, held by
	// another transaction, while one caller's deadline passes.
	tx, err := s.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), s.q.lockClient, s.lockClass, lockKey("b")); err != nil {
		t.Fatal(err)
	}
	release = holdInFlight(t, s)
	short, cancelShort := context.WithTimeout(t.Context(), time.Second)
	defer cancelShort()
	errs := make(chan error, 2)
	go func() { _, err := s.Deduct(short, gcOp("b", "", "", 1, 10, 0)); errs <- err }()
	waitQueued(t, s, 1)
	go func() { _, err := s.Deduct(t.Context(), gcOp("c", "", "", 1, 10, 0)); errs <- err }()
	waitQueued(t, s, 2)
	release()
	if err := <-errs; !errors.Is(err, core.ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline passed with the batch in flight: %v; want ErrOutcomeUnknown", err)
	}
	time.Sleep(100 * time.Millisecond)
	tx.Rollback(t.Context())
	if err := <-errs; err != nil {
		t.Errorf("the other deduction of the batch: %v", err)
	}
	res, err = s.Usage(t.Context(), gcOp("b", "", "", 1, 10, 0))
	if err != nil || res.Used[0] != 1 {
		t.Errorf("usage of the deduction whose caller left: %+v, %v; want it applied", res.Used, err)
	}
}

// TestGroupCommitClose: Close does not wait for queued deductions, which
// then fail with ErrClosed, unsent; later deductions fail with ErrClosed.
func TestGroupCommitClose(t *testing.T) {
	s := newStore(t, sharedPool(t), &Options{Timeout: time.Minute})
	release := holdInFlight(t, s)
	wait := queueAll(t, s, []*core.Op{gcOp("a", "", "", 1, 10, 0), gcOp("b", "", "", 1, 10, 0)}, s.Deduct)
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs")
	}
	release() // the call in flight returns
	for i, a := range wait() {
		if !errors.Is(a.err, core.ErrClosed) {
			t.Errorf("queued deduction %d at Close: %v; want ErrClosed", i, a.err)
		}
	}
	if _, err := s.Deduct(t.Context(), gcOp("a", "", "", 1, 10, 0)); !errors.Is(err, core.ErrClosed) {
		t.Errorf("Deduct after Close: %v; want ErrClosed", err)
	}
	// Close during a real load returns, and every call answers.
	s2 := newStore(t, sharedPool(t), &Options{Timeout: time.Minute})
	var wg sync.WaitGroup
	var admitted, closedErrs, other atomic.Int64
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				res, err := s2.Deduct(context.Background(), gcOp(fmt.Sprint("c", g%8), "", "", 1, -1, 0))
				switch {
				case err == nil && res.OK:
					admitted.Add(1)
				case errors.Is(err, core.ErrClosed):
					closedErrs.Add(1)
					return
				default:
					other.Add(1)
					t.Errorf("Deduct during Close: %+v, %v", res, err)
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	t.Logf("admitted %d, ErrClosed %d", admitted.Load(), closedErrs.Load())
}

// TestGroupCommitStores: several stores on the same tables (as processes
// would be) charge overlapping sets of clients from many goroutines, so
// that their batches lock several clients each: nothing deadlocks or
// fails, and each client admits exactly its limit.
func TestGroupCommitStores(t *testing.T) {
	pool := sharedPool(t)
	first := newStore(t, pool, &Options{Timeout: time.Minute})
	stores := []*Store{first}
	for range 2 {
		s, err := New(t.Context(), pool, &Options{Schema: first.Schema(), Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	const clients, limit, goroutines, attempts = 10, 40, 8, 30
	var batches atomic.Int64
	for _, s := range stores {
		s.gc.onBatch = func(n int) {
			if n > 1 {
				batches.Add(1)
			}
		}
	}
	var admitted [clients]atomic.Int64
	var wg sync.WaitGroup
	for si, s := range stores {
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for a := range attempts {
					c := (si*7 + g*3 + a*5) % clients
					res, err := s.Deduct(context.Background(), gcOp(fmt.Sprint("client ", c), "", "", 1, limit, 0))
					if err != nil {
						t.Errorf("Deduct: %v", err)
						return
					}
					if res.OK {
						admitted[c].Add(1)
					}
				}
			}()
		}
	}
	wg.Wait()
	var tries [clients]int64
	for si := range stores {
		for g := range goroutines {
			for a := range attempts {
				tries[(si*7+g*3+a*5)%clients]++
			}
		}
	}
	for c := range clients {
		res, err := first.Usage(t.Context(), gcOp(fmt.Sprint("client ", c), "", "", 1, limit, 0))
		if want := min(tries[c], limit); err != nil || res.Used[0] != want || admitted[c].Load() != want {
			t.Errorf("client %d: used %d, %v; admitted %d; want %d", c, res.Used[0], err, admitted[c].Load(), want)
		}
	}
	if batches.Load() == 0 {
		t.Error("no batch of more than one deduction was sent")
	}
}
