package adaptertest

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// BenchClients is the number of clients the adapters' parallel benchmarks
// spread their requests over.
const BenchClients = 1024

// BenchKey returns the API key of the i-th benchmark client.
func BenchKey(i int) string { return "key" + strconv.Itoa(i%BenchClients) }

// BenchBilling returns a billing on the memory store whose clients
// "client0".. have a day and a month quota too large to run out, and the
// lookup of their keys [BenchKey](0)...
func BenchBilling(tb testing.TB) (*core.Billing, func(string) (string, bool)) {
	bill := core.New(memory.New())
	keys := map[string]string{}
	for i := range BenchClients {
		id := "client" + strconv.Itoa(i)
		keys[BenchKey(i)] = id
		if err := bill.SetQuotas(id,
			core.Quota{Period: core.Day, Limit: core.MaxCredits},
			core.Quota{Period: core.Month, Limit: core.MaxCredits}); err != nil {
			tb.Fatal(err)
		}
	}
	return bill, func(k string) (string, bool) { id, ok := keys[k]; return id, ok }
}

// Discard is a ResponseWriter for benchmarks that, like net/http's server,
// starts each request with a new header map (set H before each request).
type Discard struct {
	H    http.Header
	Code int
}

// Header returns the header map.
func (w *Discard) Header() http.Header { return w.H }

// Write discards p.
func (w *Discard) Write(p []byte) (int, error) { return len(p), nil }

// WriteHeader records the status.
func (w *Discard) WriteHeader(code int) { w.Code = code }
