package redis

import (
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/internal/crossproc"
)

// childEnv tells a worker process of TestAcrossProcesses where the store
// is: its prefix.
const childEnv = "APIBILLING_REDIS_CHILD"

// acrossProcesses is the run of TestAcrossProcesses and its workers: client
// IDs with the bytes the key layout escapes in a hash tag ('{', '}') or
// keeps (':', NUL), and a keyed charge of 7 credits under a label, against
// a day limit, that every goroutine sends at once before its attempts.
var acrossProcesses = crossproc.Run{
	Client:   "shared{client}:\x00",
	Key:      core.Charge{Client: "keyed{client}", Cost: core.Whole(7), Label: "/k", IdempotencyKey: "the-same-key"},
	KeyQuota: core.Quota{Period: core.Day, Limit: core.Whole(1000)},
	KeyFirst: true,
}

// TestAcrossProcesses runs 4 processes of 16 goroutines each, all charging
// one client with a minute limit L through one Redis, with far more
// attempts than L admits, and all starting at one instant, once all are
// up. Every goroutine of every process first sends one charge of 7
// credits with the same idempotency key for a second client. Exactly L is
// admitted and the keyed charge is charged once and replayed by all the
// others (see crossproc.Run.Parent for the invariants).
func TestAcrossProcesses(t *testing.T) {
	if _, worker, _ := crossproc.ParseArg(childEnv); worker {
		t.Skip("worker process")
	}
	s := newStore(t, newClient(t), &Options{Timeout: 10 * time.Second})
	clock := time.Unix(0, future()).Add(90 * time.Second)
	acrossProcesses.Parent(t, "TestChildWorker", childEnv, crossproc.Arg{
		Where: s.Prefix(),
		Clock: clock,
		Start: time.Now().Add(3 * time.Second),
	}, s)
}

// TestChildWorker is one process of TestAcrossProcesses, on a client of
// its own.
func TestChildWorker(t *testing.T) {
	arg, worker, err := crossproc.ParseArg(childEnv)
	if !worker {
		t.Skip("runs only as a worker of TestAcrossProcesses")
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(newClient(t), &Options{Prefix: arg.Where, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b, err := acrossProcesses.Billing(s, arg.Clock)
	if err != nil {
		t.Fatal(err)
	}
	acrossProcesses.Worker(t, b, arg.Start)
}
