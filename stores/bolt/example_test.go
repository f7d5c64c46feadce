package bolt_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/bolt"
)

// Open a durable store, charge a client, and find the usage again after a
// restart.
func Example() {
	dir, err := os.MkdirTemp("", "apibilling-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "apibilling.db")
	ctx := context.Background()
	quota := core.Quota{Period: core.Day, Limit: core.Whole(500)}

	s, err := bolt.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	b := core.New(s)
	if err := b.SetQuotas("client1", quota); err != nil {
		log.Fatal(err)
	}
	if _, err := b.Track(ctx, "client1", core.Whole(5)); err != nil {
		log.Fatal(err)
	}
	s.Close()

	// After a restart, the day's usage is still counted.
	s, err = bolt.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	b = core.New(s)
	if err := b.SetQuotas("client1", quota); err != nil {
		log.Fatal(err)
	}
	out, err := b.Status(ctx, "client1")
	if err != nil {
		log.Fatal(err)
	}
	low, _ := out.Lowest()
	fmt.Println("remaining today:", low.Remaining)
	// Output: remaining today: 495
}

// Back up a running store to a file: the copy opens as a store of its own.
func ExampleStore_Backup() {
	dir, err := os.MkdirTemp("", "apibilling-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := bolt.Open(filepath.Join(dir, "apibilling.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	b := core.New(s)
	if err := b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: core.Whole(500)}); err != nil {
		log.Fatal(err)
	}
	if _, err := b.Track(ctx, "client1", core.Whole(5)); err != nil {
		log.Fatal(err)
	}

	out, err := os.Create(filepath.Join(dir, "backup.db"))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.Backup(ctx, out); err != nil { // billing may go on meanwhile
		log.Fatal(err)
	}
	if err := out.Close(); err != nil {
		log.Fatal(err)
	}
	rep, err := bolt.Check(ctx, filepath.Join(dir, "backup.db"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("format %d, %d client, %d window\n", rep.Format, rep.Clients, rep.Windows)
	// Output: format 2, 1 client, 1 window
}
