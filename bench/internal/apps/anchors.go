package apps

import (
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/httprate"
	"github.com/gofiber/fiber/v2"
	fiberlimiter "github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
	"github.com/ulule/limiter/v3"
	ululegin "github.com/ulule/limiter/v3/drivers/middleware/gin"
	ululememory "github.com/ulule/limiter/v3/drivers/store/memory"
)

// The anchors are each framework's usual limiter, configured as a user
// would, with a limit high enough never to refuse, and keyed by the same
// API key header as apibilling so that both do one look-up per request.

// UluleGin returns github.com/ulule/limiter/v3 with its in-memory store and
// its gin middleware. It sets X-RateLimit-Limit, -Remaining and -Reset.
func UluleGin() gin.HandlerFunc {
	l := limiter.New(ululememory.NewStore(), limiter.Rate{Period: time.Hour, Limit: math.MaxInt64 / 2})
	return ululegin.NewMiddleware(l, ululegin.WithKeyGetter(func(c *gin.Context) string {
		return c.GetHeader(KeyHeader)
	}))
}

// EchoRateLimiter returns echo's middleware.RateLimiter with its in-memory
// store (a token bucket per key). It sets no headers.
func EchoRateLimiter() echo.MiddlewareFunc {
	store := echomw.NewRateLimiterMemoryStoreWithConfig(echomw.RateLimiterMemoryStoreConfig{
		Rate:      1e12,
		Burst:     math.MaxInt32,
		ExpiresIn: time.Hour,
	})
	return echomw.RateLimiterWithConfig(echomw.RateLimiterConfig{
		Store: store,
		IdentifierExtractor: func(c echo.Context) (string, error) {
			return c.Request().Header.Get(KeyHeader), nil
		},
	})
}

// FiberLimiter returns fiber's middleware/limiter (fixed window, in
// memory). It sets X-RateLimit-Limit, -Remaining and -Reset.
func FiberLimiter() fiber.Handler {
	return fiberlimiter.New(fiberlimiter.Config{
		Max:        math.MaxInt32,
		Expiration: time.Hour,
		KeyGenerator: func(c *fiber.Ctx) string {
			return c.Get(KeyHeader)
		},
	})
}

// Httprate returns github.com/go-chi/httprate (sliding window counter, in
// memory) for net/http. It sets X-RateLimit-Limit, -Remaining and -Reset.
func Httprate() func(http.Handler) http.Handler {
	return httprate.LimitBy(math.MaxInt32, time.Hour, func(r *http.Request) (string, error) {
		return r.Header.Get(KeyHeader), nil
	})
}
