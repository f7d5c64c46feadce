package bolt

import "errors"

// Errors of [Open] and [New], checked with [errors.Is]. The messages name
// the file.
var (
	// ErrLocked: another process (or another open handle in this process)
	// holds the file, and the lock was not released within
	// [Options.LockTimeout].
	ErrLocked = errors.New("apibilling/bolt: file is locked by another process")
	// ErrForeign: the file is a bbolt database that holds other data and no
	// apibilling store.
	ErrForeign = errors.New("apibilling/bolt: not an apibilling store")
	// ErrNewerFormat: the file was written by a later version of this
	// package, in a format this version cannot read.
	ErrNewerFormat = errors.New("apibilling/bolt: store format is newer than this version supports")
	// ErrCorrupt: the file is not a valid bbolt database, is truncated, or its
	// apibilling data is damaged.
	ErrCorrupt = errors.New("apibilling/bolt: corrupt store file")
	// ErrLabelTooLong: a label is longer than fits in a bbolt key (about
	// 32 KiB); nothing is changed.
	ErrLabelTooLong = errors.New("apibilling/bolt: label too long")
)
