package bolt

import (
	"encoding/binary"
	"fmt"
	"os"
)

// validateTree checks the whole page tree of the bbolt file at path (see
// walkTree).
func validateTree(path string, stop <-chan struct{}) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("apibilling/bolt: %w", err)
	}
	defer f.Close()
	info, err := inspectFile(f, path)
	if err != nil {
		return err
	}
	return walkTree(f, info, path, stop)
}

// errStopped ends a walk that its caller no longer needs.
var errStopped = fmt.Errorf("apibilling/bolt: the check of the file was stopped")

// walkTree reads every page of the bbolt file f that its buckets reach,
// with plain reads (no memory map), and checks that each is a branch or
// leaf page inside the high-water mark, reached once, whose elements, keys
// and values lie inside it, and whose nested buckets do likewise. bbolt's
// own consistency check (Tx.Check) runs in a goroutine of its own, where a
// damaged offset is a memory fault that crashes the process; after
// walkTree, every page it reads is known to be sound.
func walkTree(f *os.File, info fileInfo, path string, stop <-chan struct{}) error {
	w := treeWalker{f: f, info: info, path: path, seen: make(map[uint64]bool), stop: stop}
	return w.page(info.meta.root, 0)
}

type treeWalker struct {
	f    *os.File
	info fileInfo
	path string
	seen map[uint64]bool
	stop <-chan struct{}
}

const (
	bucketLeafFlag = 0x01
	elementSize    = 16
	maxTreeDepth   = 64
)

func (w *treeWalker) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, w.path, fmt.Sprintf(format, args...))
}

// page checks the page id and what it reaches.
func (w *treeWalker) page(id uint64, depth int) error {
	m := &w.info.meta
	switch {
	case depth > maxTreeDepth:
		return w.corrupt("the tree is deeper than %d pages", maxTreeDepth)
	case id < 2 || id >= m.pgid:
		return w.corrupt("page %d outside the %d pages in use", id, m.pgid)
	case w.seen[id]:
		return w.corrupt("page %d is reached twice", id)
	}
	w.seen[id] = true
	if len(w.seen)%1024 == 0 {
		select {
		case <-w.stop:
			return errStopped
		default:
		}
	}
	ps := w.info.pageSize
	hdr := make([]byte, pageHeaderSize)
	if _, err := w.f.ReadAt(hdr, int64(id)*ps); err != nil {
		return w.corrupt("page %d: %v", id, err)
	}
	overflow := uint64(binary.NativeEndian.Uint32(hdr[12:]))
	if binary.NativeEndian.Uint64(hdr) != id || id+overflow >= m.pgid {
		return w.corrupt("page %d has a bad header", id)
	}
	buf := make([]byte, int64(overflow+1)*ps)
	if _, err := w.f.ReadAt(buf, int64(id)*ps); err != nil {
		return w.corrupt("page %d: %v", id, err)
	}
	for j := uint64(1); j <= overflow; j++ {
		w.seen[id+j] = true
	}
	return w.elements(buf, id, depth)
}

// elements checks the elements of the page (or inline page) in buf.
func (w *treeWalker) elements(buf []byte, id uint64, depth int) error {
	e := binary.NativeEndian
	flags, count := e.Uint16(buf[8:]), int(e.Uint16(buf[10:]))
	if pageHeaderSize+count*elementSize > len(buf) {
		return w.corrupt("page %d: %d elements do not fit", id, count)
	}
	for i := range count {
		el := pageHeaderSize + i*elementSize
		switch flags {
		case branchPageFlag:
			pos, ksize, child := int(e.Uint32(buf[el:])), int(e.Uint32(buf[el+4:])), e.Uint64(buf[el+8:])
			if pos < 0 || ksize < 0 || el+pos+ksize > len(buf) || el+pos < el {
				return w.corrupt("page %d: branch element %d outside the page", id, i)
			}
			if err := w.page(child, depth+1); err != nil {
				return err
			}
		case leafPageFlag:
			lf, pos, ksize, vsize := e.Uint32(buf[el:]), int(e.Uint32(buf[el+4:])), int(e.Uint32(buf[el+8:])), int(e.Uint32(buf[el+12:]))
			if pos < 0 || ksize < 0 || vsize < 0 || el+pos+ksize+vsize > len(buf) || el+pos < el {
				return w.corrupt("page %d: leaf element %d outside the page", id, i)
			}
			if lf&bucketLeafFlag == 0 {
				continue
			}
			v := buf[el+pos+ksize : el+pos+ksize+vsize]
			if len(v) < 16 {
				return w.corrupt("page %d: bucket element %d too short", id, i)
			}
			if root := e.Uint64(v); root != 0 {
				if err := w.page(root, depth+1); err != nil {
					return err
				}
			} else if len(v) < 16+pageHeaderSize {
				return w.corrupt("page %d: inline bucket %d too short", id, i)
			} else if err := w.elements(v[16:], id, depth+1); err != nil {
				return err
			}
		default:
			return w.corrupt("page %d is neither a branch nor a leaf (flags %#x)", id, flags)
		}
	}
	return nil
}
