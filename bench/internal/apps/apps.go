package apps

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/labstack/echo/v4"
)

// Path is the route every app serves: it costs one credit when billed.
const Path = "/api/fetch-data"

// KeyHeader carries the API key that identifies the client.
const KeyHeader = "X-API-Key"

// Key is the API key the benchmarks send; it maps to the client [ClientID].
const Key = "bench-key"

// ClientID is the client [Key] identifies.
const ClientID = "bench"

// payload is what the route answers, encoded by each framework's JSON
// renderer as an application would.
type payload struct {
	Data string `json:"data"`
}

var answer = payload{Data: "Here is your data."}

// Gin returns a gin engine in release mode serving [Path] behind mw.
func Gin(mw ...gin.HandlerFunc) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(mw...)
	r.GET(Path, func(c *gin.Context) { c.JSON(http.StatusOK, answer) })
	return r
}

// Echo returns an echo instance serving [Path] behind mw.
func Echo(mw ...echo.MiddlewareFunc) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Use(mw...)
	e.GET(Path, func(c echo.Context) error { return c.JSON(http.StatusOK, answer) })
	return e
}

// Fiber returns a fiber app serving [Path] behind mw.
func Fiber(mw ...fiber.Handler) *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	for _, h := range mw {
		app.Use(h)
	}
	app.Get(Path, func(c *fiber.Ctx) error { return c.JSON(answer) })
	return app
}
