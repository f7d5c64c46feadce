package redis

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/internal/faultproxy"
	goredis "github.com/redis/go-redis/v9"
)

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

// failureGoroutines is how many goroutines charge at once in the failure
// tests, which put a TCP proxy (faultproxy) between the store's client and
// Redis and turn it slow, silent, refusing, deaf to replies or down;
// failureTries is how many times the tests wait 10 ms for the goroutines
// to come back to what they were before the failures.
const (
	failureGoroutines = 32
	failureTries      = 500
)

// retryTries is how many times, a tenth of a second apart, the tests try a
// call that must succeed once Redis is reachable, on a machine that may be
// slow now and then, through a client that redials a server it found down
// about once a second.
const retryTries = 50

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
		{"slow", faultproxy.Slow, 320, true},
		{"black hole", faultproxy.BlackHole, 320, true},
		{"refusing", faultproxy.Refuse, 2000, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := faultproxy.Start(t, redisAddr(), 3*DefaultTimeout)
			if c.mode < 0 {
				// Down from the start: the client never reaches Redis, and
				// nothing listens on its address until the proxy is up again.
				p.Down()
				for p.Goroutines() != 0 { // the proxy's accept loop, ending
					time.Sleep(time.Millisecond)
				}
			}
			rdb := failureClient(t, p.Addr())
			prefix := testPrefix()
			s, err := New(rdb, &Options{Prefix: prefix}) // the default timeout
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { deleteKeys(t, direct, prefix) })
			b := faultproxy.Billing(t, s)
			track := func() error {
				_, err := b.Track(t.Context(), faultproxy.Client, core.Whole(1))
				return err
			}
			if c.mode >= 0 {
				// A working connection first, so the failures hit a pool in use.
				if err := faultproxy.RetryN(retryTries, track); err != nil {
					t.Fatalf("Track through the proxy: %v", err)
				}
			}
			// The client is open and, through the proxy, holds a connection:
			// what runs now is what the application runs when Redis is fine.
			base := p.Others()
			if c.mode >= 0 {
				p.SetMode(c.mode)
				if c.mode == faultproxy.Refuse {
					p.DropAll()
				}
			}
			errs, took := faultproxy.Run(b, failureGoroutines, c.calls, nil)
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
			_, err = s.Usage(t.Context(), mkop(faultproxy.Client, "", 0, core.Span{}, core.Window{Period: core.Day, Start: 0, End: day, Limit: credit}))
			if !errors.Is(err, core.ErrStoreUnavailable) {
				t.Errorf("Usage: %v, want an error wrapping ErrStoreUnavailable", err)
			}
			// Recovery: the same store works again once Redis answers.
			if c.mode < 0 {
				p.Up(t) // Redis is back
			}
			p.SetMode(faultproxy.Pass)
			if err := faultproxy.RetryN(retryTries, track); err != nil {
				t.Errorf("Track after Redis is back: %v", err)
			}
			p.WaitGoroutines(t, failureTries, func() int64 { return base })
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
	p := faultproxy.Start(t, redisAddr(), 0)
	rdb := failureClient(t, p.Addr())
	prefix := testPrefix()
	s, err := New(rdb, &Options{Prefix: prefix, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteKeys(t, direct, prefix) })
	b := faultproxy.Billing(t, s)
	if err := faultproxy.RetryN(retryTries, func() error { _, err := b.Track(t.Context(), faultproxy.Client, core.Whole(1)); return err }); err != nil {
		t.Fatalf("Track through the proxy: %v", err)
	}
	base := p.Others()
	const calls, every = 4000, 250
	errs, _ := faultproxy.Run(b, failureGoroutines, calls, func(i int) {
		switch i % every {
		case 0:
			p.SetMode(faultproxy.Refuse)
			p.DropAll()
		case 50:
			p.SetMode(faultproxy.Pass)
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
	p.SetMode(faultproxy.Pass)
	st, err := b.Status(t.Context(), faultproxy.Client)
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
	p.WaitGoroutines(t, failureTries, func() int64 { return base })
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
			p := faultproxy.Start(t, redisAddr(), 0)
			prefix := testPrefix()
			s, err := New(failureClient(t, p.Addr()), &Options{Prefix: prefix, Timeout: c.store})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { deleteKeys(t, direct, prefix) })
			b := faultproxy.Billing(t, s)
			p.SetMode(faultproxy.BlackHole)
			ctx := context.Background()
			if c.caller > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.caller)
				defer cancel()
			}
			start := time.Now()
			_, err = b.Track(ctx, faultproxy.Client, core.Whole(1))
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
	p := faultproxy.Start(t, redisAddr(), 300*time.Millisecond)
	rdb := failureClient(t, p.Addr())
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
	if err := faultproxy.RetryN(retryTries, func() error { _, err := b.Track(t.Context(), "c", core.Whole(1)); return err }); err != nil {
		t.Fatalf("a first charge through the proxy: %v", err)
	}

	p.SetMode(faultproxy.DropReply)
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

	p.SetMode(faultproxy.Pass)
	var out core.Outcome
	if err := faultproxy.RetryN(retryTries, func() (err error) { out, err = b.Charge(t.Context(), charge); return err }); err != nil {
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
	one := goredis.NewClient(&goredis.Options{Addr: p.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1,
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
	if err := faultproxy.RetryN(retryTries, func() error { _, err := b1.Track(t.Context(), "c", core.Whole(1)); return err }); err != nil {
		t.Fatal(err)
	}
	p.SetMode(faultproxy.Slow)
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
	p.SetMode(faultproxy.Pass)
}
