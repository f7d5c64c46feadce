package redis

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/frappy-go/apibilling/core"
	goredis "github.com/redis/go-redis/v9"
)

// Defaults of [Options].
const (
	// DefaultPrefix starts every key the store writes.
	DefaultPrefix = "apibilling"
	// DefaultTimeout bounds each deduction, refund and usage read.
	DefaultTimeout = 500 * time.Millisecond
	// DefaultAdminTimeout bounds each script of a report, a deletion, an
	// export or an import.
	DefaultAdminTimeout = 5 * time.Second
	// DefaultRetention is how long usage aggregates are kept for reports.
	DefaultRetention = 400 * 24 * time.Hour
	// DefaultGrace is how long a window counter outlives its window.
	DefaultGrace = time.Minute
	// DefaultPipelines is how many calls or pipelines of calls the store
	// has in flight at a time.
	DefaultPipelines = 2
)

// Options configures a [Store]. The zero value means the defaults.
type Options struct {
	// Prefix starts every key, so that several stores (or other data) can
	// share one Redis. It must not contain '{' or '}', which would break the
	// hash tag that keeps a client's keys on one Cluster slot.
	// Optional. Default: [DefaultPrefix].
	Prefix string

	// Timeout bounds each Deduct, Refund and Usage, unless the caller's
	// context has an earlier deadline: a Redis that is down, slow or
	// failing over makes the call fail within it with an error that wraps
	// [core.ErrStoreUnavailable], which [core.Billing] reports and the
	// adapters answer with 503 (or let pass, when failing open). The time
	// a call waits for a pipeline or a pooled connection counts: see the
	// package documentation for sizing the client's pool.
	// Optional. Default: [DefaultTimeout].
	Timeout time.Duration

	// AdminTimeout bounds each script run by Report, Delete, Export and
	// Import (an export or import runs many), unless the caller's context
	// has an earlier deadline.
	// Optional. Default: [DefaultAdminTimeout].
	AdminTimeout time.Duration

	// Retention is how long usage aggregates are kept for reports and
	// invoices: when a client's charges reach a new hour, the days of
	// aggregates that ended more than Retention before that hour's start
	// are removed (whole Unix days, so an aggregate is kept at least
	// Retention and at most a day longer), and a client charged nothing
	// for Retention loses them all (the keys expire). A negative Retention
	// keeps them until [core.Billing.DeleteUsage] removes them.
	// Optional. Default: [DefaultRetention].
	Retention time.Duration

	// Grace is how long a window counter is kept after its window ends, so
	// that instances whose clocks lag still find it. Counters of a client
	// and period are replaced, not added, when a later window starts.
	// Optional. Default: [DefaultGrace].
	Grace time.Duration

	// Pipelines is how many Deduct, Refund and Usage calls, or pipelines
	// of them, the store has in flight at a time. A call that finds fewer
	// in flight is sent at once; the calls that arrive while that many are
	// in flight wait and are sent together in the next pipeline: one write
	// and one read, on one connection, for all of them. Each call is still
	// its own script, atomic and answered on its own; only the round trip
	// is shared, which under load saves most of the system calls of both
	// the application and Redis, and most connections. A pipeline runs
	// under the earliest deadline of its calls, and without the values of
	// their contexts: a go-redis hook (tracing) sees the pipeline, not each
	// caller. A negative value sends every call on its own, each on a
	// connection of its own. Optional. Default: [DefaultPipelines].
	Pipelines int
}

// Store is a [core.Store] in Redis, shared by every instance of an API that
// uses the same Redis and prefix. Each operation is one Lua script: one
// round trip, atomic across processes. Create it with [New].
type Store struct {
	client       goredis.UniversalClient
	prefix       string
	timeout      time.Duration
	adminTimeout time.Duration
	grace        int64 // nanoseconds
	retention    int64 // nanoseconds; 0 keeps usage aggregates
	closed       atomic.Bool
	lastMeta     atomic.Pointer[bucketMeta]
	pipe         pipeliner
	stats        struct {
		calls, failed, outcomeUnknown, scriptLoads, pipelines atomic.Uint64
	}
	// counting, in tests, maps each script to a variant that counts its
	// Redis commands, and lastCalls holds the last count.
	counting  map[*script]*script
	lastCalls atomic.Int64
}

var _ core.Store = (*Store)(nil)

// New returns a store that keeps usage in Redis through client, which the
// application configured (single node, Sentinel or Cluster) and closes
// itself: [Store.Close] leaves it open. opts may be nil for the defaults.
//
// Timeouts come from contexts, so the client must be created with
// ContextTimeoutEnabled set; New refuses a *redis.Client, *redis.ClusterClient
// or *redis.Ring without it, since such a client would wait for its read
// timeout (seconds) on a stalled server instead of [Options.Timeout].
//
// The store's scripts are never retried by go-redis (whatever the client's
// MaxRetries): a script whose reply was lost may have run, and running it
// again would charge twice. Such a call fails with an error that wraps
// [core.ErrOutcomeUnknown]; see [Store.Stats].
func New(client goredis.UniversalClient, opts *Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("apibilling/redis: New expects a non-nil client")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("apibilling/redis: prefix %q contains '{' or '}'", o.Prefix)
	}
	if o.Timeout < 0 || o.AdminTimeout < 0 || o.Grace < 0 {
		return nil, errors.New("apibilling/redis: Timeout, AdminTimeout and Grace must not be negative")
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.AdminTimeout == 0 {
		o.AdminTimeout = DefaultAdminTimeout
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Pipelines == 0 {
		o.Pipelines = DefaultPipelines
	}
	if !contextTimeouts(client) {
		return nil, errors.New("apibilling/redis: the client must be created with ContextTimeoutEnabled: true, so that Options.Timeout bounds each operation")
	}
	s := &Store{
		client:       client,
		prefix:       o.Prefix,
		timeout:      o.Timeout,
		adminTimeout: o.AdminTimeout,
		grace:        int64(o.Grace),
	}
	s.pipe.max = max(o.Pipelines, 0)
	if o.Retention > 0 {
		s.retention = int64(o.Retention)
	}
	return s, nil
}

// contextTimeouts reports whether client bounds its socket I/O by the
// context's deadline, when its type says.
func contextTimeouts(client goredis.UniversalClient) bool {
	switch c := client.(type) {
	case *goredis.Client:
		return c.Options().ContextTimeoutEnabled
	case *goredis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *goredis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return true
}

// Client returns the Redis client the store uses.
func (s *Store) Client() goredis.UniversalClient { return s.client }

// Prefix returns the prefix of the store's keys.
func (s *Store) Prefix() string { return s.prefix }

// Stats counts the store's calls to Redis since [New], for metrics.
type Stats struct {
	// Calls is the number of scripts run (one per Deduct, Refund and
	// Usage; one or more per Report, Delete, Export and Import).
	Calls uint64
	// Failed is the number of calls that failed: Redis unreachable, slow
	// past the timeout, or answering an error.
	Failed uint64
	// OutcomeUnknown is the number of failed calls that changed or could
	// have changed state (Deduct, Refund, Delete, Import) whose command
	// was written to Redis but whose reply was lost: a timeout or a broken
	// connection after the write. Redis may have applied them. Their
	// errors wrap [core.ErrOutcomeUnknown]. Calls that failed before the
	// command was written (no connection could be had, the pool was
	// exhausted, the write failed, the caller gave up while the call
	// waited for a pipeline) or that Redis answered with an error are not
	// counted: they changed nothing.
	OutcomeUnknown uint64
	// ScriptLoads is the number of calls that found the script missing
	// from Redis's cache (after a restart, a failover or SCRIPT FLUSH) and
	// sent it again.
	ScriptLoads uint64
	// Pipelines is the number of pipelines sent (see
	// [Options.Pipelines]); the calls they carried are counted in Calls
	// too.
	Pipelines uint64
}

// Stats returns the store's counters. They are safe to read at any time.
func (s *Store) Stats() Stats {
	return Stats{
		Calls:          s.stats.calls.Load(),
		Failed:         s.stats.failed.Load(),
		OutcomeUnknown: s.stats.outcomeUnknown.Load(),
		ScriptLoads:    s.stats.scriptLoads.Load(),
		Pipelines:      s.stats.pipelines.Load(),
	}
}

// Close implements [core.Store.Close]: later calls fail with
// [core.ErrClosed]. The usage stays in Redis, and the client stays open:
// the application that created it closes it.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}
