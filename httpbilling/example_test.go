package httpbilling_test

import (
	"errors"
	"fmt"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/httpbilling"
)

// The one table: how the middleware answers an error, and which handler
// gives the answer.
func ExampleClassify() {
	for _, err := range []error{
		&core.QuotaExceededError{},
		fmt.Errorf("lookup: %w", httpbilling.ErrUnknownClient),
		&httpbilling.CostError{Status: 400, Detail: "units must be a number"},
		&core.IdempotencyConflictError{Key: "k"},
		fmt.Errorf("%w: timeout", core.ErrStoreUnavailable),
		errors.New("something else"),
	} {
		a := httpbilling.Classify(err)
		fmt.Printf("%d %s report=%v %q\n", a.Status, a.Kind, a.Report, a.Detail)
	}
	// Output:
	// 429 denied report=false ""
	// 401 unidentified report=false "The client identity is not recognized."
	// 400 failed report=false "units must be a number"
	// 422 failed report=false "This Idempotency-Key was already used for a request of another cost or route."
	// 503 failed report=true "Billing is temporarily unavailable. Retry later."
	// 500 failed report=true "The request could not be billed."
}
