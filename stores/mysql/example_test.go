package mysql_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"database/sql"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/mysql"

	_ "github.com/go-sql-driver/mysql"
)

// Every instance of the API runs this with the same database and quotas;
// they then share each client's usage. (Not run by go test: it needs a
// MySQL or MariaDB server.)
func ExampleNew() {
	ctx := context.Background()
	db, err := sql.Open("mysql", "app:secret@tcp(127.0.0.1:3306)/app")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// Creates the tables billing_*, or migrates them.
	store, err := mysql.New(ctx, db, &mysql.Options{Prefix: "billing_", Timeout: 500 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	b := core.New(store)
	if err := b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: core.Whole(500)}); err != nil {
		log.Fatal(err)
	}

	out, err := b.Charge(ctx, core.Charge{Client: "client1", Cost: core.Whole(5), IdempotencyKey: "order-1234"})
	switch {
	case errors.Is(err, core.ErrQuotaExceeded):
		fmt.Println("429:", err)
	case errors.Is(err, core.ErrOutcomeUnknown):
		fmt.Println("503, retry with the same key: it is charged at most once:", err)
	case errors.Is(err, core.ErrStoreUnavailable):
		fmt.Println("503: the database is down or slow:", err)
	case err != nil:
		log.Fatal(err)
	default:
		low, _ := out.Lowest()
		fmt.Println("remaining today:", low.Remaining)
	}
}

// Open creates a *sql.DB of its own, which Close closes.
func ExampleOpen() {
	ctx := context.Background()
	store, err := mysql.Open(ctx, "app:secret@tcp(127.0.0.1:3306)/app", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	b := core.New(store)
	_ = b
}

// An application that prunes on its own schedule (a cron job, say) turns
// the store's goroutine off and calls Prune.
func ExampleStore_Prune() {
	ctx := context.Background()
	store, err := mysql.Open(ctx, "app:secret@tcp(127.0.0.1:3306)/app", &mysql.Options{PruneInterval: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	pruned, err := store.Prune(ctx, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d expired keys and %d old aggregates removed\n", pruned.Keys, pruned.Usage)
}
