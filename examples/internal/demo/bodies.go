package demo

import (
	"encoding/json"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// Content types of the bodies.
const (
	JSONContentType    = "application/json"
	ProblemContentType = "application/problem+json"
)

// FetchDataBody is the 200 body of /api/fetch-data.
var FetchDataBody = []byte(`{"data":{"id":1,"name":"Sample record","tags":["demo","apibilling"]},"cost":1}`)

// FetchExpensiveDataBody is the 200 body of /api/fetch-expensive-data.
var FetchExpensiveDataBody = []byte(`{"data":{"report":"Detailed analytics","rows":[{"day":"mon","calls":120},{"day":"tue","calls":98}]},"cost":5}`)

// UnstableStatus and UnstableBody are the answer of /api/unstable: a
// failing upstream, whose credit the middleware refunds.
const UnstableStatus = 503

// UnstableBody is the problem+json body of /api/unstable.
var UnstableBody = []byte(`{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"The upstream service failed. This request is not charged."}`)

// ComputeBody returns the 200 body of /api/compute for a charge of units
// credits, such as {"units":0.5,"cost":0.5}.
func ComputeBody(units core.Credits) []byte {
	b := append([]byte(`{"units":`), units.AppendText(nil)...)
	b = append(b, `,"cost":`...)
	b = units.AppendText(b)
	return append(b, '}')
}

// quotaBody is the body of /api/quota.
type quotaBody struct {
	Client string       `json:"client"`
	Quotas []quotaEntry `json:"quotas"`
}

// quotaEntry is one quota in the body of /api/quota. Limit and Remaining
// are null for an unlimited quota.
type quotaEntry struct {
	Period      string        `json:"period"`
	Limit       *core.Credits `json:"limit"`
	Used        core.Credits  `json:"used"`
	Remaining   *core.Credits `json:"remaining"`
	WindowStart string        `json:"window_start"`
	ResetsAt    string        `json:"resets_at"`
}

// QuotaBody returns the 200 body of /api/quota for the outcome of the
// request's (zero-cost) charge, such as
//
//	{"client":"client1","quotas":[{"period":"day","limit":500,"used":12,"remaining":488,
//	  "window_start":"2026-11-30T00:00:00Z","resets_at":"2026-12-01T00:00:00Z"}, ...]}
//
// Quotas come shortest period first; amounts are exact decimals; times are
// RFC 3339 in the zone of the quota's anchor.
func QuotaBody(o *core.Outcome) []byte {
	body := quotaBody{Client: o.Client(), Quotas: make([]quotaEntry, 0, o.Len())}
	for _, q := range o.Quotas() {
		e := quotaEntry{
			Period:      q.Period.String(),
			Used:        q.Used,
			WindowStart: q.Start.Format(time.RFC3339Nano),
			ResetsAt:    q.End.Format(time.RFC3339Nano),
		}
		if !q.Unlimited() {
			limit, remaining := q.Limit, q.Remaining
			e.Limit, e.Remaining = &limit, &remaining
		}
		body.Quotas = append(body.Quotas, e)
	}
	b, err := json.Marshal(body)
	if err != nil {
		// Every field encodes; this cannot happen.
		panic("demo: encoding the quota body: " + err.Error())
	}
	return b
}
