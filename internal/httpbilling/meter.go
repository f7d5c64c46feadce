package httpbilling

import (
	"context"
	"log/slog"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// Default names of the legacy rate-limit headers.
const (
	DefaultLimitHeader     = "X-RateLimit-Limit"
	DefaultRemainingHeader = "X-RateLimit-Remaining"
	DefaultResetHeader     = "X-RateLimit-Reset"
)

// Config configures a [Meter]. Its zero values mean the documented
// defaults.
type Config struct {
	// Billing charges the requests. Required.
	Billing *core.Billing

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
	// Logger receives store failures passed with FailOpen and failed
	// refunds. Default: [slog.Default] at the time of logging.
	Logger *slog.Logger

	// Refund reports whether a billed request whose handler answered status
	// is refunded. Default: status >= 500.
	Refund func(status int) bool
}

// Meter bills HTTP requests as [Config] says. It is safe for concurrent
// use.
type Meter struct {
	b          *core.Billing
	legacy     bool
	draft      bool
	failOpen   bool
	retryAfter int64 // seconds
	logger     *slog.Logger
	refund     func(int) bool
	names      [numHeaders]string // canonical
}

// The headers a Charge can carry, in the order they are set.
const (
	hLimit = iota
	hRemaining
	hReset
	hPolicy
	hRateLimit
	hRetryAfter
	numHeaders
)

// NewMeter returns a Meter. It panics if cfg.Billing is nil or a header
// name is not a valid HTTP field name.
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
	}
	if m.refund == nil {
		m.refund = DefaultRefund
	}
	m.retryAfter = ceilSeconds(int64(cfg.StoreRetryAfter))
	if m.retryAfter < 1 {
		m.retryAfter = 1
	}
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
	}
	return m
}

// DefaultRefund is the default refund predicate: the handler answered
// 500 or above.
func DefaultRefund(status int) bool { return status >= 500 }

// Billing returns the billing the meter charges.
func (m *Meter) Billing() *core.Billing { return m.b }

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

// Charge charges cost to client under label and records the decision in
// ch, which must be zero, as [NewCharge] returns it. After it, ch.Status is
// 0 when the request passes to its handler, and ch's headers are the
// headers to set in either case.
//
// ch must not be copied once charged: its header values point into it.
func (m *Meter) Charge(ctx context.Context, ch *Charge, client, label string, cost core.Credits) {
	ch.m = m
	err := m.b.TrackInto(ctx, &ch.Outcome, client, label, cost) // in place: no copy
	o := &ch.Outcome
	switch {
	case err == nil:
		ch.Billed = true
		ch.rateLimitHeaders()
		return
	case isExceeded(err):
		ch.Billed = true
		ch.Err = err
		ch.Status = 429
		ch.rateLimitHeaders()
		ch.retryAfter(ceilSeconds(o.RetryAt().UnixNano() - o.At().UnixNano()))
		return
	}
	ch.Err = err
	ch.Status = StatusOf(err)
	if ch.Status == 503 {
		if m.failOpen {
			ch.Status = 0
			m.log().LogAttrs(ctx, slog.LevelError, "apibilling: store unavailable; request passed unbilled",
				slog.String("label", label), slog.Any("error", err))
			return
		}
		ch.retryAfter(m.retryAfter)
	}
}

// Reject records in ch a request that cannot be charged: err is the
// identity or cost error the adapter met, answered with [StatusOf](err).
// Nothing is charged.
func (m *Meter) Reject(ch *Charge, err error) {
	ch.m = m
	ch.Err = err
	ch.Status = StatusOf(err)
	if ch.Status == 0 {
		ch.Status = 500
	}
}

// Finish is called after the handler with the status it answered: if the
// request was billed and the refund predicate matches status, its charge is
// refunded. A failed refund is logged. The headers already sent are left
// as they are.
func (m *Meter) Finish(ctx context.Context, ch *Charge, status int) {
	if !ch.Billed || ch.Status != 0 || !m.refund(status) {
		return
	}
	if err := m.b.Refund(context.WithoutCancel(ctx), &ch.Outcome); err != nil {
		m.log().LogAttrs(ctx, slog.LevelError, "apibilling: refund failed",
			slog.String("label", ch.Outcome.Label()), slog.Int("status", status), slog.Any("error", err))
	}
}

func (m *Meter) log() *slog.Logger {
	if m.logger != nil {
		return m.logger
	}
	return slog.Default()
}

// ceilSeconds returns d nanoseconds in seconds, rounded up.
func ceilSeconds(d int64) int64 {
	s := d / int64(time.Second)
	if d%int64(time.Second) > 0 {
		s++
	}
	return s
}
