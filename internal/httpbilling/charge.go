package httpbilling

import (
	"errors"
	"strconv"
	"unsafe"

	"github.com/frappy-go/apibilling/core"
)

// Charge is the decision about one request: the status to answer, the
// headers to set and the billing outcome. Allocate one per request
// (new(Charge)), fill it with [Meter.Charge] or [Meter.Reject], and do not
// copy it afterwards: header values point into it.
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

	m       *Meter
	n       int
	used    int
	headers [numHeaders]Header
	buf     [bufSize]byte
}

// bufSize holds the header values of a client with a few quotas; longer
// values are allocated apart.
const bufSize = 192

// Header is a response header to set.
type Header struct {
	Name, Value string
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

// Headers returns the headers to set, in a fixed order.
func (ch *Charge) Headers() []Header { return ch.headers[:ch.n] }

// Values returns the value of Headers()[i] as a one-element slice for an
// [net/http.Header] map, without allocating. The slice points into ch:
// appending to it copies it.
func (ch *Charge) Values(i int) []string { return unsafe.Slice(&ch.headers[i].Value, 1) }

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

// commit adds the header name with the value b, appended to tail(): in
// ch.buf if it fitted, else in an array of its own.
func (ch *Charge) commit(name string, b []byte) {
	if len(b) == 0 {
		return
	}
	if ch.used < len(ch.buf) && &b[0] == &ch.buf[ch.used] {
		ch.used += len(b)
	}
	// The bytes of b are never written again, and ch.buf lives as long as
	// ch: the string is immutable.
	ch.headers[ch.n] = Header{Name: name, Value: unsafe.String(&b[0], len(b))}
	ch.n++
}

// rateLimitHeaders sets the headers of a charged outcome.
func (ch *Charge) rateLimitHeaders() {
	o := &ch.Outcome
	low := o.LowestIndex()
	if low < 0 {
		return // unlimited quotas only
	}
	at := o.At().UnixNano()
	m := ch.m
	if m.legacy {
		q := o.Quota(low)
		ch.commit(m.names[hLimit], strconv.AppendInt(ch.tail(), q.Limit.Whole(), 10))
		ch.commit(m.names[hRemaining], strconv.AppendInt(ch.tail(), q.Remaining.Whole(), 10))
		ch.commit(m.names[hReset], strconv.AppendInt(ch.tail(), ceilSeconds(q.End.UnixNano()), 10))
	}
	if !m.draft {
		return
	}
	b := ch.tail()
	for i := 0; i < o.Len(); i++ {
		q := o.Quota(i)
		if q.Unlimited() {
			continue
		}
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '"')
		b = append(b, q.Period.String()...)
		b = append(b, `";q=`...)
		b = strconv.AppendInt(b, q.Limit.Whole(), 10)
		b = append(b, ";w="...)
		b = strconv.AppendInt(b, int64(q.Period.Nominal().Seconds()), 10)
	}
	ch.commit(m.names[hPolicy], b)
	b = appendRateLimitItem(ch.tail(), o.Quota(low), at)
	for i := 0; i < o.Len(); i++ {
		if i == low {
			continue
		}
		if q := o.Quota(i); !q.Unlimited() {
			b = append(b, ", "...)
			b = appendRateLimitItem(b, q, at)
		}
	}
	ch.commit(m.names[hRateLimit], b)
}

func appendRateLimitItem(b []byte, q core.QuotaStatus, at int64) []byte {
	b = append(b, '"')
	b = append(b, q.Period.String()...)
	b = append(b, `";r=`...)
	b = strconv.AppendInt(b, q.Remaining.Whole(), 10)
	b = append(b, ";t="...)
	return strconv.AppendInt(b, max(0, ceilSeconds(q.End.UnixNano()-at)), 10)
}

// retryAfter sets Retry-After to secs, at least 1.
func (ch *Charge) retryAfter(secs int64) {
	ch.commit(ch.m.names[hRetryAfter], strconv.AppendInt(ch.tail(), max(1, secs), 10))
}

// Problem returns the problem+json body of a decision whose Status is not
// 0, appended to the unused part of the charge's buffer when it fits. The
// body is valid as long as ch is.
func (ch *Charge) Problem() []byte { return ch.AppendProblem(ch.tail()) }
