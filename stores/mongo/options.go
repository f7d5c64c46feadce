package mongo

import (
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// Defaults of [Options].
const (
	// DefaultDatabase is the database the store's collections live in.
	DefaultDatabase = "apibilling"
	// DefaultTimeout bounds each operation.
	DefaultTimeout = time.Second
	// DefaultRetention is how long usage aggregates are kept for reports.
	DefaultRetention = 400 * 24 * time.Hour
	// DefaultHorizon is how long a client's superseded versions are kept
	// in the versions layout (see [Versions]).
	DefaultHorizon = time.Minute
	// DefaultPruneEvery is how often expired idempotency key records are
	// deleted.
	DefaultPruneEvery = time.Hour
)

// Layout is how the store makes a client's changes atomic. The store
// records the layout in its database when it first opens it, and refuses
// to open a database written in the other layout.
type Layout int

const (
	// Auto picks [Updates] on MongoDB and [Versions] on FerretDB, whose
	// buildInfo answer names it (field ferretdbVersion).
	Auto Layout = iota
	// Updates keeps one document per client and changes it with
	// conditional single-document updates: a deduction is one
	// findAndModify whose filter checks every window, and other changes
	// replace the document when its version field is still the one read.
	// MongoDB runs each of these atomically.
	Updates
	// Versions keeps each client's state as insert-only versions: a change
	// inserts version v+1 under a unique _id, which exactly one writer can
	// do. It is atomic on every server that enforces unique _ids, FerretDB
	// 1.x included, whose updates are a read and a later write that
	// concurrent updates of the same document interleave (see the package
	// documentation).
	Versions
)

// String returns "auto", "updates" or "versions".
func (l Layout) String() string {
	switch l {
	case Auto:
		return "auto"
	case Updates:
		return "updates"
	case Versions:
		return "versions"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// Options configures a [Store]. The zero value means the defaults.
type Options struct {
	// Database names the database of the store's collections.
	// Optional. Default: [DefaultDatabase].
	Database string

	// Prefix starts the names of the store's collections (clients,
	// versions, heads, keys, usage and meta), so that several stores can
	// share a database.
	// Optional. Default: "".
	Prefix string

	// Timeout bounds each operation, unless the caller's context has an
	// earlier deadline: a server that is down, slow or electing a new
	// primary makes the operation fail within it with an error that wraps
	// [core.ErrStoreUnavailable] (and [core.ErrOutcomeUnknown] when a
	// write had been sent).
	// Optional. Default: [DefaultTimeout].
	Timeout time.Duration

	// Retention is how long usage aggregates are kept for reports: those of
	// hours that started more than Retention before the client's latest
	// charged hour are dropped from reports at once and deleted as the
	// client is charged. A negative Retention keeps them until
	// [core.Billing.DeleteUsage] removes them.
	// Optional. Default: [DefaultRetention].
	Retention time.Duration

	// WriteConcern is the write concern of every write the store makes:
	// an operation returns only after the server acknowledged its writes
	// with it.
	// Optional. Default: majority (writeconcern.Majority()), so that an
	// acknowledged charge survives the failover of a replica set.
	WriteConcern *writeconcern.WriteConcern

	// Layout says how changes are made atomic.
	// Optional. Default: [Auto].
	Layout Layout

	// Horizon is, in the [Versions] layout, how long a client's superseded
	// versions are kept before they are deleted. A writer never inserts a
	// version on the strength of a read older than a quarter of it, so a
	// version deleted after Horizon cannot be written again by a writer
	// that read its predecessor. It must be at least four times Timeout
	// (New checks it when it uses the Versions layout).
	// Optional. Default: [DefaultHorizon], or four times Timeout when that
	// is longer.
	Horizon time.Duration

	// PruneEvery is how often the store deletes idempotency key records
	// (and their refund marks) that expired more than an hour ago; a
	// negative PruneEvery leaves that to another store on the same
	// database.
	// Optional. Default: [DefaultPruneEvery].
	PruneEvery time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.Timeout < 0 || o.Horizon < 0 {
		return o, errors.New("apibilling/mongo: Timeout and Horizon must not be negative")
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.WriteConcern == nil {
		o.WriteConcern = writeconcern.Majority()
	}
	if o.Layout < Auto || o.Layout > Versions {
		return o, fmt.Errorf("apibilling/mongo: unknown layout %d", int(o.Layout))
	}
	if o.Horizon == 0 {
		o.Horizon = max(DefaultHorizon, 4*o.Timeout)
	}
	if o.PruneEvery == 0 {
		o.PruneEvery = DefaultPruneEvery
	}
	return o, nil
}
