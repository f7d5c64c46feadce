package nethttpbilling_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/frappy-go/apibilling/adapters/adaptertest"
	nethttpbilling "github.com/frappy-go/apibilling/adapters/nethttp"
	"github.com/frappy-go/apibilling/core"
)

// clientKey is the context key of the client an authentication middleware
// finds (adaptertest.ContextClient).
type clientKey struct{}

// NetHTTP builds the suite's app with nethttpbilling on a ServeMux; it is
// served with ServeHTTP on an httptest.ResponseRecorder.
func NetHTTP(t *testing.T, env adaptertest.Env) adaptertest.App {
	opts := []nethttpbilling.Option{
		nethttpbilling.WithSkipper(func(r *http.Request) bool { return adaptertest.SkipPath(r.URL.Path) }),
		nethttpbilling.WithLogger(slog.New(reportHandler{env.Logger.Handler(), env.Report})),
		nethttpbilling.WithHeaderNames(env.LimitHeader, env.RemainingHeader, env.ResetHeader),
		nethttpbilling.WithStoreRetryAfter(env.StoreRetryAfter),
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
		id = nethttpbilling.ContextKey(clientKey{})
	default:
		id = nethttpbilling.MapKey(nethttpbilling.FirstOf(nethttpbilling.Header("X-API-Key"), nethttpbilling.Bearer()), env.Lookup)
	}
	bill := nethttpbilling.NewMiddleware(env.Billing, id, opts...)

	data := func(status int, route string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(adaptertest.DataBody(route)))
		}
	}
	mux := http.NewServeMux()
	route := func(pattern string, mw func(http.Handler) http.Handler, h http.HandlerFunc) {
		if env.Wiring == adaptertest.Global && mw != nil {
			mux.Handle(pattern, h)
			return
		}
		mux.Handle(pattern, mw(h))
	}
	costFunc := func(pattern string, f nethttpbilling.CostFunc, h http.HandlerFunc) {
		mux.Handle(pattern, bill.CostFunc(f)(h)) // route-level in every wiring
	}
	route("GET /health", bill.Handler, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok"))
	})
	route("GET /api/fetch-data", bill.Handler, data(200, "fetch-data"))
	route("GET /api/fetch-expensive-data", bill.Cost(core.Whole(5)), data(200, "fetch-expensive-data"))
	costFunc("GET /api/compute", func(r *http.Request) (core.Credits, error) {
		return adaptertest.UnitsCost(r.URL.Query().Get("units"), nethttpbilling.BadCost)
	}, data(200, "compute"))
	route("GET /api/quota", bill.Cost(core.Whole(0)), data(200, "quota"))
	costFunc("GET /api/broken", func(*http.Request) (core.Credits, error) { return adaptertest.BrokenCost() }, data(200, "broken"))
	route("GET /api/unstable", bill.Handler, data(503, "unstable"))
	route("GET /api/fail", bill.Handler, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "handler failed", http.StatusInternalServerError)
	})
	route("GET /api/panic", bill.Handler, func(http.ResponseWriter, *http.Request) { panic("handler panicked") })
	route("GET /api/outcome", bill.Handler, func(w http.ResponseWriter, r *http.Request) {
		o, ok := nethttpbilling.OutcomeFrom(r)
		if env.Keep != nil {
			env.Keep(o, ok)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(adaptertest.OutcomeBody(o, ok)))
	})

	var h http.Handler = mux
	if env.Wiring != adaptertest.RouteLevel {
		h = bill.Handler(mux)
	}
	if env.Identity == adaptertest.ContextClient {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if client, ok := env.Lookup(r.Header.Get("X-API-Key")); ok {
				r = r.WithContext(context.WithValue(r.Context(), clientKey{}, client))
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
