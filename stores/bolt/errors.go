package bolt

import (
	"errors"

	"github.com/frappy-go/apibilling/core"
)

// Errors of [Open], [New] and [Check], checked with [errors.Is]. The
// messages name the file.
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
	// ErrCorrupt: the file is not a valid bbolt database, is empty or
	// truncated, or its apibilling data is damaged. [Open] checks the file's
	// structure and the store's format; a damaged record is reported by the
	// call that reads it, and [Check] reads them all.
	ErrCorrupt = errors.New("apibilling/bolt: corrupt store file")
	// ErrLabelTooLong is [core.ErrInvalidLabel], which the store returns
	// for a label longer than [core.MaxLabelLen].
	//
	// Deprecated: check for [core.ErrInvalidLabel].
	ErrLabelTooLong = core.ErrInvalidLabel
)
