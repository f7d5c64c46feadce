// Command fiber is the apibilling demo API on Fiber: routes under /api billed
// in credits to the client of an API key, with usage kept in a bbolt file
// (or Redis). Run it from the repository root with
//
//	go run ./examples/fiber
//
// and call it with curl -H 'X-API-Key: demo-key-1' http://127.0.0.1:8080/api/fetch-data.
// examples/gin, examples/echo and examples/nethttp are the same API on
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
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	fiberbilling "github.com/frappy-go/apibilling/adapters/fiber"
	"github.com/frappy-go/apibilling/clientsfile"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/httpbilling"
	prombilling "github.com/frappy-go/apibilling/metrics/prometheus"
	"github.com/frappy-go/apibilling/stores/bolt"
	"github.com/frappy-go/apibilling/storeurl"
	"github.com/frappy-go/apibilling/usageapi"
	"github.com/frappy-go/apibilling/webhook"

	_ "time/tzdata" // clients files may name IANA zones on any machine
)

const name = "examples/fiber"

// Server limits, the same in the four example apps: a client has 10 s to
// send its request (fasthttp times the whole request, headers first); an
// idle keep-alive connection is closed after 60 s; request headers up to
// 8 KiB are always read, and beyond 12 KiB the request is answered 431
// Request Header Fields Too Large (fasthttp's read buffer holds the
// request line and headers).
const (
	readTimeout     = 10 * time.Second
	idleTimeout     = 60 * time.Second
	readBufferSize  = 12 << 10
	shutdownTimeout = 10 * time.Second
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func run() (err error) {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	db := flag.String("db", "apibilling.db", "bbolt file that keeps usage: the default store")
	clientsPath := flag.String("clients", "", "JSON file of clients, keys and quotas (default: the built-in demo clients)")
	redisAddr := flag.String("redis", "", "keep usage in the Redis server at host:port instead of the bbolt file")
	postgresURL := flag.String("postgres", "", "keep usage in PostgreSQL at this URL, such as postgres://user@127.0.0.1:5432/db")
	mysqlDSN := flag.String("mysql", "", "keep usage in MySQL or MariaDB at this DSN, such as user@tcp(127.0.0.1:3306)/db")
	mongoURI := flag.String("mongo", "", "keep usage in MongoDB at this URI, such as mongodb://127.0.0.1:27017")
	adminToken := flag.String("admin-token", os.Getenv("APIBILLING_ADMIN_TOKEN"),
		"bearer token of the operator side of the usage API and dashboard under /billing/ (default $APIBILLING_ADMIN_TOKEN; empty: off)")
	webhookURL := flag.String("webhook", "", "POST quota alerts (80% and 100% of each quota) to this URL, signed with $APIBILLING_WEBHOOK_SECRET")
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}

	clients, err := clientsfile.LoadOrDemo(*clientsPath)
	if err != nil {
		return err
	}
	url, where, err := storeURL(*db, *redisAddr, *postgresURL, *mysqlDSN, *mongoURI)
	if err != nil {
		return err
	}
	// Metrics for Prometheus at /metrics: requests, credits, the store.
	metrics := prombilling.New(nil)
	registry := prometheus.NewRegistry()
	registry.MustRegister(metrics)
	store, err := storeurl.Open(context.Background(), url, &storeurl.Options{
		Bolt: &bolt.Options{OnCommit: metrics.Commit}, // durable: each charge is on disk before its handler runs
	})
	if errors.Is(err, bolt.ErrLocked) {
		return fmt.Errorf("%w; stop it, or give this one another -db", err)
	}
	if err != nil {
		return err
	}
	defer func() { // after the server has stopped: flush and close the store
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the store: %w", cerr)
		}
	}()
	if count, ok := storeurl.UnknownOutcomes(store); ok {
		metrics.CountOutcomeUnknown(count)
	}
	// Alerts at 80% and 100% of every quota: counted, and sent to the
	// webhook if there is one.
	alert, closeAlerts, err := newAlerts(*webhookURL, metrics)
	if err != nil {
		return err
	}
	defer closeAlerts()
	billing := core.New(store, core.WithObserver(metrics), core.WithAlerts(alert, thresholds()...))
	if err := clients.Apply(billing); err != nil {
		return err
	}
	// The usage API and dashboard, for clients (by their API key) and the
	// operator (by the admin token).
	usage := usageapi.Config{
		Billing:     billing,
		Identity:    apiKey(clients),
		AdminToken:  *adminToken,
		ParseQuotas: clientsfile.ParseQuotas,
	}
	if backup, ok := storeurl.Backup(store); ok {
		usage.Backup = backup // GET /billing/api/backup: a consistent copy of the file
	}
	side := sideRoutes{
		usage:   http.StripPrefix("/billing", usageapi.New(usage)),
		metrics: promhttp.HandlerFor(registry, promhttp.HandlerOpts{}),
	}

	app := newApp(billing, clients, side)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	from := "built-in demo clients"
	if *clientsPath != "" {
		from = *clientsPath
	}
	fmt.Printf("%s listening on http://%s (usage in %s; %s)\n", name, ln.Addr(), where, from)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal ends the process at once
	// Stop accepting, and finish the requests in flight.
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := app.ShutdownWithContext(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return <-served
}

// newApp returns the API. One global billing middleware charges every
// route its cost from a table (1 credit when not listed): in app.Use it
// finds the route among the app's. /api/compute has a route-level cost
// function, which the global middleware leaves the charge to: each request
// is charged once.
func newApp(billing *core.Billing, clients *clientsfile.File, side sideRoutes) *fiber.App {
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		ReadTimeout:           readTimeout,
		IdleTimeout:           idleTimeout,
		ReadBufferSize:        readBufferSize,
		// Failures the billing middleware answered (503 when the store
		// is down) reach the error handler without their answer being
		// written again.
		ErrorHandler: fiberbilling.WrapErrorHandler(func(c *fiber.Ctx, err error) error {
			var answered *fiberbilling.AnsweredError
			if errors.As(err, &answered) {
				fmt.Fprintf(os.Stderr, "%s: %s %s: %v\n", name, c.Method(), c.Path(), err)
			}
			return fiber.DefaultErrorHandler(c, err)
		}),
	})
	// Clients send their API key in X-API-Key or as a bearer token; a key
	// that no client has answers 401.
	bill := fiberbilling.NewMiddleware(fiberbilling.Config{
		Billing:  billing,
		Identity: fiberbilling.MapKey(fiberbilling.FirstOf(fiberbilling.Header("X-API-Key"), fiberbilling.Bearer()), clients.ClientForKey),
		Routes: map[string]core.Credits{
			"/api/fetch-expensive-data": core.Whole(5),
			"/api/quota":                core.Whole(0),
		},
		// The usage API and the metrics are never billed.
		Next: func(c *fiber.Ctx) bool { return isSide(c.Path()) },
	})
	app.Use(recover.New(), bill.Handler())
	app.All("/billing", adaptor.HTTPHandler(side.usage))
	app.All("/billing/*", adaptor.HTTPHandler(side.usage))
	app.Get("/metrics", adaptor.HTTPHandler(side.metrics))
	app.Get("/api/fetch-data", func(c *fiber.Ctx) error {
		return send(c, http.StatusOK, "application/json", fetchDataBody)
	})
	app.Get("/api/fetch-expensive-data", func(c *fiber.Ctx) error {
		return send(c, http.StatusOK, "application/json", fetchExpensiveDataBody)
	})
	app.Get("/api/compute", bill.CostFunc(units), func(c *fiber.Ctx) error {
		o, _ := fiberbilling.OutcomeFrom(c)
		return send(c, http.StatusOK, "application/json", computeBody(o.Cost()))
	})
	// The handler fails: the middleware refunds the credit of any 5xx.
	app.Get("/api/unstable", func(c *fiber.Ctx) error {
		return send(c, http.StatusServiceUnavailable, "application/problem+json", unstableBody)
	})
	app.Get("/api/quota", func(c *fiber.Ctx) error {
		o, _ := fiberbilling.OutcomeFrom(c)
		return send(c, http.StatusOK, "application/json", quotaBody(o))
	})
	return app
}

func send(c *fiber.Ctx, status int, contentType string, body []byte) error {
	c.Set(fiber.HeaderContentType, contentType)
	return c.Status(status).Send(body)
}

// units is the cost of /api/compute: its units query parameter, a decimal
// such as 0.5; a missing or bad one answers 400 and charges nothing.
func units(c *fiber.Ctx) (core.Credits, error) {
	s := c.Query("units")
	if s == "" {
		return core.Credits{}, fiberbilling.BadCost(http.StatusBadRequest, unitsMissing)
	}
	n, err := core.ParseCredits(s)
	if err != nil {
		return core.Credits{}, fiberbilling.BadCost(http.StatusBadRequest, unitsBad)
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

// storeURL returns the URL of the store the flags choose (the bbolt file
// unless one shared store is named) and how to name it without a password.
func storeURL(db, redisAddr, postgresURL, mysqlDSN, mongoURI string) (url, where string, err error) {
	url, where = db, db
	n := 0
	for _, s := range []struct{ flag, url, where string }{
		{redisAddr, "redis://" + redisAddr, "redis " + redisAddr},
		{postgresURL, postgresURL, "postgres"},
		{mysqlDSN, "mysql://" + mysqlDSN, "mysql"},
		{mongoURI, mongoURI, "mongodb"},
	} {
		if s.flag != "" {
			url, where = s.url, s.where
			n++
		}
	}
	if n > 1 {
		return "", "", errors.New("give at most one of -redis, -postgres, -mysql and -mongo")
	}
	return url, where, nil
}

// thresholds are the quota alerts: 80% and 100% of every period's quota.
func thresholds() []core.Threshold {
	var ts []core.Threshold
	for p := core.Second; p <= core.Year; p++ {
		ts = append(ts, core.Threshold{Period: p, Percent: 80}, core.Threshold{Period: p, Percent: 100})
	}
	return ts
}

// newAlerts returns what to do with each quota alert: count it, and post
// it to url (if set) signed with $APIBILLING_WEBHOOK_SECRET, from a queue
// that never blocks a request.
func newAlerts(url string, metrics *prombilling.Collector) (alert func(core.Alert), closeAlerts func(), err error) {
	if url == "" {
		return metrics.Alert, func() {}, nil
	}
	secret := os.Getenv("APIBILLING_WEBHOOK_SECRET")
	if secret == "" {
		return nil, nil, errors.New("-webhook needs a signing secret in $APIBILLING_WEBHOOK_SECRET")
	}
	sender := webhook.New(url, []byte(secret), nil)
	alert = func(a core.Alert) {
		metrics.Alert(a)
		sender.Notify(a)
	}
	closeAlerts = func() { // send what is queued, for a few seconds at most
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sender.Close(ctx) // alerts not sent by then are dropped, and counted
	}
	return alert, closeAlerts, nil
}

// apiKey is the usage API's identity: the client of the API key in
// X-API-Key or a bearer token, as for the billed routes.
func apiKey(clients *clientsfile.File) func(r *http.Request) (string, error) {
	return func(r *http.Request) (string, error) {
		key := r.Header.Get("X-API-Key")
		if key == "" {
			key, _ = httpbilling.BearerToken(r.Header.Get("Authorization"))
		}
		if client, ok := clients.ClientForKey(key); ok && key != "" {
			return client, nil
		}
		return "", errors.New("no valid API key")
	}
}

// sideRoutes are the routes besides the API, never billed: the usage API
// and dashboard under /billing/, and the metrics.
type sideRoutes struct {
	usage, metrics http.Handler
}

// isSide reports whether path is one of the side routes.
func isSide(path string) bool {
	return path == "/metrics" || path == "/billing" || strings.HasPrefix(path, "/billing/")
}
