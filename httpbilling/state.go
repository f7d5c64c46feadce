package httpbilling

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// State is the billing of one request: which handler charged it, at what
// cost, the outcome, the headers to set and the answer. The outermost
// billing handler of a request takes one from a pool, stores it in the
// request (with the request's context, [WithState], or the framework's
// request-scoped storage, under an unexported key), removes it from there
// and releases it when the request is done; inner
// billing handlers of the same [core.Billing] find it there, so that a
// request is charged once. Adapters only pass it between [Handler] and
// their [IO]; handlers read the outcome with [State.Outcome], which copies
// it.
type State struct {
	flow

	// charge and out are written whole by each charge before they are
	// read (out only when billed): a released State keeps them as they
	// are, which spares clearing most of its size per request.
	charge core.Charge
	out    core.Outcome

	headers Headers
	body    []byte
}

// flow is what a State records of the request's way through its billing
// handlers: reset whole when the State is released.
type flow struct {
	billing *core.Billing
	owner   *Meter // the meter of the outermost handler
	charger *Meter // the meter of the handler that charged
	route   Route  // as the outermost handler saw it
	err     error
	answer  Answer

	billed     bool // out holds a charge, admitted or refused
	answered   bool // the middleware answered; the handler did not run
	deferred   bool // the outermost handler left the charge to an inner one
	failedOpen bool // the store failed and the request passed unbilled
}

var states = sync.Pool{New: func() any {
	s := new(State)
	s.headers.buf = make([]byte, 0, 256)
	return s
}}

// acquire returns a State whose flow is zero, one released earlier if
// there is one.
func acquire() *State { return states.Get().(*State) }

// release resets s and keeps it for reuse. Nothing may read s afterwards.
func (s *State) release() {
	s.flow = flow{}
	s.headers.reset(nil)
	s.body = s.body[:0]
	states.Put(s)
}

// Outcome returns a copy of the outcome of the request's charge, which
// stays valid after the request, and whether the request was charged
// (admitted, or replayed from an idempotency key). It reports false for a
// request that passed unbilled: skipped, not served by a route, or passed
// because the store failed and the middleware fails open.
func (s *State) Outcome() (core.Outcome, bool) {
	if s == nil || !s.billed || !s.out.Allowed() {
		return core.Outcome{}, false
	}
	return s.out, true
}

// Route is what an adapter knows of the route that serves a request.
type Route struct {
	// Method is the request's method.
	Method string
	// Pattern is the route's pattern, as the router writes it, such as
	// "/items/:id"; "" if the adapter cannot tell (the usage is then
	// reported without a label).
	Pattern string
	// Matched is false when no route serves the request: the router
	// answers 404 or 405, and the request is not charged.
	Matched bool
}

// Headers are the response headers of a charge: the rate-limit headers and
// Retry-After, with canonical names. Values live in a buffer of the
// request's State: copy them (fasthttp's header setters do) or use
// [Headers.SetIn].
type Headers struct {
	m     *Meter
	n     uint8
	names [numHeaders]uint8  // indexes in m.names
	ends  [numHeaders]uint16 // end offsets of the values in buf
	buf   []byte
	// vals, when set, is where SetIn keeps the value slices of a header
	// map: memory of the request's own (see [WithState]), so that they
	// need no allocation of their own.
	vals *[numHeaders]string
	// limit and resetAt are the latest X-RateLimit-Limit and -Reset values
	// and their text. They outlive the request: the pooled State serves
	// request after request on one processor, whose limit and renewal
	// repeat (clients on one plan, windows that renew together), so the
	// text is usually copied rather than formatted again.
	limit, resetAt decimalText
	// remaining is the latest X-RateLimit-Remaining value and its text,
	// which the next charge of the same client usually lowers by one.
	remaining decimalText
}

// Len returns the number of headers.
func (h *Headers) Len() int { return int(h.n) }

// Name returns the canonical name of the i-th header, 0 <= i < Len.
func (h *Headers) Name(i int) string { return h.m.names[h.names[i]] }

// NameBytes returns [Headers.Name] as bytes, for setters that take
// canonical names as bytes (fasthttp's ResponseHeader.SetCanonical), which
// need not normalize them again. The bytes are shared: do not modify
// them.
func (h *Headers) NameBytes(i int) []byte { return h.m.nameBytes[h.names[i]] }

// Bytes returns the value of the i-th header, valid until the request's
// State is released.
func (h *Headers) Bytes(i int) []byte {
	start := uint16(0)
	if i > 0 {
		start = h.ends[i-1]
	}
	return h.buf[start:h.ends[i]]
}

// SetIn sets the headers in hdr under their canonical keys, as hdr.Set
// would, replacing any value. The values are copied into one string, so
// hdr stays valid after the request's State is released (a net/http
// server may write the header map after the middleware returns).
func (h *Headers) SetIn(hdr http.Header) {
	n := int(h.n)
	if n == 0 {
		return
	}
	all := string(h.buf)
	var vals []string
	if h.vals != nil {
		vals = h.vals[:n]
	} else {
		vals = make([]string, n)
	}
	start := uint16(0)
	for i := range n {
		vals[i] = all[start:h.ends[i]]
		start = h.ends[i]
		hdr[h.Name(i)] = vals[i : i+1 : i+1]
	}
}

// DelIn deletes the headers' names from hdr.
func (h *Headers) DelIn(hdr http.Header) {
	for i := range int(h.n) {
		delete(hdr, h.Name(i))
	}
}

// reset empties h for the headers of a charge by m's handler; a nil m
// also forgets vals (the State is being released).
func (h *Headers) reset(m *Meter) {
	h.m, h.n, h.buf = m, 0, h.buf[:0]
	if m == nil {
		h.vals = nil
	}
}

// add appends a header whose value was appended to h.buf.
func (h *Headers) add(name int) {
	if len(h.buf) > 0xffff {
		h.buf = h.buf[:h.end()] // never: a value is a few hundred bytes
		return
	}
	h.names[h.n] = uint8(name)
	h.ends[h.n] = uint16(len(h.buf))
	h.n++
}

func (h *Headers) end() int {
	if h.n == 0 {
		return 0
	}
	return int(h.ends[h.n-1])
}

// quotaFigures are the figures of one limited quota the headers state.
type quotaFigures struct {
	period           core.Period
	limit, remaining int64 // whole credits
	end              int64 // renewal, Unix nanoseconds
}

// figures returns the header figures of the i-th quota of o.
func figures(o *core.Outcome, i int) quotaFigures {
	f := o.Figures(i)
	return quotaFigures{f.Period, f.Limit.Floor(), f.Remaining.Floor(), f.End}
}

// The constant parts of the draft headers' items, per period: `"day";q=`
// and `;w=86400` of RateLimit-Policy, `"day";r=` of RateLimit.
var policyItem, policyWindow, rateLimitItem [core.MaxQuotas]string

func init() {
	for p := range core.Period(core.MaxQuotas) {
		name := `"` + p.String() + `"`
		policyItem[p] = name + ";q="
		policyWindow[p] = ";w=" + strconv.FormatInt(int64(p.Nominal()/time.Second), 10)
		rateLimitItem[p] = name + ";r="
	}
}

// rateLimitHeaders sets the headers of the charged outcome o.
func (h *Headers) rateLimitHeaders(o *core.Outcome) {
	m := h.m
	if !m.legacy && !m.draft {
		return // no headers wanted
	}
	low := o.LowestIndex()
	if low < 0 {
		return // unlimited quotas only
	}
	if !m.draft { // the legacy triple: the most constrained quota only
		lq := figures(o, low)
		h.legacyHeaders(&lq)
		return
	}
	var qs [core.MaxQuotas]quotaFigures
	n, first := 0, 0
	for i := range o.Len() {
		q := figures(o, i)
		if q.limit < 0 { // unlimited
			continue
		}
		if i == low {
			first = n
		}
		qs[n] = q
		n++
	}
	lq := &qs[first]
	if m.legacy {
		h.legacyHeaders(lq)
	}
	for i := range n {
		q := &qs[i]
		if i > 0 {
			h.buf = append(h.buf, ", "...)
		}
		h.buf = append(h.buf, policyItem[q.period]...)
		h.buf = appendInt(h.buf, q.limit)
		h.buf = append(h.buf, policyWindow[q.period]...)
	}
	h.add(hPolicy)
	at := o.At().UnixNano()
	h.buf = appendRateLimitItem(h.buf, lq, at)
	for i := range n {
		if i != first {
			h.buf = append(h.buf, ", "...)
			h.buf = appendRateLimitItem(h.buf, &qs[i], at)
		}
	}
	h.add(hRateLimit)
}

// legacyHeaders sets the legacy triple of the most constrained quota.
func (h *Headers) legacyHeaders(lq *quotaFigures) {
	h.buf = h.limit.append(h.buf, lq.limit)
	h.add(hLimit)
	h.buf = h.remaining.append(h.buf, lq.remaining)
	h.add(hRemaining)
	h.buf = h.resetAt.append(h.buf, ceilSeconds(lq.end))
	h.add(hReset)
}

func appendRateLimitItem(b []byte, q *quotaFigures, at int64) []byte {
	b = append(b, rateLimitItem[q.period]...)
	b = appendInt(b, q.remaining)
	b = append(b, ";t="...)
	return appendInt(b, max(0, ceilSeconds(q.end-at)))
}

// retryAfter sets Retry-After to secs, at least 1.
func (h *Headers) retryAfter(secs int64) {
	h.buf = appendInt(h.buf, max(1, secs))
	h.add(hRetryAfter)
}
