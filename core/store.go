package core

import (
	"context"
	"errors"
	"hash/maphash"
)

// Store keeps usage: one counter per live window of each client, usage
// aggregates per hour and label for reporting, and the idempotency keys of
// recent charges. It owns atomicity: [Store.Deduct] checks every window of
// one client and deducts from all or none in one call, and records the
// charge's idempotency key in the same step, so a shared store can do it
// in one round trip across processes.
//
// A store sees window identities (client, period, start), ends and limits,
// in Unix nanoseconds and micro-credits; the calendar maths stays in
// [Billing]. Every method must be safe for concurrent use, must return an
// error wrapping the context's error without changing anything when ctx is
// already done, and must return an error wrapping [ErrClosed] after
// [Store.Close]. A store whose reply was lost after the request may have
// changed its state (a network store's timeout) returns an error wrapping
// [ErrOutcomeUnknown].
//
// Arguments are the caller's: a store must not keep an *Op or a
// *DeleteOp, and must copy a string it keeps, since strings may point into
// buffers the caller reuses.
//
// Every store implements the same rules, written once in the methods of
// [Op], [Window] and [KeyRecord]; the package storetest holds the
// conformance suite that checks them.
type Store interface {
	// Deduct charges op.Cost to every window of op, all or nothing.
	//
	// If op.Key is set and the store holds an unexpired record of that key
	// for op.Client: when the record's Cost and Label equal op's, Deduct
	// changes nothing and returns Result{OK: true, Replayed: true, Record:
	// the record}; otherwise it changes nothing and returns
	// Result{Conflict: true, Record: the record}.
	//
	// Otherwise, if every window has room ([Window.Fits]) and no counter
	// would pass [MaxUsage] (the windows' and the hour aggregate of
	// op.Bucket and op.Label), it adds op.Cost to every window and to that
	// aggregate, sets the threshold bits the new usage reaches
	// ([Window.Reached]), records op.Key with [Op.Record] if it is set, and
	// returns OK; else it changes nothing and returns OK false, with
	// Overflow set if a counter would pass MaxUsage. A zero cost is
	// admitted and counts nothing (but its key is recorded).
	//
	// Used reports each window's usage after the call. A window the store
	// has no counter for has used nothing; a window that starts after the
	// counter held for the same client and period replaces it (the old
	// window has ended; Reset reports it if any threshold bit was set).
	Deduct(ctx context.Context, op *Op) (Result, error)

	// Refund gives back a charge. With op.Key set, it refunds the charge
	// recorded under that key, if the store holds an unexpired record of
	// it, and removes the record, so that a keyed charge is refunded at
	// most once; otherwise it does nothing. Without a key, it refunds op
	// itself. Refunding subtracts the cost from every window of the charge
	// whose counter still holds that window (same start), and from its hour
	// aggregate, never going below zero; threshold bits stay set.
	Refund(ctx context.Context, op *Op) error

	// Usage reports the usage of each window of op without changing
	// anything. Only op.Client and the windows are read.
	Usage(ctx context.Context, op *Op) (Result, error)

	// Report returns the usage aggregates of q.Client whose hour starts in
	// [q.From, q.To), one record per hour and label, in any order.
	Report(ctx context.Context, q ReportQuery) ([]UsageRecord, error)

	// Delete removes the usage aggregates of op.Client whose hour starts
	// in [op.From, op.To), and subtracts from each window of op the credits
	// of the removed aggregates whose hour overlaps that window, never going
	// below zero. It returns the micro-credits removed from the aggregates.
	Delete(ctx context.Context, op *DeleteOp) (int64, error)

	// Export calls fn with every record of the store's state: window
	// counters, usage aggregates and unexpired idempotency keys, in any
	// order. It reads a consistent snapshot where the store can (a read
	// transaction), else a record at a time, and never holds the whole state
	// in memory. fn must not keep rec; an error from fn stops the export
	// and is returned.
	Export(ctx context.Context, fn func(rec *Record) error) error

	// Import adds the records that next returns, until it returns io.EOF,
	// as [ImportOptions] says. Into an empty store (or, with opts.ID, one
	// holding an unfinished import of the same ID) records are written as
	// they are; with opts.Merge they are merged into the store's state
	// ([Record.MergeInto]); otherwise a store that is not empty is refused
	// with [ErrNotEmpty] before anything changes.
	Import(ctx context.Context, next func() (*Record, error), opts ImportOptions) error

	// Close finishes pending work and releases the store's resources. Calls
	// after it fail with [ErrClosed]; calling Close twice is safe.
	Close() error
}

// Window is a window as a store sees it: its identity (the period and start
// within one client), its end, its limit and its alert levels. Times are
// Unix nanoseconds; amounts are micro-credits.
type Window struct {
	Period Period
	Start  int64 // inclusive
	End    int64 // exclusive
	Limit  int64 // micro-credits, or -1 for unlimited
	// Levels are the usage levels, in micro-credits, whose crossing sets
	// the threshold bits of the window's counter (bit i for Levels[i]); 0
	// is no level.
	Levels [MaxLevels]int64
}

// MaxLevels is the most alert thresholds a window can have.
const MaxLevels = 4

// Unlimited reports whether the window never refuses.
func (w *Window) Unlimited() bool { return w.Limit < 0 }

// Fits reports whether a window holding used micro-credits has room for
// cost: used+cost <= limit, or the window is unlimited, or the cost is
// zero. (Every counter also stays at most [MaxUsage]: see [Overflows].)
func (w *Window) Fits(used, cost int64) bool {
	return cost == 0 || w.Limit < 0 || used <= w.Limit-cost
}

// Reached returns the threshold bits that a window's usage reaches at used
// micro-credits, of those not in fired.
func (w *Window) Reached(used int64, fired uint8) uint8 {
	var bits uint8
	for i, l := range w.Levels {
		if l > 0 && used >= l && fired&(1<<i) == 0 {
			bits |= 1 << i
		}
	}
	return bits
}

// Overflows reports whether adding cost to a counter holding used would
// take it past [MaxUsage].
func Overflows(used, cost int64) bool { return used > MaxUsage-cost }

// Span is an interval of time in Unix nanoseconds: Start inclusive, End
// exclusive. The usage aggregates are kept per hour: spans of one hour
// starting on the hour (Unix time).
type Span struct {
	Start, End int64
}

// Op is what [Billing] asks of a store for one client: its windows and, for
// Deduct and Refund, a cost, the hour aggregate it counts in and an optional
// idempotency key. It holds no pointers but its strings.
type Op struct {
	Client string
	// ClientHash is HashClient(Client) when [Billing] made the op, or 0
	// when unknown. It is a hint: a store may use it to find the client's
	// data without hashing the ID, but must find the same data whatever it
	// holds, since a caller of the store may pass any value. A wrong hint
	// may cost a store time, never correctness: the memory store, for one,
	// looks where the hint points, keeps what it finds there only if it
	// holds Client's ID, and else hashes the ID itself, and it adds a
	// client only where the ID's own hash puts it.
	ClientHash uint64
	Label      string // route or label of the hour aggregate; may be empty
	Cost       int64  // micro-credits, 0 to MaxCredits
	Bucket     Span   // the hour aggregate
	At         int64  // the time of the charge, Unix nanoseconds
	// Key is the charge's idempotency key, or empty. KeyExpires is when a
	// record of it expires (Unix nanoseconds): after it the key is free.
	Key        string
	KeyExpires int64
	N          int // number of windows in List
	List       [MaxQuotas]Window
}

// clientSeed is the seed of [HashClient], chosen when the process starts.
var clientSeed = maphash.MakeSeed()

// HashClient returns the hash of a client ID that [Op.ClientHash] holds:
// a [maphash] of id under a seed chosen at random when the process starts.
// It is the same for one ID throughout a process and unrelated across
// processes, so a store must not persist it or share it with another
// process.
func HashClient(id string) uint64 { return maphash.String(clientSeed, id) }

// Windows returns the op's windows.
func (o *Op) Windows() []Window { return o.List[:o.N] }

// Record returns the record of the charge op under op.Key, given the usage
// of each window after it: what Deduct stores and a replay returns.
func (o *Op) Record(used *[MaxQuotas]int64) KeyRecord {
	r := KeyRecord{
		Client: o.Client, Key: o.Key, Label: o.Label, Cost: o.Cost,
		At: o.At, Expires: o.KeyExpires, Bucket: o.Bucket, N: o.N,
	}
	for i := range o.N {
		w := o.List[i]
		r.List[i] = Window{Period: w.Period, Start: w.Start, End: w.End, Limit: w.Limit}
		r.Used[i] = used[i]
	}
	return r
}

// Result is what a store answers: each window's usage, in the order of
// Op.List, and for Deduct what it did.
type Result struct {
	// OK: Deduct admitted the charge (or replayed an admitted one).
	OK bool
	// Replayed: Deduct found the op's key recorded for the same cost and
	// label, and changed nothing; Record holds the first charge.
	Replayed bool
	// Conflict: Deduct found the op's key recorded for another cost or
	// label, and changed nothing; Record holds the first charge.
	Conflict bool
	// Overflow: Deduct refused because a counter would pass MaxUsage.
	Overflow bool
	// Used is each window's usage after the call, in micro-credits.
	Used [MaxQuotas]int64
	// Fired holds, per window, the threshold bits this Deduct set.
	Fired [MaxQuotas]uint8
	// Reset has bit i set when this Deduct replaced window i's counter of
	// an ended window that had threshold bits set.
	Reset uint8
	// Record is the key's record, for a replay or a conflict.
	Record *KeyRecord
}

// KeyRecord is the record of a charge made with an idempotency key: enough
// to answer a retry with the first charge's outcome, and to refund the
// charge once. Stores keep it as [KeyRecord.AppendBinary] encodes it, or
// field by field.
type KeyRecord struct {
	Client  string
	Key     string
	Label   string
	Cost    int64 // micro-credits
	At      int64 // the time of the charge, Unix nanoseconds
	Expires int64 // when the record expires, Unix nanoseconds
	Bucket  Span  // the hour aggregate charged
	N       int
	List    [MaxQuotas]Window // the windows charged (without levels)
	Used    [MaxQuotas]int64  // their usage after the charge
}

// Windows returns the record's windows.
func (r *KeyRecord) Windows() []Window { return r.List[:r.N] }

// Matches reports whether a charge of op may be answered by this record: the
// same cost and label. A key reused for another cost or label is a
// conflict.
func (r *KeyRecord) Matches(op *Op) bool { return r.Cost == op.Cost && r.Label == op.Label }

// Op returns the op that refunds the recorded charge.
func (r *KeyRecord) Op() Op {
	op := Op{Client: r.Client, Key: r.Key, Label: r.Label, Cost: r.Cost, At: r.At,
		KeyExpires: r.Expires, Bucket: r.Bucket, N: r.N}
	copy(op.List[:], r.List[:r.N])
	return op
}

// ReportQuery selects the usage aggregates of one client whose hour starts
// in [From, To), in Unix nanoseconds.
type ReportQuery struct {
	Client   string
	From, To int64
}

// UsageRecord is one usage aggregate: the micro-credits a client used in one
// hour under one label.
type UsageRecord struct {
	Bucket  Span
	Label   string
	Credits int64
}

// DeleteOp asks a store to remove a client's usage aggregates whose hour
// starts in [From, To) and to take their credits out of the live windows.
type DeleteOp struct {
	Client   string
	From, To int64
	N        int
	List     [MaxQuotas]Window
}

// Windows returns the op's live windows.
func (o *DeleteOp) Windows() []Window { return o.List[:o.N] }

// RecordKind is what a [Record] holds.
type RecordKind uint8

// The kinds of records of a store's state.
const (
	// RecordWindow is a window counter: Client, Period, Start, End, Used
	// and Fired.
	RecordWindow RecordKind = iota + 1
	// RecordUsage is a usage aggregate: Client, Start and End of the hour,
	// Label and Used.
	RecordUsage
	// RecordKey is an idempotency key: Client and Key.
	RecordKey
)

// Record is one item of a store's state, as [Store.Export] reads it and
// [Store.Import] writes it.
type Record struct {
	Kind   RecordKind
	Client string
	Period Period // RecordWindow
	Start  int64  // RecordWindow: the window's start; RecordUsage: the hour's
	End    int64
	Used   int64  // micro-credits
	Fired  uint8  // RecordWindow: threshold bits
	Label  string // RecordUsage
	Key    KeyRecord
}

// ImportOptions says how [Store.Import] writes records.
type ImportOptions struct {
	// Merge adds the records to a store that is not empty:
	// [Record.MergeInto] says how.
	Merge bool
	// ID names the import (an export's ID). The store records it while the
	// import runs and removes it when the import ends; an import of the
	// same ID into a store that holds it (an import interrupted earlier)
	// writes records as they are instead of refusing, so it can be run
	// again.
	ID string
}

// ErrNotEmpty is the error of [Store.Import] into a store that already
// holds state, without [ImportOptions].Merge.
var ErrNotEmpty = errors.New("apibilling: the store is not empty")

// WindowState is a window counter as a store holds it, for
// [Record.MergeInto].
type WindowState struct {
	Start, End int64
	Used       int64
	Fired      uint8
	Held       bool // the store holds a counter
}

// MergeWindow returns the counter a store holds after importing rec (a
// RecordWindow of the same client and period) into cur: with merge, a
// window with the same start adds the usage and joins the threshold bits
// (capped at MaxUsage), a later window replaces an earlier one, and an
// earlier one is dropped; without merge, rec replaces cur.
func MergeWindow(cur WindowState, rec *Record, merge bool) WindowState {
	next := WindowState{Start: rec.Start, End: rec.End, Used: rec.Used, Fired: rec.Fired, Held: true}
	if !merge || !cur.Held || rec.Start > cur.Start {
		return next
	}
	if rec.Start < cur.Start {
		return cur
	}
	cur.Used = addCapped(cur.Used, rec.Used)
	cur.Fired |= rec.Fired
	return cur
}

// MergeUsage returns the credits of a usage aggregate after importing used
// into one holding cur: with merge the sum (capped at MaxUsage), else used.
func MergeUsage(cur, used int64, merge bool) int64 {
	if !merge {
		return used
	}
	return addCapped(cur, used)
}

func addCapped(a, b int64) int64 {
	if a > MaxUsage-b {
		return MaxUsage
	}
	return a + b
}
