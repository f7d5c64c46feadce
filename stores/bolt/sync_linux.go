package bolt

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data (and the size needed to read it) to disk.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
