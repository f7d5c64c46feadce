package httpbilling

import (
	"log/slog"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// Default names of the headers the middleware reads and writes.
const (
	DefaultLimitHeader     = "X-RateLimit-Limit"
	DefaultRemainingHeader = "X-RateLimit-Remaining"
	DefaultResetHeader     = "X-RateLimit-Reset"
	// DefaultKeyHeader carries a request's idempotency key.
	DefaultKeyHeader = "Idempotency-Key"
)

// Config configures a [Meter]: what every billing handler of one
// middleware shares. Its zero values mean the documented defaults.
type Config struct {
	// Billing charges the requests. Required.
	Billing *core.Billing

	// Routes gives routes their own costs: route pattern -> cost, such as
	// "/api/fetch-expensive-data": core.Whole(5). A key may start with a
	// method, "GET /api/report", which then wins over the key without one.
	// Patterns are written as the router writes them (gin, echo and fiber:
	// "/items/:id"; net/http's ServeMux: "/items/{id}", without the method
	// and host it may have been registered with). Only the handlers that
	// bill the configured cost ([Handler] with Table set: each adapter's
	// Handler and New) read it. Default: none.
	Routes map[string]core.Credits

	// KeyHeader is the request header that carries an idempotency key.
	// Default: Idempotency-Key.
	KeyHeader string

	// NoLegacyHeaders leaves out the X-RateLimit-Limit, -Remaining and
	// -Reset triple. Default: sent.
	NoLegacyHeaders bool
	// NoDraftHeaders leaves out RateLimit-Policy and RateLimit
	// (draft-ietf-httpapi-ratelimit-headers). Default: sent.
	NoDraftHeaders bool
	// LimitHeader, RemainingHeader and ResetHeader rename the legacy triple.
	// Names are case-insensitive: each is set under its canonical form
	// ([textproto.CanonicalMIMEHeaderKey], so "X-RateLimit-Limit" is sent as
	// X-Ratelimit-Limit), the key [net/http.Header.Get] looks up. Default:
	// X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset.
	LimitHeader, RemainingHeader, ResetHeader string

	// FailOpen lets a request pass to its handler, unbilled and without
	// rate-limit headers, when the store fails; the failure is logged.
	// Default: false (fail closed: 503 with Retry-After).
	FailOpen bool
	// StoreRetryAfter is the Retry-After of a 503 when the store fails,
	// rounded up to whole seconds. Default: 1 second.
	StoreRetryAfter time.Duration
	// Logger receives store failures passed with FailOpen, failed refunds,
	// and (in the net/http adapter) every failure the middleware answers.
	// Default: [slog.Default] at the time of logging.
	Logger *slog.Logger

	// Refund reports whether a billed request whose handler answered status
	// is refunded. Default: status >= 500 (a panic counts as 500).
	Refund func(status int) bool

	// Observer receives the outcome of every request the middleware bills
	// or refuses, for metrics (such as the Prometheus collector of
	// metrics/prometheus). Default: none, at no cost.
	Observer Observer
}

// Observer receives the outcome of each request a middleware billed or
// refused: one of the Outcome constants, and the request's label (its
// route pattern, unless a label function says otherwise). Requests that no
// route serves, and requests skipped, are not reported. It runs on the
// request's goroutine and must be fast.
type Observer interface {
	Request(outcome, route string)
}

// Request outcomes, as [Observer] receives them.
const (
	OutcomeAllowed      = "allowed"      // charged and passed to the handler
	OutcomeDenied       = "denied"       // 429: a quota refused
	OutcomeUnidentified = "unidentified" // 401: no valid client identity
	OutcomeNoQuota      = "no_quota"     // 403: the client has no quotas
	OutcomeBadCost      = "bad_cost"     // the cost, label or key could not be used (400, 500)
	OutcomeStoreError   = "store_error"  // 503: the store failed (fail closed)
	OutcomeFailOpen     = "fail_open"    // the store failed and the request passed unbilled
	OutcomeReplayed     = "replayed"     // an idempotency key's retry: passed, not charged
	OutcomeConflict     = "conflict"     // 422: an idempotency key reused for another charge
)

// Meter bills HTTP requests as [Config] says: the part of a middleware
// that its billing handlers share. It is safe for concurrent use.
type Meter struct {
	b          *core.Billing
	legacy     bool
	draft      bool
	failOpen   bool
	retryAfter int64 // seconds
	logger     *slog.Logger
	refund     func(int) bool
	keyHeader  string
	observer   Observer
	names      [numHeaders]string // canonical
	nameBytes  [numHeaders][]byte // names, for fasthttp
	routes     routeTable

	// inner holds, per route pattern, the methods whose route has a billing
	// handler of its own, which this meter's outer handlers defer to.
	inner   atomic.Pointer[map[string]uint16]
	innerMu sync.Mutex
}

// The headers a charge can set, in the order they are set.
const (
	hLimit = iota
	hRemaining
	hReset
	hPolicy
	hRateLimit
	hRetryAfter
	numHeaders
)

// NewMeter returns a Meter. It panics, naming the mistake, if cfg.Billing
// is nil, a header name is not a valid HTTP field name, or a cost of
// cfg.Routes is not set.
func NewMeter(cfg Config) *Meter {
	if cfg.Billing == nil {
		panic("apibilling/httpbilling: NewMeter expects a non-nil Billing")
	}
	m := &Meter{
		b:        cfg.Billing,
		legacy:   !cfg.NoLegacyHeaders,
		draft:    !cfg.NoDraftHeaders,
		failOpen: cfg.FailOpen,
		logger:   cfg.Logger,
		refund:   cfg.Refund,
		observer: cfg.Observer,
	}
	if m.refund == nil {
		m.refund = DefaultRefund
	}
	m.retryAfter = max(1, ceilSeconds(int64(cfg.StoreRetryAfter)))
	names := [numHeaders]string{
		orDefault(cfg.LimitHeader, DefaultLimitHeader),
		orDefault(cfg.RemainingHeader, DefaultRemainingHeader),
		orDefault(cfg.ResetHeader, DefaultResetHeader),
		"RateLimit-Policy",
		"RateLimit",
		"Retry-After",
	}
	for i, name := range names {
		if !validHeaderName(name) {
			panic("apibilling/httpbilling: header name " + strconv.Quote(name) + " is not a valid HTTP field name")
		}
		// Once here, not per request: every adapter sets the canonical
		// key as it is.
		m.names[i] = textproto.CanonicalMIMEHeaderKey(name)
		m.nameBytes[i] = []byte(m.names[i])
	}
	key := orDefault(cfg.KeyHeader, DefaultKeyHeader)
	if !validHeaderName(key) {
		panic("apibilling/httpbilling: key header name " + strconv.Quote(key) + " is not a valid HTTP field name")
	}
	m.keyHeader = textproto.CanonicalMIMEHeaderKey(key)
	m.routes = newRouteTable("apibilling/httpbilling", cfg.Routes)
	return m
}

// DefaultRefund is the default refund predicate: the handler answered
// 500 or above.
func DefaultRefund(status int) bool { return status >= 500 }

// Billing returns the billing the meter charges.
func (m *Meter) Billing() *core.Billing { return m.b }

// KeyHeader returns the canonical name of the idempotency key header.
func (m *Meter) KeyHeader() string { return m.keyHeader }

// RouteCost returns the cost that [Config].Routes gives the route pattern
// for method, if any.
func (m *Meter) RouteCost(method, pattern string) (core.Credits, bool) {
	return m.routes.lookup(method, pattern)
}

func (m *Meter) log() *slog.Logger {
	if m.logger != nil {
		return m.logger
	}
	return slog.Default()
}

// Logger returns the logger of [Config].Logger, or [slog.Default].
func (m *Meter) Logger() *slog.Logger { return m.log() }

// deferred reports whether the route r has a billing handler of its own
// that this meter's outer handlers leave the charge to.
func (m *Meter) deferred(r Route) bool {
	p := m.inner.Load()
	if p == nil || r.Pattern == "" {
		return false
	}
	return (*p)[r.Pattern]&methodBit(r.Method) != 0
}

// learn records that the route r has a billing handler of its own.
func (m *Meter) learn(r Route) {
	if r.Pattern == "" || m.deferred(r) {
		return
	}
	m.innerMu.Lock()
	defer m.innerMu.Unlock()
	next := map[string]uint16{}
	if p := m.inner.Load(); p != nil {
		for k, v := range *p {
			next[k] = v
		}
	}
	next[strings.Clone(r.Pattern)] |= methodBit(r.Method)
	m.inner.Store(&next)
}

// methodBit returns the bit of a method in the sets of [Meter.learn].
func methodBit(method string) uint16 {
	for i, m := range [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"} {
		if method == m {
			return 1 << i
		}
	}
	return 1 << 15 // the others share one bit
}

// routeTable is a parsed [Config].Routes.
type routeTable map[string]*routeCosts

type routeCosts struct {
	any     core.Credits
	methods []methodCost
}

type methodCost struct {
	method string
	cost   core.Credits
}

func newRouteTable(prefix string, routes map[string]core.Credits) routeTable {
	if len(routes) == 0 {
		return nil
	}
	t := routeTable{}
	for key, cost := range routes {
		CheckCost(prefix+": the cost of route "+strconv.Quote(key), cost)
		method, pattern, ok := strings.Cut(key, " ")
		if !ok || method == "" || method[0] == '/' {
			method, pattern = "", key
		}
		pattern = strings.TrimSpace(pattern)
		if pattern == "" {
			panic(prefix + ": route " + strconv.Quote(key) + " has no pattern")
		}
		rc := t[pattern]
		if rc == nil {
			rc = &routeCosts{}
			t[pattern] = rc
		}
		if method == "" {
			rc.any = cost
		} else {
			rc.methods = append(rc.methods, methodCost{strings.ToUpper(method), cost})
		}
	}
	return t
}

func (t routeTable) lookup(method, pattern string) (core.Credits, bool) {
	if t == nil {
		return core.Credits{}, false
	}
	rc := t[pattern]
	if rc == nil {
		return core.Credits{}, false
	}
	for _, mc := range rc.methods {
		if mc.method == method {
			return mc.cost, true
		}
	}
	return rc.any, rc.any.IsSet()
}

// validHeaderName reports whether name is a token (RFC 9110, section 5.1):
// the names that net/http and fasthttp canonicalise alike.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ceilSeconds returns d nanoseconds in seconds, rounded up.
func ceilSeconds(d int64) int64 {
	s := d / int64(time.Second)
	if d%int64(time.Second) > 0 {
		s++
	}
	return s
}

// CheckCost panics with a message that starts with what and names the fix
// if cost cannot be a constant cost: not set, unlimited, or above
// [core.MaxCredits]. A constant cost is a configuration mistake found at
// start-up.
func CheckCost(what string, cost core.Credits) {
	if !cost.IsSet() {
		panic(what + " is not set: write core.Whole(5), core.MustParseCredits(\"0.5\"), or core.Whole(0) for no charge")
	}
	if cost.IsUnlimited() || cost.Cmp(core.MaxCredits) > 0 {
		panic(what + " " + cost.String() + " is not between 0 and core.MaxCredits")
	}
}

// CheckRoutes panics with a message that starts with prefix if a cost of
// routes (see [Config].Routes) is not a valid constant cost or a key has no
// pattern.
func CheckRoutes(prefix string, routes map[string]core.Credits) { newRouteTable(prefix, routes) }
