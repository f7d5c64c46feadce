package adaptertest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// Now is the time of every request of the suite: one hour before a day
// renews.
var Now = time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)

// The suite's clients, by API key.
var clients = []struct {
	key, id string
	quotas  []core.Quota
}{
	{"key-one", "client-one", []core.Quota{
		{Period: core.Day, Limit: core.Whole(500), Anchor: time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Period: core.Month, Limit: core.Whole(10_000), Anchor: time.Date(2022, 1, 15, 0, 0, 0, 0, time.UTC)},
	}},
	{"key-small", "client-small", []core.Quota{
		{Period: core.Day, Limit: core.Whole(5)},
	}},
	{"key-multi", "client-multi", []core.Quota{
		{Period: core.Minute, Limit: core.Whole(10)},
		{Period: core.Day, Limit: core.Whole(12)},
	}},
	{"key-week", "client-week", []core.Quota{
		{Period: core.Second, Limit: core.Whole(100)},
		{Period: core.Week, Limit: core.Whole(3), Anchor: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)},
	}},
	{"key-free", "client-free", []core.Quota{
		{Period: core.Day, Limit: core.Unlimited},
	}},
	{"key-none", "client-none", nil},
	{"key-long", strings.Repeat("L", core.MaxClientIDLen+1), nil},
}

// Case is one request of the suite and all it must give.
type Case struct {
	Name string
	// Env adjusts the middleware's settings.
	Env func(*Env)
	// Down makes every store call fail.
	Down bool
	// Before runs before the request, with a clock setter (the clock is
	// reset to [Now] for the request).
	Before func(b *core.Billing, at func(time.Time)) error

	// Prior are requests served, in order, before the one checked, by the
	// same app; their answers are not checked.
	Prior []Request

	Method string // default GET
	Path   string
	Header map[string]string // request headers

	Status int
	// OrStatus is another status the request may be answered with (a 404
	// that a router answers 405, or the other way round).
	OrStatus int
	// Headers are all the headers the middleware sets (rate-limit headers
	// and Retry-After) and their exact values. Names are case-insensitive:
	// each is read with [net/http.Header.Values], and must be stored under
	// its canonical key.
	Headers map[string]string
	// ContentType and Body are the exact answer, unless AnyBody (a body
	// the framework writes itself).
	ContentType string
	Body        string
	AnyBody     bool

	// Client and Used: the usage of the client's shortest-period quota
	// after the request, if Client is set.
	Client string
	Used   core.Credits
	// Label and LabelUsed: the client's usage reported under Label today,
	// if Label is set.
	Label     string
	LabelUsed core.Credits
	// Logs is the number of records logged.
	Logs int
	// Reported: the failure reached the framework's error path, once
	// ([Env].Report).
	Reported bool
}

// Request is a request of [Case].Prior.
type Request struct {
	Path   string
	Header map[string]string
}

const (
	problemJSON = "application/problem+json"
	jsonType    = "application/json"
)

func key(k string) map[string]string { return map[string]string{"X-API-Key": k} }

func idem(k, idempotencyKey string) map[string]string {
	return map[string]string{"X-API-Key": k, "Idempotency-Key": idempotencyKey}
}

// one returns the headers of client-one with day and month remaining.
func one(day, month int) map[string]string {
	return map[string]string{
		"X-RateLimit-Limit":     "500",
		"X-RateLimit-Remaining": fmt.Sprint(day),
		"X-RateLimit-Reset":     "1796083200", // 2026-12-01T00:00:00Z
		"RateLimit-Policy":      `"day";q=500;w=86400, "month";q=10000;w=2678400`,
		"RateLimit":             fmt.Sprintf(`"day";r=%d;t=3600, "month";r=%d;t=1213200`, day, month),
	}
}

func with(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func track(client string, cost core.Credits, at time.Time) func(*core.Billing, func(time.Time)) error {
	return func(b *core.Billing, set func(time.Time)) error {
		set(at)
		_, err := b.Track(context.Background(), client, cost)
		return err
	}
}

func problem(status int, title, detail string) string {
	return fmt.Sprintf(`{"type":"about:blank","title":%q,"status":%d,"detail":%q}`, title, status, detail)
}

// Cases returns the suite's table.
func Cases() []Case {
	legacyOff := func(e *Env) { e.NoLegacyHeaders = true }
	draftOff := func(e *Env) { e.NoDraftHeaders = true }
	custom := func(e *Env) { e.CustomHandlers = true }
	queryID := func(e *Env) { e.Identity = QueryKey }
	contextID := func(e *Env) { e.Identity = ContextClient }
	return []Case{
		{Name: "allowed", Path: "/api/fetch-data", Header: key("key-one"),
			Status: 200, Headers: one(499, 9999), ContentType: jsonType, Body: DataBody("fetch-data"),
			Client: "client-one", Used: core.Whole(1), Label: "/api/fetch-data", LabelUsed: core.Whole(1)},
		{Name: "allowed bearer", Path: "/api/fetch-data", Header: map[string]string{"Authorization": "Bearer key-one"},
			Status: 200, Headers: one(499, 9999), ContentType: jsonType, Body: DataBody("fetch-data"),
			Client: "client-one", Used: core.Whole(1)},
		{Name: "expensive route", Path: "/api/fetch-expensive-data", Header: key("key-one"),
			Status: 200, Headers: one(495, 9995), ContentType: jsonType, Body: DataBody("fetch-expensive-data"),
			Client: "client-one", Used: core.Whole(5), Label: "/api/fetch-expensive-data", LabelUsed: core.Whole(5)},
		{Name: "denied", Path: "/api/fetch-expensive-data", Header: key("key-small"),
			Before: track("client-small", core.Whole(2), Now),
			Status: 429, Headers: map[string]string{
				"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1796083200",
				"RateLimit-Policy": `"day";q=5;w=86400`, "RateLimit": `"day";r=3;t=3600`, "Retry-After": "3600",
			},
			ContentType: problemJSON,
			Body: `{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded",` +
				`"title":"Quota exceeded","status":429,` +
				`"detail":"You have only 3 credits remaining, but 5 are required. They will renew at 2026-12-01T00:00:00Z.",` +
				`"violated-policies":["day"],"remaining":3,"required":5,"renews_at":"2026-12-01T00:00:00Z"}`,
			Client: "client-small", Used: core.Whole(2)},
		{Name: "denied with fractional credits left", Path: "/api/fetch-expensive-data", Header: key("key-small"),
			Before: track("client-small", core.MustParseCredits("2.5"), Now),
			Status: 429, Headers: map[string]string{
				"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "1796083200",
				"RateLimit-Policy": `"day";q=5;w=86400`, "RateLimit": `"day";r=2;t=3600`, "Retry-After": "3600",
			},
			ContentType: problemJSON,
			Body: `{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded",` +
				`"title":"Quota exceeded","status":429,` +
				`"detail":"You have only 2.5 credits remaining, but 5 are required. They will renew at 2026-12-01T00:00:00Z.",` +
				`"violated-policies":["day"],"remaining":2.5,"required":5,"renews_at":"2026-12-01T00:00:00Z"}`,
			Client: "client-small", Used: core.MustParseCredits("2.5")},
		{Name: "multi-window shorter most constrained", Path: "/api/fetch-data", Header: key("key-multi"),
			Status: 200, Headers: map[string]string{
				"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9", "X-RateLimit-Reset": "1796079660",
				"RateLimit-Policy": `"minute";q=10;w=60, "day";q=12;w=86400`,
				"RateLimit":        `"minute";r=9;t=60, "day";r=11;t=3600`,
			},
			ContentType: jsonType, Body: DataBody("fetch-data"), Client: "client-multi", Used: core.Whole(1)},
		{Name: "multi-window longer most constrained", Path: "/api/fetch-data", Header: key("key-week"),
			Status: 200, Headers: map[string]string{
				"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "1796256000",
				"RateLimit-Policy": `"second";q=100;w=1, "week";q=3;w=604800`,
				"RateLimit":        `"week";r=2;t=176400, "second";r=99;t=1`,
			},
			ContentType: jsonType, Body: DataBody("fetch-data"), Client: "client-week", Used: core.Whole(1)},
		{Name: "multi-window denied by both", Path: "/api/fetch-expensive-data", Header: key("key-multi"),
			Before: track("client-multi", core.Whole(9), Now),
			Status: 429, Headers: map[string]string{
				"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "1796079660",
				"RateLimit-Policy": `"minute";q=10;w=60, "day";q=12;w=86400`,
				"RateLimit":        `"minute";r=1;t=60, "day";r=3;t=3600`,
				"Retry-After":      "3600",
			},
			ContentType: problemJSON,
			Body: `{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded",` +
				`"title":"Quota exceeded","status":429,` +
				`"detail":"You have only 1 credits remaining, but 5 are required. They will renew at 2026-11-30T23:01:00Z.",` +
				`"violated-policies":["minute","day"],"remaining":1,"required":5,"renews_at":"2026-11-30T23:01:00Z"}`,
			Client: "client-multi", Used: core.Whole(9)},
		{Name: "multi-window denied by the longer", Path: "/api/fetch-expensive-data", Header: key("key-multi"),
			Before: track("client-multi", core.Whole(9), Now.Add(-10*time.Minute)),
			Status: 429, Headers: map[string]string{
				"X-RateLimit-Limit": "12", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1796083200",
				"RateLimit-Policy": `"minute";q=10;w=60, "day";q=12;w=86400`,
				"RateLimit":        `"day";r=3;t=3600, "minute";r=10;t=60`,
				"Retry-After":      "3600",
			},
			ContentType: problemJSON,
			Body: `{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded",` +
				`"title":"Quota exceeded","status":429,` +
				`"detail":"You have only 3 credits remaining, but 5 are required. They will renew at 2026-12-01T00:00:00Z.",` +
				`"violated-policies":["day"],"remaining":3,"required":5,"renews_at":"2026-12-01T00:00:00Z"}`,
			Client: "client-multi", Used: core.Whole(0)},
		{Name: "multi-window denied by the shorter", Path: "/api/compute?units=3", Header: key("key-multi"),
			Before: track("client-multi", core.Whole(8), Now),
			Status: 429, Headers: map[string]string{
				"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "1796079660",
				"RateLimit-Policy": `"minute";q=10;w=60, "day";q=12;w=86400`,
				"RateLimit":        `"minute";r=2;t=60, "day";r=4;t=3600`,
				"Retry-After":      "60",
			},
			ContentType: problemJSON,
			Body: `{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded",` +
				`"title":"Quota exceeded","status":429,` +
				`"detail":"You have only 2 credits remaining, but 3 are required. They will renew at 2026-11-30T23:01:00Z.",` +
				`"violated-policies":["minute"],"remaining":2,"required":3,"renews_at":"2026-11-30T23:01:00Z"}`,
			Client: "client-multi", Used: core.Whole(8)},
		{Name: "cost from the request", Path: "/api/compute?units=2.5", Header: key("key-one"),
			Status: 200, Headers: one(497, 9997), ContentType: jsonType, Body: DataBody("compute"),
			Client: "client-one", Used: core.MustParseCredits("2.5"), Label: "/api/compute", LabelUsed: core.MustParseCredits("2.5")},
		{Name: "bad cost from the request", Path: "/api/compute?units=2.5e3", Header: key("key-one"),
			Status: 400, ContentType: problemJSON, Body: problem(400, "Bad Request", BadUnits),
			Client: "client-one", Used: core.Whole(0)},
		{Name: "missing cost from the request", Path: "/api/compute", Header: key("key-one"),
			Status: 400, ContentType: problemJSON, Body: problem(400, "Bad Request", BadUnits),
			Client: "client-one", Used: core.Whole(0)},
		{Name: "zero cost", Path: "/api/quota", Header: key("key-one"),
			Status: 200, Headers: one(500, 10000), ContentType: jsonType, Body: DataBody("quota"),
			Client: "client-one", Used: core.Whole(0)},
		{Name: "invalid cost", Path: "/api/broken", Header: key("key-one"),
			Status: 500, ContentType: problemJSON,
			Body:   problem(500, "Internal Server Error", "The cost of this request could not be determined."),
			Client: "client-one", Used: core.Whole(0), Reported: true},
		{Name: "refund on 503", Path: "/api/unstable", Header: key("key-one"),
			Status: 503, Headers: one(499, 9999), ContentType: jsonType, Body: DataBody("unstable"),
			Client: "client-one", Used: core.Whole(0), Label: "/api/unstable", LabelUsed: core.Whole(0)},
		{Name: "refund on a handler error", Path: "/api/fail", Header: key("key-one"),
			Status: 500, Headers: one(499, 9999), AnyBody: true,
			Client: "client-one", Used: core.Whole(0)},
		{Name: "refund on a panic", Path: "/api/panic", Header: key("key-one"),
			Status: 500, Headers: one(499, 9999), AnyBody: true,
			Client: "client-one", Used: core.Whole(0)},
		{Name: "unknown key", Path: "/api/fetch-data", Header: key("key-bogus"),
			Status: 401, ContentType: problemJSON,
			Body: problem(401, "Unauthorized", "The client identity is not recognized.")},
		{Name: "missing identity", Path: "/api/fetch-data",
			Status: 401, ContentType: problemJSON,
			Body: problem(401, "Unauthorized", "The request does not identify a client.")},
		{Name: "empty bearer", Path: "/api/fetch-data", Header: map[string]string{"Authorization": "Bearer "},
			Status: 401, ContentType: problemJSON,
			Body: problem(401, "Unauthorized", "The request does not identify a client.")},
		{Name: "client ID too long", Path: "/api/fetch-data", Header: key("key-long"),
			Status: 401, ContentType: problemJSON,
			Body: problem(401, "Unauthorized", "The client identity is not valid.")},
		{Name: "client without quotas", Path: "/api/fetch-data", Header: key("key-none"),
			Status: 403, ContentType: problemJSON,
			Body: problem(403, "Forbidden", "You do not have any available quota")},
		{Name: "store down fail closed", Path: "/api/fetch-data", Header: key("key-one"), Down: true,
			Status: 503, Headers: map[string]string{"Retry-After": "1"}, ContentType: problemJSON,
			Body: problem(503, "Service Unavailable", "Billing is temporarily unavailable. Retry later."), Reported: true},
		{Name: "store down fail open", Path: "/api/fetch-data", Header: key("key-one"), Down: true,
			Env:    func(e *Env) { e.FailOpen = true },
			Status: 200, ContentType: jsonType, Body: DataBody("fetch-data"), Logs: 1},
		{Name: "skipped route", Path: "/health", Header: key("key-one"),
			Status: 200, ContentType: "text/plain", Body: "ok", Client: "client-one", Used: core.Whole(0)},
		{Name: "skipped route without identity", Path: "/health",
			Status: 200, ContentType: "text/plain", Body: "ok"},
		{Name: "unlimited-only client", Path: "/api/fetch-data", Header: key("key-free"),
			Status: 200, ContentType: jsonType, Body: DataBody("fetch-data"), Client: "client-free", Used: core.Whole(1)},
		{Name: "legacy headers off", Path: "/api/fetch-data", Header: key("key-one"), Env: legacyOff,
			Status: 200, Headers: with(one(499, 9999), "X-RateLimit-Limit", "", "X-RateLimit-Remaining", "", "X-RateLimit-Reset", ""),
			ContentType: jsonType, Body: DataBody("fetch-data"), Client: "client-one", Used: core.Whole(1)},
		{Name: "draft headers off", Path: "/api/fetch-data", Header: key("key-one"), Env: draftOff,
			Status: 200, Headers: with(one(499, 9999), "RateLimit-Policy", "", "RateLimit", ""),
			ContentType: jsonType, Body: DataBody("fetch-data"), Client: "client-one", Used: core.Whole(1)},
		{Name: "all headers off", Path: "/api/fetch-data", Header: key("key-one"),
			Env:    func(e *Env) { legacyOff(e); draftOff(e) },
			Status: 200, ContentType: jsonType, Body: DataBody("fetch-data"), Client: "client-one", Used: core.Whole(1)},
		{Name: "all headers off denied", Path: "/api/fetch-expensive-data", Header: key("key-small"),
			Env:    func(e *Env) { legacyOff(e); draftOff(e) },
			Before: track("client-small", core.Whole(4), Now),
			Status: 429, Headers: map[string]string{"Retry-After": "3600"}, ContentType: problemJSON,
			Body: `{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded",` +
				`"title":"Quota exceeded","status":429,` +
				`"detail":"You have only 1 credits remaining, but 5 are required. They will renew at 2026-12-01T00:00:00Z.",` +
				`"violated-policies":["day"],"remaining":1,"required":5,"renews_at":"2026-12-01T00:00:00Z"}`,
			Client: "client-small", Used: core.Whole(4)},
		{Name: "legacy headers renamed", Path: "/api/fetch-data", Header: key("key-one"),
			Env: func(e *Env) {
				e.LimitHeader, e.RemainingHeader, e.ResetHeader = "X-Quota-Limit", "X-Quota-Remaining", "X-Quota-Reset"
			},
			Status: 200, Headers: with(one(499, 9999),
				"X-RateLimit-Limit", "", "X-RateLimit-Remaining", "", "X-RateLimit-Reset", "",
				"X-Quota-Limit", "500", "X-Quota-Remaining", "499", "X-Quota-Reset", "1796083200"),
			ContentType: jsonType, Body: DataBody("fetch-data"), Client: "client-one", Used: core.Whole(1)},
		{Name: "legacy headers renamed in lower case", Path: "/api/fetch-data", Header: key("key-one"),
			Env: func(e *Env) {
				e.LimitHeader, e.RemainingHeader, e.ResetHeader = "x-quota-limit", "x-quota-remaining", "x-quota-reset"
			},
			Status: 200, Headers: with(one(499, 9999),
				"X-RateLimit-Limit", "", "X-RateLimit-Remaining", "", "X-RateLimit-Reset", "",
				"X-Quota-Limit", "500", "x-quota-remaining", "499", "X-QUOTA-RESET", "1796083200"),
			ContentType: jsonType, Body: DataBody("fetch-data"), Client: "client-one", Used: core.Whole(1)},
		{Name: "custom denied handler", Path: "/api/fetch-expensive-data", Header: key("key-small"), Env: custom,
			Before: track("client-small", core.Whole(2), Now),
			Status: 429, Headers: map[string]string{
				"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1796083200",
				"RateLimit-Policy": `"day";q=5;w=86400`, "RateLimit": `"day";r=3;t=3600`, "Retry-After": "3600",
			},
			ContentType: "text/plain", Body: CustomBody("denied", 429), Client: "client-small", Used: core.Whole(2)},
		{Name: "custom denied handler without quotas", Path: "/api/fetch-data", Header: key("key-none"), Env: custom,
			Status: 403, ContentType: "text/plain", Body: CustomBody("denied", 403)},
		{Name: "custom identity handler", Path: "/api/fetch-data", Header: key("key-bogus"), Env: custom,
			Status: 401, ContentType: "text/plain", Body: CustomBody("identity", 401)},
		{Name: "custom error handler for a bad cost", Path: "/api/compute?units=-1", Header: key("key-one"), Env: custom,
			Status: 400, ContentType: "text/plain", Body: CustomBody("error", 400), Client: "client-one", Used: core.Whole(0)},
		{Name: "custom error handler for a store failure", Path: "/api/fetch-data", Header: key("key-one"), Env: custom, Down: true,
			Status: 503, Headers: map[string]string{"Retry-After": "1"}, ContentType: "text/plain", Body: CustomBody("error", 503)},
		{Name: "outcome in the handler", Path: "/api/outcome", Header: key("key-one"),
			Status: 200, Headers: one(499, 9999), ContentType: jsonType,
			Body: `{"cost":"1","period":"day","remaining":"499"}`, Client: "client-one", Used: core.Whole(1)},
		{Name: "outcome of an unlimited-only client", Path: "/api/outcome", Header: key("key-free"),
			Status: 200, ContentType: jsonType, Body: `{"cost":"1","lowest":null}`, Client: "client-free", Used: core.Whole(1)},
		{Name: "no outcome when failing open", Path: "/api/outcome", Header: key("key-one"), Down: true,
			Env:    func(e *Env) { e.FailOpen = true },
			Status: 200, ContentType: jsonType, Body: `{"outcome":null}`, Logs: 1},

		// Identities.
		{Name: "query identity", Path: "/api/fetch-data?api_key=key-one", Env: queryID,
			Status: 200, Headers: one(499, 9999), ContentType: jsonType, Body: DataBody("fetch-data"),
			Client: "client-one", Used: core.Whole(1)},
		{Name: "query identity missing", Path: "/api/fetch-data", Header: key("key-one"), Env: queryID,
			Status: 401, ContentType: problemJSON, Body: problem(401, "Unauthorized", "The request does not identify a client.")},
		{Name: "query identity unknown", Path: "/api/fetch-data?api_key=key-bogus", Env: queryID,
			Status: 401, ContentType: problemJSON, Body: problem(401, "Unauthorized", "The client identity is not recognized.")},
		{Name: "context identity", Path: "/api/fetch-expensive-data", Header: key("key-one"), Env: contextID,
			Status: 200, Headers: one(495, 9995), ContentType: jsonType, Body: DataBody("fetch-expensive-data"),
			Client: "client-one", Used: core.Whole(5)},
		{Name: "context identity missing", Path: "/api/fetch-data", Header: key("key-bogus"), Env: contextID,
			Status: 401, ContentType: problemJSON, Body: problem(401, "Unauthorized", "The request does not identify a client.")},

		// Label, refund predicate, Retry-After of a store failure.
		{Name: "label", Path: "/api/fetch-expensive-data", Header: key("key-one"), Env: func(e *Env) { e.Label = "custom-label" },
			Status: 200, Headers: one(495, 9995), ContentType: jsonType, Body: DataBody("fetch-expensive-data"),
			Client: "client-one", Used: core.Whole(5), Label: "custom-label", LabelUsed: core.Whole(5)},
		{Name: "label of a cost from the request", Path: "/api/compute?units=2", Header: key("key-one"), Env: func(e *Env) { e.Label = "custom-label" },
			Status: 200, Headers: one(498, 9998), ContentType: jsonType, Body: DataBody("compute"),
			Client: "client-one", Used: core.Whole(2), Label: "custom-label", LabelUsed: core.Whole(2)},
		{Name: "refund predicate keeps a 503", Path: "/api/unstable", Header: key("key-one"),
			Env:    func(e *Env) { e.Refund = func(int) bool { return false } },
			Status: 503, Headers: one(499, 9999), ContentType: jsonType, Body: DataBody("unstable"),
			Client: "client-one", Used: core.Whole(1)},
		{Name: "refund predicate refunds a 200", Path: "/api/fetch-expensive-data", Header: key("key-one"),
			Env:    func(e *Env) { e.Refund = func(s int) bool { return s == 200 } },
			Status: 200, Headers: one(495, 9995), ContentType: jsonType, Body: DataBody("fetch-expensive-data"),
			Client: "client-one", Used: core.Whole(0), Label: "/api/fetch-expensive-data", LabelUsed: core.Whole(0)},
		{Name: "refund predicate on a panic", Path: "/api/panic", Header: key("key-one"),
			Env:    func(e *Env) { e.Refund = func(s int) bool { return s == 500 } },
			Status: 500, Headers: one(499, 9999), AnyBody: true, Client: "client-one", Used: core.Whole(0)},
		{Name: "store Retry-After", Path: "/api/fetch-data", Header: key("key-one"), Down: true,
			Env:    func(e *Env) { e.StoreRetryAfter = 90 * time.Second },
			Status: 503, Headers: map[string]string{"Retry-After": "90"}, ContentType: problemJSON,
			Body: problem(503, "Service Unavailable", "Billing is temporarily unavailable. Retry later."), Reported: true},
		{Name: "store Retry-After rounded up", Path: "/api/fetch-data", Header: key("key-one"), Down: true,
			Env:    func(e *Env) { e.StoreRetryAfter = 1500 * time.Millisecond },
			Status: 503, Headers: map[string]string{"Retry-After": "2"}, ContentType: problemJSON,
			Body: problem(503, "Service Unavailable", "Billing is temporarily unavailable. Retry later."), Reported: true},

		// Requests no route serves are not charged, nor identified.
		{Name: "no route", Path: "/api/nope", Header: key("key-one"),
			Status: 404, AnyBody: true, Client: "client-one", Used: core.Whole(0)},
		{Name: "no route without identity", Path: "/api/nope",
			Status: 404, AnyBody: true},
		{Name: "no route of an exhausted client", Path: "/api/nope", Header: key("key-small"),
			Before: track("client-small", core.Whole(5), Now),
			Status: 404, AnyBody: true, Client: "client-small", Used: core.Whole(5)},
		{Name: "method not allowed", Method: "POST", Path: "/api/fetch-data", Header: key("key-one"),
			Status: 405, OrStatus: 404, AnyBody: true, Client: "client-one", Used: core.Whole(0)},
		{Name: "method not allowed on a table route", Method: "POST", Path: "/api/quota", Header: key("key-one"),
			Status: 405, OrStatus: 404, AnyBody: true, Client: "client-one", Used: core.Whole(0)},

		// Idempotency keys.
		{Name: "idempotent replay", Path: "/api/fetch-expensive-data", Header: idem("key-one", "k-1"),
			Prior:  []Request{{"/api/fetch-expensive-data", idem("key-one", "k-1")}},
			Status: 200, Headers: one(495, 9995), ContentType: jsonType, Body: DataBody("fetch-expensive-data"),
			Client: "client-one", Used: core.Whole(5), Label: "/api/fetch-expensive-data", LabelUsed: core.Whole(5)},
		{Name: "idempotent replay has the first charge's headers", Path: "/api/fetch-expensive-data", Header: idem("key-one", "k-1"),
			Prior: []Request{
				{"/api/fetch-expensive-data", idem("key-one", "k-1")},
				{"/api/fetch-data", key("key-one")},
			},
			Status: 200, Headers: one(495, 9995), ContentType: jsonType, Body: DataBody("fetch-expensive-data"),
			Client: "client-one", Used: core.Whole(6)},
		{Name: "idempotent replay of a cost from the request", Path: "/api/compute?units=2.5", Header: idem("key-one", "k-2"),
			Prior:  []Request{{"/api/compute?units=2.5", idem("key-one", "k-2")}},
			Status: 200, Headers: one(497, 9997), ContentType: jsonType, Body: DataBody("compute"),
			Client: "client-one", Used: core.MustParseCredits("2.5"), Label: "/api/compute", LabelUsed: core.MustParseCredits("2.5")},
		{Name: "idempotent replay after a restart", Path: "/api/compute?units=2.5", Header: idem("key-one", "k-8"),
			Before: func(b *core.Billing, _ func(time.Time)) error {
				_, err := b.Charge(context.Background(), core.Charge{Client: "client-one", Cost: core.MustParseCredits("2.5"),
					Label: "/api/compute", IdempotencyKey: "k-8"})
				return err
			},
			Status: 200, Headers: one(497, 9997), ContentType: jsonType, Body: DataBody("compute"),
			Client: "client-one", Used: core.MustParseCredits("2.5")},
		{Name: "idempotency conflict of route", Path: "/api/fetch-expensive-data", Header: idem("key-one", "k-3"),
			Prior:  []Request{{"/api/fetch-data", idem("key-one", "k-3")}},
			Status: 422, ContentType: problemJSON,
			Body:   problem(422, "Unprocessable Entity", "This Idempotency-Key was already used for a request of another cost or route."),
			Client: "client-one", Used: core.Whole(1)},
		{Name: "idempotency conflict of cost", Path: "/api/compute?units=3", Header: idem("key-one", "k-4"),
			Prior:  []Request{{"/api/compute?units=2.5", idem("key-one", "k-4")}},
			Status: 422, ContentType: problemJSON,
			Body:   problem(422, "Unprocessable Entity", "This Idempotency-Key was already used for a request of another cost or route."),
			Client: "client-one", Used: core.MustParseCredits("2.5")},
		{Name: "idempotency key invalid", Path: "/api/fetch-data", Header: idem("key-one", "bad key"),
			Status: 400, ContentType: problemJSON,
			Body:   problem(400, "Bad Request", "The Idempotency-Key must be 1 to 255 visible ASCII characters."),
			Client: "client-one", Used: core.Whole(0)},
		{Name: "idempotency key too long", Path: "/api/fetch-data", Header: idem("key-one", strings.Repeat("k", 256)),
			Status: 400, ContentType: problemJSON,
			Body:   problem(400, "Bad Request", "The Idempotency-Key must be 1 to 255 visible ASCII characters."),
			Client: "client-one", Used: core.Whole(0)},
		{Name: "idempotency key of the longest length", Path: "/api/fetch-data", Header: idem("key-one", strings.Repeat("k", 255)),
			Status: 200, Headers: one(499, 9999), ContentType: jsonType, Body: DataBody("fetch-data"),
			Client: "client-one", Used: core.Whole(1)},
		{Name: "idempotent refund then retry", Path: "/api/unstable", Header: idem("key-one", "k-5"),
			Prior:  []Request{{"/api/unstable", idem("key-one", "k-5")}},
			Status: 503, Headers: one(499, 9999), ContentType: jsonType, Body: DataBody("unstable"),
			Client: "client-one", Used: core.Whole(0)},
		{Name: "idempotency keys are per client", Path: "/api/fetch-data", Header: idem("key-multi", "k-6"),
			Prior:  []Request{{"/api/fetch-expensive-data", idem("key-one", "k-6")}},
			Status: 200, Headers: map[string]string{
				"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9", "X-RateLimit-Reset": "1796079660",
				"RateLimit-Policy": `"minute";q=10;w=60, "day";q=12;w=86400`,
				"RateLimit":        `"minute";r=9;t=60, "day";r=11;t=3600`,
			},
			ContentType: jsonType, Body: DataBody("fetch-data"), Client: "client-multi", Used: core.Whole(1)},
		{Name: "idempotency key header renamed", Path: "/api/fetch-data",
			Header: map[string]string{"X-API-Key": "key-one", "Idempotency-Key": "bad key"},
			Status: 200, Headers: one(499, 9999), ContentType: jsonType, Body: DataBody("fetch-data"),
			Env: func(e *Env) { e.KeyHeader = "X-Request-Key" }, Client: "client-one", Used: core.Whole(1)},

		// A second request on each route: wirings that learn where a route's
		// own cost is charge it exactly so.
		{Name: "second request on a route of its own cost", Path: "/api/fetch-expensive-data", Header: key("key-one"),
			Prior:  []Request{{"/api/fetch-expensive-data", key("key-one")}},
			Status: 200, Headers: one(490, 9990), ContentType: jsonType, Body: DataBody("fetch-expensive-data"),
			Client: "client-one", Used: core.Whole(10), Label: "/api/fetch-expensive-data", LabelUsed: core.Whole(10)},
		{Name: "second cost from the request", Path: "/api/compute?units=0.5", Header: key("key-one"),
			Prior:  []Request{{"/api/compute?units=2.5", key("key-one")}},
			Status: 200, Headers: one(497, 9997), ContentType: jsonType, Body: DataBody("compute"),
			Client: "client-one", Used: core.Whole(3), Label: "/api/compute", LabelUsed: core.Whole(3)},
		{Name: "second cost from the request is bad", Path: "/api/compute?units=x", Header: key("key-one"),
			Prior:  []Request{{"/api/compute?units=1", key("key-one")}},
			Status: 400, ContentType: problemJSON, Body: problem(400, "Bad Request", BadUnits),
			Client: "client-one", Used: core.Whole(1)},
		{Name: "second free request", Path: "/api/quota", Header: key("key-one"),
			Prior:  []Request{{"/api/quota", key("key-one")}, {"/api/fetch-data", key("key-one")}},
			Status: 200, Headers: one(499, 9999), ContentType: jsonType, Body: DataBody("quota"),
			Client: "client-one", Used: core.Whole(1)},
		{Name: "second idempotent request of a cost from the request", Path: "/api/compute?units=2", Header: idem("key-one", "k-7"),
			Prior:  []Request{{"/api/compute?units=1", key("key-one")}, {"/api/compute?units=2", idem("key-one", "k-7")}},
			Status: 200, Headers: one(497, 9997), ContentType: jsonType, Body: DataBody("compute"),
			Client: "client-one", Used: core.Whole(3)},
		{Name: "denied on a route of its own cost", Path: "/api/fetch-expensive-data", Header: key("key-small"),
			Prior:  []Request{{"/api/fetch-data", key("key-small")}},
			Before: track("client-small", core.Whole(1), Now),
			Status: 429, Headers: map[string]string{
				"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1796083200",
				"RateLimit-Policy": `"day";q=5;w=86400`, "RateLimit": `"day";r=3;t=3600`, "Retry-After": "3600",
			},
			ContentType: problemJSON,
			Body: `{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded",` +
				`"title":"Quota exceeded","status":429,` +
				`"detail":"You have only 3 credits remaining, but 5 are required. They will renew at 2026-12-01T00:00:00Z.",` +
				`"violated-policies":["day"],"remaining":3,"required":5,"renews_at":"2026-12-01T00:00:00Z"}`,
			Client: "client-small", Used: core.Whole(2)},
	}
}

// Run runs every case of [Cases] against the app make builds, in every
// [Wiring], each on a new billing and app; then the runners of several
// requests at once: concurrent outcomes and costs, 64 concurrent requests
// with one idempotency key, and outcomes kept after their requests.
func Run(t *testing.T, make Maker) {
	t.Helper()
	for _, w := range []Wiring{RouteLevel, Global, Double} {
		t.Run(w.String(), func(t *testing.T) {
			t.Parallel()
			for _, tc := range Cases() {
				t.Run(tc.Name, func(t *testing.T) {
					t.Parallel()
					r := serve(t, make, w, tc)
					r.check(t, tc)
				})
			}
			t.Run("concurrent outcomes", func(t *testing.T) {
				t.Parallel()
				runConcurrent(t, make, w)
			})
			t.Run("concurrent costs from the request", func(t *testing.T) {
				t.Parallel()
				runConcurrentCosts(t, make, w)
			})
			t.Run("concurrent requests with one idempotency key", func(t *testing.T) {
				t.Parallel()
				runConcurrentKey(t, make, w)
			})
			t.Run("outcome kept after the request", func(t *testing.T) {
				t.Parallel()
				runKeptOutcomes(t, make, w)
			})
			t.Run("outcomes reported to the observer", func(t *testing.T) {
				t.Parallel()
				runObserved(t, make, w)
			})
		})
	}
}

// result is what a case gave.
type result struct {
	resp    Response
	billing map[string][]string // the headers the middleware may set
	b       *core.Billing
	logs    []string
	reports []error
}

// serve builds the billing and the app of tc and serves its requests.
func serve(t *testing.T, make Maker, w Wiring, tc Case) result {
	t.Helper()
	var now atomic.Int64
	now.Store(Now.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()).UTC() }
	var store core.Store = memory.New()
	b := core.New(store, core.WithClock(clock))
	keys := map[string]string{}
	for _, c := range clients {
		keys[c.key] = c.id
		if len(c.quotas) > 0 {
			if err := b.SetQuotas(c.id, c.quotas...); err != nil {
				t.Fatal(err)
			}
		}
	}
	if tc.Before != nil {
		if err := tc.Before(b, func(at time.Time) { now.Store(at.UnixNano()) }); err != nil {
			t.Fatal(err)
		}
		now.Store(Now.UnixNano())
	}
	bill := b
	if tc.Down {
		bill = core.New(downStore{store}, core.WithClock(clock))
		for _, c := range clients {
			if len(c.quotas) > 0 {
				_ = bill.SetQuotas(c.id, c.quotas...)
			}
		}
	}
	logs := &logRecorder{}
	var reports reportRecorder
	env := Env{
		Billing: bill,
		Lookup:  func(k string) (string, bool) { id, ok := keys[k]; return id, ok },
		Logger:  slog.New(logs),
		Wiring:  w,
		Report:  reports.add,
	}
	if tc.Env != nil {
		tc.Env(&env)
	}
	app := make(t, env)
	do := func(method, path string, header map[string]string) Response {
		if method == "" {
			method = "GET"
		}
		req := httptest.NewRequest(method, "http://api.example"+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		return app(req)
	}
	for _, p := range tc.Prior {
		do("GET", p.Path, p.Header)
	}
	// Only what the checked request logs and reports.
	logs.reset()
	reports.reset()
	resp := do(tc.Method, tc.Path, tc.Header)
	r := result{resp: resp, billing: map[string][]string{}, b: b, logs: logs.lines(), reports: reports.list()}
	for name, vs := range resp.Header {
		if billingHeader(name, env) {
			r.billing[name] = vs
		}
	}
	return r
}

// reportRecorder keeps the errors reported to the framework.
type reportRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (r *reportRecorder) add(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *reportRecorder) reset() {
	r.mu.Lock()
	r.errs = nil
	r.mu.Unlock()
}

func (r *reportRecorder) list() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

func (r *result) contentType() string {
	for name, vs := range r.resp.Header {
		if strings.EqualFold(name, "Content-Type") && len(vs) > 0 {
			ct, _, _ := strings.Cut(vs[0], ";")
			return ct
		}
	}
	return ""
}

func (r *result) check(t *testing.T, tc Case) {
	t.Helper()
	if got, want := r.resp.Status, tc.Status; got != want && (tc.OrStatus == 0 || got != tc.OrStatus) {
		t.Errorf("status = %d, want %d (body %s)", got, want, r.resp.Body)
	}
	if got := len(r.reports); got != 0 && !tc.Reported || got != 1 && tc.Reported {
		t.Errorf("%d errors reported to the framework (%v), want reported: %v", got, r.reports, tc.Reported)
	}
	want := map[string]bool{}
	for name, v := range tc.Headers {
		want[textproto.CanonicalMIMEHeaderKey(name)] = true
		// As users and their tests read headers: a canonical lookup.
		if got := r.resp.Header.Values(name); len(got) != 1 || got[0] != v {
			t.Errorf("Header.Values(%q) = %q, want [%q]", name, got, v)
		}
	}
	for name, got := range r.billing {
		if canon := textproto.CanonicalMIMEHeaderKey(name); name != canon {
			t.Errorf("header %s: %q is not stored under its canonical key %s", name, got, canon)
		}
		if !want[textproto.CanonicalMIMEHeaderKey(name)] {
			t.Errorf("unexpected header %s: %q", name, got)
		}
	}
	if !tc.AnyBody {
		if got, want := r.contentType(), tc.ContentType; got != want {
			t.Errorf("Content-Type = %q, want %q", got, want)
		}
		if got, want := r.resp.Body, tc.Body; got != want {
			t.Errorf("body =\n%s\nwant\n%s", got, want)
		}
	}
	for _, c := range clients {
		for name, vs := range r.resp.Header {
			for _, v := range vs {
				if strings.Contains(v, c.id) || strings.Contains(v, c.key) {
					t.Errorf("header %s: %q reveals a client", name, v)
				}
			}
		}
		if strings.Contains(r.resp.Body, c.id) || strings.Contains(r.resp.Body, c.key) {
			t.Errorf("body reveals a client: %s", r.resp.Body)
		}
		for _, l := range r.logs {
			if strings.Contains(l, c.id) || strings.Contains(l, c.key) {
				t.Errorf("log reveals a client: %s", l)
			}
		}
	}
	if got, want := len(r.logs), tc.Logs; got != want {
		t.Errorf("%d records logged, want %d: %q", got, want, r.logs)
	}
	ctx := context.Background()
	if tc.Client != "" {
		o, err := r.b.Status(ctx, tc.Client)
		if err != nil {
			t.Fatalf("Status(%s): %v", tc.Client, err)
		}
		if got, want := o.Quota(0).Used, tc.Used; got != want {
			t.Errorf("usage of %s = %v, want %v", tc.Client, got, want)
		}
		if tc.Label != "" {
			days, err := r.b.DailyUsage(ctx, tc.Client, Now.Add(-24*time.Hour), Now.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			got := core.Whole(0)
			for _, d := range days {
				got = got.Add(d.ByLabel[tc.Label])
			}
			if want := tc.LabelUsed; got != want {
				t.Errorf("usage under %q = %v, want %v", tc.Label, got, want)
			}
		}
	}
}

// logRecorder is a slog.Handler that keeps every record as text.
type logRecorder struct {
	mu  sync.Mutex
	out []string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	h.out = append(h.out, b.String())
	h.mu.Unlock()
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

func (h *logRecorder) reset() {
	h.mu.Lock()
	h.out = nil
	h.mu.Unlock()
}

func (h *logRecorder) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.out...)
}
