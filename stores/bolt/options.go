package bolt

import (
	"os"
	"time"
)

// DefaultLockTimeout is how long [Open] waits for a file that another
// process holds when [Options.LockTimeout] is zero.
const DefaultLockTimeout = 3 * time.Second

// DefaultRetention is how long usage aggregates are kept when
// [Options.Retention] is zero: 400 days.
const DefaultRetention = 400 * 24 * time.Hour

// Options configures a [Store]. The zero value, like a nil *Options, means
// the safe defaults: durable mode (every deduction is on disk before Deduct
// returns), a lock timeout of [DefaultLockTimeout] and usage aggregates kept
// for [DefaultRetention].
type Options struct {
	// LockTimeout is how long [Open] waits for the file lock held by another
	// process before it fails with [ErrLocked]. Zero means
	// [DefaultLockTimeout]; a negative value fails at once if the file is
	// held. [New] ignores it.
	LockTimeout time.Duration

	// CommitInterval selects the interval mode when positive: Deduct,
	// Refund and Usage answer from memory at once, and the changes are
	// written to the log with fsync every CommitInterval. A crash (kill -9,
	// power loss) loses at most the changes made since the last completed
	// write: about one interval of deductions, usage that clients were
	// served but that will not be billed. Close writes what is pending.
	//
	// Zero, the default, is the durable mode: each change is on disk
	// (fsync) before its call returns; concurrent calls share writes.
	CommitInterval time.Duration

	// Retention is how long usage aggregates are kept for reports: those
	// of hours that started more than Retention before the latest charge
	// the store has seen are removed, a few at a time inside the store's
	// checkpoints. Zero means [DefaultRetention]; a negative value keeps
	// them until [core.Billing.DeleteUsage] removes them.
	Retention time.Duration

	// OnCommit, when set, is called after each group commit (one write and
	// fsync of the log) with the number of calls it made durable and how
	// long the write and fsync took, for metrics such as a batch-size
	// histogram. It runs on the committing goroutine: it must be fast and
	// must not call the store. Nil costs nothing.
	OnCommit func(batch int, took time.Duration)

	// FileMode is the permission of a file that [Open] creates. Zero means
	// 0600.
	FileMode os.FileMode

	hooks *testHooks // set by tests only
}

// testHooks let tests observe and disturb the store.
type testHooks struct {
	snapshot  func()       // called under the store's lock when a log write takes its records
	committed func()       // called after that write is on disk
	failWrite func() error // when set, called before each log write; an error fails the write
	// Checkpoint thresholds: log bytes and dirty entries (0: the defaults).
	ckBytes int64
	ckDirty int
}

// Checkpoint thresholds: the log is written into the bbolt file when it
// holds this many bytes, or the cache this many changed entries.
const (
	defaultCheckpointBytes = 64 << 20
	defaultCheckpointDirty = 256 << 10
	// cacheLimit is the most entries the cache holds before a checkpoint
	// is asked for, which evicts those not changed since.
	cacheLimit = 512 << 10
	// cacheHard is the most entries the cache holds before calls that
	// would add one wait (up to cacheWait) for a checkpoint to evict:
	// under a load the checkpoints cannot follow, memory stays bounded.
	cacheHard = 640 << 10
	cacheWait = time.Second
	// chunkOps is the most records one checkpoint transaction writes.
	chunkOps = 16 << 10
	// pruneOps is the most expired entries (keys, old usage) one
	// checkpoint transaction removes or examines.
	pruneOps = 4 << 10
)

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.LockTimeout == 0 {
		v.LockTimeout = DefaultLockTimeout
	}
	if v.LockTimeout < 0 {
		// bbolt treats zero as "wait forever"; the shortest real wait fails
		// almost at once.
		v.LockTimeout = time.Nanosecond
	}
	if v.FileMode == 0 {
		v.FileMode = 0o600
	}
	if v.CommitInterval < 0 {
		v.CommitInterval = 0
	}
	if v.Retention == 0 {
		v.Retention = DefaultRetention
	}
	return v
}

func (o *Options) checkpointBytes() int64 {
	if o.hooks != nil && o.hooks.ckBytes > 0 {
		return o.hooks.ckBytes
	}
	return defaultCheckpointBytes
}

func (o *Options) checkpointDirty() int {
	if o.hooks != nil && o.hooks.ckDirty > 0 {
		return o.hooks.ckDirty
	}
	return defaultCheckpointDirty
}
