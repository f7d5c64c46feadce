package fiberbilling_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	fiberbilling "github.com/frappy-go/apibilling/adapters/fiber"
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

func get(app *fiber.App, path, key string) (*http.Response, string) {
	req := httptest.NewRequest("GET", path, nil)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// Bill every route one credit, identifying clients by API key.
func Example() {
	b, lookup := newBilling()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(fiberbilling.New(fiberbilling.Config{
		Billing:  b,
		Identity: fiberbilling.MapKey(fiberbilling.Header("X-API-Key"), lookup),
	}))
	app.Get("/api/fetch-data", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"data": "ok"}) })

	resp, _ := get(app, "/api/fetch-data", "demo-key-1")
	fmt.Println(resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"), resp.Header.Get("RateLimit"))
	resp, body := get(app, "/api/fetch-data", "")
	fmt.Println(resp.StatusCode, body)
	// Output:
	// 200 9 "day";r=9;t=3600
	// 401 {"type":"about:blank","title":"Unauthorized","status":401,"detail":"The request does not identify a client."}
}

// Give routes their own costs: a constant, or one computed from the request.
// Route-level handlers also label the usage with the route.
func ExampleMiddleware_Cost() {
	b, lookup := newBilling()
	bill := fiberbilling.NewMiddleware(fiberbilling.Config{
		Billing:  b,
		Identity: fiberbilling.MapKey(fiberbilling.FirstOf(fiberbilling.Header("X-API-Key"), fiberbilling.Bearer()), lookup),
	})
	ok := func(c *fiber.Ctx) error { return c.SendString("ok") }
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/api/fetch-expensive-data", bill.Cost(core.Whole(5)), ok)
	app.Get("/api/compute", bill.CostFunc(func(c *fiber.Ctx) (core.Credits, error) {
		units, err := core.ParseCredits(c.Query("units"))
		if err != nil {
			return core.Credits{}, fiberbilling.BadCost(400, "units must be a non-negative decimal number")
		}
		return units, nil
	}), ok)

	for _, path := range []string{"/api/fetch-expensive-data", "/api/compute?units=2.5", "/api/compute?units=x", "/api/fetch-expensive-data"} {
		resp, body := get(app, path, "demo-key-1")
		fmt.Printf("%s %d remaining=%q retry-after=%q\n", path, resp.StatusCode,
			resp.Header.Get("X-RateLimit-Remaining"), resp.Header.Get("Retry-After"))
		if resp.StatusCode == 429 {
			fmt.Println(strings.ReplaceAll(body, `,"`, ",\n\""))
		}
	}
	// Output:
	// /api/fetch-expensive-data 200 remaining="5" retry-after=""
	// /api/compute?units=2.5 200 remaining="2" retry-after=""
	// /api/compute?units=x 400 remaining="" retry-after=""
	// /api/fetch-expensive-data 429 remaining="2" retry-after="3600"
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
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(fiberbilling.New(fiberbilling.Config{
		Billing:  b,
		Identity: fiberbilling.MapKey(fiberbilling.Header("X-API-Key"), lookup),
	}))
	app.Get("/api/me", func(c *fiber.Ctx) error {
		o, ok := fiberbilling.OutcomeFrom(c)
		if !ok {
			return c.SendStatus(204)
		}
		low, _ := o.Lowest()
		return c.SendString(fmt.Sprintf("%s: %s credits left, renewing at %s", low.Period, low.Remaining, low.End.Format(time.RFC3339)))
	})
	_, body := get(app, "/api/me", "demo-key-1")
	fmt.Println(body)
	// Output: day: 9 credits left, renewing at 2026-12-01T00:00:00Z
}
