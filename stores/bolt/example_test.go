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
