package core

import "time"

// Observer receives what a [Billing] does, for metrics. Its methods run in
// the charging goroutine and must be fast and must not block. A Billing
// without an observer pays nothing for it.
type Observer interface {
	// StoreCall reports one store call: its operation, how long it took,
	// and its error (nil on success; a refusal is not an error).
	StoreCall(op StoreOp, took time.Duration, err error)
	// Charged reports the result of a charge that reached the store:
	// admitted (ok), refused (by a quota or [ErrUsageOverflow]), or a replay
	// of an idempotent charge, with its client, label and cost. A charge
	// the store answered with an idempotency conflict, or failed, is
	// reported by StoreCall only. An observer must not turn client IDs into
	// metric labels unless the application opted in.
	Charged(client, label string, cost Credits, ok, replayed bool)
	// Refunded reports a refund given back to the store.
	Refunded(client, label string, cost Credits)
}

// StoreOp names a store operation for [Observer.StoreCall].
type StoreOp uint8

// The store operations.
const (
	OpDeduct StoreOp = iota
	OpRefund
	OpUsage
	OpReport
	OpDelete
)

var storeOpNames = [...]string{"deduct", "refund", "usage", "report", "delete"}

// String returns the operation's name, such as "deduct".
func (op StoreOp) String() string {
	if int(op) < len(storeOpNames) {
		return storeOpNames[op]
	}
	return "unknown"
}

// WithObserver sends what the billing does to o, for metrics.
func WithObserver(o Observer) Option { return func(b *Billing) { b.observer = o } }

// observe reports a store call started at t0 when an observer is set.
func (b *Billing) observe(op StoreOp, t0 time.Time, err error) {
	b.observer.StoreCall(op, time.Since(t0), err)
}
