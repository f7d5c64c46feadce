package demo

import "github.com/frappy-go/apibilling/core"

// The routes of the example applications.
const (
	RouteFetchData          = "/api/fetch-data"
	RouteFetchExpensiveData = "/api/fetch-expensive-data"
	RouteCompute            = "/api/compute"
	RouteUnstable           = "/api/unstable"
	RouteQuota              = "/api/quota"
)

// The costs of the routes; /api/compute costs its units (see [Units]).
const (
	CostFetchData          = core.Credit
	CostFetchExpensiveData = 5 * core.Credit
	CostUnstable           = core.Credit // refunded: the route fails
	CostQuota              = core.Credits(0)
)

// APIKeyHeader is the header that carries an API key; a bearer token in
// the Authorization header is the other way to send it.
const APIKeyHeader = "X-API-Key"

// Units returns the cost of /api/compute from its units query parameter: a
// non-negative decimal number of credits such as 0.5, read exactly. The
// error is a sentence for the client, answered with 400; nothing is then
// charged.
func Units(units string) (core.Credits, error) {
	if units == "" {
		return 0, errUnitsMissing
	}
	c, err := core.ParseCredits(units)
	if err != nil {
		return 0, errUnitsBad
	}
	return c, nil
}

// unitsError is an error whose text is meant for the client.
type unitsError string

func (e unitsError) Error() string { return string(e) }

const (
	errUnitsMissing unitsError = "The units query parameter is required: a non-negative decimal number such as 0.5."
	errUnitsBad     unitsError = "The units query parameter must be a non-negative decimal number such as 0.5, with at most 9007199254 credits."
)
