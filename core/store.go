package core

import "context"

// Store keeps usage: one counter per live window of each client, and daily
// aggregates per label for reporting. It owns atomicity: [Store.Deduct]
// checks every window of one client and deducts from all or none in one
// call, so a shared store can do it in one round trip across processes.
//
// A store sees window identities (client, period, start), ends and limits;
// the calendar maths stays in [Billing]. Every method must be safe for
// concurrent use, must return an error wrapping the context's error without
// changing anything when ctx is already done, and must return an error
// wrapping [ErrClosed] after [Store.Close].
//
// Strings in the arguments may point into buffers the caller reuses: a store
// that keeps one must copy it.
//
// The package storetest holds the conformance suite every store runs.
type Store interface {
	// Deduct adds op.Cost to every window of op if each has room for it
	// (used+cost <= limit, or the window is unlimited, or the cost is zero),
	// and adds it to the day aggregate of op.Day and op.Label; otherwise it
	// changes nothing. It reports each window's usage after the call.
	//
	// A window the store has no counter for has used nothing. A window that
	// starts after the counter the store holds for the same client and
	// period replaces it (the old window has ended).
	Deduct(ctx context.Context, op Op) (Result, error)

	// Refund subtracts op.Cost from every window of op whose counter is still
	// held, and from the day aggregate of op.Day and op.Label, never going
	// below zero. Result.OK is unused.
	Refund(ctx context.Context, op Op) error

	// Usage reports the usage of each window of op without changing
	// anything. Result.OK is unused. Cost, Label and Day are ignored.
	Usage(ctx context.Context, op Op) (Result, error)

	// Report returns the day aggregates of q.Client whose day starts in
	// [q.From, q.To), one record per day and label, in any order.
	Report(ctx context.Context, q ReportQuery) ([]DayRecord, error)

	// Delete removes the day aggregates of op.Client whose day starts in
	// [op.From, op.To), and subtracts from each window of op the credits of
	// the removed aggregates whose day overlaps that window, never going
	// below zero. It returns the credits removed from the aggregates.
	Delete(ctx context.Context, op DeleteOp) (Credits, error)

	// Close finishes pending work and releases the store's resources. Calls
	// after it fail with [ErrClosed]; calling Close twice is safe.
	Close() error
}

// Window is a window as a store sees it: its identity (the period and start
// within one client), its end and its limit. Times are Unix nanoseconds.
type Window struct {
	Period Period
	Start  int64   // inclusive
	End    int64   // exclusive
	Limit  Credits // or Unlimited
}

// Unlimited reports whether the window never refuses.
func (w Window) Unlimited() bool { return w.Limit == Unlimited }

// Fits reports whether a window holding used credits has room for cost.
// Stores use it so that every store decides alike.
func (w Window) Fits(used, cost Credits) bool {
	return cost == 0 || w.Limit == Unlimited || used+cost <= w.Limit
}

// DaySpan is a report day in the billing's report zone, as Unix nanoseconds:
// Start inclusive, End exclusive (23 to 25 hours).
type DaySpan struct {
	Start, End int64
}

// Op is what [Billing] asks of a store for one client: its windows and, for
// Deduct and Refund, a cost and the day aggregate it counts in. It is passed
// by value and holds no pointers but its strings, so a call allocates
// nothing.
type Op struct {
	Client string
	Label  string // route or label of the day aggregate; may be empty
	Cost   Credits
	Day    DaySpan
	N      int // number of windows in List
	List   [MaxQuotas]Window
}

// Windows returns the op's windows.
func (o *Op) Windows() []Window { return o.List[:o.N] }

// Result is what a store answers: each window's usage, in the order of
// Op.List, and for Deduct whether it deducted.
type Result struct {
	OK   bool
	Used [MaxQuotas]Credits
}

// ReportQuery selects the day aggregates of one client whose day starts in
// [From, To), in Unix nanoseconds.
type ReportQuery struct {
	Client   string
	From, To int64
}

// DayRecord is one day aggregate: the credits a client used on one report
// day under one label.
type DayRecord struct {
	Day     DaySpan
	Label   string
	Credits Credits
}

// DeleteOp asks a store to remove a client's day aggregates whose day starts
// in [From, To) and to take their credits out of the live windows.
type DeleteOp struct {
	Client   string
	From, To int64
	N        int
	List     [MaxQuotas]Window
}

// Windows returns the op's live windows.
func (o *DeleteOp) Windows() []Window { return o.List[:o.N] }
