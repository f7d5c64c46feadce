package clientsfile_test

import (
	"context"
	"fmt"
	"time"

	"github.com/frappy-go/apibilling/clientsfile"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

func Example() {
	f, err := clientsfile.Parse([]byte(`{"clients": [
	  {"id": "client1", "keys": ["demo-key-1"],
	   "quotas": [{"period": "day", "limit": 500, "start": "2022-01-01T00:00:00Z"},
	              {"period": "month", "limit": 10000, "start": "2022-01-15T00:00:00Z"}]},
	  {"id": "client2", "keys": ["demo-key-2"],
	   "quotas": [{"period": "minute", "limit": 0.5},
	              {"period": "day", "limit": -1, "start": "2022-01-01T00:00:00+01:00", "tz": "Europe/Berlin"}]}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	if err := f.Apply(b); err != nil {
		fmt.Println(err)
		return
	}

	client, ok := f.ClientForKey("demo-key-1")
	fmt.Println(client, ok)
	out, _ := b.Track(context.Background(), client, core.Whole(5))
	for _, q := range out.Quotas() {
		fmt.Printf("%s: %s of %s used, renews %s\n", q.Period, q.Used, q.Limit, q.End.Format(time.RFC3339))
	}
	for _, q := range b.Quotas("client2") {
		limit := q.Limit.String()
		if q.Unlimited() {
			limit = "unlimited"
		}
		fmt.Printf("client2 %s: limit %s, anchor %s %s\n", q.Period, limit, q.Anchor.Format(time.RFC3339), q.Anchor.Location())
	}
	// Output:
	// client1 true
	// day: 5 of 500 used, renews 2026-12-01T00:00:00Z
	// month: 5 of 10000 used, renews 2026-12-15T00:00:00Z
	// client2 minute: limit 0.5, anchor 2001-01-01T00:00:00Z UTC
	// client2 day: limit unlimited, anchor 2022-01-01T00:00:00+01:00 Europe/Berlin
}

func ExampleParse_error() {
	_, err := clientsfile.Parse([]byte(`{"clients": [
	  {"id": "client1", "keys": ["demo-key-1"], "quotas": [{"period": "day", "limit": 500}]},
	  {"id": "client2", "keys": ["demo-key-2"], "quotas": [{"period": "dya", "limit": 10}]}]}`))
	fmt.Println(err)
	// Output:
	// clientsfile: clients[1] "client2": quotas[0].period: unknown period "dya" (want second, minute, hour, day, week, month or year)
}
