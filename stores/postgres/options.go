package postgres

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of [Options].
const (
	// DefaultPrefix starts the name of every table and function the store
	// creates.
	DefaultPrefix = "apibilling_"
	// DefaultTimeout bounds each operation.
	DefaultTimeout = time.Second
	// DefaultRetention is how long usage aggregates are kept for reports.
	DefaultRetention = 400 * 24 * time.Hour
	// DefaultPruneInterval is how often the store prunes expired rows.
	DefaultPruneInterval = time.Minute
	// DefaultPruneBatch is how many rows one pruning transaction deletes.
	DefaultPruneBatch = 500
)

// Options configures a [Store]. The zero value means the defaults.
type Options struct {
	// Schema holds the store's tables and functions; it is created if
	// needed. A plain lower-case name: letters, digits and '_'.
	// Optional. Default: the connection's current schema (the first of
	// its search_path that exists, usually public).
	Schema string

	// Prefix starts the name of each table and function, so that several
	// stores (or other tables) can share one schema. Lower-case letters,
	// digits and '_', at most 40 bytes.
	// Optional. Default: [DefaultPrefix].
	Prefix string

	// Timeout bounds each operation, including the wait for a connection
	// of the pool, unless the caller's context ends sooner: a database
	// that is down, slow or locked makes the operation fail within it
	// with an error that wraps [core.ErrStoreUnavailable] (and
	// [core.ErrOutcomeUnknown] when the statement had been sent). It is
	// also the lock_timeout of each statement, so that a statement whose
	// caller gave up does not wait on a lock for longer.
	// Optional. Default: [DefaultTimeout].
	Timeout time.Duration

	// Retention is how long usage aggregates are kept for reports and
	// invoices: aggregates of hours that started more than Retention ago
	// are pruned (by a client's first charge of an hour, a few rows, and
	// by [Store.Prune]). A negative Retention keeps them until
	// [core.Billing.DeleteUsage] removes them.
	// Optional. Default: [DefaultRetention].
	Retention time.Duration

	// PruneInterval is how often a goroutine of the store calls
	// [Store.Prune]; a negative interval starts none, for applications
	// that call Prune themselves (from a cron job, say).
	// Optional. Default: [DefaultPruneInterval].
	PruneInterval time.Duration

	// PruneBatch is how many rows each transaction of [Store.Prune]
	// deletes, so that pruning holds few locks at a time.
	// Optional. Default: [DefaultPruneBatch].
	PruneBatch int

	// NoGroupCommit sends every deduction in a transaction of its own.
	// By default, deductions made while another call of the store is in
	// flight wait for it and are then sent together, as one call and one
	// transaction (one commit), in the order they arrived; see "Group
	// commit" in the package documentation. Each answer is the same
	// either way.
	// Optional. Default: false (group commit).
	NoGroupCommit bool
}

const maxPrefixLen = 40

// validName reports whether s is a plain lower-case SQL name.
func validName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (o *Options) withDefaults() (Options, error) {
	var v Options
	if o != nil {
		v = *o
	}
	if v.Prefix == "" {
		v.Prefix = DefaultPrefix
	}
	if !validName(v.Prefix) || len(v.Prefix) > maxPrefixLen {
		return v, fmt.Errorf("apibilling/postgres: prefix %q: want lower-case letters, digits and '_', at most %d bytes", v.Prefix, maxPrefixLen)
	}
	if v.Schema != "" && !validName(v.Schema) {
		return v, fmt.Errorf("apibilling/postgres: schema %q: want lower-case letters, digits and '_'", v.Schema)
	}
	if v.Timeout < 0 || v.PruneBatch < 0 {
		return v, errors.New("apibilling/postgres: Timeout and PruneBatch must not be negative")
	}
	if v.Timeout == 0 {
		v.Timeout = DefaultTimeout
	}
	if v.Retention == 0 {
		v.Retention = DefaultRetention
	}
	if v.PruneInterval == 0 {
		v.PruneInterval = DefaultPruneInterval
	}
	if v.PruneBatch == 0 {
		v.PruneBatch = DefaultPruneBatch
	}
	return v, nil
}
