package core_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

func ExampleBilling_Track() {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	err := b.SetQuotas("client1",
		core.Quota{Period: core.Day, Limit: core.Whole(10)},
		core.Quota{Period: core.Month, Limit: core.Whole(100),
			Anchor: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)}, // renews on the 15th
	)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	out, err := b.Track(ctx, "client1", core.Whole(8))
	low, _ := out.Lowest()
	fmt.Println(err, low.Period, low.Remaining, low.End.Format(time.RFC3339))

	_, err = b.Track(ctx, "client1", core.Whole(5))
	var qe *core.QuotaExceededError
	if errors.As(err, &qe) {
		fmt.Println(qe.Detail())
		fmt.Println("violated:", qe.Violated, "retry at:", qe.RetryAt.Format(time.RFC3339))
	}
	// Output:
	// <nil> day 2 2026-12-01T00:00:00Z
	// You have only 2 credits remaining, but 5 are required. They will renew at 2026-12-01T00:00:00Z.
	// violated: day retry at: 2026-12-01T00:00:00Z
}

func ExampleQuota_Window() {
	q := core.Quota{
		Period: core.Month,
		Limit:  core.Whole(1000),
		Anchor: time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC),
	}
	at := q.Anchor
	for range 4 {
		start, end := q.Window(at)
		fmt.Println(start.Format("Jan 2"), "to", end.Format("Jan 2 15:04"))
		at = end
	}
	// Output:
	// Jan 31 to Feb 28 09:00
	// Feb 28 to Mar 31 09:00
	// Mar 31 to Apr 30 09:00
	// Apr 30 to May 31 09:00
}

func ExampleParseCredits() {
	for _, s := range []string{"5", "0.5", "12.0000015", "1e3", "-1"} {
		c, err := core.ParseCredits(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(s, "=", int64(c), "micro-credits =", c, "credits")
	}
	// Output:
	// 5 = 5000000 micro-credits = 5 credits
	// 0.5 = 500000 micro-credits = 0.5 credits
	// 12.0000015 = 12000002 micro-credits = 12.000002 credits
	// apibilling: invalid cost: "1e3" is not a non-negative decimal number
	// apibilling: invalid cost: "-1" is not a non-negative decimal number
}

func ExampleBilling_DailyUsage() {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 11, 30, 14, 30, 0, 0, time.UTC) // 23:30 in Tokyo
	b := core.New(memory.New(),
		core.WithClock(func() time.Time { return now }),
		core.WithReportLocation(tokyo))
	if err := b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: core.Unlimited}); err != nil {
		panic(err)
	}
	ctx := context.Background()
	b.TrackLabel(ctx, "client1", "/api/fetch-data", core.Whole(1))
	now = now.Add(time.Hour) // 00:30 the next day in Tokyo
	b.TrackLabel(ctx, "client1", "/api/fetch-data", core.Whole(1))
	b.TrackLabel(ctx, "client1", "/api/fetch-expensive-data", core.Whole(5))

	days, err := b.DailyUsage(ctx, "client1", now.Add(-48*time.Hour), now)
	if err != nil {
		panic(err)
	}
	for _, d := range days {
		fmt.Println(d.Date, d.Credits, d.ByLabel)
	}
	// Output:
	// 2026-11-30 1 map[/api/fetch-data:1]
	// 2026-12-01 6 map[/api/fetch-data:1 /api/fetch-expensive-data:5]
}

func ExampleBilling_Refund() {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	if err := b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: core.Whole(10)}); err != nil {
		panic(err)
	}
	ctx := context.Background()

	out, err := b.Track(ctx, "client1", core.Whole(3))
	if err != nil {
		panic(err)
	}
	// The handler failed: give the credits back.
	if err := b.Refund(ctx, &out); err != nil {
		panic(err)
	}
	b.Refund(ctx, &out) // a second refund does nothing

	st, err := b.Status(ctx, "client1")
	if err != nil {
		panic(err)
	}
	low, _ := st.Lowest()
	fmt.Println("refunded:", out.Refunded(), "used:", low.Used, "remaining:", low.Remaining)
	// Output:
	// refunded: true used: 0 remaining: 10
}
