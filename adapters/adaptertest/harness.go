package adaptertest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/httpbilling"
)

// Wiring is how an app's routes are billed.
type Wiring uint8

// The wirings every case runs in. A request must give the same answer and
// be charged the same, exactly once, in each.
const (
	// RouteLevel bills each route with its own route-level handler, derived
	// from one middleware: Handler on /health, /api/fetch-data,
	// /api/unstable, /api/fail, /api/panic and /api/outcome; Cost(5) on
	// /api/fetch-expensive-data; Cost(Whole(0)) on /api/quota; CostFunc on
	// /api/compute and /api/broken.
	RouteLevel Wiring = iota
	// Global bills with one global middleware (the framework's Use) given
	// the per-route table [Routes], plus route-level CostFunc handlers on
	// /api/compute and /api/broken (global and route-level combined).
	Global
	// Double bills with a global middleware of the default cost (1 credit,
	// no table) and, in addition, the route-level handlers of RouteLevel on
	// every route: the README's two snippets combined.
	Double
)

func (w Wiring) String() string {
	switch w {
	case Global:
		return "global"
	case Double:
		return "double"
	}
	return "route"
}

// Routes is the per-route cost table of the [Global] wiring.
var Routes = map[string]core.Credits{
	"/api/fetch-expensive-data": core.Whole(5),
	"GET /api/quota":            core.Whole(0),
	"POST /api/quota":           core.Whole(7), // never used: the route is GET only
}

// Identities an app can identify clients by.
type IdentitySource uint8

const (
	// KeyOrBearer: the X-API-Key header or an "Authorization: Bearer"
	// token, mapped with Lookup (the adapter's MapKey of FirstOf(Header,
	// Bearer)).
	KeyOrBearer IdentitySource = iota
	// QueryKey: the api_key query parameter, mapped with Lookup.
	QueryKey
	// ContextClient: an authentication middleware in front of the billing
	// maps the X-API-Key header with Lookup and stores the client ID in the
	// framework's request-scoped storage under [ClientKey] (gin c.Set, echo
	// c.Set, fiber c.Locals, net/http a context value); the billing uses
	// the adapter's ContextKey(ClientKey).
	ContextClient
)

// ClientKey is the key of the client ID of [ContextClient].
const ClientKey = "adaptertest.client"

// Env is what a [Maker] builds its app from: the billing and the middleware
// settings of a case.
type Env struct {
	// Billing charges the requests.
	Billing *core.Billing
	// Lookup maps an API key to its client.
	Lookup func(key string) (client string, ok bool)
	// Identity is where the app finds the client.
	Identity IdentitySource
	// Wiring is how routes are billed.
	Wiring Wiring
	// FailOpen, NoLegacyHeaders, NoDraftHeaders and the header names are
	// the middleware's settings of the same meaning.
	FailOpen                                  bool
	NoLegacyHeaders, NoDraftHeaders           bool
	LimitHeader, RemainingHeader, ResetHeader string
	// KeyHeader is the middleware's idempotency key header ("": default).
	KeyHeader string
	// StoreRetryAfter is the middleware's Retry-After of a 503 (0: default).
	StoreRetryAfter time.Duration
	// Label, when set, is the usage label of every request (the adapter's
	// label option returning it).
	Label string
	// Refund, when set, is the middleware's refund predicate.
	Refund func(status int) bool
	// Logger is the middleware's logger.
	Logger *slog.Logger
	// CustomHandlers replaces the denied, error and identity handlers with
	// ones that answer the adapter's StatusOf(err) with the text/plain body
	// [CustomBody](kind, status), kind being "denied", "error" or "identity".
	CustomHandlers bool
	// Report is called with every billing error that reaches the
	// framework's error path: gin's c.Errors, echo's HTTPErrorHandler,
	// fiber's ErrorHandler (through the adapter's wrapper), or, for
	// net/http, the middleware's logger (such records are not counted as
	// logs).
	Report func(err error)
	// Keep, when set, is called by /api/outcome with what OutcomeFrom
	// returned.
	Keep func(o core.Outcome, ok bool)
	// Observer, when set, is the middleware's observer of request outcomes.
	Observer httpbilling.Observer
}

// CustomBody is the body of the custom handlers of [Env].CustomHandlers.
func CustomBody(kind string, status int) string {
	return "custom " + kind + " " + strconv.Itoa(status)
}

// Maker builds the suite's app with one adapter. Every app has these
// routes, all GET, billed as env.Wiring says by handlers derived from one
// configured middleware whose skipper skips the path /health, behind a
// recovery middleware (outermost) that answers a panic with 500:
//
//	/health                    skipped; answers 200 "ok" (text/plain)
//	/api/fetch-data            1 credit; answers 200 [DataBody]("fetch-data")
//	/api/fetch-expensive-data  5 credits; answers 200 DataBody("fetch-expensive-data")
//	/api/compute               the query parameter units, with [UnitsCost];
//	                           answers 200 DataBody("compute")
//	/api/quota                 0 credits; answers 200 DataBody("quota")
//	/api/broken                a cost function that returns the zero (unset)
//	                           Credits and no error; answers 200 DataBody("broken")
//	/api/unstable              1 credit; the handler answers 503 DataBody("unstable")
//	/api/fail                  1 credit; the handler fails with status 500 the
//	                           framework's way (an error returned, or an abort)
//	/api/panic                 1 credit; the handler panics
//	/api/outcome               1 credit; answers 200 [OutcomeBody] of the
//	                           adapter's OutcomeFrom, and calls env.Keep
//
// Bodies other than /health and /api/fail are sent with the Content-Type
// "application/json". No other route exists: other paths are the router's
// 404, and other methods its 404 or 405.
type Maker func(t *testing.T, env Env) App

// App serves one request in-process.
type App func(req *http.Request) Response

// Response is an answer as the app wrote it: header names exactly as set
// (not canonicalized again), so the suite reads them as users do, with
// [net/http.Header.Get], and checks that they are stored under their
// canonical keys.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// BadUnits is the detail of the 400 answered for a bad units parameter.
const BadUnits = "units must be a non-negative decimal number"

// DataBody returns the body a route answers.
func DataBody(route string) string { return `{"data":"` + route + `"}` }

// OutcomeBody returns the body of /api/outcome for what OutcomeFrom
// returned: the most constrained quota's period and remaining credits, and
// the cost charged.
func OutcomeBody(o core.Outcome, ok bool) string {
	if !ok {
		return `{"outcome":null}`
	}
	low, ok := o.Lowest()
	if !ok {
		return `{"cost":"` + o.Cost().String() + `","lowest":null}`
	}
	return `{"cost":"` + o.Cost().String() + `","period":"` + low.Period.String() +
		`","remaining":"` + low.Remaining.String() + `"}`
}

// UnitsCost parses the units parameter of /api/compute; bad is the
// adapter's BadCost.
func UnitsCost(units string, bad func(status int, detail string) error) (core.Credits, error) {
	c, err := core.ParseCredits(units)
	if err != nil {
		return core.Credits{}, bad(http.StatusBadRequest, BadUnits)
	}
	return c, nil
}

// BrokenCost is the cost function of /api/broken: an invalid cost (not
// set) without an error.
func BrokenCost() (core.Credits, error) { return core.Credits{}, nil }

// SkipPath reports whether the middleware skips path.
func SkipPath(path string) bool { return path == "/health" }

// errStoreDown is the failure of a store that is down.
var errStoreDown = errors.New("adaptertest: store down")

// downStore is a store whose every call fails.
type downStore struct{ core.Store }

func (downStore) Deduct(context.Context, *core.Op) (core.Result, error) {
	return core.Result{}, errStoreDown
}
func (downStore) Refund(context.Context, *core.Op) error { return errStoreDown }

// billingHeader reports whether name is a header the middleware may set.
func billingHeader(name string, env Env) bool {
	n := strings.ToLower(name)
	if strings.Contains(n, "ratelimit") || n == "retry-after" {
		return true
	}
	for _, h := range []string{env.LimitHeader, env.RemainingHeader, env.ResetHeader} {
		if h != "" && strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}
