package inprocess

import (
	"path/filepath"
	"testing"

	"github.com/frappy-go/apibilling/bench/internal/apps"
	"github.com/frappy-go/apibilling/core"
)

// billed is one way of running apibilling: a store and the headers sent.
type billed struct {
	name    string
	headers apps.Headers
	billing func(b *testing.B) *core.Billing
}

func memoryBilling(*testing.B) *core.Billing { return apps.MemoryBilling() }

// boltBilling opens a durable bolt store in a temporary directory and
// closes it when the benchmark ends.
func boltBilling(b *testing.B) *core.Billing {
	bl, err := apps.BoltBilling(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := bl.Store().Close(); err != nil {
			b.Error(err)
		}
	})
	return bl
}

var billedVariants = []billed{
	{"billing-memory", apps.AllHeaders, memoryBilling},
	{"billing-memory-legacy", apps.LegacyHeaders, memoryBilling},
	{"billing-memory-noheaders", apps.NoHeaders, memoryBilling},
	{"billing-bolt", apps.AllHeaders, boltBilling},
}
