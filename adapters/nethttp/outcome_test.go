package nethttpbilling_test

import (
	"net/http"
	"testing"

	nethttpbilling "github.com/frappy-go/apibilling/adapters/nethttp"
)

// TestOutcomeFromAfterRequest checks that OutcomeFrom finds the outcome
// while the request is handled and reports false on the same request
// once the middleware is done (its state is reused then).
func TestOutcomeFromAfterRequest(t *testing.T) {
	b, lookup := newBilling()
	mux := http.NewServeMux()
	var kept *http.Request
	mux.HandleFunc("GET /x", func(w http.ResponseWriter, r *http.Request) {
		kept = r
		if o, ok := nethttpbilling.OutcomeFrom(r); !ok || o.Client() != "client1" {
			t.Errorf("OutcomeFrom in the handler = %v, %v", o.Client(), ok)
		}
	})
	h := nethttpbilling.New(b, nethttpbilling.MapKey(nethttpbilling.Header("X-API-Key"), lookup))(mux)
	if rec := get(h, "/x", "demo-key-1"); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	if o, ok := nethttpbilling.OutcomeFrom(kept); ok {
		t.Errorf("OutcomeFrom on the request kept after it = %v, true; want false", o.Client())
	}
}
