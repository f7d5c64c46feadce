package httpbilling

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// IO is the framework input and output an adapter supplies for its
// request type C (such as *gin.Context): everything [Handler.Serve] needs
// to bill a request, and nothing about billing. Its methods are called on
// the request's goroutine.
type IO[C any] interface {
	// Context returns the request's context.
	Context(c C) context.Context
	// Header returns the value of the request header name (given in its
	// canonical form), or "".
	Header(c C, name string) string
	// Route returns the request's method and route, and whether a route
	// serves it.
	Route(c C) Route
	// SetHeaders sets the response headers hs, replacing any value; the
	// adapter copies the values.
	SetHeaders(c C, hs *Headers)
	// DelHeaders removes the response headers named in hs.
	DelHeaders(c C, hs *Headers)
	// Write answers status with an application/problem+json body (copied).
	Write(c C, status int, body []byte) error
	// Next runs the rest of the request's handlers and returns the status
	// they answered (for a handler's error, the status the framework will
	// answer for it) and the error to return.
	Next(c C) (status int, err error)
	// Load returns the State stored in the request, or nil.
	Load(c C) *State
	// Store stores s in the request for the handlers after the middleware,
	// with the framework's request-scoped storage and an unexported key
	// (gin, echo and net/http: [WithState]).
	Store(c C, s *State)
	// Restore undoes Store(c, s) once the middleware is done with the
	// request: Load returns prev (what it returned before Store) again,
	// and never s (gin, echo and net/http: [WithoutState]).
	Restore(c C, s, prev *State)
	// Fail hands a failure the middleware has answered itself (its body is
	// written) to the framework's error path, as a.Report says, and returns
	// what the middleware returns: gin calls c.Error and returns nil, echo
	// returns an *echo.HTTPError whose Internal is err, net/http logs it.
	Fail(c C, a Answer, err error) error
}

// Handler is one billing handler: a global middleware or a route-level
// one, with its identity, cost and answers. Adapters build one per
// middleware they return and call [Handler.Serve] per request. Its fields
// must not change once it serves.
type Handler[C any] struct {
	// Meter is the middleware's shared configuration. Required.
	Meter *Meter
	// Identity finds the request's client. Required.
	Identity func(c C) (string, error)
	// Cost is the cost of a request; the zero Credits means 1 credit,
	// core.Whole(0) is free.
	Cost core.Credits
	// CostFunc, when set, computes the cost from the request instead.
	CostFunc func(c C) (core.Credits, error)
	// Table makes the cost of [Config].Routes win for the routes it names.
	Table bool
	// Label returns the usage label. Default: the route pattern.
	Label func(c C) string
	// Skip skips billing for the requests it reports true for.
	Skip func(c C) bool
	// Denied, Unidentified and Failed replace the problem+json answer of
	// their [Kind]. What they return, the middleware returns.
	Denied, Unidentified, Failed func(c C, err error) error
	// Volatile says that strings read from C (header values, labels) point
	// into buffers the framework reuses (fasthttp): those kept are copied.
	Volatile bool
}

// one is the default cost.
var one = core.Whole(1)

// Serve bills the request c, handing it to the next handler through io
// when it passes, and returns what the middleware returns.
//
// The first billing handler a request meets (the outermost) owns the
// request's [State]: it stores it, charges (unless no route serves the
// request, or the route is known to have a billing handler of its own),
// answers or passes, refunds after the handler as the refund predicate
// says (a panic counts as 500), and releases the state. A billing handler
// of the same Billing that the request meets later (an inner one, such as
// a route-level handler under a global middleware) finds the state:
// charged at its own cost, the request passes; charged at another cost,
// the outer charge is refunded and the inner one charged instead (and the
// outer meter learns to leave that route's requests to the inner handler
// from then on); an error of the inner cost function refunds the outer
// charge and answers the error. So a request is charged once, at the most
// specific cost of its route.
func (h *Handler[C]) Serve(io IO[C], c C) error {
	if h.Skip != nil && h.Skip(c) {
		_, err := io.Next(c)
		return err
	}
	prev := io.Load(c)
	if prev != nil && prev.billing == h.Meter.b {
		return h.inner(io, c, prev)
	}
	return h.outer(io, c, prev)
}

// outer serves a request as its outermost billing handler.
func (h *Handler[C]) outer(io IO[C], c C, prev *State) error {
	m := h.Meter
	st := acquire()
	st.billing, st.owner, st.charger = m.b, m, m
	st.headers.reset(m)
	io.Store(c, st)
	done := false
	defer func() {
		if !done { // the handler panicked: a recovery middleware answers 500
			h.finish(io, c, st, http.StatusInternalServerError)
			m.observe(st)
			io.Restore(c, st, prev)
			st.release()
		}
	}()
	st.route = io.Route(c)
	switch {
	case !st.route.Matched: // 404 or 405: not charged
	case m.deferred(st.route):
		st.deferred = true
	default:
		if h.charge(io, c, st, true) {
			err := h.respond(io, c, st)
			done = true
			m.observe(st)
			io.Restore(c, st, prev)
			st.release()
			return err
		}
	}
	status, err := io.Next(c)
	done = true
	h.finish(io, c, st, status)
	m.observe(st)
	io.Restore(c, st, prev)
	st.release()
	return err
}

// observe reports a request's outcome to the meter's observer, if any.
func (m *Meter) observe(st *State) {
	if m.observer == nil {
		return
	}
	outcome, ok := st.outcome()
	if !ok {
		return
	}
	route := st.route.Pattern // a request refused before its charge: its route
	if st.billed {
		route = st.out.Label()
	}
	m.observer.Request(outcome, route)
}

// outcome returns what became of the request, or false for one that was
// not billed or refused (no route served it, or nothing charged it).
func (s *State) outcome() (string, bool) {
	switch {
	case s.failedOpen:
		return OutcomeFailOpen, true
	case s.answered || s.err != nil:
		a := s.answer
		switch {
		case a.Kind == Unidentified:
			return OutcomeUnidentified, true
		case a.Status == http.StatusTooManyRequests:
			return OutcomeDenied, true
		case a.Status == http.StatusForbidden:
			return OutcomeNoQuota, true
		case a.Status == http.StatusServiceUnavailable:
			return OutcomeStoreError, true
		case a.Status == http.StatusUnprocessableEntity:
			return OutcomeConflict, true
		}
		return OutcomeBadCost, true
	case s.billed && s.out.Replayed():
		return OutcomeReplayed, true
	case s.billed:
		return OutcomeAllowed, true
	}
	return "", false
}

// inner serves a request that an outer billing handler of the same Billing
// owns.
func (h *Handler[C]) inner(io IO[C], c C, st *State) error {
	if st.answered || st.failedOpen {
		_, err := io.Next(c)
		return err
	}
	if !st.billed { // deferred to this handler, or not charged yet (a route the outer handler could not see)
		st.charger = h.Meter
		st.headers.reset(h.Meter)
		if h.charge(io, c, st, false) && !h.chargeAgain(io, c, st) {
			return h.respond(io, c, st)
		}
		_, err := io.Next(c)
		return err
	}
	r := io.Route(c)
	cost, err := h.cost(c, r)
	if err == nil && cost == st.charge.Cost {
		_, err := io.Next(c)
		return err
	}
	// Another cost: this handler is the more specific one.
	st.owner.learn(st.route)
	ctx := io.Context(c)
	if rerr := h.Meter.b.Refund(context.WithoutCancel(ctx), &st.out); rerr != nil {
		st.owner.log().LogAttrs(ctx, slog.LevelError, "apibilling: refunding the outer charge failed",
			slog.String("label", st.out.Label()), slog.Any("error", rerr))
		err = rerr
	}
	io.DelHeaders(c, &st.headers)
	st.charger = h.Meter
	st.billed = false
	st.headers.reset(h.Meter)
	if err != nil {
		st.fail(err)
		return h.respond(io, c, st)
	}
	st.charge.Cost = cost
	st.charge.Label = h.label(c, r)
	if h.chargeNow(io, c, st) && !h.chargeAgain(io, c, st) {
		return h.respond(io, c, st)
	}
	_, err = io.Next(c)
	return err
}

// maxKeyWaits bounds how often an inner handler charges again while its
// idempotency key is held by another request's outer charge.
const maxKeyWaits = 50

// chargeAgain is called when an inner handler's charge was answered. When
// the answer is an idempotency conflict with a charge of another cost under
// the same label, that charge is another request's outer charge of this
// route with the same key, made before the outer handler learned to leave
// the route to the inner one: that request's inner handler refunds it (and
// its key) at once. So the charge is tried again, a millisecond apart, up
// to [maxKeyWaits] times; chargeAgain reports whether it then passed. A
// conflict that stays (the key was used for this route at another cost for
// good) is answered as before.
func (h *Handler[C]) chargeAgain(io IO[C], c C, st *State) bool {
	if st.charge.IdempotencyKey == "" {
		return false
	}
	for range maxKeyWaits {
		var ce *core.IdempotencyConflictError
		if !errors.As(st.err, &ce) || ce.Label != st.charge.Label || ce.Cost == st.charge.Cost {
			return false
		}
		time.Sleep(time.Millisecond)
		st.err, st.answer, st.billed = nil, Answer{}, false
		if !h.chargeNow(io, c, st) {
			return true
		}
	}
	return false
}

// charge identifies the client, computes the cost and charges it into st.
// It reports whether the middleware answers the request itself.
func (h *Handler[C]) charge(io IO[C], c C, st *State, outer bool) bool {
	client, err := h.Identity(c)
	if err == nil && client == "" {
		err = ErrNoIdentity
	}
	if err != nil {
		st.fail(err)
		return true
	}
	r := st.route
	if !outer {
		r = io.Route(c)
	}
	cost, err := h.cost(c, r)
	if err != nil {
		st.fail(err)
		return true
	}
	key := io.Header(c, h.Meter.keyHeader)
	if h.Volatile && key != "" {
		key = strings.Clone(key)
	}
	st.charge = core.Charge{Client: client, Cost: cost, Label: h.label(c, r), IdempotencyKey: key}
	if outer && h.CostFunc == nil {
		return h.chargeOuter(io, c, st)
	}
	return h.chargeNow(io, c, st)
}

// chargeOuter charges st.charge for an outer handler of a constant cost.
// A key recorded for this route at another cost is the mark of an inner
// billing handler the meter has not met yet (for example after a
// restart): the charge is then left to it.
func (h *Handler[C]) chargeOuter(io IO[C], c C, st *State) (answered bool) {
	answered = h.chargeNow(io, c, st)
	if answered && conflictOfLabel(st.err, st.charge.Label) {
		io.DelHeaders(c, &st.headers)
		st.headers.reset(st.charger)
		st.err, st.answer, st.billed = nil, Answer{}, false
		st.deferred = true
		return false
	}
	return answered
}

// conflictOfLabel reports whether err is an idempotency conflict with a
// charge recorded under label. (Apart, so that the error's variable is
// not allocated on every charge.)
func conflictOfLabel(err error, label string) bool {
	var ce *core.IdempotencyConflictError
	return errors.As(err, &ce) && ce.Label == label
}

// chargeNow charges st.charge and sets the headers. It reports whether the
// middleware answers the request itself.
func (h *Handler[C]) chargeNow(io IO[C], c C, st *State) bool {
	m := h.Meter
	ctx := io.Context(c)
	err := m.b.ChargeInto(ctx, &st.out, &st.charge)
	o := &st.out
	switch {
	case err == nil:
		st.billed = true
		st.headers.rateLimitHeaders(o)
		io.SetHeaders(c, &st.headers)
		return false
	case isExceeded(err):
		st.billed = true
		st.fail(err)
		st.headers.rateLimitHeaders(o)
		st.headers.retryAfter(ceilSeconds(o.RetryAt().UnixNano() - o.At().UnixNano()))
		io.SetHeaders(c, &st.headers)
		return true
	}
	st.fail(err)
	if st.answer.Status == http.StatusServiceUnavailable {
		if m.failOpen {
			st.failedOpen = true
			st.err, st.answer = nil, Answer{}
			m.log().LogAttrs(ctx, slog.LevelError, "apibilling: store unavailable; request passed unbilled",
				slog.String("label", st.charge.Label), slog.Any("error", err))
			return false
		}
		st.headers.retryAfter(m.retryAfter)
		io.SetHeaders(c, &st.headers)
	}
	return true
}

// cost returns the cost of the request c on route r.
func (h *Handler[C]) cost(c C, r Route) (core.Credits, error) {
	if h.Table {
		if cost, ok := h.Meter.routes.lookup(r.Method, r.Pattern); ok {
			return cost, nil
		}
	}
	if h.CostFunc != nil {
		return h.CostFunc(c)
	}
	if !h.Cost.IsSet() {
		return one, nil
	}
	return h.Cost, nil
}

// label returns the usage label of the request c on route r.
func (h *Handler[C]) label(c C, r Route) string {
	if h.Label == nil {
		return r.Pattern
	}
	l := h.Label(c)
	if h.Volatile {
		l = strings.Clone(l)
	}
	return l
}

// respond answers a request the middleware does not pass.
func (h *Handler[C]) respond(io IO[C], c C, st *State) error {
	st.answered = true
	a := st.answer
	var custom func(C, error) error
	switch a.Kind {
	case Denied:
		custom = h.Denied
	case Unidentified:
		custom = h.Unidentified
	default:
		custom = h.Failed
	}
	if custom != nil {
		return custom(c, st.err)
	}
	st.body = st.appendProblem(st.body[:0])
	if err := io.Write(c, a.Status, st.body); err != nil {
		return err
	}
	return io.Fail(c, a, st.err)
}

// finish refunds the charge of a request whose handler answered status, if
// the refund predicate of the handler that charged it says so.
func (h *Handler[C]) finish(io IO[C], c C, st *State, status int) {
	if !st.billed || st.answered || !st.charger.refund(status) {
		return
	}
	ctx := io.Context(c)
	if err := st.billing.Refund(context.WithoutCancel(ctx), &st.out); err != nil {
		st.charger.log().LogAttrs(ctx, slog.LevelError, "apibilling: refund failed",
			slog.String("label", st.out.Label()), slog.Int("status", status), slog.Any("error", err))
	}
}

// fail records err as the reason the request does not pass.
func (s *State) fail(err error) {
	s.err = err
	s.answer = Classify(err)
}

// Err returns why the middleware answered the request itself, or nil.
func (s *State) Err() error { return s.err }

func isExceeded(err error) bool {
	if _, ok := err.(*core.QuotaExceededError); ok {
		return true
	}
	return errors.Is(err, core.ErrQuotaExceeded)
}
