// Command gin is the apibilling demo API on Gin: five routes under /api
// billed in credits to the client of an API key, with usage kept in a bbolt
// file. Run it with
//
//	go run ./examples/gin
//
// and call it with curl -H 'X-API-Key: demo-key-1' http://127.0.0.1:8080/api/fetch-data.
// examples/echo and examples/fiber are the same API on Echo and Fiber.
package main

import (
	"net/http"

	"github.com/gin-gonic/gin"

	ginbilling "github.com/frappy-go/apibilling/adapters/gin"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/examples/internal/demo"
)

func main() {
	gin.SetMode(gin.ReleaseMode)
	demo.Main("examples/gin", func(app *demo.App) (demo.Server, error) {
		return &http.Server{Handler: router(app), ReadHeaderTimeout: demo.ReadHeaderTimeout}, nil
	})
}

func router(app *demo.App) *gin.Engine {
	r := gin.New()

	// Clients send their API key in X-API-Key or as a bearer token; a key
	// that no client has answers 401.
	bill := ginbilling.NewMiddleware(app.Billing, ginbilling.MapKey(
		ginbilling.FirstOf(ginbilling.Header(demo.APIKeyHeader), ginbilling.Bearer()),
		app.ClientForKey,
	))

	r.GET(demo.RouteFetchData, bill.Cost(demo.CostFetchData), func(c *gin.Context) {
		c.Data(http.StatusOK, demo.JSONContentType, demo.FetchDataBody)
	})
	r.GET(demo.RouteFetchExpensiveData, bill.Cost(demo.CostFetchExpensiveData), func(c *gin.Context) {
		c.Data(http.StatusOK, demo.JSONContentType, demo.FetchExpensiveDataBody)
	})
	r.GET(demo.RouteCompute, bill.CostFunc(units), func(c *gin.Context) {
		o, _ := ginbilling.OutcomeFrom(c) // always there: no route is skipped, and billing fails closed
		c.Data(http.StatusOK, demo.JSONContentType, demo.ComputeBody(o.Cost()))
	})
	// The handler fails; the middleware refunds the credit of any 5xx.
	r.GET(demo.RouteUnstable, bill.Cost(demo.CostUnstable), func(c *gin.Context) {
		c.Data(demo.UnstableStatus, demo.ProblemContentType, demo.UnstableBody)
	})
	r.GET(demo.RouteQuota, bill.Cost(demo.CostQuota), func(c *gin.Context) {
		o, _ := ginbilling.OutcomeFrom(c)
		c.Data(http.StatusOK, demo.JSONContentType, demo.QuotaBody(o))
	})
	return r
}

// units is the cost of /api/compute: its units query parameter; a bad one
// answers 400 and charges nothing.
func units(c *gin.Context) (core.Credits, error) {
	n, err := demo.Units(c.Query("units"))
	if err != nil {
		return 0, ginbilling.BadCost(http.StatusBadRequest, err.Error())
	}
	return n, nil
}
