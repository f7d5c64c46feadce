package readme

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/labstack/echo/v4"

	echobilling "github.com/frappy-go/apibilling/adapters/echo"
	fiberbilling "github.com/frappy-go/apibilling/adapters/fiber"
	ginbilling "github.com/frappy-go/apibilling/adapters/gin"
	nethttpbilling "github.com/frappy-go/apibilling/adapters/nethttp"
	"github.com/frappy-go/apibilling/core"
)

// The costs the snippets below document, by request.
var documentedCosts = []struct {
	path   string
	status int
	cost   string
}{
	{"/api/fetch-data", 200, "1"},
	{"/api/fetch-expensive-data", 200, "5"},
	{"/api/quota", 200, "0"},
	{"/api/report", 200, "3"},
	{"/api/compute?units=2.5", 200, "2.5"},
	{"/api/compute?units=abc", 400, "0"},
	{"/api/nope", 404, "0"},
}

// README:begin routes-gin
func ginRoutes(b *core.Billing) *gin.Engine {
	bill := ginbilling.NewMiddleware(b,
		ginbilling.MapKey(ginbilling.FirstOf(ginbilling.Header("X-API-Key"), ginbilling.Bearer()), lookup),
		ginbilling.WithRoutes(map[string]core.Credits{
			"/api/fetch-expensive-data": core.Whole(5), // 5 credits
			"/api/quota":                core.Whole(0), // free; still answers the headers
		}))
	r := gin.New()
	r.Use(bill.Handler()) // 1 credit, unless the table or the route says otherwise
	r.GET("/api/fetch-data", ok)
	r.GET("/api/fetch-expensive-data", ok)
	r.GET("/api/quota", ok)
	r.GET("/api/report", bill.Cost(core.Whole(3)), ok) // 3 credits, charged once
	r.GET("/api/compute", bill.CostFunc(func(c *gin.Context) (core.Credits, error) {
		units, err := core.ParseCredits(c.Query("units")) // exact decimal, such as "0.5"
		if err != nil {
			return core.Credits{}, ginbilling.BadCost(400, "units must be a non-negative decimal number") // nothing charged
		}
		return units, nil
	}), ok)
	return r
}

// README:end

// README:begin routes-echo
func echoRoutes(b *core.Billing) *echo.Echo {
	bill := echobilling.NewMiddleware(echobilling.Config{
		Billing:  b,
		Identity: echobilling.MapKey(echobilling.FirstOf(echobilling.Header("X-API-Key"), echobilling.Bearer()), lookup),
		Routes: map[string]core.Credits{
			"/api/fetch-expensive-data": core.Whole(5),
			"/api/quota":                core.Whole(0),
		},
	})
	e := echo.New()
	e.Use(bill.Handler())
	e.GET("/api/fetch-data", echoOK)
	e.GET("/api/fetch-expensive-data", echoOK)
	e.GET("/api/quota", echoOK)
	e.GET("/api/report", echoOK, bill.Cost(core.Whole(3))) // route-level middleware come after the handler
	e.GET("/api/compute", echoOK, bill.CostFunc(func(c echo.Context) (core.Credits, error) {
		units, err := core.ParseCredits(c.QueryParam("units"))
		if err != nil {
			return core.Credits{}, echobilling.BadCost(400, "units must be a non-negative decimal number")
		}
		return units, nil
	}))
	return e
}

// README:end

// README:begin routes-fiber
func fiberRoutes(b *core.Billing) *fiber.App {
	bill := fiberbilling.NewMiddleware(fiberbilling.Config{
		Billing:  b,
		Identity: fiberbilling.MapKey(fiberbilling.FirstOf(fiberbilling.Header("X-API-Key"), fiberbilling.Bearer()), lookup),
		Routes: map[string]core.Credits{
			"/api/fetch-expensive-data": core.Whole(5),
			"/api/quota":                core.Whole(0),
		},
	})
	app := fiber.New(fiber.Config{ErrorHandler: fiberbilling.WrapErrorHandler(nil)})
	app.Use(bill.Handler()) // in app.Use, it finds the route among the app's routes
	app.Get("/api/fetch-data", fiberOK)
	app.Get("/api/fetch-expensive-data", fiberOK)
	app.Get("/api/quota", fiberOK)
	app.Get("/api/report", bill.Cost(core.Whole(3)), fiberOK)
	app.Get("/api/compute", bill.CostFunc(func(c *fiber.Ctx) (core.Credits, error) {
		units, err := core.ParseCredits(c.Query("units"))
		if err != nil {
			return core.Credits{}, fiberbilling.BadCost(400, "units must be a non-negative decimal number")
		}
		return units, nil
	}), fiberOK)
	return app
}

// README:end

// README:begin routes-nethttp
func netHTTPRoutes(b *core.Billing) http.Handler {
	bill := nethttpbilling.NewMiddleware(b,
		nethttpbilling.MapKey(nethttpbilling.FirstOf(nethttpbilling.Header("X-API-Key"), nethttpbilling.Bearer()), lookup),
		nethttpbilling.WithRoutes(map[string]core.Credits{
			"/api/fetch-expensive-data": core.Whole(5),
			"/api/quota":                core.Whole(0),
		}))
	mux := http.NewServeMux()
	mux.Handle("GET /api/fetch-data", okHandler)
	mux.Handle("GET /api/fetch-expensive-data", okHandler)
	mux.Handle("GET /api/quota", okHandler)
	mux.Handle("GET /api/report", bill.Cost(core.Whole(3))(okHandler))
	mux.Handle("GET /api/compute", bill.CostFunc(func(r *http.Request) (core.Credits, error) {
		units, err := core.ParseCredits(r.URL.Query().Get("units"))
		if err != nil {
			return core.Credits{}, nethttpbilling.BadCost(400, "units must be a non-negative decimal number")
		}
		return units, nil
	})(okHandler))
	return bill.Handler(mux) // wrapping the ServeMux: it knows the route before routing
}

// README:end

func ok(c *gin.Context)           { c.String(http.StatusOK, "ok") }
func echoOK(c echo.Context) error { return c.String(http.StatusOK, "ok") }
func fiberOK(c *fiber.Ctx) error  { return c.SendString("ok") }

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
