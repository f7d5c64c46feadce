// Package storecall is what the network stores (Redis, PostgreSQL, MySQL,
// MongoDB) share of a call: the checks that begin it, its bound, the pause
// before a retry, and the error it returns when the server, the network or
// the caller's context fails it. One error type, so that every store's
// errors match the same sentinels and read the same way.
package storecall

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// Store is a store's name as its errors begin: "apibilling/NAME: ".
type Store string

// Error is a failure of a store's server, of the network or of the
// caller's context: it matches [core.ErrStoreUnavailable] and Err with
// errors.Is, and [core.ErrOutcomeUnknown] too when Unknown is set.
type Error struct {
	Store Store
	Op    string // the store's operation, such as "deduct"
	Err   error
	// Unknown: the call was sent and its reply was lost, so it may have
	// been applied.
	Unknown bool
}

func (e *Error) Error() string {
	msg := "apibilling/" + string(e.Store) + ": " + e.Op + ": " + e.Err.Error()
	if e.Unknown {
		msg += " (the call was sent: it may have been applied)"
	}
	return msg
}

func (e *Error) Unwrap() []error {
	if e.Unknown {
		return []error{core.ErrStoreUnavailable, core.ErrOutcomeUnknown, e.Err}
	}
	return []error{core.ErrStoreUnavailable, e.Err}
}

// Failed returns the *[Error] of op that err failed, before anything was
// sent (or with nothing applied).
func (s Store) Failed(op string, err error) error { return &Error{Store: s, Op: op, Err: err} }

// Err returns the *[Error] of op that err failed; unknown says that the
// call was sent and may have been applied.
func (s Store) Err(op string, err error, unknown bool) error {
	return &Error{Store: s, Op: op, Err: err, Unknown: unknown}
}

// Closed returns the error of op on a closed store: it matches
// [core.ErrClosed] and [core.ErrStoreUnavailable].
func (s Store) Closed(op string) error { return &closedError{s, op} }

type closedError struct {
	store Store
	op    string
}

func (e *closedError) Error() string {
	return "apibilling/" + string(e.store) + ": " + e.op + ": " + core.ErrClosed.Error()
}

func (e *closedError) Unwrap() []error { return []error{core.ErrStoreUnavailable, core.ErrClosed} }

// Check reports why op cannot start: ctx is done, or the store is closed.
func (s Store) Check(ctx context.Context, isClosed bool, op string) error {
	if err := ctx.Err(); err != nil {
		return s.Failed(op, err)
	}
	if isClosed {
		return s.Closed(op)
	}
	return nil
}

// Bound returns ctx bounded by timeout, unless its own deadline comes
// sooner.
func Bound(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}

// Backoff sleeps before the next attempt of a call that failed in a way
// worth retrying (a deadlock, a serialization failure): a random time
// below 2, 4, ... 64 milliseconds as attempt grows, or until ctx ends.
func Backoff(ctx context.Context, attempt int) {
	d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
