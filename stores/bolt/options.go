package bolt

import (
	"os"
	"time"
)

// DefaultLockTimeout is how long [Open] waits for a file that another
// process holds when [Options.LockTimeout] is zero.
const DefaultLockTimeout = 3 * time.Second

// Options configures a [Store]. The zero value, like a nil *Options, means
// the safe defaults: durable mode (every deduction is on disk before Deduct
// returns) and a lock timeout of [DefaultLockTimeout].
type Options struct {
	// LockTimeout is how long [Open] waits for the file lock held by another
	// process before it fails with [ErrLocked]. Zero means
	// [DefaultLockTimeout]; a negative value fails at once if the file is
	// held. [New] ignores it.
	LockTimeout time.Duration

	// CommitInterval selects the interval mode when positive: Deduct,
	// Refund and Usage answer from memory at once, and the changes are
	// committed (with fsync) every CommitInterval. A crash (kill -9, power
	// loss) loses at most the changes made since the last completed commit:
	// about one interval of deductions, usage that clients were served but
	// that will not be billed. Close commits what is pending.
	//
	// Zero, the default, is the durable mode: each change is committed with
	// fsync before its call returns; concurrent calls share commits.
	CommitInterval time.Duration

	// FileMode is the permission of a file that [Open] creates. Zero means
	// 0600.
	FileMode os.FileMode

	hooks *testHooks // set by tests only
}

// testHooks let tests observe the interval mode's commits.
type testHooks struct {
	snapshot  func() // called under the store's lock when a commit takes its snapshot
	committed func() // called after that commit is on disk
}

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
	return v
}
