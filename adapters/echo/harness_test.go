package echobilling_test

import (
	"github.com/frappy-go/apibilling/adapters/adaptertest"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	echobilling "github.com/frappy-go/apibilling/adapters/echo"
	"github.com/frappy-go/apibilling/core"
)

// Echo builds the suite's app with echobilling; it is served with
// ServeHTTP on an httptest.ResponseRecorder.
func Echo(t *testing.T, env adaptertest.Env) adaptertest.App {
	cfg := echobilling.Config{
		Skipper:              func(c echo.Context) bool { return adaptertest.SkipPath(c.Request().URL.Path) },
		Billing:              env.Billing,
		Identity:             echobilling.MapKey(echobilling.FirstOf(echobilling.Header("X-API-Key"), echobilling.Bearer()), env.Lookup),
		FailOpen:             env.FailOpen,
		Logger:               env.Logger,
		DisableLegacyHeaders: env.NoLegacyHeaders,
		DisableDraftHeaders:  env.NoDraftHeaders,
		LimitHeader:          env.LimitHeader,
		RemainingHeader:      env.RemainingHeader,
		ResetHeader:          env.ResetHeader,
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
	e.GET("/health", func(c echo.Context) error { return c.Blob(200, "text/plain", []byte("ok")) }, bill.Handler())
	e.GET("/api/fetch-data", data(200, "fetch-data"), bill.Handler())
	e.GET("/api/fetch-expensive-data", data(200, "fetch-expensive-data"), bill.Cost(5*core.Credit))
	e.GET("/api/compute", data(200, "compute"), bill.CostFunc(func(c echo.Context) (core.Credits, error) {
		return adaptertest.UnitsCost(c.QueryParam("units"), echobilling.BadCost)
	}))
	e.GET("/api/quota", data(200, "quota"), bill.Cost(0))
	e.GET("/api/broken", data(200, "broken"), bill.CostFunc(func(echo.Context) (core.Credits, error) { return adaptertest.BrokenCost() }))
	e.GET("/api/unstable", data(503, "unstable"), bill.Handler())
	e.GET("/api/fail", func(c echo.Context) error {
		return echo.NewHTTPError(http.StatusInternalServerError, "handler failed")
	}, bill.Handler())
	e.GET("/api/panic", func(echo.Context) error { panic("handler panicked") }, bill.Handler())
	e.GET("/api/outcome", func(c echo.Context) error {
		o, ok := echobilling.OutcomeFrom(c)
		return c.Blob(200, "application/json", []byte(adaptertest.OutcomeBody(o, ok)))
	}, bill.Handler())
	return func(req *http.Request) adaptertest.Response {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return adaptertest.Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
	}
}
