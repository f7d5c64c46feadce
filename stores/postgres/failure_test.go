package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/internal/faultproxy"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The failure tests put a TCP proxy between the store and PostgreSQL
// (the shared server is never stopped), with a pool of at most failConns
// connections, a store timeout of failTimeout, and failGoroutines callers:
// small numbers, so that the connections the server sees stay few.
const (
	failConns      = 8
	failGoroutines = 8
	failTimeout    = 100 * time.Millisecond
	// maxFailureWait is how long a failing call may take: far above the
	// store's timeout, far below the pool's own connect timeout (30 s).
	maxFailureWait = 5 * time.Second
)

var appSeq atomic.Int64

// proxiedPool returns a pool to PostgreSQL through p, whose sessions carry
// an application_name of their own, which it returns too.
func proxiedPool(t *testing.T, p *faultproxy.Proxy, params map[string]string) (*pgxpool.Pool, string) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testURL())
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(p.Addr())
	n, _ := strconv.Atoi(port)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(n)
	cfg.ConnConfig.Fallbacks = nil
	cfg.ConnConfig.ConnectTimeout = 30 * time.Second
	cfg.MaxConns = failConns
	app := fmt.Sprintf("apibilling-fail-%d-%d", time.Now().UnixNano()%1e9, appSeq.Add(1))
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	for k, v := range params {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, app
}

// serverConns returns how many sessions the server holds for app.
func serverConns(t *testing.T, app string) int {
	t.Helper()
	var n int
	if err := sharedPool(t).QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
		t.Fatalf("counting the server's sessions: %v", err)
	}
	return n
}

// waitGoroutines waits, a bounded time, for the goroutines that are not
// the proxy's to come back to base, and fails with their stacks if they do
// not. pgx closes a broken connection in a goroutine that may wait up to
// 15 s for the server, hence the long wait.
func waitGoroutines(t *testing.T, p *faultproxy.Proxy, base int64) {
	t.Helper()
	p.WaitGoroutines(t, 2500, func() int64 { return base })
}

// TestFailures makes PostgreSQL down, slow, silent, refusing, or locked
// (another session holds the client's row), and checks that every call
// fails with an error wrapping core.ErrStoreUnavailable within a bound far
// below the pool's own timeouts (the store's timeout applies), that the
// store recovers when the server is back, and that thousands of failures
// leave no goroutine behind, no more connections in the pool than its
// maximum, and no more sessions on the server.
func TestFailures(t *testing.T) {
	direct := sharedPool(t)
	cases := []struct {
		name  string
		mode  int32 // -1: down (the port refuses), -2: a lock held
		calls int
	}{
		{"down", -1, 3000},
		{"slow", faultproxy.Slow, 400},
		{"black hole", faultproxy.BlackHole, 400},
		{"refusing", faultproxy.Refuse, 3000},
		{"locked", -2, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := faultproxy.Start(t, net.JoinHostPort(direct.Config().ConnConfig.Host, strconv.Itoa(int(direct.Config().ConnConfig.Port))), 300*time.Millisecond)
			pool, app := proxiedPool(t, p, nil)
			s := newStore(t, pool, &Options{Timeout: failTimeout, PruneInterval: -1})
			b := faultproxy.Billing(t, s)
			track := func() error {
				_, err := b.Track(t.Context(), "client", core.Whole(1))
				return err
			}
			// A working connection first, so the failures hit a pool in use.
			if err := faultproxy.Retry(track); err != nil {
				t.Fatalf("Track through the proxy: %v", err)
			}
			base := p.Others()
			release := func() {}
			switch c.mode {
			case -1:
				p.Down()
			case -2:
				tx, err := direct.Begin(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(t.Context(), `SELECT pg_advisory_xact_lock($1, $2)`, s.lockClass, lockKey("client")); err != nil {
					t.Fatal(err)
				}
				release = func() { tx.Rollback(context.Background()) }
			default:
				p.SetMode(c.mode)
				if c.mode == faultproxy.Refuse {
					p.DropAll()
				}
			}
			errs, took := faultproxy.Run(b, failGoroutines, c.calls, nil)
			slowest := took[len(took)-1]
			unknown := 0
			for i, err := range errs {
				if !errors.Is(err, core.ErrStoreUnavailable) {
					t.Fatalf("call %d: %v, want an error wrapping ErrStoreUnavailable", i, err)
				}
				if errors.Is(err, core.ErrOutcomeUnknown) {
					unknown++
				}
			}
			if slowest > maxFailureWait {
				t.Errorf("the slowest failing call took %v, want it bounded by the store's timeout (allowed up to %v)", slowest, maxFailureWait)
			}
			if st := pool.Stat(); st.TotalConns() > failConns {
				t.Errorf("the pool holds %d connections, more than its %d", st.TotalConns(), failConns)
			}
			t.Logf("%d calls failed in %v (median), %v (p99), %v (slowest); %d with the outcome unknown",
				len(errs), took[len(took)/2], took[len(took)*99/100], slowest, unknown)
			// The store itself reports the same condition, without Billing.
			o := &core.Op{Client: "client", N: 1}
			o.List[0] = core.Window{Period: core.Day, Start: 0, End: 24 * hour, Limit: 1}
			if c.mode != -2 {
				if _, err := s.Usage(t.Context(), o); !errors.Is(err, core.ErrStoreUnavailable) {
					t.Errorf("Usage: %v, want an error wrapping ErrStoreUnavailable", err)
				}
			}
			// Recovery: the same store works again once the server answers.
			release()
			if c.mode == -1 {
				p.Up(t)
			}
			p.SetMode(faultproxy.Pass)
			if err := faultproxy.Retry(track); err != nil {
				t.Errorf("Track after the server is back: %v", err)
			}
			waitGoroutines(t, p, base)
			if n := serverConns(t, app); n > failConns {
				t.Errorf("the server holds %d sessions of the store's pool, more than its %d connections", n, failConns)
			}
		})
	}
}

// TestRestarts drops every connection now and then while goroutines charge
// one client, and refuses new ones for a while after each drop, as a
// restart or failover does. Invariants: every call succeeds or fails with
// ErrStoreUnavailable; the usage held is at least the credits admitted (an
// admitted charge is never lost) and at most that plus the calls whose
// outcome was unknown (a call that failed otherwise charged nothing);
// calls succeed again afterwards; no goroutine is left behind.
func TestRestarts(t *testing.T) {
	direct := sharedPool(t)
	p := faultproxy.Start(t, net.JoinHostPort(direct.Config().ConnConfig.Host, strconv.Itoa(int(direct.Config().ConnConfig.Port))), 0)
	pool, _ := proxiedPool(t, p, nil)
	s := newStore(t, pool, &Options{Timeout: time.Second, PruneInterval: -1})
	b := faultproxy.Billing(t, s)
	if err := faultproxy.Retry(func() error { _, err := b.Track(t.Context(), "client", core.Whole(1)); return err }); err != nil {
		t.Fatalf("Track through the proxy: %v", err)
	}
	base := p.Others()
	const calls, every = 3000, 250
	errs, _ := faultproxy.Run(b, failGoroutines, calls, func(i int) {
		switch i % every {
		case 0:
			p.SetMode(faultproxy.Refuse)
			p.DropAll()
		case 40:
			p.SetMode(faultproxy.Pass)
		}
	})
	admitted, failed, unknown := int64(1), 0, int64(0) // the first Track
	for i, err := range errs {
		switch {
		case err == nil:
			admitted++
		case errors.Is(err, core.ErrOutcomeUnknown):
			unknown++
		case errors.Is(err, core.ErrStoreUnavailable):
			failed++
		default:
			t.Errorf("call %d: %v, want success or ErrStoreUnavailable", i, err)
		}
	}
	t.Logf("%d admitted, %d failed, %d with the outcome unknown", admitted, failed, unknown)
	if failed+int(unknown) == 0 {
		t.Errorf("no call failed while connections were dropped and refused")
	}
	p.SetMode(faultproxy.Pass)
	var st core.Outcome
	if err := faultproxy.Retry(func() (err error) { st, err = b.Status(t.Context(), "client"); return err }); err != nil {
		t.Fatalf("Status after the restarts: %v", err)
	}
	if u := st.Quota(0).Used; u.Cmp(core.Whole(admitted)) < 0 || u.Cmp(core.Whole(admitted+unknown)) > 0 {
		t.Errorf("usage held = %v, want between the %d admitted and %d", u, admitted, admitted+unknown)
	}
	waitGoroutines(t, p, base)
}

// TestOutcomeUnknown loses the reply of a deduction the server received
// and committed: the error wraps ErrOutcomeUnknown (and
// ErrStoreUnavailable), the charge was in fact applied, and a retry with
// the same idempotency key is not charged again. A call that could not
// reach the server at all is not reported as unknown.
func TestOutcomeUnknown(t *testing.T) {
	direct := sharedPool(t)
	p := faultproxy.Start(t, net.JoinHostPort(direct.Config().ConnConfig.Host, strconv.Itoa(int(direct.Config().ConnConfig.Port))), 0)
	pool, _ := proxiedPool(t, p, nil)
	s := newStore(t, pool, &Options{Timeout: 5 * time.Second, PruneInterval: -1})
	b := faultproxy.Billing(t, s)
	ctx := t.Context()
	if _, err := b.Track(ctx, "client", core.Whole(1)); err != nil {
		t.Fatalf("Track: %v", err)
	}
	charge := core.Charge{Client: "client", Cost: core.Whole(5), IdempotencyKey: "pay-42"}
	p.SetMode(faultproxy.CutReply)
	_, err := b.Charge(ctx, charge)
	p.SetMode(faultproxy.Pass)
	if !errors.Is(err, core.ErrOutcomeUnknown) || !errors.Is(err, core.ErrStoreUnavailable) {
		t.Fatalf("Charge whose reply was lost: %v, want ErrOutcomeUnknown and ErrStoreUnavailable", err)
	}
	var st core.Outcome
	if err := faultproxy.Retry(func() (err error) { st, err = b.Status(ctx, "client"); return err }); err != nil {
		t.Fatal(err)
	}
	if got, want := st.Quota(0).Used, core.Whole(6); got != want {
		t.Errorf("usage after the lost reply = %v, want %v (the charge was committed)", got, want)
	}
	out, err := b.Charge(ctx, charge)
	if err != nil || !out.Replayed() {
		t.Errorf("retry with the same key: replayed %v, %v; want a replay", out.Replayed(), err)
	}
	// Nothing sent: not unknown.
	p.Down()
	pool.Reset()
	_, err = b.Track(ctx, "client", core.Whole(1))
	if !errors.Is(err, core.ErrStoreUnavailable) || errors.Is(err, core.ErrOutcomeUnknown) {
		t.Errorf("Track with the server down: %v, want ErrStoreUnavailable without ErrOutcomeUnknown", err)
	}
}

// TestSerializableSessions runs deductions on sessions whose default
// isolation is SERIALIZABLE: the store sends its calls inside READ
// COMMITTED transactions instead (batches of the group commit too), so 64
// goroutines on one client see no serialization failure and admit exactly
// the limit.
func TestSerializableSessions(t *testing.T) {
	direct := sharedPool(t)
	p := faultproxy.Start(t, net.JoinHostPort(direct.Config().ConnConfig.Host, strconv.Itoa(int(direct.Config().ConnConfig.Port))), 0)
	pool, _ := proxiedPool(t, p, map[string]string{"default_transaction_isolation": "serializable"})
	s := newStore(t, pool, &Options{Timeout: time.Minute, PruneInterval: -1})
	var batches atomic.Int64
	s.gc.onBatch = func(n int) {
		if n > 1 {
			batches.Add(1)
		}
	}
	b := core.New(s)
	if err := b.SetQuotas("hot", core.Quota{Period: core.Day, Limit: core.Whole(100)}); err != nil {
		t.Fatal(err)
	}
	var admitted atomic.Int64
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 4 {
				_, err := b.Track(context.Background(), "hot", core.Whole(1))
				switch {
				case err == nil:
					admitted.Add(1)
				case !errors.Is(err, core.ErrQuotaExceeded):
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Track: %v", err)
	}
	if got := admitted.Load(); got != 100 {
		t.Errorf("admitted %d of 256 on serializable sessions, want exactly the limit 100", got)
	}
	if !s.explicitTx.Load() {
		t.Errorf("the store did not switch to explicit READ COMMITTED transactions")
	}
	if batches.Load() == 0 {
		t.Errorf("no batch of the group commit was sent")
	}
}

// TestOneRoundTrip counts what the store sends to the server: one write
// per deduction, keyed or not, admitted or refused, and per refund.
func TestOneRoundTrip(t *testing.T) {
	direct := sharedPool(t)
	p := faultproxy.Start(t, net.JoinHostPort(direct.Config().ConnConfig.Host, strconv.Itoa(int(direct.Config().ConnConfig.Port))), 0)
	pool, _ := proxiedPool(t, p, nil)
	s := newStore(t, pool, &Options{Timeout: time.Minute, PruneInterval: -1})
	faultproxy.CountRoundTrips(t, s, p)
}
