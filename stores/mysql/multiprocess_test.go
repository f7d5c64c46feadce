package mysql

import (
	"context"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/stores/internal/crossproc"
)

// childEnv tells a worker process of TestAcrossProcesses where the store
// is.
const childEnv = "APIBILLING_MYSQL_CHILD"

// TestAcrossProcesses runs 4 processes of 16 goroutines each, all charging
// one client with a minute limit L through one database, and then one
// idempotency key from all of them: exactly L is admitted and the key is
// charged once (see crossproc.Parent for the invariants).
func TestAcrossProcesses(t *testing.T) {
	if _, worker, _ := crossproc.ParseArg(childEnv); worker {
		t.Skip("worker process")
	}
	s := newStore(t, sharedDB(t), &Options{Timeout: time.Minute})
	clock := time.Now().UTC().Truncate(time.Minute).Add(48*time.Hour + 30*time.Second)
	crossproc.Parent(t, "TestChildWorker", childEnv, crossproc.Arg{Where: s.Prefix(), Clock: clock}, s)
}

// TestChildWorker is one process of TestAcrossProcesses, on connections of its
// own.
func TestChildWorker(t *testing.T) {
	arg, worker, err := crossproc.ParseArg(childEnv)
	if !worker {
		t.Skip("runs only as a worker of TestAcrossProcesses")
	}
	if err != nil {
		t.Fatal(err)
	}
	db, err := connect(testDSN(), 8)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(context.Background(), db, &Options{Prefix: arg.Where, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := crossproc.Billing(s, arg.Clock)
	if err != nil {
		t.Fatal(err)
	}
	crossproc.Worker(t, b, arg.Start)
}
