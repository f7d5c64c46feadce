package redis

import (
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
// workers (TestChildWorker), all charging one client in one Redis.
const (
	childEnv        = "APIBILLING_REDIS_CHILD" // "prefix clock-ns"
	childProcesses  = 4
	childGoroutines = 16
	childAttempts   = 40   // per goroutine: 4*16*40 = 2560 attempts of 1 credit
	childLimit      = 1000 // credits
	childClient     = "shared{client}:\x00"
	keyClient       = "keyed{client}"
	sharedKey       = "the-same-key"
)

var childResult = regexp.MustCompile(`(?m)^worker: admitted=(\d+) refused=(\d+) failed=(\d+) charged=(\d+) replayed=(\d+)$`)

// childBilling returns the billing every process uses: the same quotas and
// a clock fixed at clock, so that all compute the same windows.
func childBilling(s *Store, clock time.Time) (*core.Billing, error) {
	b := core.New(s, core.WithClock(func() time.Time { return clock }))
	if err := b.SetQuotas(keyClient, core.Quota{Period: core.Day, Limit: core.Whole(1000)}); err != nil {
		return nil, err
	}
	return b, b.SetQuotas(childClient,
		core.Quota{Period: core.Minute, Limit: core.Whole(childLimit)},
		core.Quota{Period: core.Month, Limit: core.Unlimited},
	)
}

// TestAcrossProcesses runs 4 processes of 16 goroutines each, all charging
// one client with a minute limit L through one Redis, with far more
// attempts than L admits. Invariants: the credits admitted across all
// processes are exactly L (never more: no over-admission; never less: no
// refusal while room was left); no call fails; the usage in Redis, for the
// minute and the unlimited month alike, and the day's report are exactly L.
// Every goroutine of every process also sends, at once, one charge of 7
// credits with the same idempotency key for a second client: exactly one
// is charged, all the others replay it, and that client has used 7.
func TestAcrossProcesses(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("worker process")
	}
	c := newClient(t)
	s := newStore(t, c, &Options{Timeout: 10 * time.Second})
	clock := time.Unix(0, future()).Add(90 * time.Second)

	type result struct {
		out []byte
		err error
	}
	results := make(chan result, childProcesses)
	var wg sync.WaitGroup
	for range childProcesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestChildWorker$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", childEnv, s.Prefix(), clock.UnixNano()))
			out, err := cmd.CombinedOutput()
			results <- result{out, err}
		}()
	}
	wg.Wait()
	close(results)

	var admitted, charged, replayed int64
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
		a, _ := strconv.ParseInt(string(m[1]), 10, 64)
		if failed := string(m[3]); failed != "0" {
			t.Errorf("worker: %s calls failed; output:\n%s", failed, r.out)
		}
		t.Logf("worker: admitted %s, refused %s; the keyed charge charged %s, replayed %s", m[1], m[2], m[4], m[5])
		admitted += a
		c, _ := strconv.ParseInt(string(m[4]), 10, 64)
		rp, _ := strconv.ParseInt(string(m[5]), 10, 64)
		charged += c
		replayed += rp
	}
	if t.Failed() {
		return
	}
	if got, want := admitted, int64(childLimit); got != want {
		t.Errorf("credits admitted across %d processes = %v, want exactly the limit %v", childProcesses, got, want)
	}
	if charged != 1 || replayed != childProcesses*childGoroutines-1 {
		t.Errorf("the keyed charge sent %d times: charged %d, replayed %d; want charged once, replayed %d times",
			childProcesses*childGoroutines, charged, replayed, childProcesses*childGoroutines-1)
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
		if q := st.Quota(i); q.Used != core.Whole(childLimit) {
			t.Errorf("%s usage in Redis = %v, want %v", q.Period, q.Used, childLimit)
		}
	}
	total, err := b.TotalUsage(t.Context(), childClient, clock.Add(-time.Hour), clock.Add(time.Hour))
	if err != nil || total != core.Whole(childLimit) {
		t.Errorf("TotalUsage = %v, %v; want %v", total, err, childLimit)
	}
	if st, err := b.Status(t.Context(), keyClient); err != nil || st.Quota(0).Used != core.Whole(7) {
		t.Errorf("usage of the client charged with one key from every process = %v, %v; want 7", st.Quota(0).Used, err)
	}
}

// TestChildWorker is one process of TestAcrossProcesses: from 16
// goroutines it sends the keyed charge once each and then charges 1 credit
// at a time, and prints what it admitted.
func TestChildWorker(t *testing.T) {
	arg := os.Getenv(childEnv)
	if arg == "" {
		t.Skip("runs only as a worker of TestAcrossProcesses")
	}
	prefix, clockText, _ := strings.Cut(arg, " ")
	ns, err := strconv.ParseInt(clockText, 10, 64)
	if err != nil {
		t.Fatalf("bad %s %q", childEnv, arg)
	}
	s, err := New(newClient(t), &Options{Prefix: prefix, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b, err := childBilling(s, time.Unix(0, ns))
	if err != nil {
		t.Fatal(err)
	}
	type tally struct {
		admitted, refused, failed int
		charged, replayed         int
		firstErr                  error
	}
	tallies := make(chan tally, childGoroutines)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range childGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n tally
			<-start
			out, err := b.Charge(t.Context(), core.Charge{Client: keyClient, Cost: core.Whole(7), Label: "/k", IdempotencyKey: sharedKey})
			switch {
			case err != nil:
				n.failed++
				n.firstErr = err
			case out.Replayed():
				n.replayed++
			default:
				n.charged++
			}
			for range childAttempts {
				_, err := b.Track(t.Context(), childClient, core.Whole(1))
				switch {
				case err == nil:
					n.admitted++
				case errors.Is(err, core.ErrQuotaExceeded):
					n.refused++
				default:
					n.failed++
					if n.firstErr == nil {
						n.firstErr = err
					}
				}
			}
			tallies <- n
		}()
	}
	close(start)
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
	fmt.Printf("worker: admitted=%d refused=%d failed=%d charged=%d replayed=%d\n", sum.admitted, sum.refused, sum.failed, sum.charged, sum.replayed)
}
