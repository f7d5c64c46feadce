package inprocess

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkDiskSync measures the floor under every durable commit on this
// machine: overwriting one 4 KiB page of a file in the benchmarks' temporary
// directory and syncing it to disk. A bbolt commit syncs at least twice (its
// data pages, then its meta page), so a durable deduction alone takes at
// least twice this.
func BenchmarkDiskSync(b *testing.B) {
	b.ReportAllocs()
	f, err := os.Create(filepath.Join(b.TempDir(), "sync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	for b.Loop() {
		page[0]++
		if _, err := f.WriteAt(page, 0); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}
