// Package readme holds the code that the project README quotes, between
// the markers "README:begin NAME" and "README:end", so that it compiles as
// written; its tests check that the README holds each block verbatim and
// that the combined snippets charge exactly their documented costs.
package readme

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/labstack/echo/v4"

	echobilling "github.com/frappy-go/apibilling/adapters/echo"
	fiberbilling "github.com/frappy-go/apibilling/adapters/fiber"
	ginbilling "github.com/frappy-go/apibilling/adapters/gin"
	nethttpbilling "github.com/frappy-go/apibilling/adapters/nethttp"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/bolt"
)

// README:begin setup
// openBilling opens the usage file and sets client1's quotas. Call the
// returned closeStore once the server has stopped.
func openBilling(path string) (b *core.Billing, closeStore func() error, err error) {
	store, err := bolt.Open(path, nil) // durable: each charge is on disk before its handler runs
	if err != nil {
		return nil, nil, err
	}
	b = core.New(store)
	err = b.SetQuotas("client1",
		core.Quota{Period: core.Day, Limit: core.Whole(500)},
		core.Quota{Period: core.Month, Limit: core.Whole(10_000),
			Anchor: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)}) // renews on the 15th
	if err != nil {
		return nil, nil, errors.Join(err, store.Close())
	}
	return b, store.Close, nil
}

var keys = map[string]string{"demo-key-1": "client1"} // API key -> client ID

func lookup(key string) (client string, ok bool) { client, ok = keys[key]; return client, ok }

// README:end

// README:begin quickstart-gin
func ginApp(b *core.Billing) *gin.Engine {
	r := gin.New()
	r.Use(ginbilling.New(b, ginbilling.MapKey(ginbilling.Header("X-API-Key"), lookup)))
	r.GET("/api/fetch-data", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"data": "ok"}) })
	return r
}

// README:end

// README:begin quickstart-echo
func echoApp(b *core.Billing) *echo.Echo {
	e := echo.New()
	e.Use(echobilling.New(b, echobilling.MapKey(echobilling.Header("X-API-Key"), lookup)))
	e.GET("/api/fetch-data", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"data": "ok"}) })
	return e
}

// README:end

// README:begin quickstart-fiber
func fiberApp(b *core.Billing) *fiber.App {
	app := fiber.New(fiber.Config{ErrorHandler: fiberbilling.WrapErrorHandler(nil)})
	app.Use(fiberbilling.New(fiberbilling.Config{
		Billing:  b,
		Identity: fiberbilling.MapKey(fiberbilling.Header("X-API-Key"), lookup),
	}))
	app.Get("/api/fetch-data", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"data": "ok"}) })
	return app
}

// README:end

// README:begin quickstart-nethttp
func netHTTPApp(b *core.Billing) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/fetch-data", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"data":"ok"}`))
	})
	return nethttpbilling.New(b, nethttpbilling.MapKey(nethttpbilling.Header("X-API-Key"), lookup))(mux)
}

// README:end

// README:begin main
func run() error {
	b, closeStore, err := openBilling("apibilling.db")
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: ginApp(b), ReadHeaderTimeout: 10 * time.Second}
	err = srv.ListenAndServe() // see examples/ for a graceful shutdown on SIGINT and SIGTERM
	return errors.Join(err, closeStore())
}

// README:end

var _ = run
