package ginbilling_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/frappy-go/apibilling/adapters/adaptertest"
	ginbilling "github.com/frappy-go/apibilling/adapters/gin"
	"github.com/frappy-go/apibilling/core"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// errHandlerFailed is the error of /api/fail.
var errHandlerFailed = errors.New("handler failed")

// Gin builds the suite's app with ginbilling; it is served with
// ServeHTTP on an httptest.ResponseRecorder. Errors the middleware hands to
// gin (c.Error) are reported from a middleware in front of it.
func Gin(t *testing.T, env adaptertest.Env) adaptertest.App {
	opts := []ginbilling.Option{
		ginbilling.WithSkipper(func(c *gin.Context) bool { return adaptertest.SkipPath(c.Request.URL.Path) }),
		ginbilling.WithLogger(env.Logger),
		ginbilling.WithHeaderNames(env.LimitHeader, env.RemainingHeader, env.ResetHeader),
		ginbilling.WithStoreRetryAfter(env.StoreRetryAfter),
	}
	if env.KeyHeader != "" {
		opts = append(opts, ginbilling.WithKeyHeader(env.KeyHeader))
	}
	if env.FailOpen {
		opts = append(opts, ginbilling.WithFailOpen())
	}
	if env.NoLegacyHeaders {
		opts = append(opts, ginbilling.WithoutLegacyHeaders())
	}
	if env.NoDraftHeaders {
		opts = append(opts, ginbilling.WithoutDraftHeaders())
	}
	if env.Label != "" {
		opts = append(opts, ginbilling.WithLabel(func(*gin.Context) string { return env.Label }))
	}
	if env.Refund != nil {
		opts = append(opts, ginbilling.WithRefund(env.Refund))
	}
	if env.Observer != nil {
		opts = append(opts, ginbilling.WithObserver(env.Observer))
	}
	if env.Wiring == adaptertest.Global {
		opts = append(opts, ginbilling.WithRoutes(adaptertest.Routes))
	}
	if env.CustomHandlers {
		custom := func(kind string) ginbilling.ErrorHandler {
			return func(c *gin.Context, err error) {
				status := ginbilling.StatusOf(err)
				c.Data(status, "text/plain", []byte(adaptertest.CustomBody(kind, status)))
			}
		}
		opts = append(opts, ginbilling.WithDeniedHandler(custom("denied")),
			ginbilling.WithErrorHandler(custom("error")), ginbilling.WithIdentityHandler(custom("identity")))
	}
	var id ginbilling.Identity
	switch env.Identity {
	case adaptertest.QueryKey:
		id = ginbilling.MapKey(ginbilling.Query("api_key"), env.Lookup)
	case adaptertest.ContextClient:
		id = ginbilling.ContextKey(adaptertest.ClientKey)
	default:
		id = ginbilling.MapKey(ginbilling.FirstOf(ginbilling.Header("X-API-Key"), ginbilling.Bearer()), env.Lookup)
	}
	bill := ginbilling.NewMiddleware(env.Billing, id, opts...)

	data := func(status int, route string) gin.HandlerFunc {
		return func(c *gin.Context) { c.Data(status, "application/json", []byte(adaptertest.DataBody(route))) }
	}
	r := gin.New()
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) { c.AbortWithStatus(500) }))
	r.Use(func(c *gin.Context) {
		c.Next()
		for _, e := range c.Errors {
			if !errors.Is(e.Err, errHandlerFailed) && env.Report != nil {
				env.Report(e.Err)
			}
		}
	})
	if env.Identity == adaptertest.ContextClient {
		r.Use(func(c *gin.Context) {
			if client, ok := env.Lookup(c.GetHeader("X-API-Key")); ok {
				c.Set(adaptertest.ClientKey, client)
			}
		})
	}
	if env.Wiring != adaptertest.RouteLevel {
		r.Use(bill.Handler())
	}
	route := func(path string, mw gin.HandlerFunc, h gin.HandlerFunc) {
		if env.Wiring == adaptertest.Global {
			r.GET(path, h)
			return
		}
		r.GET(path, mw, h)
	}
	r.GET("/api/compute", bill.CostFunc(func(c *gin.Context) (cost core.Credits, err error) {
		return adaptertest.UnitsCost(c.Query("units"), ginbilling.BadCost)
	}), data(200, "compute"))
	r.GET("/api/broken", bill.CostFunc(func(*gin.Context) (core.Credits, error) { return adaptertest.BrokenCost() }), data(200, "broken"))
	route("/health", bill.Handler(), func(c *gin.Context) { c.Data(200, "text/plain", []byte("ok")) })
	route("/api/fetch-data", bill.Handler(), data(200, "fetch-data"))
	route("/api/fetch-expensive-data", bill.Cost(core.Whole(5)), data(200, "fetch-expensive-data"))
	route("/api/quota", bill.Cost(core.Whole(0)), data(200, "quota"))
	route("/api/unstable", bill.Handler(), data(503, "unstable"))
	route("/api/fail", bill.Handler(), func(c *gin.Context) {
		_ = c.AbortWithError(http.StatusInternalServerError, errHandlerFailed)
	})
	route("/api/panic", bill.Handler(), func(*gin.Context) { panic("handler panicked") })
	route("/api/outcome", bill.Handler(), func(c *gin.Context) {
		o, ok := ginbilling.OutcomeFrom(c)
		if env.Keep != nil {
			env.Keep(o, ok)
		}
		c.Data(200, "application/json", []byte(adaptertest.OutcomeBody(o, ok)))
	})
	return func(req *http.Request) adaptertest.Response {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return adaptertest.Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
	}
}
