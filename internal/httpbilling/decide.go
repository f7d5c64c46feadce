package httpbilling

import (
	"context"

	"github.com/frappy-go/apibilling/core"
)

// Decide fills ch, which must be new, for the request c: it finds the
// client with id, the cost (costFunc's when it is set, else cost) and the
// label (none when label is nil), then charges the request, or records why
// it cannot be charged. Every adapter calls it with its own request type,
// so they decide alike.
func Decide[C any](ctx context.Context, m *Meter, ch *Charge, c C,
	id func(C) (string, error), cost core.Credits, costFunc func(C) (core.Credits, error), label func(C) string) {
	client, err := Identify(id, c)
	if err == nil && costFunc != nil {
		cost, err = costFunc(c)
	}
	if err != nil {
		m.Reject(ch, err)
		return
	}
	var l string
	if label != nil {
		l = label(c)
	}
	m.Charge(ctx, ch, client, l, cost)
}
