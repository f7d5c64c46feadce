package ginbilling_test

import (
	"errors"
	"github.com/frappy-go/apibilling/adapters/adaptertest"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	ginbilling "github.com/frappy-go/apibilling/adapters/gin"
	"github.com/frappy-go/apibilling/core"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// Gin builds the suite's app with ginbilling; it is served with
// ServeHTTP on an httptest.ResponseRecorder.
func Gin(t *testing.T, env adaptertest.Env) adaptertest.App {
	opts := []ginbilling.Option{
		ginbilling.WithSkipper(func(c *gin.Context) bool { return adaptertest.SkipPath(c.Request.URL.Path) }),
		ginbilling.WithLogger(env.Logger),
		ginbilling.WithHeaderNames(env.LimitHeader, env.RemainingHeader, env.ResetHeader),
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
	id := ginbilling.MapKey(ginbilling.FirstOf(ginbilling.Header("X-API-Key"), ginbilling.Bearer()), env.Lookup)
	bill := ginbilling.NewMiddleware(env.Billing, id, opts...)

	data := func(status int, route string) gin.HandlerFunc {
		return func(c *gin.Context) { c.Data(status, "application/json", []byte(adaptertest.DataBody(route))) }
	}
	r := gin.New()
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) { c.AbortWithStatus(500) }))
	r.GET("/health", bill.Handler(), func(c *gin.Context) { c.Data(200, "text/plain", []byte("ok")) })
	r.GET("/api/fetch-data", bill.Handler(), data(200, "fetch-data"))
	r.GET("/api/fetch-expensive-data", bill.Cost(5*core.Credit), data(200, "fetch-expensive-data"))
	r.GET("/api/compute", bill.CostFunc(func(c *gin.Context) (cost core.Credits, err error) {
		return adaptertest.UnitsCost(c.Query("units"), ginbilling.BadCost)
	}), data(200, "compute"))
	r.GET("/api/quota", bill.Cost(0), data(200, "quota"))
	r.GET("/api/broken", bill.CostFunc(func(*gin.Context) (core.Credits, error) { return adaptertest.BrokenCost() }), data(200, "broken"))
	r.GET("/api/unstable", bill.Handler(), data(503, "unstable"))
	r.GET("/api/fail", bill.Handler(), func(c *gin.Context) {
		_ = c.AbortWithError(http.StatusInternalServerError, errors.New("handler failed"))
	})
	r.GET("/api/panic", bill.Handler(), func(*gin.Context) { panic("handler panicked") })
	r.GET("/api/outcome", bill.Handler(), func(c *gin.Context) {
		o, ok := ginbilling.OutcomeFrom(c)
		c.Data(200, "application/json", []byte(adaptertest.OutcomeBody(o, ok)))
	})
	return func(req *http.Request) adaptertest.Response {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return adaptertest.Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
	}
}
