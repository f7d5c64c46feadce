package mongo_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/mongo"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// Open connects to a replica set and charges a client through it.
func Example() {
	ctx := context.Background()
	store, err := mongo.Open(ctx, "mongodb://db1,db2,db3/?replicaSet=rs0", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	b := core.New(store)
	if err := b.SetQuotas("client1",
		core.Quota{Period: core.Day, Limit: core.Whole(500)},
		core.Quota{Period: core.Month, Limit: core.Whole(10_000)},
	); err != nil {
		log.Fatal(err)
	}
	out, err := b.Track(ctx, "client1", core.Whole(1))
	switch {
	case errors.Is(err, core.ErrQuotaExceeded):
		low, _ := out.Lowest()
		log.Printf("429: %v left, renews at %v", low.Remaining, low.End)
	case errors.Is(err, core.ErrStoreUnavailable):
		log.Printf("503: %v", err)
	}
}

// New takes a client the application configured, here with a write
// concern of one acknowledgement (faster, and an acknowledged charge may be
// lost on a failover) and a shorter timeout.
func ExampleNew() {
	ctx := context.Background()
	client, err := driver.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:27017").
		SetConnectTimeout(5 * time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Disconnect(ctx)
	store, err := mongo.New(ctx, client, &mongo.Options{
		Database:     "billing",
		Timeout:      200 * time.Millisecond,
		WriteConcern: writeconcern.W1(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	_ = core.New(store)
}
