package mongo

import (
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/stores/internal/crossproc"
)

// childEnv tells a worker process of TestAcrossProcesses where the store
// is: its database and layout, as "database/layout".
const childEnv = "APIBILLING_MONGO_CHILD"

// TestAcrossProcesses runs 4 processes of 16 goroutines each, all charging
// one client with a minute limit L through one database, and then one
// idempotency key from all of them: exactly L is admitted and the key is
// charged once (see crossproc.Parent for the invariants). It does so in
// each layout the server supports across processes (Versions; Updates too
// on MongoDB, not on FerretDB), with the workers starting to charge at one
// instant, once all are up.
func TestAcrossProcesses(t *testing.T) {
	if _, worker, _ := crossproc.ParseArg(childEnv); worker {
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
			crossproc.Parent(t, "TestChildWorker", childEnv, crossproc.Arg{
				Where: s.Database().Name() + "/" + layout.String(),
				Clock: clock,
				Start: time.Now().Add(3 * time.Second),
			}, s)
		})
	}
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
	db, l, ok := strings.Cut(arg.Where, "/")
	var layout Layout
	switch {
	case ok && l == Versions.String():
		layout = Versions
	case ok && l == Updates.String():
		layout = Updates
	default:
		t.Fatalf("bad %s: %q is not database/layout", childEnv, arg.Where)
	}
	s, err := New(t.Context(), newClient(t), &Options{Database: db, Layout: layout, Timeout: testTimeout, PruneEvery: -1})
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
