package mysql

import (
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/internal/faultproxy"
	gomysql "github.com/go-sql-driver/mysql"
)

// The failure tests put a TCP proxy between the store and MySQL (the
// shared server is never stopped), with at most failConns connections, a
// store timeout of failTimeout, and failGoroutines callers: small numbers,
// so that the connections the server sees stay few. (A call that gave up
// waiting for a lock leaves its session waiting on the server for up to
// innodb_lock_wait_timeout, one second at least.)
const (
	failConns      = 8
	failGoroutines = 4
	failTimeout    = 250 * time.Millisecond
	// maxFailureWait is how long a failing call may take: far above the
	// store's timeout, far below the pool's own connect timeout (30 s).
	maxFailureWait = 5 * time.Second
)

// proxiedDB returns a handle to MySQL through p.
func proxiedDB(t *testing.T, p *faultproxy.Proxy) *sql.DB {
	t.Helper()
	cfg, err := gomysql.ParseDSN(testDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Net, cfg.Addr = "tcp", p.Addr()
	cfg.Timeout = 30 * time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(failConns)
	db.SetMaxIdleConns(failConns)
	t.Cleanup(func() { db.Close() })
	return db
}

// serverAddr returns the address of the test server.
func serverAddr(t *testing.T) string {
	cfg, err := gomysql.ParseDSN(testDSN())
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Addr
}

// runningCalls returns how many sessions of the server run a statement
// that names prefix (other than the one asking).
func runningCalls(t *testing.T, prefix string) int {
	t.Helper()
	var n int
	if err := sharedDB(t).QueryRowContext(t.Context(), `SELECT COUNT(*) FROM information_schema.PROCESSLIST
		WHERE ID <> CONNECTION_ID() AND INFO LIKE CONCAT('%', ?, '%')`, prefix).Scan(&n); err != nil {
		t.Fatalf("counting the server's sessions: %v", err)
	}
	return n
}

// waitRunningCalls waits for the server to end every statement of the
// store's prefix, a call that gave up waiting for a lock included.
func waitRunningCalls(t *testing.T, prefix string) {
	t.Helper()
	n := 0
	for range 100 {
		if n = runningCalls(t, prefix); n == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("%d sessions of the server still run the store's calls", n)
}

// waitGoroutines waits, a bounded time, for the goroutines that are not
// the proxy's to come back to base, and fails with their stacks if they do
// not. The driver runs one goroutine per open connection: base counts
// those open then (baseConns), and the connections open now are allowed
// theirs.
func waitGoroutines(t *testing.T, p *faultproxy.Proxy, db *sql.DB, base int64, baseConns int) {
	t.Helper()
	p.WaitGoroutines(t, 1000, func() int64 { return base + int64(db.Stats().OpenConnections-baseConns) })
}

// TestFailures makes PostgreSQL down, slow, silent, refusing, or locked
// (another session holds the client's row), and checks that every call
// fails with an error wrapping core.ErrStoreUnavailable within a bound far
// below the driver's own timeouts (the store's timeout applies), that the
// store recovers when the server is back, and that thousands of failures
// leave no goroutine behind, no more connections open than the maximum,
// and no call running on the server.
func TestFailures(t *testing.T) {
	direct := sharedDB(t)
	cases := []struct {
		name  string
		mode  int32 // -1: down (the port refuses), -2: a lock held
		calls int
	}{
		{"down", -1, 3000},
		{"slow", faultproxy.Slow, 400},
		{"black hole", faultproxy.BlackHole, 400},
		{"refusing", faultproxy.Refuse, 3000},
		{"locked", -2, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := faultproxy.Start(t, serverAddr(t), 600*time.Millisecond)
			db := proxiedDB(t, p)
			s := newStore(t, db, &Options{Timeout: failTimeout, PruneInterval: -1})
			b := faultproxy.Billing(t, s)
			track := func() error {
				_, err := b.Track(t.Context(), "client", core.Whole(1))
				return err
			}
			// A working connection first, so the failures hit a pool in use.
			if err := faultproxy.Retry(track); err != nil {
				t.Fatalf("Track through the proxy: %v", err)
			}
			base, baseConns := p.Others(), db.Stats().OpenConnections
			release := func() {}
			switch c.mode {
			case -1:
				p.Down()
			case -2:
				tx, err := direct.BeginTx(t.Context(), nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.ExecContext(t.Context(), s.names("SELECT 1 FROM {t}clients WHERE client = 'client' FOR UPDATE")); err != nil {
					t.Fatal(err)
				}
				release = func() { tx.Rollback() }
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
			if st := db.Stats(); st.OpenConnections > failConns {
				t.Errorf("%d connections are open, more than the %d allowed", st.OpenConnections, failConns)
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
			waitGoroutines(t, p, db, base, baseConns)
			waitRunningCalls(t, s.Prefix())
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
	sharedDB(t)
	p := faultproxy.Start(t, serverAddr(t), 0)
	db := proxiedDB(t, p)
	s := newStore(t, db, &Options{Timeout: time.Second, PruneInterval: -1})
	b := faultproxy.Billing(t, s)
	if err := faultproxy.Retry(func() error { _, err := b.Track(t.Context(), "client", core.Whole(1)); return err }); err != nil {
		t.Fatalf("Track through the proxy: %v", err)
	}
	base, baseConns := p.Others(), db.Stats().OpenConnections
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
	waitGoroutines(t, p, db, base, baseConns)
}

// TestOutcomeUnknown loses the reply of a deduction the server received
// and committed: the error wraps ErrOutcomeUnknown (and
// ErrStoreUnavailable), the charge was in fact applied, and a retry with
// the same idempotency key is not charged again. A call that could not
// reach the server at all is not reported as unknown.
func TestOutcomeUnknown(t *testing.T) {
	sharedDB(t)
	p := faultproxy.Start(t, serverAddr(t), 0)
	db := proxiedDB(t, p)
	s := newStore(t, db, &Options{Timeout: 5 * time.Second, PruneInterval: -1})
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
	db.SetMaxIdleConns(0) // no idle connection: the next call dials
	db.SetMaxIdleConns(failConns)
	_, err = b.Track(ctx, "client", core.Whole(1))
	if !errors.Is(err, core.ErrStoreUnavailable) || errors.Is(err, core.ErrOutcomeUnknown) {
		t.Errorf("Track with the server down: %v, want ErrStoreUnavailable without ErrOutcomeUnknown", err)
	}
}

// TestOneRoundTrip counts what the store sends to the server: one write
// per deduction, keyed or not, admitted or refused, and per refund.
func TestOneRoundTrip(t *testing.T) {
	sharedDB(t)
	p := faultproxy.Start(t, serverAddr(t), 0)
	s := newStore(t, proxiedDB(t, p), &Options{Timeout: time.Minute, PruneInterval: -1})
	faultproxy.CountRoundTrips(t, s, p)
}
