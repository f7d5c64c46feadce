// Package httpbilling is the HTTP side of apibilling, written once for
// every framework: it bills a request from start to end and leaves only
// the framework's input and output to each adapter (Gin, Echo, Fiber and
// net/http), so that all four behave identically by construction.
//
// Per request, a [Handler] identifies the client, computes the cost (a
// constant, a cost function, or the per-route table of [Config].Routes),
// reads the Idempotency-Key header, charges through [core.Billing], sets
// the rate-limit headers, answers (problem+json, or the application's own
// handler) or passes to the next handler, exposes the outcome
// ([State.Outcome]), refunds after the handler when the refund predicate
// says so (a panic counts as 500), and releases its pooled state. An
// adapter implements the small interface [IO] for its request type: read a
// header, the route and whether one matched, set headers, write a status
// and body, run the next handler and learn its status, store, load and
// restore the request's [State], and hand a failure to the framework. The
// adapters of gin, echo and net/http keep the State in the request's
// context ([WithState], [StateFrom], [WithoutState]); fiber's in c.Locals.
//
// A request is charged exactly once, however many billing handlers of one
// Billing it passes (a global middleware and a route-level one): see
// [Handler.Serve]. Requests that no route serves (404, 405) are never
// charged. The status, handler kind and problem detail of every error come
// from one table: [Classify].
//
// Applications use this package directly only for what the adapters
// re-export: [CostError] (each adapter's BadCost returns one; read it in a
// custom error handler with errors.As), [Classify] and [StatusOf], the
// identity errors, and the header and problem constants.
package httpbilling
