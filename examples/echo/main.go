// Command echo is the apibilling demo API on Echo: five routes under /api
// billed in credits to the client of an API key, with usage kept in a bbolt
// file. Run it with
//
//	go run ./examples/echo
//
// and call it with curl -H 'X-API-Key: demo-key-1' http://127.0.0.1:8080/api/fetch-data.
// examples/gin and examples/fiber are the same API on Gin and Fiber.
package main

import (
	"net/http"

	"github.com/labstack/echo/v4"

	echobilling "github.com/frappy-go/apibilling/adapters/echo"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/examples/internal/demo"
)

func main() {
	demo.Main("examples/echo", func(app *demo.App) (demo.Server, error) {
		return &http.Server{Handler: router(app), ReadHeaderTimeout: demo.ReadHeaderTimeout}, nil
	})
}

func router(app *demo.App) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true

	// Clients send their API key in X-API-Key or as a bearer token; a key
	// that no client has answers 401.
	bill := echobilling.NewMiddleware(echobilling.Config{
		Billing: app.Billing,
		Identity: echobilling.MapKey(
			echobilling.FirstOf(echobilling.Header(demo.APIKeyHeader), echobilling.Bearer()),
			app.ClientForKey,
		),
	})

	e.GET(demo.RouteFetchData, func(c echo.Context) error {
		return c.Blob(http.StatusOK, demo.JSONContentType, demo.FetchDataBody)
	}, bill.Cost(demo.CostFetchData))
	e.GET(demo.RouteFetchExpensiveData, func(c echo.Context) error {
		return c.Blob(http.StatusOK, demo.JSONContentType, demo.FetchExpensiveDataBody)
	}, bill.Cost(demo.CostFetchExpensiveData))
	e.GET(demo.RouteCompute, func(c echo.Context) error {
		o, _ := echobilling.OutcomeFrom(c) // always there: no route is skipped, and billing fails closed
		return c.Blob(http.StatusOK, demo.JSONContentType, demo.ComputeBody(o.Cost()))
	}, bill.CostFunc(units))
	// The handler fails; the middleware refunds the credit of any 5xx.
	e.GET(demo.RouteUnstable, func(c echo.Context) error {
		return c.Blob(demo.UnstableStatus, demo.ProblemContentType, demo.UnstableBody)
	}, bill.Cost(demo.CostUnstable))
	e.GET(demo.RouteQuota, func(c echo.Context) error {
		o, _ := echobilling.OutcomeFrom(c)
		return c.Blob(http.StatusOK, demo.JSONContentType, demo.QuotaBody(o))
	}, bill.Cost(demo.CostQuota))
	return e
}

// units is the cost of /api/compute: its units query parameter; a bad one
// answers 400 and charges nothing.
func units(c echo.Context) (core.Credits, error) {
	n, err := demo.Units(c.QueryParam("units"))
	if err != nil {
		return 0, echobilling.BadCost(http.StatusBadRequest, err.Error())
	}
	return n, nil
}
