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
// # How it works
//
// Calls are decided on a cache of the records they touch: one record per
// client (its window counters, their threshold bits and its latest hour of
// usage by label) and the idempotency key records. A record missing from
// the cache is read from the file when a call first needs it. Every change
// is appended to a write-ahead log next to the file (FILE-wal.SEQ), as the
// new value of each record it changed, so that one deduction writes one
// record of about a hundred bytes whatever the number of clients. The log
// is written into the bbolt file in the background (a checkpoint) when it
// holds 64 MiB or the cache 256Ki changed records, and by Close, Export,
// Backup and an Import that must find the store empty; after a checkpoint
// the cache forgets the records that
// did not change since, and the log segments it covered are deleted. bbolt
// stays the store of record: the log only ever holds what the last
// checkpoints have not written yet.
//
// A checkpoint writes in transactions of at most 16Ki records, in key
// order, and pauses between them as long as each took, so that no
// transaction grows with the number of clients (bbolt then reuses the pages
// each one frees, and the heap holds one transaction's pages) and calls
// keep most of the disk and processor. Expired idempotency keys and usage
// past the retention are removed a few thousand at a time in the same
// transactions.
//
// # Durability
//
// In the default, durable mode a call that changes something (a deduction,
// a refund, a deletion, an import) returns once its log records are on
// disk (fdatasync). A crash (kill -9, power loss) therefore never loses
// usage whose Deduct reported success, and a client is never served a
// request whose charge is not on disk; an idempotency key is recorded in
// the same log write as its charge, so a crash never keeps one without the
// other. A deduction in progress at the crash may be on disk without having
// been reported: the store holds at least every acknowledged deduction and
// at most those plus the ones in flight. [Open] replays the log a crash
// left, into the cache (the next checkpoint writes it into the file); a
// record cut short by the crash (never acknowledged) ends the log. An
// answer never rests on a change that is not on disk: a refusal or a replay
// decided on usage still being written waits for that write.
//
// Concurrent calls share log writes (group commit): one goroutine writes
// everything pending as one frame and flushes it, while the next calls
// gather, so throughput grows with concurrency instead of being one fsync
// per request. If a log write fails, every call in it fails ("not
// charged"), the cache is rebuilt from the log on disk so that nothing they
// changed remains, and the store goes on when writes succeed again. Calls
// that change nothing (refused deductions, zero costs without a key, usage
// queries) write nothing.
//
// [Options.CommitInterval] selects the interval mode instead: calls are
// decided in the cache and answered at once, and the log is written every
// interval. A crash loses at most the changes made after the last
// completed write: about one interval of deductions, which clients were
// served but will not be billed for. If a write fails, calls fail until one
// succeeds; nothing is lost while the process runs. Windows never
// over-admit in either mode while the process runs.
//
// [Options.OnCommit] reports each log write's number of calls and duration,
// for metrics.
//
// # Caveats
//
//   - The promise holds only if the disk honours flushes. Drives with
//     volatile write caches, some virtual machines and network filesystems
//     acknowledge an fsync before the data is safe.
//   - The log files belong to the store file: move, copy or delete them
//     together, and never copy the .db file alone while the store runs or
//     after a crash (it may lack acknowledged usage that only the log
//     holds). Use [Store.Backup] for a consistent copy. Before restoring a
//     copy over a store, delete the old FILE-wal.* files next to it.
//   - One process per file: bbolt locks the file. A second process waits
//     [Options.LockTimeout] and then fails with [ErrLocked]. Several
//     instances of an API need a shared store instead. Do not put the file
//     on a network filesystem, where locks may not work.
//   - A *bbolt.DB given to [New] must not have NoSync set, which drops the
//     checkpoints' fsyncs; the application's own long write transactions
//     on it delay checkpoints (not calls). Make one store per database:
//     two would share the bucket and the log files.
//   - Once a call's change is in the log, the call waits for the log write
//     even if its context ends, so that an error always means "not
//     charged".
//   - Memory: the cache holds every record changed since the last
//     checkpoint and those read since, up to about 640Ki records: a call
//     that would add one to a full cache waits (once, at most a second)
//     for a checkpoint to evict. At a million clients charged at random
//     the heap in use stayed below 1.2 GB.
//   - The file never shrinks (bbolt reuses freed pages). It grows with
//     clients, hours and labels within the retention, not with requests. A
//     file migrated from format 1 keeps the pages the old layout used as
//     free space.
//   - If a checkpoint cannot write into the file (the disk is full), calls
//     go on and the log keeps their changes until a checkpoint succeeds.
//
// [Open] opens the file with bbolt's hash-map free list (FreelistMapType),
// which only speeds up page allocation. It sets no option that weakens
// durability (NoSync, NoGrowSync, NoFreelistSync).
//
// # Retention
//
// Usage aggregates of hours that started more than [Options.Retention]
// (default [DefaultRetention], 400 days) before the latest charge the store
// has seen are left out of reports and exports at once and removed from the
// file by checkpoints, a few thousand per transaction, so pruning never
// stalls deductions. Idempotency key records are removed once expired
// (through an index by expiry, so the work is proportional to what
// expires).
//
// # Damaged files
//
// A damaged or truncated file is refused with [ErrCorrupt], never a crash.
// Before bbolt opens the file, [Open] reads both meta pages itself (magic,
// version, page size, checksum) and checks that the pages they name (root,
// free list, high-water mark) and the free list's entries lie inside the
// file; an empty file is refused too (delete it to start a new store), as a
// new store is only created where no file exists. bbolt's own reads run
// with memory faults turned into panics (runtime/debug.SetPanicOnFault),
// which the store turns into ErrCorrupt. A damaged record is reported by
// the call that reads it. In the background after Open, the whole page tree
// is checked with plain reads (each page inside the file, reached once,
// its elements inside it), and the first checkpoint waits for that check:
// a file that fails it stops the store with ErrCorrupt rather than let
// bbolt write into a damaged tree. [Check] reads and verifies everything
// (bbolt's check, the format, every record), for an operator.
//
// # Start-up
//
// [Open] reads the meta pages, the free list, the store's meta bucket (its
// format version) and the log left by a crash, if any: nothing that grows
// with the usage stored. It reads no record: 4 to 9 ms for a file of a
// million clients, also from a cold page cache, where format 1, which read
// every record, took 60 to 200 ms, and 7.5 to 8 s cold. The log it replays
// is at most what checkpoints let accumulate (64 MiB).
//
// # File layout (format 2)
//
// All data is under one top-level bucket, so a borrowed database can hold
// the application's own buckets beside it. Integers are big-endian; times
// are Unix nanoseconds (in keys with the sign bit flipped, so that byte
// order is time order); credits are micro-credits.
//
//	apibilling/                        root bucket
//	  meta/
//	    "format" -> uint32             the format version, FormatVersion (2)
//	    "wal"    -> uint64             the first log segment not yet in the file
//	    "import" -> ID                 the ID of an import in progress, if any
//	  clients/                         one record per client
//	    client -> 1 | held uint8 (a bit per period)
//	              | per period held: start int64 | end int64 | used int64 | fired uint8
//	              | 0, or 1 | open hour start int64 | end int64 | labels uvarint
//	                | per label: len uvarint | label | credits int64
//	  usage/                           one aggregate per client, hour and label
//	    len(client) uint16 | client | start int64 | label -> end int64 | credits int64
//	  keys/                            idempotency key records
//	    len(client) uint16 | client | key -> core.KeyRecord.AppendBinary
//	  expiry/                          the key records by expiry
//	    expires int64 | len(client) uint16 | client | key -> (empty)
//
// A client's latest hour of usage (its open hour) lives in its record, so a
// deduction reads and writes one key; when a later hour is charged, the
// open hour's labels move to the usage bucket, which never holds an
// aggregate of a client from its open hour on. Keys holding the client ID
// prefixed by its length never collide, whatever bytes IDs hold, and a
// client's aggregates are contiguous and in time order.
//
// [Open] refuses a file whose format is newer ([ErrNewerFormat]), a bbolt
// file holding other data ([ErrForeign]), and a damaged or truncated file
// ([ErrCorrupt]). It migrates a file of format 1 (one key per client and
// period, and day aggregates, which stay as they are: a day is a valid
// span) in transactions of bounded size, checking its whole tree first; a
// migration that a crash interrupts starts again.
//
// The log segments (FILE-wal.SEQ, with SEQ in 16 hex digits, and one
// FILE-wal.spare kept for reuse) are series of frames, one per write:
// payload length (uint32, little-endian), CRC-32C of the rest of the frame
// (uint32), the segment's sequence number (uint64), payload; the payload
// is records of put (1) or delete (2), bucket (1 clients, 2 usage, 3 keys,
// 4 meta), key length (uvarint), key, and for a put the value's length
// (uvarint) and value. A closed store leaves no log files.
package bolt
