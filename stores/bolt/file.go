package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/bits"
	"os"
	"runtime/debug"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// bbolt's on-disk constants (go.etcd.io/bbolt/internal/common).
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16 // id uint64, flags uint16, count uint16, overflow uint32
	metaSize         = 64
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	freelistPageFlag = 0x10
	noFreelist       = ^uint64(0)
)

// boltMeta is a bbolt meta page as this package reads it.
type boltMeta struct {
	magic, version, pageSize uint32
	root, freelist, pgid     uint64
	txid                     uint64
	valid                    bool // magic, version and checksum hold
}

// readMeta decodes the meta page at the start of b (a page header and the
// meta), or returns an invalid meta if b is too short.
func readMeta(b []byte) boltMeta {
	if len(b) < pageHeaderSize+metaSize {
		return boltMeta{}
	}
	m := b[pageHeaderSize : pageHeaderSize+metaSize]
	e := binary.NativeEndian
	v := boltMeta{
		magic:    e.Uint32(m[0:]),
		version:  e.Uint32(m[4:]),
		pageSize: e.Uint32(m[8:]),
		root:     e.Uint64(m[16:]),
		freelist: e.Uint64(m[32:]),
		pgid:     e.Uint64(m[40:]),
		txid:     e.Uint64(m[48:]),
	}
	h := fnv.New64a()
	h.Write(m[:56])
	v.valid = v.magic == boltMagic && v.version == boltVersion && e.Uint64(m[56:]) == h.Sum64()
	return v
}

// validateFile checks, before bbolt opens the file at path, everything that
// bbolt.Open and the first transactions read without bounds checks: the
// meta pages (magic, version, page size, checksum), that the pages they
// point to (root, free list, high-water mark) lie inside the file, and the
// free list itself. A damaged or truncated file would otherwise crash the
// process with SIGBUS inside bbolt.Open. It returns nil for a path that
// does not exist (a new store), and an error wrapping [ErrCorrupt] for an
// empty file: a new store is only ever created where no file exists.
func validateFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("apibilling/bolt: %w", err)
	}
	defer f.Close()
	_, err = inspectFile(f, path)
	return err
}

// fileInfo is what inspectFile found: the meta page bbolt will use.
type fileInfo struct {
	meta     boltMeta
	pageSize int64
	size     int64
}

// inspectFile does the checks of validateFile on the open file f.
func inspectFile(f *os.File, path string) (fileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileInfo{}, fmt.Errorf("apibilling/bolt: %w", err)
	}
	size := fi.Size()
	if size == 0 {
		return fileInfo{}, fmt.Errorf("%w: %s is empty (0 bytes), not a store; delete it to start a new, empty store there", ErrCorrupt, path)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s (%d bytes): %s", ErrCorrupt, path, size, fmt.Sprintf(format, args...))
	}
	read := func(off int64, n int) ([]byte, error) {
		b := make([]byte, n)
		if off < 0 || off >= size {
			return nil, io.ErrUnexpectedEOF
		}
		k, err := f.ReadAt(b, off)
		if k < n {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return b, nil
	}
	// The page size: from the first meta page, else from the second one
	// at each possible page size, as bbolt finds it.
	var pageSize int64
	if b, err := read(0, pageHeaderSize+metaSize); err == nil {
		if m := readMeta(b); m.valid {
			pageSize = int64(m.pageSize)
		}
	}
	for i := 0; pageSize == 0 && i <= 14; i++ {
		pos := int64(1024) << i
		if pos >= size {
			break
		}
		if b, err := read(pos, pageHeaderSize+metaSize); err == nil {
			if m := readMeta(b); m.valid {
				pageSize = int64(m.pageSize)
			}
		}
	}
	switch {
	case pageSize == 0:
		return fileInfo{}, corrupt("no valid bbolt meta page")
	case pageSize < 512 || pageSize > 1<<24 || bits.OnesCount64(uint64(pageSize)) != 1:
		return fileInfo{}, corrupt("page size %d", pageSize)
	case size < 2*pageSize:
		return fileInfo{}, corrupt("shorter than its two meta pages of %d bytes", pageSize)
	}
	var metas [2]boltMeta
	for i := range metas {
		b, err := read(int64(i)*pageSize, pageHeaderSize+metaSize)
		if err != nil {
			return fileInfo{}, corrupt("meta page %d: %v", i, err)
		}
		metas[i] = readMeta(b)
	}
	// bbolt uses the valid meta page of the later transaction.
	a, b := metas[0], metas[1]
	if b.txid > a.txid {
		a, b = b, a
	}
	m := a
	if !m.valid {
		m = b
	}
	pages := uint64(size / pageSize)
	switch {
	case !m.valid:
		return fileInfo{}, corrupt("both meta pages are damaged")
	case int64(m.pageSize) != pageSize:
		return fileInfo{}, corrupt("meta pages disagree on the page size")
	case m.pgid < 3 || m.pgid > pages:
		return fileInfo{}, corrupt("truncated: its pages need %d bytes", m.pgid*uint64(pageSize))
	case m.root < 2 || m.root >= m.pgid:
		return fileInfo{}, corrupt("root page %d outside its %d pages", m.root, m.pgid)
	case m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.pgid):
		return fileInfo{}, corrupt("free list page %d outside its %d pages", m.freelist, m.pgid)
	}
	checkPage := func(id uint64, what string, flags ...uint16) (count, overflow uint64, err error) {
		h, err := read(int64(id)*pageSize, pageHeaderSize)
		if err != nil {
			return 0, 0, corrupt("%s page %d: %v", what, id, err)
		}
		e := binary.NativeEndian
		fl, c, o := e.Uint16(h[8:]), uint64(e.Uint16(h[10:])), uint64(e.Uint32(h[12:]))
		ok := false
		for _, f := range flags {
			ok = ok || fl == f
		}
		if !ok || e.Uint64(h) != id {
			return 0, 0, corrupt("%s page %d has the wrong header", what, id)
		}
		if id+o >= m.pgid {
			return 0, 0, corrupt("%s page %d runs past the end of the file", what, id)
		}
		return c, o, nil
	}
	info := fileInfo{meta: m, pageSize: pageSize, size: size}
	if _, _, err := checkPage(m.root, "root", branchPageFlag, leafPageFlag); err != nil {
		return fileInfo{}, err
	}
	if m.freelist == noFreelist {
		return info, nil
	}
	count, overflow, err := checkPage(m.freelist, "free list", freelistPageFlag)
	if err != nil {
		return fileInfo{}, err
	}
	room := (overflow+1)*uint64(pageSize) - pageHeaderSize
	off := int64(m.freelist)*pageSize + pageHeaderSize
	if count == 0xFFFF { // the count is the first element
		c, err := read(off, 8)
		if err != nil {
			return fileInfo{}, corrupt("free list: %v", err)
		}
		count = binary.NativeEndian.Uint64(c)
		off += 8
		room -= 8
	}
	if count > room/8 {
		return fileInfo{}, corrupt("free list of %d pages does not fit its %d pages", count, overflow+1)
	}
	ids, err := read(off, int(count)*8)
	if count > 0 && err != nil {
		return fileInfo{}, corrupt("free list: %v", err)
	}
	for i := uint64(0); i < count; i++ {
		if id := binary.NativeEndian.Uint64(ids[i*8:]); id < 2 || id >= m.pgid {
			return fileInfo{}, corrupt("free list names page %d, outside its %d pages", id, m.pgid)
		}
	}
	return info, nil
}

// openDB opens the bbolt file at path after validating it, with memory
// faults turned into panics (and so into [ErrCorrupt]) while bbolt reads
// it.
func openDB(path string, o *Options, readOnly bool) (*bbolt.DB, error) {
	if err := validateFile(path); err != nil {
		return nil, err
	}
	var db *bbolt.DB
	err := safely(path, func() error {
		var err error
		db, err = bbolt.Open(path, o.FileMode, &bbolt.Options{
			Timeout:      o.LockTimeout,
			FreelistType: bbolt.FreelistMapType,
			ReadOnly:     readOnly,
		})
		return err
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, ErrCorrupt):
		return nil, err
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s is still in use after %v (is another instance running?)", ErrLocked, path, o.LockTimeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	return nil, fmt.Errorf("apibilling/bolt: open %s: %w", path, err)
}

// safely runs fn with memory faults turned into panics and every panic
// turned into an error wrapping [ErrCorrupt]: bbolt reads the file through
// a memory map and trusts what it finds there.
func safely(where string, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if p := recover(); p != nil {
			if up, ok := p.(callerPanic); ok {
				panic(up.v) // not the file's fault
			}
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, where, p)
		}
	}()
	return fn()
}

// callerPanic carries a panic of a caller's function through safely.
type callerPanic struct{ v any }

// callerFunc calls fn so that a panic in it passes through safely
// unchanged.
func callerFunc[T any](fn func(T) error, v T) (err error) {
	defer func() {
		if p := recover(); p != nil {
			panic(callerPanic{p})
		}
	}()
	return fn(v)
}
