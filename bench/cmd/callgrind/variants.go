package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/frappy-go/apibilling/bench/internal/apps"
	"github.com/frappy-go/apibilling/core"
)

// variant is one way of serving a request. build returns the function that
// serves one request and checks its answer, and a function that releases
// what build started.
type variant struct {
	name  string
	build func() (serve func() error, stop func())
}

// variants are every variant, in the order they are run and reported.
var variants = []variant{
	{"core/none", func() (func() error, func()) { return func() error { return nil }, nop }},
	{"core/map", mutexMap(1)},
	{"core/charge", charge(1)},
	{"core/map-10k", mutexMap(10_000)},
	{"core/charge-10k", charge(10_000)},
	{"core/floor", coreFloor},

	{"gin/bare", httpVariant(func() http.Handler { return apps.Gin() })},
	{"gin/anchor", httpVariant(func() http.Handler { return apps.Gin(apps.UluleGin()) })},
	{"gin/billing", httpVariant(func() http.Handler {
		return apps.Gin(apps.GinBilling(apps.MemoryBilling(), apps.LegacyHeaders))
	})},
	{"gin/billing-all", httpVariant(func() http.Handler {
		return apps.Gin(apps.GinBilling(apps.MemoryBilling(), apps.AllHeaders))
	})},

	{"echo/bare", httpVariant(func() http.Handler { return apps.Echo() })},
	{"echo/anchor", httpVariant(func() http.Handler { return apps.Echo(apps.EchoRateLimiter()) })},
	{"echo/billing", httpVariant(func() http.Handler {
		return apps.Echo(apps.EchoBilling(apps.MemoryBilling(), apps.NoHeaders))
	})},
	{"echo/billing-all", httpVariant(func() http.Handler {
		return apps.Echo(apps.EchoBilling(apps.MemoryBilling(), apps.AllHeaders))
	})},
	{"echo/floor", httpVariant(func() http.Handler { return apps.Echo(apps.EchoFloor(apps.MemoryBilling(), true)) })},
	{"echo/floor-noset", httpVariant(func() http.Handler { return apps.Echo(apps.EchoFloor(apps.MemoryBilling(), false)) })},

	{"fiber/bare", fiberVariant(func() *fiber.App { return apps.Fiber() })},
	{"fiber/anchor", fiberVariant(func() *fiber.App { return apps.Fiber(apps.FiberLimiter()) })},
	{"fiber/billing", fiberVariant(func() *fiber.App {
		return apps.Fiber(apps.FiberBilling(apps.MemoryBilling(), apps.LegacyHeaders))
	})},
	{"fiber/billing-all", fiberVariant(func() *fiber.App {
		return apps.Fiber(apps.FiberBilling(apps.MemoryBilling(), apps.AllHeaders))
	})},

	{"nethttp/bare", httpVariant(func() http.Handler { return apps.NetHTTP() })},
	{"nethttp/anchor", httpVariant(func() http.Handler { return apps.NetHTTP(apps.Httprate()) })},
	{"nethttp/billing", httpVariant(func() http.Handler {
		return apps.NetHTTP(apps.NetHTTPBilling(apps.MemoryBilling(), apps.LegacyHeaders))
	})},
	{"nethttp/billing-all", httpVariant(func() http.Handler {
		return apps.NetHTTP(apps.NetHTTPBilling(apps.MemoryBilling(), apps.AllHeaders))
	})},
}

func nop() {}

// clientIDs returns n client IDs: apps.ClientID alone for one.
func clientIDs(n int) []string {
	if n == 1 {
		return []string{apps.ClientID}
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "client-" + strconv.Itoa(i)
	}
	return ids
}

// mutexMap is the baseline of the core path: one update of a
// mutex-guarded map keyed by the client ID, the least a shared in-memory
// counter costs, for n clients taken in turn.
func mutexMap(n int) func() (func() error, func()) {
	return func() (func() error, func()) {
		var mu sync.Mutex
		m := map[string]int64{}
		ids := clientIDs(n)
		i := 0
		serve := func() error {
			mu.Lock()
			m[ids[i]]++
			mu.Unlock()
			if i++; i == len(ids) {
				i = 0
			}
			return nil
		}
		return everyClientOnce(serve, n), nop
	}
}

// charge is the core path: one credit charged with the route's label into
// a reused Outcome, as the middleware charges, for n clients (each with
// the benchmark's day and month quota) taken in turn.
func charge(n int) func() (func() error, func()) {
	return func() (func() error, func()) {
		ids := clientIDs(n)
		b := apps.MemoryBilling()
		for _, id := range ids {
			if err := b.SetQuotas(id, apps.Quotas()...); err != nil {
				panic(err)
			}
		}
		ctx := context.Background()
		var o core.Outcome
		c := core.Charge{Cost: core.Whole(1), Label: apps.Path}
		i := 0
		serve := func() error {
			c.Client = ids[i]
			if i++; i == len(ids) {
				i = 0
			}
			if err := b.ChargeInto(ctx, &o, &c); err != nil {
				return err
			}
			if !o.Allowed() {
				return fmt.Errorf("charge refused")
			}
			return nil
		}
		return everyClientOnce(serve, n), nop
	}
}

// everyClientOnce serves n requests, one per client, before the warm-up,
// so that no request that counts is a client's first, and returns serve.
func everyClientOnce(serve func() error, n int) func() error {
	if err := loop(serve, n); err != nil {
		panic(err)
	}
	return serve
}

// httpVariant serves an http.Handler with a reused request and a recorder
// reset between requests.
func httpVariant(newHandler func() http.Handler) func() (func() error, func()) {
	return func() (func() error, func()) {
		h := newHandler()
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1"+apps.Path, nil)
		if err != nil {
			panic(err)
		}
		req.RemoteAddr = "127.0.0.1:40000"
		req.Header.Set(apps.KeyHeader, apps.Key)
		w := &recorder{h: http.Header{}}
		return func() error {
			w.reset()
			h.ServeHTTP(w, req)
			if w.code != http.StatusOK || w.n != len(apps.Body) {
				return fmt.Errorf("status %d, %d bytes, headers %v", w.code, w.n, w.h)
			}
			return nil
		}, nop
	}
}

// recorder is a ResponseWriter that keeps the status and discards the body.
// Its header map is cleared, not replaced, between requests.
type recorder struct {
	h    http.Header
	code int
	n    int
}

func (r *recorder) Header() http.Header { return r.h }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	r.n += len(p)
	return len(p), nil
}

func (r *recorder) reset() {
	clear(r.h)
	r.code, r.n = 0, 0
}

// fiberVariant serves a fiber app through app.Handler() on a reused
// RequestCtx whose response is reset between requests.
func fiberVariant(newApp func() *fiber.App) func() (func() error, func()) {
	return func() (func() error, func()) {
		app := newApp()
		h := app.Handler()
		var req fasthttp.Request
		req.Header.SetMethod(fasthttp.MethodGet)
		req.SetRequestURI(apps.Path)
		req.Header.SetHost("127.0.0.1")
		req.Header.Set(apps.KeyHeader, apps.Key)
		ctx := new(fasthttp.RequestCtx)
		ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
		return func() error {
				ctx.Response.Reset()
				h(ctx)
				if ctx.Response.StatusCode() != http.StatusOK || len(ctx.Response.Body()) != len(apps.Body) {
					return fmt.Errorf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
				return nil
			}, func() {
				_ = app.Shutdown()
			}
	}
}

// coreFloor is the least a charge that keeps calendar usage does, written
// with Go maps: read the clock, find the client under a mutex, check and
// add to its two window counters (each started anew when its window has
// ended) and add to the aggregate of the hour and the route. It has none
// of ChargeInto's checks, idempotency keys, thresholds or store interface:
// the floor under the core path's target.
func coreFloor() (func() error, func()) {
	type window struct{ end, used, limit int64 }
	type hourLabel struct {
		hour  int64
		label string
	}
	type state struct {
		w     [2]window
		hours map[hourLabel]int64
	}
	var mu sync.Mutex
	m := map[string]*state{apps.ClientID: {hours: map[hourLabel]int64{}}}
	id, label := apps.ClientID, apps.Path
	serve := func() error {
		t := time.Now().UnixNano()
		mu.Lock()
		s := m[id]
		for i := range s.w {
			w := &s.w[i]
			if t >= w.end {
				w.end, w.used, w.limit = t+int64(24*time.Hour), 0, apps.Limit.Micro()
			}
			if w.used+1 > w.limit {
				mu.Unlock()
				return fmt.Errorf("refused")
			}
		}
		for i := range s.w {
			s.w[i].used++
		}
		s.hours[hourLabel{t - t%int64(time.Hour), label}]++
		mu.Unlock()
		return nil
	}
	return serve, nop
}
