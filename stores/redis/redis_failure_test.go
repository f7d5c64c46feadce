package redis

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
	goredis "github.com/redis/go-redis/v9"
)

// proxy is a TCP proxy on loopback between the store's client and Redis,
// which the test turns slow, silent or refusing.
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
	dropReply // requests reach Redis, replies are swallowed
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
			case dropReply:
				if reply {
					continue
				}
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

// dropAll closes every connection, as a failover does.
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

// failureClient is a client as an application would configure it, with
// read and write timeouts far above the store's, so that only the store's
// timeout can end a stalled call early.
func failureClient(t *testing.T, addr string) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		DialTimeout:           30 * time.Second,
		PoolTimeout:           30 * time.Second,
		MaxRetries:            -1,
		PoolSize:              32,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// quietLog counts go-redis's log lines instead of printing them: thousands
// of failures would print thousands of dial errors.
type quietLog struct{ lines atomic.Int64 }

func (l *quietLog) Printf(context.Context, string, ...any) { l.lines.Add(1) }

var (
	redisLog     quietLog
	redisLogOnce sync.Once
)

func quietRedisLog() { redisLogOnce.Do(func() { goredis.SetLogger(&redisLog) }) }

// maxFailureWait is how long a failing call may take: far above the
// store's default timeout, far below the client's own 30 s timeouts.
const maxFailureWait = 5 * time.Second

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
	for range 500 {
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
// and reports each call's error over a channel.
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

// TestRedisFailures checks that when Redis is down, slow or silent, every
// call fails with an error that wraps core.ErrStoreUnavailable, within a
// bound far below the client's own timeouts (the store's default timeout
// applies), that only calls written to a server (slow or silent) report
// core.ErrOutcomeUnknown, and that thousands of failures leave no goroutine
// behind.
func TestRedisFailures(t *testing.T) {
	direct := newClient(t) // skip or fail without Redis
	quietRedisLog()
	// unknown: whether calls may fail with ErrOutcomeUnknown. A call
	// whose command was written (to a slow or silent server) may have been
	// applied; one that found no connection was not.
	cases := []struct {
		name    string
		mode    int32
		calls   int
		unknown bool
	}{
		{"down", -1, 3000, false},
		{"slow", slow, 320, true},
		{"black hole", blackHole, 320, true},
		{"refusing", refuse, 2000, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p *proxy
			addr := closedPort(t)
			if c.mode >= 0 {
				p = startProxy(t, "127.0.0.1:0", redisAddr(), 3*DefaultTimeout)
				addr = p.addr()
			}
			rdb := failureClient(t, addr)
			prefix := testPrefix()
			s, err := New(rdb, &Options{Prefix: prefix}) // the default timeout
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { deleteKeys(t, direct, prefix) })
			b := newFailureBilling(t, s)
			track := func() error {
				_, err := b.Track(t.Context(), "client", core.Whole(1))
				return err
			}
			if p != nil {
				// A working connection first, so the failures hit a pool in use.
				if err := retry(track); err != nil {
					t.Fatalf("Track through the proxy: %v", err)
				}
			}
			// The client is open and, through the proxy, holds a connection:
			// what runs now is what the application runs when Redis is fine.
			base := othersGoroutines(p)
			if p != nil {
				p.mode.Store(c.mode)
				if c.mode == refuse {
					p.dropAll()
				}
			}
			errs, took := failureRun(b, c.calls, nil)
			slowest := took[len(took)-1]
			unknown := uint64(0)
			for i, err := range errs {
				if !errors.Is(err, core.ErrStoreUnavailable) {
					t.Fatalf("call %d: %v, want an error wrapping ErrStoreUnavailable", i, err)
				}
				if errors.Is(err, core.ErrOutcomeUnknown) {
					unknown++
					if !c.unknown {
						t.Fatalf("call %d: %v: an outcome in doubt, but no command could have been written", i, err)
					}
				}
			}
			if c.unknown && unknown == 0 {
				t.Errorf("no call failed with ErrOutcomeUnknown, want the calls written to a %s server to", c.name)
			}
			if got := s.Stats().OutcomeUnknown; got != unknown {
				t.Errorf("Stats().OutcomeUnknown = %d, want %d", got, unknown)
			}
			if slowest > maxFailureWait {
				t.Errorf("the slowest failing call took %v, want it bounded by the store's timeout (allowed up to %v)", slowest, maxFailureWait)
			}
			t.Logf("%d calls failed (%d in doubt) in %v (median), %v (p99), %v (slowest); go-redis logged %d lines so far",
				len(errs), unknown, took[len(took)/2], took[len(took)*99/100], slowest, redisLog.lines.Load())
			// The store itself reports the same condition, without Billing.
			_, err = s.Usage(t.Context(), mkop("client", "", 0, core.Span{}, core.Window{Period: core.Day, Start: 0, End: day, Limit: credit}))
			if !errors.Is(err, core.ErrStoreUnavailable) {
				t.Errorf("Usage: %v, want an error wrapping ErrStoreUnavailable", err)
			}
			// Recovery: the same store works again once Redis answers.
			if p == nil {
				p = startProxy(t, addr, redisAddr(), 0) // Redis is back
			}
			p.mode.Store(pass)
			{
				if err := retry(track); err != nil {
					t.Errorf("Track after Redis is back: %v", err)
				}
			}
			waitGoroutines(t, p, base)
		})
	}
}

// TestFailover drops every connection to Redis now and then while 32
// goroutines charge one client, and refuses new connections for a while
// after each drop, as a failover does. Invariants: every call either
// succeeds or fails with ErrStoreUnavailable; the usage Redis holds is at
// least the credits admitted (an admitted charge is never lost) and at
// most that plus the failed calls (a failed call may or may not have been
// counted, and only if it wraps ErrOutcomeUnknown); calls succeed again
// afterwards; no goroutine is left behind.
func TestFailover(t *testing.T) {
	direct := newClient(t)
	quietRedisLog()
	p := startProxy(t, "127.0.0.1:0", redisAddr(), 0)
	rdb := failureClient(t, p.addr())
	prefix := testPrefix()
	s, err := New(rdb, &Options{Prefix: prefix, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteKeys(t, direct, prefix) })
	b := newFailureBilling(t, s)
	if err := retry(func() error { _, err := b.Track(t.Context(), "client", core.Whole(1)); return err }); err != nil {
		t.Fatalf("Track through the proxy: %v", err)
	}
	base := othersGoroutines(p)
	const calls, every = 4000, 250
	errs, _ := failureRun(b, calls, func(i int) {
		switch i % every {
		case 0:
			p.mode.Store(refuse)
			p.dropAll()
		case 50:
			p.mode.Store(pass)
		}
	})
	var admitted, failed, unknown int64
	for i, err := range errs {
		switch {
		case err == nil:
			admitted += credit
		case errors.Is(err, core.ErrStoreUnavailable):
			if errors.Is(err, core.ErrOutcomeUnknown) {
				unknown += credit
			}
			failed += credit
		default:
			t.Errorf("call %d: %v, want success or ErrStoreUnavailable", i, err)
		}
	}
	t.Logf("%v admitted, %v failed, %v of them in doubt (ErrOutcomeUnknown)", admitted, failed, unknown)
	if failed == 0 {
		t.Errorf("no call failed while connections were dropped and refused")
	}
	p.mode.Store(pass)
	st, err := b.Status(t.Context(), "client")
	if err != nil {
		t.Fatalf("Status after the failovers: %v", err)
	}
	// A failed call changed nothing, unless its outcome is unknown.
	if u := st.Quota(0).Used.Micro(); u < admitted || u > admitted+unknown {
		t.Errorf("usage in Redis = %v, want between the %v admitted and %v (plus the calls in doubt)", u, admitted, admitted+unknown)
	}
	if got := s.Stats().OutcomeUnknown; got != uint64(unknown/credit) {
		t.Errorf("Stats().OutcomeUnknown = %d, want the %d calls that failed with ErrOutcomeUnknown", got, unknown/credit)
	}
	waitGoroutines(t, p, base)
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

// retry calls f up to 50 times, a tenth of a second apart, until it
// succeeds: for a call that must succeed once Redis is reachable, on a
// machine that may be slow now and then, through a client that redials
// a server it found down about once a second.
func retry(f func() error) (err error) {
	for range 50 {
		if err = f(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// TestTimeouts checks which deadline bounds a call to a silent Redis: the
// store's timeout when the caller's context ends later, the caller's when
// it ends sooner. Either way the call fails with ErrStoreUnavailable long
// before the client's own 30 s timeouts.
func TestTimeouts(t *testing.T) {
	direct := newClient(t)
	quietRedisLog()
	cases := []struct {
		name   string
		store  time.Duration
		caller time.Duration // 0: no deadline
	}{
		{"store timeout, no caller deadline", 50 * time.Millisecond, 0},
		{"store timeout, later caller deadline", 50 * time.Millisecond, time.Hour},
		{"earlier caller deadline", time.Hour, 50 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := startProxy(t, "127.0.0.1:0", redisAddr(), 0)
			prefix := testPrefix()
			s, err := New(failureClient(t, p.addr()), &Options{Prefix: prefix, Timeout: c.store})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { deleteKeys(t, direct, prefix) })
			b := newFailureBilling(t, s)
			p.mode.Store(blackHole)
			ctx := context.Background()
			if c.caller > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.caller)
				defer cancel()
			}
			start := time.Now()
			_, err = b.Track(ctx, "client", core.Whole(1))
			took := time.Since(start)
			var ne net.Error
			timeout := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
			if !errors.Is(err, core.ErrStoreUnavailable) || !timeout {
				t.Errorf("Track: %v, want a timeout wrapped in ErrStoreUnavailable", err)
			}
			if took > maxFailureWait {
				t.Errorf("Track took %v, want it bounded by the earlier deadline (allowed up to %v)", took, maxFailureWait)
			}
		})
	}
}

// TestOutcomeUnknown drops Redis's replies, so that a charge is applied but
// its caller never learns it: the call fails with an error wrapping both
// ErrStoreUnavailable and ErrOutcomeUnknown, Stats counts it, the charge
// is in Redis, and a retry with the same idempotency key once Redis answers
// again replays it instead of charging twice. A read (Usage) whose reply
// is lost is unavailable, not in doubt; a call that could not get a
// connection (the pool exhausted while the only connection is in use)
// changed nothing and is not in doubt either.
func TestOutcomeUnknown(t *testing.T) {
	direct := newClient(t)
	quietRedisLog()
	p := startProxy(t, "127.0.0.1:0", redisAddr(), 300*time.Millisecond)
	rdb := failureClient(t, p.addr())
	prefix := testPrefix()
	s, err := New(rdb, &Options{Prefix: prefix, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteKeys(t, direct, prefix) })
	observer, err := New(direct, &Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(0, future()).Add(time.Hour)
	clock := core.WithClock(func() time.Time { return at })
	quota := core.Quota{Period: core.Day, Limit: core.Whole(100)}
	b := core.New(s, clock)
	seen := core.New(observer, clock)
	for _, x := range []*core.Billing{b, seen} {
		if err := x.SetQuotas("c", quota); err != nil {
			t.Fatal(err)
		}
	}
	usedNow := func() core.Credits {
		t.Helper()
		st, err := seen.Status(t.Context(), "c")
		if err != nil {
			t.Fatal(err)
		}
		return st.Quota(0).Used
	}
	charge := core.Charge{Client: "c", Cost: core.Whole(3), Label: "/x", IdempotencyKey: "retry-me"}
	if err := retry(func() error { _, err := b.Track(t.Context(), "c", core.Whole(1)); return err }); err != nil {
		t.Fatalf("a first charge through the proxy: %v", err)
	}

	p.mode.Store(dropReply)
	_, err = b.Charge(t.Context(), charge)
	if !errors.Is(err, core.ErrOutcomeUnknown) || !errors.Is(err, core.ErrStoreUnavailable) {
		t.Fatalf("Charge whose reply is lost: %v, want ErrOutcomeUnknown and ErrStoreUnavailable", err)
	}
	if got, want := usedNow(), core.Whole(4); got != want {
		t.Errorf("usage in Redis after the lost reply = %v, want %v: Redis applied the charge", got, want)
	}
	if got := s.Stats().OutcomeUnknown; got != 1 {
		t.Errorf("Stats().OutcomeUnknown = %d, want 1", got)
	}
	if _, err := b.Status(t.Context(), "c"); !errors.Is(err, core.ErrStoreUnavailable) || errors.Is(err, core.ErrOutcomeUnknown) {
		t.Errorf("Status whose reply is lost: %v, want ErrStoreUnavailable without ErrOutcomeUnknown", err)
	}

	p.mode.Store(pass)
	var out core.Outcome
	if err := retry(func() (err error) { out, err = b.Charge(t.Context(), charge); return err }); err != nil {
		t.Fatalf("retrying the charge once Redis answers: %v", err)
	}
	if !out.Replayed() {
		t.Errorf("the retry was charged again, want a replay of the charge whose reply was lost")
	}
	if got, want := usedNow(), core.Whole(4); got != want {
		t.Errorf("usage after the retry = %v, want %v (charged once)", got, want)
	}

	// The only connection is busy with a slow call: the next call cannot
	// get one before its deadline, so nothing was sent.
	one := goredis.NewClient(&goredis.Options{Addr: p.addr(), ContextTimeoutEnabled: true, MaxRetries: -1,
		PoolSize: 1, MaxActiveConns: 1, PoolTimeout: 30 * time.Second})
	t.Cleanup(func() { one.Close() })
	s1, err := New(one, &Options{Prefix: prefix, Timeout: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b1 := core.New(s1, clock)
	if err := b1.SetQuotas("c", quota); err != nil {
		t.Fatal(err)
	}
	if err := retry(func() error { _, err := b1.Track(t.Context(), "c", core.Whole(1)); return err }); err != nil {
		t.Fatal(err)
	}
	p.mode.Store(slow)
	busy := make(chan error, 1)
	go func() { _, err := b1.Track(context.Background(), "c", core.Whole(1)); busy <- err }()
	for i := 0; one.PoolStats().IdleConns != 0; i++ { // until the slow call holds the connection
		if i == 500 {
			t.Fatal("the slow call never took the connection")
		}
		time.Sleep(time.Millisecond)
	}
	_, err = b1.Track(t.Context(), "c", core.Whole(1))
	if !errors.Is(err, core.ErrStoreUnavailable) || errors.Is(err, core.ErrOutcomeUnknown) {
		t.Errorf("Track without a free connection: %v, want ErrStoreUnavailable without ErrOutcomeUnknown", err)
	}
	if err := <-busy; !errors.Is(err, core.ErrOutcomeUnknown) {
		t.Errorf("the slow Track: %v, want ErrOutcomeUnknown (written, reply late)", err)
	}
	if got := s1.Stats(); got.OutcomeUnknown != 1 || got.Failed != 2 {
		t.Errorf("Stats() = %+v, want 2 failed calls, 1 in doubt", got)
	}
	p.mode.Store(pass)
}
