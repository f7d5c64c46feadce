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

// Body is what the route answers, pre-encoded as the example applications
// answer their /api/fetch-data.
var Body = []byte(`{"data":{"id":1,"name":"Sample record","tags":["demo","apibilling"]},"cost":1}`)

const jsonType = "application/json"

// contentType is the Content-Type value the net/http app sets, kept once
// as gin's c.Data does.
var contentType = []string{jsonType}

// Gin returns a gin engine in release mode serving [Path] behind mw.
func Gin(mw ...gin.HandlerFunc) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(mw...)
	r.GET(Path, func(c *gin.Context) { c.Data(http.StatusOK, jsonType, Body) })
	return r
}

// Echo returns an echo instance serving [Path] behind mw.
func Echo(mw ...echo.MiddlewareFunc) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Use(mw...)
	e.GET(Path, func(c echo.Context) error { return c.Blob(http.StatusOK, jsonType, Body) })
	return e
}

// Fiber returns a fiber app serving [Path] behind mw.
func Fiber(mw ...fiber.Handler) *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	for _, h := range mw {
		app.Use(h)
	}
	app.Get(Path, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, jsonType)
		return c.Send(Body)
	})
	return app
}

// NetHTTP returns a net/http ServeMux serving [Path] (pattern "GET
// /api/fetch-data"), wrapped in mw (the first is the outermost).
func NetHTTP(mw ...func(http.Handler) http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = contentType
		_, _ = w.Write(Body)
	})
	var h http.Handler = mux
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}
