// Command fiber is the apibilling demo API on Fiber: five routes under /api
// billed in credits to the client of an API key, with usage kept in a bbolt
// file. Run it with
//
//	go run ./examples/fiber
//
// and call it with curl -H 'X-API-Key: demo-key-1' http://127.0.0.1:8080/api/fetch-data.
// examples/gin and examples/echo are the same API on Gin and Echo.
package main

import (
	"context"
	"net"
	"net/http"

	"github.com/gofiber/fiber/v2"

	fiberbilling "github.com/frappy-go/apibilling/adapters/fiber"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/examples/internal/demo"
)

func main() {
	demo.Main("examples/fiber", func(app *demo.App) (demo.Server, error) {
		return server{newApp(app)}, nil
	})
}

// server serves a Fiber app as a [demo.Server].
type server struct{ app *fiber.App }

func (s server) Serve(ln net.Listener) error        { return s.app.Listener(ln) }
func (s server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }

func newApp(app *demo.App) *fiber.App {
	f := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		ReadTimeout:           demo.ReadHeaderTimeout,
	})

	// Clients send their API key in X-API-Key or as a bearer token; a key
	// that no client has answers 401.
	bill := fiberbilling.NewMiddleware(fiberbilling.Config{
		Billing: app.Billing,
		Identity: fiberbilling.MapKey(
			fiberbilling.FirstOf(fiberbilling.Header(demo.APIKeyHeader), fiberbilling.Bearer()),
			app.ClientForKey,
		),
	})

	f.Get(demo.RouteFetchData, bill.Cost(demo.CostFetchData), func(c *fiber.Ctx) error {
		return send(c, http.StatusOK, demo.JSONContentType, demo.FetchDataBody)
	})
	f.Get(demo.RouteFetchExpensiveData, bill.Cost(demo.CostFetchExpensiveData), func(c *fiber.Ctx) error {
		return send(c, http.StatusOK, demo.JSONContentType, demo.FetchExpensiveDataBody)
	})
	f.Get(demo.RouteCompute, bill.CostFunc(units), func(c *fiber.Ctx) error {
		o, _ := fiberbilling.OutcomeFrom(c) // always there: no route is skipped, and billing fails closed
		return send(c, http.StatusOK, demo.JSONContentType, demo.ComputeBody(o.Cost()))
	})
	// The handler fails; the middleware refunds the credit of any 5xx.
	f.Get(demo.RouteUnstable, bill.Cost(demo.CostUnstable), func(c *fiber.Ctx) error {
		return send(c, demo.UnstableStatus, demo.ProblemContentType, demo.UnstableBody)
	})
	f.Get(demo.RouteQuota, bill.Cost(demo.CostQuota), func(c *fiber.Ctx) error {
		o, _ := fiberbilling.OutcomeFrom(c)
		return send(c, http.StatusOK, demo.JSONContentType, demo.QuotaBody(o))
	})
	return f
}

func send(c *fiber.Ctx, status int, contentType string, body []byte) error {
	c.Set(fiber.HeaderContentType, contentType)
	return c.Status(status).Send(body)
}

// units is the cost of /api/compute: its units query parameter; a bad one
// answers 400 and charges nothing.
func units(c *fiber.Ctx) (core.Credits, error) {
	n, err := demo.Units(c.Query("units"))
	if err != nil {
		return 0, fiberbilling.BadCost(http.StatusBadRequest, err.Error())
	}
	return n, nil
}
