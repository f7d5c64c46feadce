package ginbilling_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	ginbilling "github.com/frappy-go/apibilling/adapters/gin"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// newBilling returns a billing with one client, "client1", whose API key is
// "demo-key-1", at a fixed time one hour before its day renews.
func newBilling() (*core.Billing, func(key string) (string, bool)) {
	now := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	if err := b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: core.Whole(10)}); err != nil {
		panic(err)
	}
	keys := map[string]string{"demo-key-1": "client1"}
	return b, func(key string) (string, bool) { c, ok := keys[key]; return c, ok }
}

func get(h *gin.Engine, path, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Bill every route one credit, identifying clients by API key.
func Example() {
	b, lookup := newBilling()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(ginbilling.New(b, ginbilling.MapKey(ginbilling.Header("X-API-Key"), lookup)))
	r.GET("/api/fetch-data", func(c *gin.Context) { c.JSON(200, gin.H{"data": "ok"}) })

	rec := get(r, "/api/fetch-data", "demo-key-1")
	fmt.Println(rec.Code, rec.Header().Values("X-RateLimit-Remaining"), rec.Header().Values("RateLimit"))
	rec = get(r, "/api/fetch-data", "")
	fmt.Println(rec.Code, rec.Body)
	// Output:
	// 200 [9] ["day";r=9;t=3600]
	// 401 {"type":"about:blank","title":"Unauthorized","status":401,"detail":"The request does not identify a client."}
}

// Give routes their own costs: a constant, or one computed from the request.
func ExampleMiddleware_Cost() {
	b, lookup := newBilling()
	gin.SetMode(gin.ReleaseMode)
	bill := ginbilling.NewMiddleware(b, ginbilling.MapKey(
		ginbilling.FirstOf(ginbilling.Header("X-API-Key"), ginbilling.Bearer()), lookup))
	r := gin.New()
	r.GET("/api/fetch-expensive-data", bill.Cost(core.Whole(5)), func(c *gin.Context) { c.String(200, "ok") })
	r.GET("/api/compute", bill.CostFunc(func(c *gin.Context) (core.Credits, error) {
		units, err := core.ParseCredits(c.Query("units"))
		if err != nil {
			return core.Credits{}, ginbilling.BadCost(400, "units must be a non-negative decimal number")
		}
		return units, nil
	}), func(c *gin.Context) { c.String(200, "ok") })

	for _, path := range []string{"/api/fetch-expensive-data", "/api/compute?units=2.5", "/api/compute?units=x", "/api/fetch-expensive-data"} {
		rec := get(r, path, "demo-key-1")
		fmt.Println(path, rec.Code, rec.Header().Values("X-RateLimit-Remaining"), rec.Header().Values("Retry-After"))
		if rec.Code == 429 {
			fmt.Println(strings.ReplaceAll(rec.Body.String(), `,"`, ",\n\""))
		}
	}
	// Output:
	// /api/fetch-expensive-data 200 [5] []
	// /api/compute?units=2.5 200 [2] []
	// /api/compute?units=x 400 [] []
	// /api/fetch-expensive-data 429 [2] [3600]
	// {"type":"https://iana.org/assignments/http-problem-types#quota-exceeded",
	// "title":"Quota exceeded",
	// "status":429,
	// "detail":"You have only 2.5 credits remaining, but 5 are required. They will renew at 2026-12-01T00:00:00Z.",
	// "violated-policies":["day"],
	// "remaining":2.5,
	// "required":5,
	// "renews_at":"2026-12-01T00:00:00Z"}
}

// Read the billing outcome inside the handler.
func ExampleOutcomeFrom() {
	b, lookup := newBilling()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(ginbilling.New(b, ginbilling.MapKey(ginbilling.Header("X-API-Key"), lookup)))
	r.GET("/api/me", func(c *gin.Context) {
		if o, ok := ginbilling.OutcomeFrom(c); ok {
			low, _ := o.Lowest()
			c.String(200, "%s: %s credits left, renewing at %s", low.Period, low.Remaining, low.End.Format(time.RFC3339))
		}
	})
	fmt.Println(get(r, "/api/me", "demo-key-1").Body)
	// Output: day: 9 credits left, renewing at 2026-12-01T00:00:00Z
}
