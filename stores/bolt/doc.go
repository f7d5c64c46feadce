// Package bolt is a [core.Store] in an embedded bbolt file: the default
// store of a single-binary application. It needs no server, survives
// restarts and crashes, and is safe for concurrent use by one process.
//
//	s, err := bolt.Open("apibilling.db", nil) // durable, 3 s lock timeout
//	if err != nil {
//		log.Fatal(err) // bolt.ErrLocked: another instance holds the file
//	}
//	defer s.Close()
//	b := core.New(s)
//
// [Open] owns its file and closes it on [Store.Close]; [New] uses a
// *bbolt.DB the application already has (in its own bucket) and leaves it
// open.
//
// # Durability
//
// In the default, durable mode a deduction, a refund or a deletion is
// committed to the file and flushed to disk (fsync) before the call
// returns. A crash (kill -9, power loss) therefore never loses usage whose
// Deduct reported success, and a client is never served a request whose
// charge is not on disk. A deduction in progress at the crash may be on
// disk without having been reported: the file holds at least every
// acknowledged deduction and at most those plus the ones in flight.
//
// Concurrent calls share transactions (group commit): one committer
// goroutine takes every pending call, applies them in order in one write
// transaction, each decided against the state the previous ones left,
// commits it (bbolt flushes the data pages, then its meta page: two fsyncs
// whatever the batch's size) and only then answers each caller. While a
// transaction is being flushed, the next batch gathers, so throughput grows
// with concurrency instead of being one fsync per request. Each call is
// decided exactly once, inside the transaction that records it; if the
// commit fails, every call of the batch gets the error and none is reported
// as charged. Calls that change nothing (refused deductions, zero costs,
// usage queries) are answered without a commit.
//
// [Options.CommitInterval] selects the interval mode instead: calls are
// decided in memory and answered at once, and the changes are committed
// every interval, each commit a consistent snapshot. A crash loses at most
// the changes made after the last completed commit's snapshot: about one
// interval of deductions, which clients were served but will not be billed
// for. Windows never over-admit in either mode while the process runs.
//
// # Caveats
//
//   - The promise holds only if the disk honours flushes. Drives with
//     volatile write caches, some virtual machines and network filesystems
//     acknowledge an fsync before the data is safe.
//   - One process per file: bbolt locks the file. A second process waits
//     [Options.LockTimeout] and then fails with [ErrLocked]. Several
//     instances of an API need a shared store instead. Do not put the file
//     on a network filesystem, where locks may not work.
//   - A *bbolt.DB given to [New] must not have NoSync set, which drops every
//     fsync and so the durability promise; the application's own long write
//     transactions on it delay deductions, which wait for the write lock.
//   - Once the committer has taken a call into a transaction, the call waits
//     for that commit even if its context ends, so that an error always
//     means "not charged". A call whose context ends before that is
//     withdrawn and changes nothing.
//   - The file never shrinks (bbolt reuses freed pages). It grows with
//     clients, periods, days and labels, not with requests: one counter per
//     client and period, replaced when a later window starts, and one
//     aggregate per client, report day and label, kept until
//     [core.Billing.DeleteUsage] removes it.
//   - In the interval mode the store keeps one counter per client and
//     period in memory. If a periodic commit fails, calls fail until one
//     succeeds.
//
// [Open] opens the file with bbolt's hash-map free list (FreelistMapType),
// which only speeds up page allocation; the free list is still written with
// every commit. It sets no option that weakens durability (NoSync,
// NoGrowSync, NoFreelistSync).
//
// # File layout
//
// All data is under one top-level bucket, so a borrowed database can hold
// the application's own buckets beside it. Integers are big-endian; times
// are Unix nanoseconds; credits are micro-credits ([core.Credits]).
//
//	apibilling/                       root bucket
//	  meta/
//	    "format" -> uint32            the format version, FormatVersion (1)
//	  windows/                        one counter per client and period
//	    len(client) uint16 | client | period uint8 (0 second ... 6 year)
//	      -> start int64 | end int64 | used int64
//	  days/                           one aggregate per client, day and label
//	    len(client) uint16 | client | day start int64 (sign bit flipped) | label
//	      -> day end int64 | credits int64
//
// Keys start with the client ID prefixed by its length, so IDs of any bytes
// never collide, and a client's day aggregates are contiguous and in time
// order. [Open] refuses a file whose format is newer ([ErrNewerFormat]), a
// bbolt file holding other data ([ErrForeign]), and a damaged or truncated
// file ([ErrCorrupt]); it checks every record of the store on opening. A
// later format version will migrate version 1 files when it opens them.
package bolt
