package mongo

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// proxy is a TCP proxy on loopback between the store's client and the
// server, which the test turns slow, silent or refusing.
type proxy struct {
	ln      net.Listener
	target  string
	mode    atomic.Int32
	delay   time.Duration
	running atomic.Int64 // the proxy's own goroutines
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
}

// Proxy modes.
const (
	pass      = iota
	slow      // replies are held for the proxy's delay
	blackHole // everything is swallowed; connections stay open
	refuse    // new connections are closed at once
)

// startProxy starts a proxy to target on addr (a free port if
// "127.0.0.1:0"), which stops when the test ends.
func startProxy(t *testing.T, addr, target string, delay time.Duration) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("proxy on %s: %v", addr, err)
	}
	p := &proxy{ln: ln, target: target, delay: delay, conns: map[net.Conn]struct{}{}}
	p.spawn(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) spawn(f func()) {
	p.wg.Add(1)
	p.running.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.running.Add(-1)
		f()
	}()
}

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.mode.Load() == refuse {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.spawn(func() { p.pipe(s, c, false) })
		p.spawn(func() { p.pipe(c, s, true) })
	}
}

// pipe copies src to dst as the mode says, until either end closes.
func (p *proxy) pipe(dst, src net.Conn, reply bool) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
		src.Close()
		dst.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			switch p.mode.Load() {
			case blackHole:
				continue
			case slow:
				if reply {
					time.Sleep(p.delay)
				}
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// dropAll closes every connection, as a failover or a restart does.
func (p *proxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.dropAll()
	p.wg.Wait()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serverAddr returns the host:port of the test server.
func serverAddr(t *testing.T) string {
	t.Helper()
	o := options.Client().ApplyURI(mongoURI())
	if len(o.Hosts) != 1 {
		t.Skipf("the failure tests proxy one server; %s names %d", mongoURI(), len(o.Hosts))
	}
	return o.Hosts[0]
}

// failureClient is a client to addr as an application would configure
// one, with a server selection timeout far above the store's, so that only
// the store's timeout can end a stalled call early; retries are off so
// that a failed write is never sent twice. Its connect timeout is 2 s: the
// driver opens connections in the background, bounded by that timeout and
// not by any operation's context, so after a network partition heals the
// client serves again once the handshakes it started during the partition
// have timed out.
//
// In the Updates layout on FerretDB the client has one connection:
// FerretDB's updates are atomic only among the commands of one connection
// (see the package documentation).
func failureClient(t *testing.T, addr string, l Layout) *mongo.Client {
	t.Helper()
	pool := uint64(64)
	if l == Updates && onFerretDB(t) {
		pool = 1
	}
	c, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + addr).
		SetDirect(true).SetRetryWrites(false).SetRetryReads(false).
		SetServerSelectionTimeout(30 * time.Second).SetConnectTimeout(2 * time.Second).
		SetMaxPoolSize(pool))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c
}

// failureTimeout is the store timeout of the failure tests, and
// maxFailureWait how long a failing call may take: far above the store's
// timeout (a call waiting for a batch may take twice it), far below the
// client's own 30 s timeouts.
const (
	failureTimeout = 100 * time.Millisecond
	maxFailureWait = 5 * time.Second
)

// othersGoroutines returns the goroutines that are not the proxy's.
func othersGoroutines(p *proxy) int64 {
	n := int64(runtime.NumGoroutine())
	if p != nil {
		n -= p.running.Load()
	}
	return n
}

// waitGoroutines waits, a bounded number of times, for the goroutines that
// are not the proxy's to come back to base, and fails with their stacks if
// they do not.
func waitGoroutines(t *testing.T, p *proxy, base int64) {
	t.Helper()
	var n int64
	for range 1000 {
		if n = othersGoroutines(p); n <= base {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	var stacks bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&stacks, 1)
	t.Errorf("%d goroutines after the failures, want at most %d as before them; stacks:\n%s", n, base, stacks.String())
}

// failureRun charges the client from 32 goroutines, calls times in all,
// and reports each call's error and duration.
func failureRun(b *core.Billing, calls int, before func(i int)) (errs []error, took []time.Duration) {
	type report struct {
		err  error
		took time.Duration
	}
	reports := make(chan report, calls)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= calls {
					return
				}
				if before != nil {
					before(i)
				}
				start := time.Now()
				_, err := b.Track(context.Background(), "client", core.Whole(1))
				reports <- report{err, time.Since(start)}
			}
		}()
	}
	wg.Wait()
	close(reports)
	for r := range reports {
		errs = append(errs, r.err)
		took = append(took, r.took)
	}
	slices.Sort(took)
	return errs, took
}

// newFailureBilling returns a billing on s whose client has room for every
// call the failure tests make.
func newFailureBilling(t *testing.T, s *Store) *core.Billing {
	t.Helper()
	b := core.New(s)
	if err := b.SetQuotas("client",
		core.Quota{Period: core.Hour, Limit: core.Whole(1_000_000)},
		core.Quota{Period: core.Day, Limit: core.Unlimited},
	); err != nil {
		t.Fatal(err)
	}
	return b
}

// retry calls f up to 100 times, a tenth of a second apart, until it
// succeeds: for a call that must succeed once the server is reachable,
// through a client that rediscovers a server it found down.
func retry(f func() error) (err error) {
	for range 100 {
		if err = f(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// failureStore returns a store through client c whose database, in the
// layout l, is dropped through direct when the test ends.
func failureStore(t *testing.T, direct, c *mongo.Client, l Layout, timeout time.Duration) *Store {
	t.Helper()
	db := testDatabase()
	// The database and its indexes are made through the direct client, so
	// that New through c works whatever the proxy does.
	setup, err := New(t.Context(), direct, &Options{Database: db, Layout: l})
	if err != nil {
		t.Fatal(err)
	}
	setup.Close()
	t.Cleanup(func() { dropDatabase(t, direct, db) })
	var s *Store
	if err := retry(func() error {
		var err error
		s, err = New(t.Context(), c, &Options{Database: db, Layout: l, Timeout: timeout})
		return err
	}); err != nil {
		t.Fatalf("New through the proxy: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestFailures checks, in each layout, that when the server is down, slow,
// silent or refusing connections, every call fails with an error that
// wraps core.ErrStoreUnavailable, within a bound far below the client's
// own timeouts (the store's timeout applies), that thousands of failures
// leave no goroutine behind, and that the same store works again once the
// server answers.
func TestFailures(t *testing.T) {
	direct := newClient(t)
	target := serverAddr(t)
	cases := []struct {
		name  string
		mode  int32
		calls int
	}{
		{"down", -1, 2000},
		{"slow", slow, 1000},
		{"black hole", blackHole, 1000},
		{"refusing", refuse, 2000},
	}
	for _, l := range []Layout{Updates, Versions} {
		for _, c := range cases {
			t.Run(l.String()+"/"+c.name, func(t *testing.T) {
				// A proxy first, also for "down": New needs a server; the
				// proxy is then closed and its port stays closed.
				p := startProxy(t, "127.0.0.1:0", target, 500*time.Millisecond)
				client := failureClient(t, p.addr(), l)
				s := failureStore(t, direct, client, l, failureTimeout)
				b := newFailureBilling(t, s)
				track := func() error {
					_, err := b.Track(t.Context(), "client", core.Whole(1))
					return err
				}
				// A working connection first, so the failures hit a pool in use.
				if err := retry(track); err != nil {
					t.Fatalf("Track through the proxy: %v", err)
				}
				addr := p.addr()
				if c.mode < 0 {
					p.close()
					p = nil
				}
				// What runs now is what the application runs when the
				// server is fine.
				base := othersGoroutines(p)
				if p != nil {
					p.mode.Store(c.mode)
					if c.mode == refuse {
						p.dropAll()
					}
				}
				errs, took := failureRun(b, c.calls, nil)
				slowest := took[len(took)-1]
				for i, err := range errs {
					if !errors.Is(err, core.ErrStoreUnavailable) {
						t.Fatalf("call %d: %v, want an error wrapping ErrStoreUnavailable", i, err)
					}
				}
				if slowest > maxFailureWait {
					t.Errorf("the slowest failing call took %v, want it bounded by the store's timeout (allowed up to %v)", slowest, maxFailureWait)
				}
				t.Logf("%d calls failed in %v (median), %v (p99), %v (slowest)",
					len(errs), took[len(took)/2], took[len(took)*99/100], slowest)
				// The store itself reports the same condition, without Billing.
				o := &core.Op{Client: "client", N: 1}
				o.List[0] = core.Window{Period: core.Day, Start: 0, End: int64(24 * time.Hour), Limit: 1}
				if _, err := s.Usage(t.Context(), o); !errors.Is(err, core.ErrStoreUnavailable) {
					t.Errorf("Usage: %v, want an error wrapping ErrStoreUnavailable", err)
				}
				// Recovery: the same store works again once the server answers.
				if p == nil {
					p = startProxy(t, addr, target, 0) // the server is back
				}
				p.mode.Store(pass)
				if err := retry(track); err != nil {
					t.Errorf("Track after the server is back: %v", err)
				}
				waitGoroutines(t, p, base)
			})
		}
	}
}

// TestOutages drops every connection to the server now and then while 32
// goroutines charge one client, and refuses new connections for a while
// after each drop, as a failover or a restart does. Invariants, in each
// layout: every call either succeeds or fails with ErrStoreUnavailable; a
// call that failed without ErrOutcomeUnknown charged nothing; the usage
// stored is at least the credits admitted (an admitted charge is never
// lost) and at most that plus the calls that failed with ErrOutcomeUnknown;
// calls succeed again afterwards; no goroutine is left behind.
func TestOutages(t *testing.T) {
	direct := newClient(t)
	target := serverAddr(t)
	for _, l := range []Layout{Updates, Versions} {
		t.Run(l.String(), func(t *testing.T) {
			p := startProxy(t, "127.0.0.1:0", target, 0)
			client := failureClient(t, p.addr(), l)
			s := failureStore(t, direct, client, l, time.Second)
			b := newFailureBilling(t, s)
			if err := retry(func() error { _, err := b.Track(t.Context(), "client", core.Whole(1)); return err }); err != nil {
				t.Fatalf("Track through the proxy: %v", err)
			}
			base := othersGoroutines(p)
			const calls, every = 3000, 250
			errs, _ := failureRun(b, calls, func(i int) {
				switch i % every {
				case 0:
					p.mode.Store(refuse)
					p.dropAll()
				case 50:
					p.mode.Store(pass)
				}
			})
			admitted, unknown, failed := core.Whole(1), core.Whole(0), 0 // the first Track
			for i, err := range errs {
				switch {
				case err == nil:
					admitted = admitted.Add(core.Whole(1))
				case errors.Is(err, core.ErrOutcomeUnknown):
					unknown = unknown.Add(core.Whole(1))
				case errors.Is(err, core.ErrStoreUnavailable):
					failed++
				default:
					t.Errorf("call %d: %v, want success or ErrStoreUnavailable", i, err)
				}
			}
			t.Logf("%v admitted, %v failed with the outcome unknown, %d failed", admitted, unknown, failed)
			if unknown.IsZero() && failed == 0 {
				t.Errorf("no call failed while connections were dropped and refused")
			}
			p.mode.Store(pass)
			var st core.Outcome
			if err := retry(func() (err error) { st, err = b.Status(t.Context(), "client"); return err }); err != nil {
				t.Fatalf("Status after the outages: %v", err)
			}
			if u := st.Quota(0).Used; u.Cmp(admitted) < 0 || u.Cmp(admitted.Add(unknown)) > 0 {
				t.Errorf("usage stored = %v, want between the %v admitted and %v", u, admitted, admitted.Add(unknown))
			}
			waitGoroutines(t, p, base)
		})
	}
}

// TestTimeouts checks which deadline bounds a call to a silent server: the
// store's timeout when the caller's context ends later, the caller's when
// it ends sooner. Either way the call fails with ErrStoreUnavailable long
// before the client's own 30 s timeouts.
func TestTimeouts(t *testing.T) {
	direct := newClient(t)
	target := serverAddr(t)
	cases := []struct {
		name   string
		store  time.Duration
		caller time.Duration // 0: no deadline
	}{
		{"store timeout, no caller deadline", 100 * time.Millisecond, 0},
		{"store timeout, later caller deadline", 100 * time.Millisecond, time.Hour},
		{"earlier caller deadline", time.Hour, 100 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := startProxy(t, "127.0.0.1:0", target, 0)
			s := failureStore(t, direct, failureClient(t, p.addr(), Versions), Versions, c.store)
			b := newFailureBilling(t, s)
			if err := retry(func() error { _, err := b.Track(t.Context(), "client", core.Whole(1)); return err }); err != nil {
				t.Fatalf("Track through the proxy: %v", err)
			}
			p.mode.Store(blackHole)
			ctx := context.Background()
			if c.caller > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.caller)
				defer cancel()
			}
			start := time.Now()
			_, err := b.Track(ctx, "client", core.Whole(1))
			took := time.Since(start)
			if !errors.Is(err, core.ErrStoreUnavailable) || !deadline(err) {
				t.Errorf("Track: %v, want a timeout wrapped in ErrStoreUnavailable", err)
			}
			if took > maxFailureWait {
				t.Errorf("Track took %v, want it bounded by the earlier deadline (allowed up to %v)", took, maxFailureWait)
			}
		})
	}
}
