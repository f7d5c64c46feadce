package echobilling_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/frappy-go/apibilling/adapters/adaptertest"
	echobilling "github.com/frappy-go/apibilling/adapters/echo"
	"github.com/frappy-go/apibilling/core"
)

// Echo builds the suite's app with echobilling; it is served with
// ServeHTTP on an httptest.ResponseRecorder. Errors the middleware returns
// (an *echo.HTTPError whose Internal is the billing error) are reported
// from echo's HTTPErrorHandler.
func Echo(t *testing.T, env adaptertest.Env) adaptertest.App {
	cfg := echobilling.Config{
		Skipper:              func(c echo.Context) bool { return adaptertest.SkipPath(c.Request().URL.Path) },
		Billing:              env.Billing,
		FailOpen:             env.FailOpen,
		Logger:               env.Logger,
		DisableLegacyHeaders: env.NoLegacyHeaders,
		DisableDraftHeaders:  env.NoDraftHeaders,
		LimitHeader:          env.LimitHeader,
		RemainingHeader:      env.RemainingHeader,
		ResetHeader:          env.ResetHeader,
		StoreRetryAfter:      env.StoreRetryAfter,
		KeyHeader:            env.KeyHeader,
		Refund:               env.Refund,
		Observer:             env.Observer,
	}
	switch env.Identity {
	case adaptertest.QueryKey:
		cfg.Identity = echobilling.MapKey(echobilling.Query("api_key"), env.Lookup)
	case adaptertest.ContextClient:
		cfg.Identity = echobilling.ContextKey(adaptertest.ClientKey)
	default:
		cfg.Identity = echobilling.MapKey(echobilling.FirstOf(echobilling.Header("X-API-Key"), echobilling.Bearer()), env.Lookup)
	}
	if env.Label != "" {
		cfg.Label = func(echo.Context) string { return env.Label }
	}
	if env.Wiring == adaptertest.Global {
		cfg.Routes = adaptertest.Routes
	}
	if env.CustomHandlers {
		custom := func(kind string) echobilling.ErrorHandler {
			return func(c echo.Context, err error) error {
				status := echobilling.StatusOf(err)
				return c.Blob(status, "text/plain", []byte(adaptertest.CustomBody(kind, status)))
			}
		}
		cfg.DenyHandler, cfg.ErrorHandler, cfg.IdentityHandler = custom("denied"), custom("error"), custom("identity")
	}
	bill := echobilling.NewMiddleware(cfg)
	data := func(status int, route string) echo.HandlerFunc {
		return func(c echo.Context) error {
			return c.Blob(status, "application/json", []byte(adaptertest.DataBody(route)))
		}
	}
	e := echo.New()
	handleError := e.HTTPErrorHandler
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		var he *echo.HTTPError
		if errors.As(err, &he) && he.Internal != nil && env.Report != nil {
			env.Report(he.Internal)
		}
		handleError(err, c)
	}
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = echo.NewHTTPError(http.StatusInternalServerError)
				}
			}()
			return next(c)
		}
	})
	if env.Identity == adaptertest.ContextClient {
		e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				if client, ok := env.Lookup(c.Request().Header.Get("X-API-Key")); ok {
					c.Set(adaptertest.ClientKey, client)
				}
				return next(c)
			}
		})
	}
	if env.Wiring != adaptertest.RouteLevel {
		e.Use(bill.Handler())
	}
	route := func(path string, h echo.HandlerFunc, mw echo.MiddlewareFunc) {
		if env.Wiring == adaptertest.Global {
			e.GET(path, h)
			return
		}
		e.GET(path, h, mw)
	}
	e.GET("/api/compute", data(200, "compute"), bill.CostFunc(func(c echo.Context) (core.Credits, error) {
		return adaptertest.UnitsCost(c.QueryParam("units"), echobilling.BadCost)
	}))
	e.GET("/api/broken", data(200, "broken"), bill.CostFunc(func(echo.Context) (core.Credits, error) { return adaptertest.BrokenCost() }))
	route("/health", func(c echo.Context) error { return c.Blob(200, "text/plain", []byte("ok")) }, bill.Handler())
	route("/api/fetch-data", data(200, "fetch-data"), bill.Handler())
	route("/api/fetch-expensive-data", data(200, "fetch-expensive-data"), bill.Cost(core.Whole(5)))
	route("/api/quota", data(200, "quota"), bill.Cost(core.Whole(0)))
	route("/api/unstable", data(503, "unstable"), bill.Handler())
	route("/api/fail", func(c echo.Context) error {
		return echo.NewHTTPError(http.StatusInternalServerError, "handler failed")
	}, bill.Handler())
	route("/api/panic", func(echo.Context) error { panic("handler panicked") }, bill.Handler())
	route("/api/outcome", func(c echo.Context) error {
		o, ok := echobilling.OutcomeFrom(c)
		if env.Keep != nil {
			env.Keep(o, ok)
		}
		return c.Blob(200, "application/json", []byte(adaptertest.OutcomeBody(o, ok)))
	}, bill.Handler())
	return func(req *http.Request) adaptertest.Response {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return adaptertest.Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
	}
}
