package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/postgres"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Every instance of the API runs this with the same database and quotas;
// they then share each client's usage. (Not run by go test: it needs a
// PostgreSQL server.)
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://app@127.0.0.1:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	// Creates the tables in the schema "billing", or migrates them.
	store, err := postgres.New(ctx, pool, &postgres.Options{Schema: "billing", Timeout: 500 * time.Millisecond})
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

// Open creates a pool of its own, which Close closes.
func ExampleOpen() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, "postgres://app@127.0.0.1:5432/app", nil)
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
	store, err := postgres.Open(ctx, "postgres://app@127.0.0.1:5432/app", &postgres.Options{PruneInterval: -1})
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
