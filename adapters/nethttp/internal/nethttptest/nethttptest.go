// Package nethttptest builds the adapter conformance suite's app
// (adapters/adaptertest) on the net/http adapter, for any router: the
// middleware of an Env, the suite's routes billed as its wiring says, and
// the app around the router. The ServeMux harness (adapters/nethttp) and
// the chi and gorilla/mux harnesses (adapters/nethttp/routers) each only
// register the routes on their router and, for the global wiring, find a
// request's route.
package nethttptest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/frappy-go/apibilling/adapters/adaptertest"
	nethttpbilling "github.com/frappy-go/apibilling/adapters/nethttp"
	"github.com/frappy-go/apibilling/core"
)

// ClientKey is the context key of the client an authentication middleware
// finds (adaptertest.ContextClient).
type ClientKey struct{}

// Middleware returns the billing middleware of env. It finds routes with
// router, if not nil, before routing in the global middleware and after it
// in the route-level handlers; without one, route-level handlers read the
// route from r.Pattern.
func Middleware(env adaptertest.Env, router nethttpbilling.Router) *nethttpbilling.Middleware {
	opts := []nethttpbilling.Option{
		nethttpbilling.WithSkipper(func(r *http.Request) bool { return adaptertest.SkipPath(r.URL.Path) }),
		nethttpbilling.WithLogger(slog.New(reportHandler{env.Logger.Handler(), env.Report})),
		nethttpbilling.WithHeaderNames(env.LimitHeader, env.RemainingHeader, env.ResetHeader),
		nethttpbilling.WithStoreRetryAfter(env.StoreRetryAfter),
	}
	if router != nil {
		opts = append(opts, nethttpbilling.WithRouter(router))
	}
	if env.KeyHeader != "" {
		opts = append(opts, nethttpbilling.WithKeyHeader(env.KeyHeader))
	}
	if env.FailOpen {
		opts = append(opts, nethttpbilling.WithFailOpen())
	}
	if env.NoLegacyHeaders {
		opts = append(opts, nethttpbilling.WithoutLegacyHeaders())
	}
	if env.NoDraftHeaders {
		opts = append(opts, nethttpbilling.WithoutDraftHeaders())
	}
	if env.Label != "" {
		opts = append(opts, nethttpbilling.WithLabel(func(*http.Request) string { return env.Label }))
	}
	if env.Refund != nil {
		opts = append(opts, nethttpbilling.WithRefund(env.Refund))
	}
	if env.Observer != nil {
		opts = append(opts, nethttpbilling.WithObserver(env.Observer))
	}
	if env.Wiring == adaptertest.Global {
		opts = append(opts, nethttpbilling.WithRoutes(adaptertest.Routes))
	}
	if env.CustomHandlers {
		custom := func(kind string) nethttpbilling.ErrorHandler {
			return func(w http.ResponseWriter, r *http.Request, err error) {
				status := nethttpbilling.StatusOf(err)
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(status)
				w.Write([]byte(adaptertest.CustomBody(kind, status)))
			}
		}
		opts = append(opts, nethttpbilling.WithDeniedHandler(custom("denied")),
			nethttpbilling.WithErrorHandler(custom("error")), nethttpbilling.WithIdentityHandler(custom("identity")))
	}
	var id nethttpbilling.Identity
	switch env.Identity {
	case adaptertest.QueryKey:
		id = nethttpbilling.MapKey(nethttpbilling.Query("api_key"), env.Lookup)
	case adaptertest.ContextClient:
		id = nethttpbilling.ContextKey(ClientKey{})
	default:
		id = nethttpbilling.MapKey(nethttpbilling.FirstOf(nethttpbilling.Header("X-API-Key"), nethttpbilling.Bearer()), env.Lookup)
	}
	return nethttpbilling.NewMiddleware(env.Billing, id, opts...)
}

// Route is a GET route of the suite's app: its path, the same pattern in
// chi and gorilla/mux, and its handler, billed as the wiring says.
type Route struct {
	Path string
	H    http.Handler
}

// Routes returns the suite's routes billed by bill as env.Wiring says:
// route-level handlers, except in the global wiring where only the
// CostFunc routes have one (the global middleware bills the others).
func Routes(env adaptertest.Env, bill *nethttpbilling.Middleware) []Route {
	var rs []Route
	add := func(path string, mw func(http.Handler) http.Handler, h http.HandlerFunc) {
		rs = append(rs, Route{path, mw(h)})
	}
	billed := func(mw func(http.Handler) http.Handler) func(http.Handler) http.Handler {
		if env.Wiring == adaptertest.Global {
			return func(h http.Handler) http.Handler { return h }
		}
		return mw
	}
	data := func(status int, name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(adaptertest.DataBody(name)))
		}
	}
	add("/health", billed(bill.Handler), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok"))
	})
	add("/api/fetch-data", billed(bill.Handler), data(200, "fetch-data"))
	add("/api/fetch-expensive-data", billed(bill.Cost(core.Whole(5))), data(200, "fetch-expensive-data"))
	add("/api/compute", bill.CostFunc(func(r *http.Request) (core.Credits, error) { // route-level in every wiring
		return adaptertest.UnitsCost(r.URL.Query().Get("units"), nethttpbilling.BadCost)
	}), data(200, "compute"))
	add("/api/quota", billed(bill.Cost(core.Whole(0))), data(200, "quota"))
	add("/api/broken", bill.CostFunc(func(*http.Request) (core.Credits, error) { return adaptertest.BrokenCost() }), data(200, "broken"))
	add("/api/unstable", billed(bill.Handler), data(503, "unstable"))
	add("/api/fail", billed(bill.Handler), func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "handler failed", http.StatusInternalServerError)
	})
	add("/api/panic", billed(bill.Handler), func(http.ResponseWriter, *http.Request) { panic("handler panicked") })
	add("/api/outcome", billed(bill.Handler), func(w http.ResponseWriter, r *http.Request) {
		o, ok := nethttpbilling.OutcomeFrom(r)
		if env.Keep != nil {
			env.Keep(o, ok)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(adaptertest.OutcomeBody(o, ok)))
	})
	return rs
}

// App serves h, the router with its routes and global middleware, behind
// the authentication middleware of adaptertest.ContextClient and a
// recovery middleware, on an httptest.ResponseRecorder.
func App(env adaptertest.Env, h http.Handler) adaptertest.App {
	if env.Identity == adaptertest.ContextClient {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if client, ok := env.Lookup(r.Header.Get("X-API-Key")); ok {
				r = r.WithContext(context.WithValue(r.Context(), ClientKey{}, client))
			}
			next.ServeHTTP(w, r)
		})
	}
	h = recoverer(h)
	return func(req *http.Request) adaptertest.Response {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return adaptertest.Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
	}
}

// recoverer answers a panic with 500, as a recovery middleware does.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// reportHandler passes the failures the middleware logs as answered
// (net/http's error path) to report, and the other records to h.
type reportHandler struct {
	slog.Handler
	report func(error)
}

func (h reportHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "apibilling: request not billed" {
		var err error = errors.New("no error attribute")
		r.Attrs(func(a slog.Attr) bool {
			if e, ok := a.Value.Any().(error); ok && a.Key == "error" {
				err = e
			}
			return true
		})
		if h.report != nil {
			h.report(err)
		}
		return nil
	}
	return h.Handler.Handle(ctx, r)
}
