package mongobench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/bench/internal/chargerun"
	"github.com/frappy-go/apibilling/core"
	mongostore "github.com/frappy-go/apibilling/stores/mongo"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

func newClient(b *testing.B) *mongo.Client {
	b.Helper()
	uri := os.Getenv("APIBILLING_MONGO_URI")
	if uri == "" {
		uri = "mongodb://127.0.0.1:27017"
	}
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(128))
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = c.Ping(ctx, readpref.Primary())
		cancel()
	}
	if err != nil {
		if os.Getenv("APIBILLING_REQUIRE_SERVICES") == "1" {
			b.Fatalf("no MongoDB server at %s: %v", uri, err)
		}
		b.Skipf("\n\n*** SKIPPED: no MongoDB server at %s (%v); set APIBILLING_MONGO_URI. ***\n\n", uri, err)
	}
	b.Cleanup(func() { c.Disconnect(context.Background()) })
	return c
}

var dbSeq atomic.Int64

// database returns a database of its own, dropped when b ends.
func database(b *testing.B, c *mongo.Client) string {
	name := fmt.Sprintf("apibilling_bench_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e12, dbSeq.Add(1))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c.Database(name).Drop(ctx)
	})
	return name
}

// charger charges one credit to client i (0 <= i < clients), and reports
// whether it was admitted; total returns the credits the store counts for
// client i.
type charger struct {
	charge func(ctx context.Context, i int) (bool, error)
	total  func(ctx context.Context, i int) (int64, error)
}

func clientID(i int) string { return "client-" + strconv.Itoa(i) }

// apibilling charges through core.Billing and the store: a day quota and an
// unlimited month, all or nothing, and the hour aggregate for reports.
func apibilling(b *testing.B, c *mongo.Client, clients int) charger {
	s, err := mongostore.New(b.Context(), c, &mongostore.Options{Database: database(b, c), Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	bill := core.New(s)
	for i := range clients {
		if err := bill.SetQuotas(clientID(i),
			core.Quota{Period: core.Day, Limit: core.MaxCredits},
			core.Quota{Period: core.Month, Limit: core.Unlimited}); err != nil {
			b.Fatal(err)
		}
	}
	return charger{
		charge: func(ctx context.Context, i int) (bool, error) {
			out, err := bill.Track(ctx, clientID(i), core.Whole(1))
			return out.Allowed(), err
		},
		total: func(ctx context.Context, i int) (int64, error) {
			st, err := bill.Status(ctx, clientID(i))
			if err != nil {
				return 0, err
			}
			return st.Quota(1).Used.Floor(), nil
		},
	}
}

// naive charges with a find-then-update loop: read the client's document,
// check the day's limit, write the day's and the month's counters back
// ($set of what was read plus the cost) and count the hour.
func naive(b *testing.B, c *mongo.Client, clients int) charger {
	coll := c.Database(database(b, c), options.Database().SetWriteConcern(writeconcern.Majority())).Collection("usage")
	const limit = int64(1) << 50
	for i := range clients { // the documents exist, as for a client charged before
		if _, err := coll.InsertOne(b.Context(), bson.D{{Key: "_id", Value: clientID(i)}, {Key: "day", Value: int64(0)}, {Key: "month", Value: int64(0)}}); err != nil {
			b.Fatal(err)
		}
	}
	return charger{
		charge: func(ctx context.Context, i int) (bool, error) {
			id := clientID(i)
			var doc struct {
				Day   int64 `bson:"day"`
				Month int64 `bson:"month"`
			}
			if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
				return false, err
			}
			if doc.Day+1 > limit {
				return false, nil
			}
			hour := "h." + strconv.FormatInt(time.Now().Truncate(time.Hour).Unix(), 10)
			_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{
				{Key: "$set", Value: bson.D{{Key: "day", Value: doc.Day + 1}, {Key: "month", Value: doc.Month + 1}}},
				{Key: "$inc", Value: bson.D{{Key: hour, Value: int64(1)}}},
			})
			return err == nil, err
		},
		total: func(ctx context.Context, i int) (int64, error) {
			var doc struct {
				Month int64 `bson:"month"`
			}
			err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: clientID(i)}}).Decode(&doc)
			return doc.Month, err
		},
	}
}

// BenchmarkMongo charges one credit per operation from 1, 16 and 64
// goroutines, each charging a client of its own (clients=own) or all
// charging one (clients=one), through the store and through a naive
// find-then-update loop, and reports operations per second, the 99th
// percentile latency in microseconds and the charges lost per operation.
func BenchmarkMongo(b *testing.B) {
	c := newClient(b)
	stores := []struct {
		name string
		open func(b *testing.B, clients int) charger
	}{
		{"apibilling", func(b *testing.B, n int) charger { return apibilling(b, c, n) }},
		{"find-then-update", func(b *testing.B, n int) charger { return naive(b, c, n) }},
	}
	for _, shared := range []bool{false, true} {
		for _, g := range []int{1, 16, 64} {
			if shared && g == 1 {
				continue
			}
			for _, st := range stores {
				name := fmt.Sprintf("clients=own/goroutines=%d/store=%s", g, st.name)
				clients := g
				if shared {
					name = fmt.Sprintf("clients=one/goroutines=%d/store=%s", g, st.name)
					clients = 1
				}
				b.Run(name, func(b *testing.B) {
					run(b, st.open(b, clients), g, clients)
				})
			}
		}
	}
}

// run calls charge b.N times from g goroutines, goroutine k charging
// client k%clients, and reports ops/s, p99 and the charges lost.
func run(b *testing.B, ch charger, g, clients int) {
	r := chargerun.Run(b, g, func(ctx context.Context, k int) (bool, error) { return ch.charge(ctx, k%clients) })
	r.Check(b)
	var counted int64
	for i := range clients {
		n, err := ch.total(context.Background(), i)
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			b.Fatal(err)
		}
		counted += n
	}
	r.Report(b)
	b.ReportMetric(float64(int64(b.N)-counted)/float64(b.N), "lost/op")
}
