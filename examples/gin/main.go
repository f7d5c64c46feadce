// Command gin is the apibilling demo API on Gin: routes under /api billed
// in credits to the client of an API key, with usage kept in a bbolt file
// (or Redis). Run it from the repository root with
//
//	go run ./examples/gin
//
// and call it with curl -H 'X-API-Key: demo-key-1' http://127.0.0.1:8080/api/fetch-data.
// examples/echo, examples/fiber and examples/nethttp are the same API on
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

	"github.com/gin-gonic/gin"

	ginbilling "github.com/frappy-go/apibilling/adapters/gin"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/kit"
	"github.com/frappy-go/apibilling/usageapi"

	_ "time/tzdata" // clients files may name IANA zones on any machine
)

const name = "examples/gin"

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

	gin.SetMode(gin.ReleaseMode)
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
func newRouter(k *kit.Kit) *gin.Engine {
	// Clients send their API key in X-API-Key or as a bearer token; a key
	// that no client has answers 401.
	bill := ginbilling.NewMiddleware(k.Billing,
		ginbilling.MapKey(ginbilling.FirstOf(ginbilling.Header("X-API-Key"), ginbilling.Bearer()), k.Clients.ClientForKey),
		ginbilling.WithRoutes(map[string]core.Credits{
			"/api/fetch-expensive-data": core.Whole(5),
			"/api/quota":                core.Whole(0),
		}),
		ginbilling.WithObserver(k.Metrics), // apibilling_requests_total
		// The usage API and the metrics are never billed.
		ginbilling.WithSkipper(func(c *gin.Context) bool { return kit.Side(c.Request.URL.Path) }),
	)
	r := gin.New()
	r.HandleMethodNotAllowed = true // 405 for a known path, as the other apps
	r.Use(gin.Recovery(), bill.Handler())
	r.Any("/billing", gin.WrapH(k.UsageAPI))
	r.Any("/billing/*path", gin.WrapH(k.UsageAPI))
	r.GET("/metrics", gin.WrapH(k.MetricsHandler))
	r.GET("/api/fetch-data", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", fetchDataBody)
	})
	r.GET("/api/fetch-expensive-data", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", fetchExpensiveDataBody)
	})
	r.GET("/api/compute", bill.CostFunc(units), func(c *gin.Context) {
		o, _ := ginbilling.OutcomeFrom(c)
		c.Data(http.StatusOK, "application/json", computeBody(o.Cost()))
	})
	// The handler fails: the middleware refunds the credit of any 5xx.
	r.GET("/api/unstable", func(c *gin.Context) {
		c.Data(http.StatusServiceUnavailable, "application/problem+json", unstableBody)
	})
	r.GET("/api/quota", func(c *gin.Context) {
		o, _ := ginbilling.OutcomeFrom(c)
		c.Data(http.StatusOK, "application/json", quotaBody(o))
	})
	return r
}

// units is the cost of /api/compute: its units query parameter, a decimal
// such as 0.5; a missing or bad one answers 400 and charges nothing.
func units(c *gin.Context) (core.Credits, error) {
	s := c.Query("units")
	if s == "" {
		return core.Credits{}, ginbilling.BadCost(http.StatusBadRequest, unitsMissing)
	}
	n, err := core.ParseCredits(s)
	if err != nil {
		return core.Credits{}, ginbilling.BadCost(http.StatusBadRequest, unitsBad)
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
