package nethttpbilling_test

import (
	"net/http"
	"testing"

	"github.com/frappy-go/apibilling/adapters/adaptertest"
	"github.com/frappy-go/apibilling/adapters/nethttp/internal/nethttptest"
)

// NetHTTP builds the suite's app with nethttpbilling on a ServeMux; it is
// served with ServeHTTP on an httptest.ResponseRecorder. The global
// middleware wraps the mux and asks it for the route (no Router needed);
// route-level handlers read r.Pattern.
func NetHTTP(t *testing.T, env adaptertest.Env) adaptertest.App {
	bill := nethttptest.Middleware(env, nil)
	mux := http.NewServeMux()
	for _, rt := range nethttptest.Routes(env, bill) {
		mux.Handle("GET "+rt.Path, rt.H)
	}
	var h http.Handler = mux
	if env.Wiring != adaptertest.RouteLevel {
		h = bill.Handler(mux)
	}
	return nethttptest.App(env, h)
}
