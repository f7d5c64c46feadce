package httpbilling

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/frappy-go/apibilling/core"
)

// Charge is the decision about one request: the status to answer, the
// headers to set and the billing outcome. Take one per request with
// [NewCharge], fill it with [Meter.Charge] or [Meter.Reject], do not copy it
// afterwards (header values point into it), and [Charge.Release] it once
// the request is done and nothing reads it any more.
type Charge struct {
	// Status is the status the middleware answers, or 0 when the request
	// passes to its handler.
	Status int
	// Err is why the request does not pass, or the store failure of a
	// request passed with fail open; nil otherwise.
	Err error
	// Billed reports whether Outcome holds a charge, admitted or refused.
	Billed bool
	// Outcome is the charge's outcome when Billed.
	Outcome core.Outcome

	m     *Meter
	n     uint8              // headers set
	names [numHeaders]uint8  // their names, indexes in m.names
	used  uint16             // bytes of buf used
	offs  [numHeaders]uint16 // offsets of their values in buf, or apart
	vals  [numHeaders]string // their values, in buf or apart
	buf   [bufSize]byte
}

// bufSize holds the header values of a client with a few quotas; longer
// values are allocated apart.
const bufSize = 192

// apart is the offset of a value that is not in a Charge's buf: an
// immutable string of its own.
const apart = 0xffff

// charges holds released charges for reuse: a Charge is 768 bytes with
// pointers, which allocated per request cost more than the rest of the
// HTTP layer.
var charges = sync.Pool{New: func() any { return new(Charge) }}

// NewCharge returns a zero Charge, one released earlier if there is one.
func NewCharge() *Charge { return charges.Get().(*Charge) }

// Release resets ch and keeps it for reuse by a later [NewCharge]. Call it
// once the request is done: after [Meter.Finish], and after removing every
// reference to ch or to its Outcome that a handler could still read (such
// as an in-flight table entry or a context value). ch must not be used
// afterwards. Headers set with [Charge.SetHeaders] do not point into ch, and
// a fasthttp header copies what it is given, so they stay valid.
func (ch *Charge) Release() {
	ch.reset()
	charges.Put(ch)
}

// reset makes ch zero again, except for the bytes of buf, which are never
// read past used.
func (ch *Charge) reset() {
	ch.Status, ch.Err, ch.Billed = 0, nil, false
	ch.Outcome = core.Outcome{}
	ch.m, ch.n, ch.used = nil, 0, 0
	ch.names = [numHeaders]uint8{}
	ch.offs = [numHeaders]uint16{}
	ch.vals = [numHeaders]string{}
}

// Kind is what a decision is, and so which handler answers it.
type Kind uint8

// The kinds of decision.
const (
	// Pass: the request goes to its handler.
	Pass Kind = iota
	// Denied: 429, a quota refused; or 403, the client has no quotas.
	Denied
	// Unidentified: 401, the request names no valid client.
	Unidentified
	// Failed: the cost or the store failed (500, 503 or the status of a
	// [*CostError]).
	Failed
)

// Kind returns the kind of the decision.
func (ch *Charge) Kind() Kind {
	switch ch.Status {
	case 0:
		return Pass
	case 429, 403:
		return Denied
	case 401:
		return Unidentified
	}
	return Failed
}

// NumHeaders returns the number of headers to set.
func (ch *Charge) NumHeaders() int { return int(ch.n) }

// Header returns the i-th header to set, 0 <= i < NumHeaders, in a fixed
// order. The name is the canonical form of the configured name
// ([textproto.CanonicalMIMEHeaderKey]): the key to store it under in a
// [net/http.Header] map, and the form fasthttp normalises names to.
func (ch *Charge) Header(i int) (name, value string) {
	return ch.m.names[ch.names[i]], ch.vals[i]
}

// SetHeaders sets the headers of ch in h under their canonical keys, as
// h.Set would (so h.Get finds them), replacing any value. The values are
// copied out of ch into one allocation shared by all of them, so h stays
// valid after ch is released: a net/http server may write the header map
// after the middleware returns, and tests read it afterwards.
func (ch *Charge) SetHeaders(h http.Header) {
	n := int(ch.n)
	if n == 0 {
		return
	}
	var vals []string
	var buf []byte
	if ch.used <= smallValuesSize {
		v := new(smallValues)
		vals, buf = v.vals[:], v.buf[:]
	} else {
		v := new(headerValues)
		vals, buf = v.vals[:], v.buf[:]
	}
	copy(buf, ch.buf[:ch.used])
	names := &ch.m.names
	for i := range n {
		v := ch.vals[i]
		if off := ch.offs[i]; off != apart {
			v = unsafe.String(&buf[off], len(v)) // never written again
		}
		vals[i] = v
		h[names[ch.names[i]]] = vals[i : i+1 : i+1]
	}
}

// smallValues and headerValues hold the values SetHeaders copies out: the
// legacy triple fits the small one.
type (
	smallValues struct {
		vals [numHeaders]string
		buf  [smallValuesSize]byte
	}
	headerValues struct {
		vals [numHeaders]string
		buf  [bufSize]byte
	}
)

const smallValuesSize = 64

// QuotaExceeded returns the error of a 429, or nil.
func (ch *Charge) QuotaExceeded() *core.QuotaExceededError {
	if qe, ok := ch.Err.(*core.QuotaExceededError); ok {
		return qe
	}
	var qe *core.QuotaExceededError
	if errors.As(ch.Err, &qe) {
		return qe
	}
	return nil
}

func isExceeded(err error) bool {
	if _, ok := err.(*core.QuotaExceededError); ok {
		return true
	}
	return errors.Is(err, core.ErrQuotaExceeded)
}

// tail returns the unused part of ch.buf to append to.
func (ch *Charge) tail() []byte { return ch.buf[ch.used:ch.used:len(ch.buf)] }

// commit adds the header name (an index in m.names) with the value b,
// appended to tail(): in ch.buf if it fitted, else in an array of its own.
func (ch *Charge) commit(name int, b []byte) {
	if len(b) == 0 {
		return
	}
	ch.offs[ch.n] = apart
	if int(ch.used) < len(ch.buf) && &b[0] == &ch.buf[ch.used] {
		ch.offs[ch.n] = ch.used
		ch.used += uint16(len(b))
	}
	// The bytes of b are never written again, and ch.buf lives as long as
	// ch: the string is immutable.
	ch.names[ch.n] = uint8(name)
	ch.vals[ch.n] = unsafe.String(&b[0], len(b))
	ch.n++
}

// quotaFigures are the figures of one limited quota the headers state.
type quotaFigures struct {
	period           core.Period
	limit, remaining int64 // whole credits
	end              int64 // renewal, Unix nanoseconds
}

func figuresOf(o *core.Outcome, i int) quotaFigures {
	q := o.Quota(i)
	return quotaFigures{q.Period, q.Limit.Whole(), q.Remaining.Whole(), q.End.UnixNano()}
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

// rateLimitHeaders sets the headers of a charged outcome.
func (ch *Charge) rateLimitHeaders() {
	o := &ch.Outcome
	m := ch.m
	low := o.LowestIndex()
	if low < 0 || !m.legacy && !m.draft {
		return // unlimited quotas only, or no headers wanted
	}
	if !m.draft { // the legacy triple: the most constrained quota only
		lq := figuresOf(o, low)
		ch.legacyHeaders(&lq)
		return
	}
	var qs [core.MaxQuotas]quotaFigures
	n, first := 0, 0
	for i := range o.Len() {
		q := o.Quota(i)
		if q.Unlimited() {
			continue
		}
		if i == low {
			first = n
		}
		qs[n] = quotaFigures{q.Period, q.Limit.Whole(), q.Remaining.Whole(), q.End.UnixNano()}
		n++
	}
	lq := &qs[first]
	if m.legacy {
		ch.legacyHeaders(lq)
	}
	b := ch.tail()
	for i := range n {
		q := &qs[i]
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, policyItem[q.period]...)
		b = strconv.AppendInt(b, q.limit, 10)
		b = append(b, policyWindow[q.period]...)
	}
	ch.commit(hPolicy, b)
	at := o.At().UnixNano()
	b = appendRateLimitItem(ch.tail(), lq, at)
	for i := range n {
		if i != first {
			b = append(b, ", "...)
			b = appendRateLimitItem(b, &qs[i], at)
		}
	}
	ch.commit(hRateLimit, b)
}

// legacyHeaders sets the legacy triple of the most constrained quota.
func (ch *Charge) legacyHeaders(lq *quotaFigures) {
	ch.commit(hLimit, strconv.AppendInt(ch.tail(), lq.limit, 10))
	ch.commit(hRemaining, strconv.AppendInt(ch.tail(), lq.remaining, 10))
	ch.commit(hReset, strconv.AppendInt(ch.tail(), ceilSeconds(lq.end), 10))
}

func appendRateLimitItem(b []byte, q *quotaFigures, at int64) []byte {
	b = append(b, rateLimitItem[q.period]...)
	b = strconv.AppendInt(b, q.remaining, 10)
	b = append(b, ";t="...)
	return strconv.AppendInt(b, max(0, ceilSeconds(q.end-at)), 10)
}

// retryAfter sets Retry-After to secs, at least 1.
func (ch *Charge) retryAfter(secs int64) {
	ch.commit(hRetryAfter, strconv.AppendInt(ch.tail(), max(1, secs), 10))
}

// Problem returns the problem+json body of a decision whose Status is not
// 0, appended to the unused part of the charge's buffer when it fits. The
// body is valid as long as ch is.
func (ch *Charge) Problem() []byte { return ch.AppendProblem(ch.tail()) }
