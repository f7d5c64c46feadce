// Command callgrind counts the instructions a middleware adds to a request:
// apibilling's and each framework's usual limiter, and the core path against
// a bare mutex-guarded map update. Instruction counts from valgrind's
// callgrind do not depend on what else the machine runs, so they can be
// compared across runs on a busy machine where wall-clock times cannot.
//
// Every variant serves requests in process, as the benchmarks of
// bench/inprocess do (gin, echo and net/http through ServeHTTP with a reused
// request and a ResponseWriter reset between requests, fiber through
// app.Handler() on a reused fasthttp.RequestCtx), one request after another
// after a warm-up. A variant is run under callgrind serving N and then 2N
// requests, and its instructions per request are (I(2N) - I(N)) / N: the
// start-up and the warm-up cancel out. That is done twice: counting the
// whole program with the garbage collector run stop-the-world
// (GODEBUG=gcstoptheworld=1, so that its work is counted and does not depend
// on timing), the figure reported first; and with the collector off
// (GOGC=off), counting only the loop that serves the requests: the request
// path alone. One processor (GOMAXPROCS=1) and no asynchronous preemption
// keep the counts repeatable to about 1%. The instructions a middleware adds
// are its variant's per request minus the bare framework's.
//
// Variants: gin, echo, fiber and nethttp, each "bare", "anchor" (the usual
// limiter: ulule/limiter v3 with its gin middleware, echo's
// middleware.RateLimiter, fiber's middleware/limiter, go-chi/httprate),
// "billing" (apibilling on the memory store with the anchor's headers: the
// X-RateLimit-Limit, -Remaining and -Reset triple, none for echo) and
// "billing-all" (every header); and core "none" (the loop alone), "map" (a
// mutex-guarded map update keyed by the client ID) and "charge"
// (core.Billing.ChargeInto on the memory store, a day and a month quota),
// with one client and with 10,000 taken in turn ("map-10k", "charge-10k").
// Two floors show the least the targets allow: "echo/floor" and
// "echo/floor-noset" (apps.EchoFloor: a hand-written echo middleware that
// charges into a pooled outcome, with and without storing it with c.Set)
// and "core/floor" (a calendar charge on Go maps: the clock, two window
// counters and the hour's aggregate by route).
// Allocations per request are counted natively, from runtime.MemStats.
//
// Usage, from the bench module (valgrind must be installed):
//
//	go build -o /tmp/callgrind ./cmd/callgrind                   # not go run: it strips the symbols callgrind needs
//	/tmp/callgrind -out results/callgrind.json                   # every variant
//	/tmp/callgrind -variants '^gin/' -n 20000                    # some
//	/tmp/callgrind -keep /tmp/cg -variants gin/billing           # keep the callgrind files
//
// The JSON lists, per variant, the instruction totals of both runs, the
// instructions and allocations per request; cmd/report renders it. With
// -serve VARIANT the command serves -n requests of one variant and exits:
// that is what it runs under valgrind.
package main
