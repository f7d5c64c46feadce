package redis_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/redis"
	goredis "github.com/redis/go-redis/v9"
)

// Every instance of the API runs this with the same Redis and quotas; they
// then share each client's usage. (Not run by go test: it needs a Redis.)
func ExampleNew() {
	rdb := goredis.NewClient(&goredis.Options{
		Addr:                  "127.0.0.1:6379",
		ContextTimeoutEnabled: true, // so that Options.Timeout bounds each call
		MaxRetries:            -1,   // charge at most once when a connection breaks
	})
	defer rdb.Close()

	store, err := redis.New(rdb, &redis.Options{Timeout: 50 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	b := core.New(store)
	defer b.Store().Close()
	if err := b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: 500 * core.Credit}); err != nil {
		log.Fatal(err)
	}

	out, err := b.Track(context.Background(), "client1", 5*core.Credit)
	switch {
	case errors.Is(err, core.ErrQuotaExceeded):
		fmt.Println("429:", err)
	case errors.Is(err, core.ErrStoreUnavailable):
		fmt.Println("503: Redis is down or slow:", err)
	case err != nil:
		log.Fatal(err)
	default:
		low, _ := out.Lowest()
		fmt.Println("remaining today:", low.Remaining)
	}
}
