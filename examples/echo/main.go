// Command echo is the apibilling demo API on Echo: routes under /api billed
// in credits to the client of an API key, with usage kept in a bbolt file
// (or Redis). Run it from the repository root with
//
//	go run ./examples/echo
//
// and call it with curl -H 'X-API-Key: demo-key-1' http://127.0.0.1:8080/api/fetch-data.
// examples/gin, examples/fiber and examples/nethttp are the same API on
// the other frameworks; this file is complete on its own: copy it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	echobilling "github.com/frappy-go/apibilling/adapters/echo"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/kit"
	"github.com/frappy-go/apibilling/usageapi"

	_ "time/tzdata" // clients files may name IANA zones on any machine
)

const name = "examples/echo"

// Server limits, the same in the four example apps: a client has 10 s to
// send its request headers; an idle keep-alive connection is closed after
// 60 s; request headers up to 8 KiB are always read, and beyond 12 KiB
// the request is answered 431 Request Header Fields Too Large (net/http
// reads MaxHeaderBytes plus 4 KiB).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 8 << 10
	shutdownTimeout   = 10 * time.Second
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func run() (err error) {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	cfg := kit.Flags(flag.CommandLine) // the store, the clients file, the admin token, the webhook
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}

	// The store, the clients' quotas, the metrics, the alerts and the
	// usage API.
	k, err := kit.Open(context.Background(), cfg)
	if err != nil {
		return err
	}
	defer func() { // after the server has stopped: flush and close the store
		if cerr := k.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	srv := &http.Server{
		Handler:           newRouter(k),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	from := "built-in demo clients"
	if cfg.Clients != "" {
		from = cfg.Clients
	}
	fmt.Printf("%s listening on http://%s (usage in %s; %s)\n", name, ln.Addr(), k.Where, from)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal ends the process at once
	// Stop accepting, and finish the requests in flight.
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newRouter returns the API. One global billing middleware charges every
// route its cost from a table (1 credit when not listed); /api/compute
// has a route-level cost function, which the global middleware leaves the
// charge to: each request is charged once.
func newRouter(k *kit.Kit) *echo.Echo {
	// Clients send their API key in X-API-Key or as a bearer token; a key
	// that no client has answers 401.
	bill := echobilling.NewMiddleware(echobilling.Config{
		Billing:  k.Billing,
		Identity: echobilling.MapKey(echobilling.FirstOf(echobilling.Header("X-API-Key"), echobilling.Bearer()), k.Clients.ClientForKey),
		Routes: map[string]core.Credits{
			"/api/fetch-expensive-data": core.Whole(5),
			"/api/quota":                core.Whole(0),
		},
		Observer: k.Metrics, // apibilling_requests_total
		// The usage API and the metrics are never billed.
		Skipper: func(c echo.Context) bool { return kit.Side(c.Request().URL.Path) },
	})
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover(), bill.Handler())
	e.Any("/billing", echo.WrapHandler(k.UsageAPI))
	e.Any("/billing/*", echo.WrapHandler(k.UsageAPI))
	e.GET("/metrics", echo.WrapHandler(k.MetricsHandler))
	e.GET("/api/fetch-data", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/json", fetchDataBody)
	})
	e.GET("/api/fetch-expensive-data", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/json", fetchExpensiveDataBody)
	})
	e.GET("/api/compute", func(c echo.Context) error {
		o, _ := echobilling.OutcomeFrom(c)
		return c.Blob(http.StatusOK, "application/json", computeBody(o.Cost()))
	}, bill.CostFunc(units))
	// The handler fails: the middleware refunds the credit of any 5xx.
	e.GET("/api/unstable", func(c echo.Context) error {
		return c.Blob(http.StatusServiceUnavailable, "application/problem+json", unstableBody)
	})
	e.GET("/api/quota", func(c echo.Context) error {
		o, _ := echobilling.OutcomeFrom(c)
		return c.Blob(http.StatusOK, "application/json", quotaBody(o))
	})
	return e
}

// units is the cost of /api/compute: its units query parameter, a decimal
// such as 0.5; a missing or bad one answers 400 and charges nothing.
func units(c echo.Context) (core.Credits, error) {
	s := c.QueryParam("units")
	if s == "" {
		return core.Credits{}, echobilling.BadCost(http.StatusBadRequest, unitsMissing)
	}
	n, err := core.ParseCredits(s)
	if err != nil {
		return core.Credits{}, echobilling.BadCost(http.StatusBadRequest, unitsBad)
	}
	return n, nil
}

// The answers of the API.
var (
	fetchDataBody          = []byte(`{"data":{"id":1,"name":"Sample record","tags":["demo","apibilling"]},"cost":1}`)
	fetchExpensiveDataBody = []byte(`{"data":{"report":"Detailed analytics","rows":[{"day":"mon","calls":120},{"day":"tue","calls":98}]},"cost":5}`)
	unstableBody           = []byte(`{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"The upstream service failed. This request is not charged."}`)
)

const (
	unitsMissing = "The units query parameter is required: a non-negative decimal number such as 0.5."
	unitsBad     = "The units query parameter must be a non-negative decimal number such as 0.5, with at most 9007199254 credits."
)

// computeBody returns the body of /api/compute, such as {"units":0.5,"cost":0.5}.
func computeBody(units core.Credits) []byte {
	b, _ := json.Marshal(struct {
		Units core.Credits `json:"units"`
		Cost  core.Credits `json:"cost"`
	}{units, units})
	return b
}

// quotaBody returns the body of /api/quota: the caller's quotas, in the
// shape of the usage API's api/me.
func quotaBody(o core.Outcome) []byte {
	b, _ := json.Marshal(usageapi.Status(o.Client(), &o, o.At())) // every field encodes
	return b
}
