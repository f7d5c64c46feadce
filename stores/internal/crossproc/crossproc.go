// Package crossproc checks that a shared store admits exactly a limit
// across processes: a test starts its own test binary several times as
// workers, each charging one client from many goroutines through its own
// connections to one database, and adds up what they admitted.
//
// Parent, Worker and Billing make the Default run; a store whose test
// needs other clients or another keyed charge calls the methods of a Run
// of its own, the same in the parent and in the workers.
package crossproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// The shape of every run: 4 processes x 16 goroutines x 40 attempts of
// one credit against a limit of 1000 credits (2560 attempts), and one keyed
// charge from each goroutine, all with the same key. Client, KeyClient,
// KeyCost and Key are the Default run's: after its attempts, each goroutine
// charges KeyClient 3 credits with Key.
const (
	Processes  = 4
	Goroutines = 16
	Attempts   = 40
	Limit      = 1000
	KeyCost    = 3
	Client     = "shared\x00client"
	KeyClient  = "keyed client"
	Key        = "the-same-key"
)

// Arg is what the parent passes to its workers: where the store is (a
// schema or prefix, without spaces) and the clock every process uses; and,
// if not zero, the instant at which the workers start charging, all at
// once, however long each took to start (see Worker).
type Arg struct {
	Where string
	Clock time.Time
	Start time.Time
}

func (a Arg) String() string {
	var start int64
	if !a.Start.IsZero() {
		start = a.Start.UnixNano()
	}
	return fmt.Sprintf("%d %d %s", a.Clock.UnixNano(), start, a.Where)
}

// ParseArg reads an Arg from a worker's environment variable, or reports
// false when the variable is not set (the test is not a worker).
func ParseArg(env string) (Arg, bool, error) {
	v := os.Getenv(env)
	if v == "" {
		return Arg{}, false, nil
	}
	var ns, start int64
	var where string
	if _, err := fmt.Sscanf(v, "%d %d %s", &ns, &start, &where); err != nil {
		return Arg{}, true, fmt.Errorf("bad %s %q: %w", env, v, err)
	}
	a := Arg{Where: where, Clock: time.Unix(0, ns)}
	if start != 0 {
		a.Start = time.Unix(0, start)
	}
	return a, true, nil
}

// Run is what a store's run may choose: the client charged one credit at a
// time, the keyed charge every goroutine sends and its client's quota, and
// whether the goroutines send it before their attempts, all at once, or
// after them.
type Run struct {
	Client   string
	Key      core.Charge // its IdempotencyKey is the same for every goroutine
	KeyQuota core.Quota  // Key.Client's only quota
	KeyFirst bool
}

// Default is the run of Parent, Worker and Billing: Client, and after the
// attempts KeyCost credits for KeyClient with Key, under an unlimited hour.
var Default = Run{
	Client:   Client,
	Key:      core.Charge{Client: KeyClient, Cost: core.Whole(KeyCost), IdempotencyKey: Key},
	KeyQuota: core.Quota{Period: core.Hour, Limit: core.Unlimited},
}

// Billing is Default.Billing.
func Billing(s core.Store, clock time.Time) (*core.Billing, error) {
	return Default.Billing(s, clock)
}

// Billing returns the billing every process uses on s: a fixed clock, so
// that all compute the same windows; a minute limit of Limit credits and an
// unlimited month for r.Client; r.KeyQuota for r.Key.Client.
func (r Run) Billing(s core.Store, clock time.Time) (*core.Billing, error) {
	b := core.New(s, core.WithClock(func() time.Time { return clock }))
	if err := b.SetQuotas(r.Client,
		core.Quota{Period: core.Minute, Limit: core.Whole(Limit)},
		core.Quota{Period: core.Month, Limit: core.Unlimited},
	); err != nil {
		return nil, err
	}
	return b, b.SetQuotas(r.Key.Client, r.KeyQuota)
}

var result = regexp.MustCompile(`(?m)^worker: admitted=(\d+) refused=(\d+) failed=(\d+) charged=(\d+) replayed=(\d+)$`)

// Parent is Default.Parent.
func Parent(t *testing.T, worker, env string, arg Arg, s core.Store) {
	t.Helper()
	Default.Parent(t, worker, env, arg, s)
}

// Parent starts the workers (the test binary running the test named
// worker, with env set to arg), waits for them, and checks the invariants:
// the credits admitted across all processes are exactly Limit (never more:
// no over-admission; never less: no refusal while room was left); no call
// failed; the usage the store holds, for the minute and the unlimited
// month, and the report of the two hours around the clock are exactly
// Limit; the keyed charge was charged once and replayed by every other
// goroutine, and counted once, in its quota and in that report. The
// workers must run r too.
func (r Run) Parent(t *testing.T, worker, env string, arg Arg, s core.Store) {
	t.Helper()
	type out struct {
		text []byte
		err  error
	}
	outs := make(chan out, Processes)
	var wg sync.WaitGroup
	for range Processes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+worker+"$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), env+"="+arg.String())
			text, err := cmd.CombinedOutput()
			outs <- out{text, err}
		}()
	}
	wg.Wait()
	close(outs)
	var admitted, charged, replayed int64
	for o := range outs {
		if o.err != nil {
			t.Errorf("worker: %v; output:\n%s", o.err, o.text)
			continue
		}
		m := result.FindSubmatch(o.text)
		if m == nil {
			t.Errorf("worker printed no result; output:\n%s", o.text)
			continue
		}
		n := func(i int) int64 { v, _ := strconv.ParseInt(string(m[i]), 10, 64); return v }
		if n(3) != 0 {
			t.Errorf("worker: %d calls failed; output:\n%s", n(3), o.text)
		}
		t.Logf("worker: admitted %d, refused %d; keyed: charged %d, replayed %d", n(1), n(2), n(4), n(5))
		admitted += n(1)
		charged += n(4)
		replayed += n(5)
	}
	if t.Failed() {
		return
	}
	if admitted != Limit {
		t.Errorf("credits admitted across %d processes = %d, want exactly the limit %d", Processes, admitted, Limit)
	}
	if charged != 1 || replayed != Processes*Goroutines-1 {
		t.Errorf("the same key from %d goroutines: charged %d times and replayed %d, want once and %d",
			Processes*Goroutines, charged, replayed, Processes*Goroutines-1)
	}
	b, err := r.Billing(s, arg.Clock)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		client string
		want   core.Credits
	}{{r.Client, core.Whole(Limit)}, {r.Key.Client, r.Key.Cost}} {
		st, err := b.Status(t.Context(), c.client)
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		for i := range st.Len() {
			if q := st.Quota(i); q.Used != c.want {
				t.Errorf("%q: %s usage in the store = %v, want %v", c.client, q.Period, q.Used, c.want)
			}
		}
		total, err := b.TotalUsage(t.Context(), c.client, arg.Clock.Add(-time.Hour), arg.Clock.Add(time.Hour))
		if err != nil || total != c.want {
			t.Errorf("%q: TotalUsage = %v, %v; want %v", c.client, total, err, c.want)
		}
	}
}

// Worker is Default.Worker.
func Worker(t *testing.T, b *core.Billing, start time.Time) { Default.Worker(t, b, start) }

// Worker is one process of Parent's run, on b from r.Billing: it charges
// r.Client one credit at a time from Goroutines goroutines, Attempts times
// each, sends r.Key once per goroutine (after the attempts, or before them
// if r.KeyFirst), and prints what it admitted. Its goroutines start
// charging at once, at start if that is not zero.
func (r Run) Worker(t *testing.T, b *core.Billing, start time.Time) {
	type tally struct {
		admitted, refused, failed, charged, replayed int
		firstErr                                     error
	}
	tallies := make(chan tally, Goroutines)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for range Goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n tally
			fail := func(err error) {
				n.failed++
				if n.firstErr == nil {
					n.firstErr = err
				}
			}
			keyed := func() {
				out, err := b.Charge(t.Context(), r.Key)
				switch {
				case err != nil:
					fail(err)
				case out.Replayed():
					n.replayed++
				default:
					n.charged++
				}
			}
			<-gate
			if r.KeyFirst {
				keyed()
			}
			for range Attempts {
				_, err := b.Track(t.Context(), r.Client, core.Whole(1))
				switch {
				case err == nil:
					n.admitted++
				case errors.Is(err, core.ErrQuotaExceeded):
					n.refused++
				default:
					fail(err)
				}
			}
			if !r.KeyFirst {
				keyed()
			}
			tallies <- n
		}()
	}
	if !start.IsZero() {
		time.Sleep(time.Until(start))
	}
	close(gate)
	wg.Wait()
	close(tallies)
	var sum tally
	for n := range tallies {
		sum.admitted += n.admitted
		sum.refused += n.refused
		sum.failed += n.failed
		sum.charged += n.charged
		sum.replayed += n.replayed
		if sum.firstErr == nil {
			sum.firstErr = n.firstErr
		}
	}
	if sum.firstErr != nil {
		t.Errorf("first failure: %v", sum.firstErr)
	}
	fmt.Printf("worker: admitted=%d refused=%d failed=%d charged=%d replayed=%d\n",
		sum.admitted, sum.refused, sum.failed, sum.charged, sum.replayed)
}
