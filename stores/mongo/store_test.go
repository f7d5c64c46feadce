package mongo

import (
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
	"github.com/frappy-go/apibilling/stores/storetest"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestConformance runs the conformance suite in each layout. The Updates
// layout (MongoDB's) runs on FerretDB through a client of one connection:
// FerretDB runs the commands of a connection one at a time, which makes its
// updates atomic for the one process the suite is; that tests the layout's
// logic, conditional updates and fast path, here. (Across connections
// FerretDB's updates are not atomic: see the package documentation.)
func TestConformance(t *testing.T) {
	for _, l := range []Layout{Updates, Versions} {
		t.Run(l.String(), func(t *testing.T) {
			var opts []*options.ClientOptions
			if l == Updates && onFerretDB(t) {
				opts = append(opts, options.Client().SetMaxPoolSize(1))
			}
			c := newClient(t, opts...)
			open := func(t *testing.T, o Options) core.Store {
				o.Layout = l
				return newStore(t, c, &o)
			}
			storetest.RunWithOptions(t, func(t *testing.T) core.Store { return open(t, Options{}) }, storetest.Options{
				Retention: func(t *testing.T, d time.Duration) core.Store { return open(t, Options{Retention: d}) },
			})
		})
	}
}

// TestMigration copies a varied state from the memory store into the
// store and back, in both layouts.
func TestMigration(t *testing.T) {
	c := newClient(t)
	for _, l := range []Layout{Updates, Versions} {
		t.Run(l.String(), func(t *testing.T) {
			mem := memory.New()
			storetest.Fill(t, mem)
			s := newStore(t, c, &Options{Layout: l})
			storetest.RoundTrip(t, mem, s)
			storetest.RoundTrip(t, s, memory.New())
		})
	}
}
