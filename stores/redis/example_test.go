package redis_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/redis"
	goredis "github.com/redis/go-redis/v9"
)

// Every instance of the API runs this with the same Redis and quotas; they
// then share each client's usage. (Not run by go test: it needs a Redis.)
func ExampleNew() {
	rdb := goredis.NewClient(&goredis.Options{
		Addr:                  "127.0.0.1:6379",
		ContextTimeoutEnabled: true, // required: Options.Timeout bounds each call
		DialerRetries:         1,    // a Redis that refuses connections fails calls at once
	})
	defer rdb.Close()

	store, err := redis.New(rdb, nil) // 500 ms timeout, pipelining, 400 days of usage
	if err != nil {
		log.Fatal(err)
	}
	b := core.New(store)
	defer b.Store().Close()
	if err := b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: core.Whole(500)}); err != nil {
		log.Fatal(err)
	}

	out, err := b.Charge(context.Background(), core.Charge{
		Client: "client1", Cost: core.Whole(5), Label: "/api/fetch-expensive-data",
		IdempotencyKey: "order-1234", // a retry with this key is never charged twice
	})
	switch {
	case errors.Is(err, core.ErrQuotaExceeded):
		fmt.Println("429:", err)
	case errors.Is(err, core.ErrOutcomeUnknown):
		// The call reached Redis but its reply was lost: it may have been
		// charged. Retrying with the same key is safe.
		fmt.Println("503, in doubt:", err)
	case errors.Is(err, core.ErrStoreUnavailable):
		fmt.Println("503, nothing charged:", err)
	case err != nil:
		log.Fatal(err)
	default:
		low, _ := out.Lowest()
		fmt.Println("remaining today:", low.Remaining)
	}
}

// ExampleStore_Stats reads the store's counters, for metrics: calls in
// doubt are charges whose reply Redis never sent back.
func ExampleStore_Stats() {
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	store, err := redis.New(rdb, nil)
	if err != nil {
		log.Fatal(err)
	}
	st := store.Stats()
	fmt.Printf("calls %d, failed %d, in doubt %d, pipelines %d\n", st.Calls, st.Failed, st.OutcomeUnknown, st.Pipelines)
}
