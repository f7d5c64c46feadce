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
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	goredis "github.com/redis/go-redis/v9"

	fiberbilling "github.com/frappy-go/apibilling/adapters/fiber"
	"github.com/frappy-go/apibilling/clientsfile"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/bolt"
	"github.com/frappy-go/apibilling/stores/redis"

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
	db := flag.String("db", "apibilling.db", "bbolt file that keeps usage")
	clientsPath := flag.String("clients", "", "JSON file of clients, keys and quotas (default: the built-in demo clients)")
	redisAddr := flag.String("redis", "", "keep usage in the Redis server at this address (host:port) instead of the bbolt file")
	adminToken := flag.String("admin-token", os.Getenv("APIBILLING_ADMIN_TOKEN"), "token of the operator usage API (reserved: not served by this version)")
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	_ = *adminToken

	clients, err := clientsfile.LoadOrDemo(*clientsPath)
	if err != nil {
		return err
	}
	store, where, err := openStore(*db, *redisAddr)
	if err != nil {
		return err
	}
	defer func() { // after the server has stopped: flush and close the store
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the store: %w", cerr)
		}
	}()
	billing := core.New(store)
	if err := clients.Apply(billing); err != nil {
		return err
	}

	app := newApp(billing, clients)
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
func newApp(billing *core.Billing, clients *clientsfile.File) *fiber.App {
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
	})
	app.Use(recover.New(), bill.Handler())
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

// openStore opens the bbolt file, or the Redis store when redisAddr is set.
func openStore(db, redisAddr string) (core.Store, string, error) {
	if redisAddr != "" {
		s, err := openRedis(redisAddr)
		return s, "redis " + redisAddr, err
	}
	s, err := bolt.Open(db, nil) // durable: each charge is on disk before its handler runs
	if errors.Is(err, bolt.ErrLocked) {
		return nil, "", fmt.Errorf("%w; stop it, or give this one another -db", err)
	}
	return s, db, err
}

// openRedis opens a store in the Redis server at addr, checking that it
// answers, so that a wrong address fails at start-up rather than with 503s.
func openRedis(addr string) (core.Store, error) {
	// No retries: a charge retried after a broken connection could count
	// twice. A failed call answers 503, and the client retries.
	client := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		return nil, errors.Join(fmt.Errorf("redis at %s does not answer: %w", addr, err), client.Close())
	}
	s, err := redis.New(client, nil)
	if err != nil {
		return nil, errors.Join(err, client.Close())
	}
	return redisStore{s, client}, nil
}

// redisStore closes the Redis client with the store.
type redisStore struct {
	*redis.Store
	client *goredis.Client
}

func (s redisStore) Close() error { return errors.Join(s.Store.Close(), s.client.Close()) }

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

// quotaBody returns the body of /api/quota: the caller's quotas, shortest
// period first, amounts exact, limit and remaining null when unlimited,
// times RFC 3339 in the quota's zone.
func quotaBody(o core.Outcome) []byte {
	type quota struct {
		Period      string        `json:"period"`
		Limit       *core.Credits `json:"limit"`
		Used        core.Credits  `json:"used"`
		Remaining   *core.Credits `json:"remaining"`
		WindowStart string        `json:"window_start"`
		ResetsAt    string        `json:"resets_at"`
	}
	body := struct {
		Client string  `json:"client"`
		Quotas []quota `json:"quotas"`
	}{Client: o.Client(), Quotas: []quota{}}
	for _, q := range o.Quotas() {
		e := quota{Period: q.Period.String(), Used: q.Used,
			WindowStart: q.Start.Format(time.RFC3339Nano), ResetsAt: q.End.Format(time.RFC3339Nano)}
		if !q.Unlimited() {
			e.Limit, e.Remaining = &q.Limit, &q.Remaining
		}
		body.Quotas = append(body.Quotas, e)
	}
	b, _ := json.Marshal(body) // every field encodes
	return b
}
