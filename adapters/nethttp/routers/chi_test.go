package routers_test

import (
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/frappy-go/apibilling/adapters/adaptertest"
	nethttpbilling "github.com/frappy-go/apibilling/adapters/nethttp"
	"github.com/frappy-go/apibilling/adapters/nethttp/internal/nethttptest"
)

// chiRoute finds a request's route on router as chi routes it: the raw
// (escaped) path when the URL has one, so that /api%2Ffetch-data, chi's
// 404, is not charged.
func chiRoute(router chi.Router) nethttpbilling.Router {
	return func(r *http.Request) (string, bool) {
		path := r.URL.RawPath
		if path == "" {
			path = r.URL.Path
		}
		rctx := chi.NewRouteContext()
		if !router.Match(rctx, r.Method, path) {
			return "", false
		}
		return rctx.RoutePattern(), true
	}
}

// Chi builds the suite's app on a chi router; the global middleware is
// chi's Use, with WithRouter. Route-level handlers alone need no Router:
// chi sets r.Pattern before calling them.
func Chi(t *testing.T, env adaptertest.Env) adaptertest.App {
	router := chi.NewRouter()
	var route nethttpbilling.Router
	if env.Wiring != adaptertest.RouteLevel {
		route = chiRoute(router)
	}
	bill := nethttptest.Middleware(env, route)
	if env.Wiring != adaptertest.RouteLevel {
		router.Use(bill.Handler) // before the routes, as chi requires
	}
	for _, rt := range nethttptest.Routes(env, bill) {
		router.Method(http.MethodGet, rt.Path, rt.H)
	}
	return nethttptest.App(env, router)
}

func TestChi(t *testing.T) { adaptertest.Run(t, Chi) }

// TestChiItems checks a pattern with a variable, and an escaped slash: chi
// routes the escaped path, so /items%2F7 is its 404.
func TestChiItems(t *testing.T) {
	router := chi.NewRouter()
	router.Get("/items/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("item")) })
	checkItems(t, router, chiRoute(router), "/items%2F7", "/items/7/", "/items")
}
