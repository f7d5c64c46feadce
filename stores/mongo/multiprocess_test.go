package mongo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// The test across processes starts this test binary several times as
// workers (TestChildWorker), all charging one client in one database.
const (
	childEnv        = "APIBILLING_MONGO_CHILD" // "database layout clock-ns start-ns"
	childProcesses  = 4
	childGoroutines = 16
	childAttempts   = 40 // per goroutine: 4*16*40 = 2560 attempts of 1 credit
	childClient     = "shared|client:\x00"
	childKeyClient  = "keyed"
	childKey        = "one-charge"
)

var (
	childLimit  = core.Whole(1000)
	childResult = regexp.MustCompile(`(?m)^worker: admitted=(\d+) refused=(\d+) failed=(\d+) keyed=(\d+) replayed=(\d+)$`)
)

// childBilling returns the billing every process uses: the same quotas and
// a clock fixed at clock, so that all compute the same windows.
func childBilling(s *Store, clock time.Time) (*core.Billing, error) {
	b := core.New(s, core.WithClock(func() time.Time { return clock }))
	if err := b.SetQuotas(childKeyClient, core.Quota{Period: core.Day, Limit: core.Whole(100)}); err != nil {
		return nil, err
	}
	return b, b.SetQuotas(childClient,
		core.Quota{Period: core.Minute, Limit: childLimit},
		core.Quota{Period: core.Month, Limit: core.Unlimited},
	)
}

// TestAcrossProcesses runs 4 processes of 16 goroutines each, all charging
// one client with a minute limit L through one database, with far more
// attempts than L admits, and then all charging another client once with
// the same idempotency key. Invariants, in each layout the server supports
// across processes (Versions; Updates too on MongoDB, not on FerretDB):
//
//   - The credits admitted across all processes are exactly L: never more
//     (no over-admission), never less (no refusal while room was left).
//   - No call fails.
//   - The usage stored, for the minute and the unlimited month alike, and
//     the day's report are exactly L.
//   - Of the 64 charges with the same key, exactly one is charged and the
//     63 others replay it; the keyed client's usage is one charge.
func TestAcrossProcesses(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("worker process")
	}
	c := newClient(t)
	layouts := []Layout{Versions}
	if detected, err := detect(t.Context(), c); err != nil {
		t.Fatal(err)
	} else if detected == Updates {
		layouts = append(layouts, Updates)
	}
	for _, layout := range layouts {
		t.Run(layout.String(), func(t *testing.T) {
			s := newStore(t, c, &Options{Layout: layout})
			clock := time.Now().Truncate(time.Minute).Add(48*time.Hour + 30*time.Second).UTC()
			type result struct {
				out []byte
				err error
			}
			results := make(chan result, childProcesses)
			// The workers start charging at one instant, once all are up.
			startAt := time.Now().Add(3 * time.Second)
			var wg sync.WaitGroup
			for range childProcesses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestChildWorker$", "-test.count=1", "-test.v")
					cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d %d", childEnv, s.Database().Name(), layout, clock.UnixNano(), startAt.UnixNano()))
					out, err := cmd.CombinedOutput()
					results <- result{out, err}
				}()
			}
			wg.Wait()
			close(results)

			var admitted, keyed, replayed int64
			for r := range results {
				if r.err != nil {
					t.Errorf("worker: %v; output:\n%s", r.err, r.out)
					continue
				}
				m := childResult.FindSubmatch(r.out)
				if m == nil {
					t.Errorf("worker printed no result; output:\n%s", r.out)
					continue
				}
				if failed := string(m[3]); failed != "0" {
					t.Errorf("worker: %s calls failed; output:\n%s", failed, r.out)
				}
				t.Logf("worker: admitted %s, refused %s; keyed %s, replayed %s", m[1], m[2], m[4], m[5])
				a, _ := strconv.ParseInt(string(m[1]), 10, 64)
				k, _ := strconv.ParseInt(string(m[4]), 10, 64)
				rp, _ := strconv.ParseInt(string(m[5]), 10, 64)
				admitted, keyed, replayed = admitted+a, keyed+k, replayed+rp
			}
			if t.Failed() {
				return
			}
			if got, want := core.Whole(admitted), childLimit; got != want {
				t.Errorf("credits admitted across %d processes = %v, want exactly the limit %v", childProcesses, got, want)
			}
			if keyed != 1 || replayed != childProcesses*childGoroutines-1 {
				t.Errorf("the same key from %d goroutines: %d charged and %d replayed, want 1 and %d",
					childProcesses*childGoroutines, keyed, replayed, childProcesses*childGoroutines-1)
			}
			b, err := childBilling(s, clock)
			if err != nil {
				t.Fatal(err)
			}
			st, err := b.Status(t.Context(), childClient)
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			for i := range st.Len() {
				if q := st.Quota(i); q.Used != childLimit {
					t.Errorf("%s usage stored = %v, want %v", q.Period, q.Used, childLimit)
				}
			}
			total, err := b.TotalUsage(t.Context(), childClient, clock.Add(-time.Hour), clock.Add(time.Hour))
			if err != nil || total != childLimit {
				t.Errorf("TotalUsage = %v, %v; want %v", total, err, childLimit)
			}
			if st, err := b.Status(t.Context(), childKeyClient); err != nil || st.Quota(0).Used != core.Whole(3) {
				t.Errorf("the keyed client's usage = %v, %v; want one charge of 3", st.Quota(0).Used, err)
			}
		})
	}
}

// TestChildWorker is one process of TestAcrossProcesses: it charges
// 1 credit from 16 goroutines, then 3 credits with one key from each, and
// prints what it admitted.
func TestChildWorker(t *testing.T) {
	arg := os.Getenv(childEnv)
	if arg == "" {
		t.Skip("runs only as a worker of TestAcrossProcesses")
	}
	f := strings.Fields(arg)
	if len(f) != 4 {
		t.Fatalf("bad %s %q", childEnv, arg)
	}
	ns, err1 := strconv.ParseInt(f[2], 10, 64)
	startAt, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad %s %q", childEnv, arg)
	}
	layout := Versions
	if f[1] == Updates.String() {
		layout = Updates
	}
	s, err := New(t.Context(), newClient(t), &Options{Database: f[0], Layout: layout, Timeout: testTimeout, PruneEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := childBilling(s, time.Unix(0, ns))
	if err != nil {
		t.Fatal(err)
	}
	type tally struct {
		admitted, refused, failed, keyed, replayed int
		firstErr                                   error
	}
	tallies := make(chan tally, childGoroutines)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range childGoroutines {
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
			<-start
			for range childAttempts {
				_, err := b.Track(context.Background(), childClient, core.Whole(1))
				switch {
				case err == nil:
					n.admitted++
				case errors.Is(err, core.ErrQuotaExceeded):
					n.refused++
				default:
					fail(err)
				}
			}
			out, err := b.Charge(context.Background(), core.Charge{Client: childKeyClient, Cost: core.Whole(3), IdempotencyKey: childKey})
			switch {
			case err != nil:
				fail(err)
			case out.Replayed():
				n.replayed++
			default:
				n.keyed++
			}
			tallies <- n
		}()
	}
	time.Sleep(time.Until(time.Unix(0, startAt)))
	close(start)
	wg.Wait()
	close(tallies)
	var sum tally
	for n := range tallies {
		sum.admitted += n.admitted
		sum.refused += n.refused
		sum.failed += n.failed
		sum.keyed += n.keyed
		sum.replayed += n.replayed
		if sum.firstErr == nil {
			sum.firstErr = n.firstErr
		}
	}
	if sum.firstErr != nil {
		t.Errorf("first failure: %v", sum.firstErr)
	}
	fmt.Printf("worker: admitted=%d refused=%d failed=%d keyed=%d replayed=%d\n", sum.admitted, sum.refused, sum.failed, sum.keyed, sum.replayed)
}
