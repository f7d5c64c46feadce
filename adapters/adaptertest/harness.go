package adaptertest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// Env is what a [Maker] builds its app from: the billing and the middleware
// settings of a case.
type Env struct {
	// Billing charges the requests.
	Billing *core.Billing
	// Lookup maps an API key to its client: the app's identity is the
	// X-API-Key header or an "Authorization: Bearer" token, mapped with
	// Lookup (the adapter's MapKey of FirstOf(Header, Bearer)).
	Lookup func(key string) (client string, ok bool)
	// FailOpen, NoLegacyHeaders, NoDraftHeaders and the header names are
	// the middleware's settings of the same meaning.
	FailOpen                                  bool
	NoLegacyHeaders, NoDraftHeaders           bool
	LimitHeader, RemainingHeader, ResetHeader string
	// Logger is the middleware's logger.
	Logger *slog.Logger
	// CustomHandlers replaces the denied, error and identity handlers with
	// ones that answer the adapter's StatusOf(err) with the text/plain body
	// [CustomBody](kind, status), kind being "denied", "error" or "identity".
	CustomHandlers bool
}

// CustomBody is the body of the custom handlers of [Env].CustomHandlers.
func CustomBody(kind string, status int) string {
	return "custom " + kind + " " + strconv.Itoa(status)
}

// Maker builds the suite's app with one adapter. Every app has these
// routes, all GET, each billed by a route-level middleware derived from one
// configured middleware whose skipper skips the path /health:
//
//	/health                    skipped; answers 200 "ok" (text/plain)
//	/api/fetch-data            1 credit; answers 200 [DataBody]("fetch-data")
//	/api/fetch-expensive-data  5 credits; answers 200 DataBody("fetch-expensive-data")
//	/api/compute               the query parameter units, parsed with core.ParseCredits;
//	                           a bad value is the adapter's BadCost(400, [BadUnits]);
//	                           answers 200 DataBody("compute")
//	/api/quota                 0 credits; answers 200 DataBody("quota")
//	/api/broken                a cost function that returns -1 micro-credits and no error;
//	                           answers 200 DataBody("broken")
//	/api/unstable              1 credit; the handler answers 503 DataBody("unstable")
//	/api/fail                  1 credit; the handler fails with status 500 the
//	                           framework's way (an error returned, or an abort)
//	/api/panic                 1 credit; the handler panics, and a recovery
//	                           middleware in front of every route answers 500
//	/api/outcome               1 credit; answers 200 [OutcomeBody] of the adapter's OutcomeFrom
//
// Bodies other than /health and /api/fail are sent with the Content-Type
// "application/json".
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
func OutcomeBody(o *core.Outcome, ok bool) string {
	if !ok || o == nil {
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
		return 0, bad(http.StatusBadRequest, BadUnits)
	}
	return c, nil
}

// BrokenCost is the cost function of /api/broken: an invalid cost without
// an error.
func BrokenCost() (core.Credits, error) { return -1, nil }

// SkipPath reports whether the middleware skips path.
func SkipPath(path string) bool { return path == "/health" }

// errStoreDown is the failure of a store that is down.
var errStoreDown = errors.New("adaptertest: store down")

// downStore is a store whose every call fails.
type downStore struct{ core.Store }

func (downStore) Deduct(context.Context, core.Op) (core.Result, error) {
	return core.Result{}, errStoreDown
}
func (downStore) Refund(context.Context, core.Op) error { return errStoreDown }

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
