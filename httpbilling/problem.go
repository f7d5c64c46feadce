package httpbilling

import (
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/frappy-go/apibilling/core"
)

// ProblemContentType is the media type of every body the middleware writes
// (RFC 9457).
const ProblemContentType = "application/problem+json"

// QuotaExceededType is the problem type of a 429.
const QuotaExceededType = "https://iana.org/assignments/http-problem-types#quota-exceeded"

// appendProblem appends the problem+json body of the answer of s. A 429
// of an exhausted quota carries the quota-exceeded problem of the spec;
// the others are "about:blank" problems with the status text as title.
func (s *State) appendProblem(b []byte) []byte {
	if qe, ok := s.err.(*core.QuotaExceededError); ok {
		return AppendQuotaExceeded(b, qe)
	}
	var qe *core.QuotaExceededError
	if errors.As(s.err, &qe) {
		return AppendQuotaExceeded(b, qe)
	}
	return AppendProblem(b, s.answer.Status, s.answer.Detail)
}

// AppendQuotaExceeded appends the 429 body for e, such as
//
//	{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded",
//	 "title":"Quota exceeded","status":429,"detail":"You have only 3 credits remaining, ...",
//	 "violated-policies":["day"],"remaining":3,"required":5,"renews_at":"2026-12-01T00:00:00Z"}
//
// without the line breaks.
func AppendQuotaExceeded(b []byte, e *core.QuotaExceededError) []byte {
	b = append(b, `{"type":"`+QuotaExceededType+`","title":"Quota exceeded","status":429,"detail":`...)
	b = appendJSONString(b, e.Detail())
	b = append(b, `,"violated-policies":[`...)
	first := true
	for p := core.Period(0); p < core.MaxQuotas; p++ {
		if e.Violated.Has(p) {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, '"')
			b = append(b, p.String()...)
			b = append(b, '"')
		}
	}
	b = append(b, `],"remaining":`...)
	b, _ = e.Remaining.AppendText(b)
	b = append(b, `,"required":`...)
	b, _ = e.Required.AppendText(b)
	b = append(b, `,"renews_at":"`...)
	b = e.RenewsAt.UTC().AppendFormat(b, time.RFC3339)
	return append(b, `"}`...)
}

// AppendProblem appends an "about:blank" problem+json body with the status,
// its text as title, and detail.
func AppendProblem(b []byte, status int, detail string) []byte {
	b = append(b, `{"type":"about:blank","title":`...)
	b = appendJSONString(b, http.StatusText(status))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"detail":`...)
	b = appendJSONString(b, detail)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
