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

// A charge with an idempotency key, such as the Idempotency-Key header of a
// request, happens once: a retry is answered with the first charge's
// outcome, and reusing the key for another charge is refused.
func ExampleBilling_Charge() {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	if err := b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: core.Whole(10)}); err != nil {
		panic(err)
	}
	ctx := context.Background()
	c := core.Charge{
		Client:         "client1",
		Cost:           core.MustParseCredits("2.5"),
		Label:          "/api/compute",
		IdempotencyKey: "order-7f3a",
	}
	first, err := b.Charge(ctx, c)
	fmt.Println("first:", err, "replayed:", first.Replayed(), "used:", first.Quota(0).Used)

	now = now.Add(time.Minute) // the client retries a minute later
	retry, err := b.Charge(ctx, c)
	fmt.Println("retry:", err, "replayed:", retry.Replayed(), "used:", retry.Quota(0).Used,
		"at:", retry.At().UTC().Format(time.TimeOnly))

	c.Cost = core.Whole(5) // the same key for another charge
	_, err = b.Charge(ctx, c)
	fmt.Println(errors.Is(err, core.ErrIdempotencyConflict), err)

	st, _ := b.Status(ctx, "client1")
	fmt.Println("charged once:", st.Quota(0).Used)
	// Output:
	// first: <nil> replayed: false used: 2.5
	// retry: <nil> replayed: true used: 2.5 at: 12:00:00
	// true apibilling: idempotency key "order-7f3a" was used for a charge of 2.5 credits under "/api/compute"
	// charged once: 2.5
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

// Amounts are written with Whole in code, parsed from decimal text with
// ParseCredits, and converted from a float once with CreditsFromFloat. A
// plain number is not an amount: Limit: 500 does not compile.
func ExampleCredits() {
	fmt.Println(core.Whole(500), core.MustParseCredits("0.5"), core.Unlimited)

	tenth, _ := core.CreditsFromFloat(0.1)
	sum := core.Whole(0)
	for range 10 {
		sum = sum.Add(tenth) // exact: no float drift
	}
	fmt.Println(sum, sum == core.Whole(1), sum.Micro(), "micro-credits")

	left := core.Whole(10).Sub(core.MustParseCredits("7.5"))
	fmt.Println(left, "left; X-RateLimit-Remaining:", left.Floor())

	var limit core.Credits // not set
	fmt.Println(limit.IsSet(), limit)
	// Output:
	// 500 0.5 unlimited
	// 1 true 1000000 micro-credits
	// 2.5 left; X-RateLimit-Remaining: 2
	// false unset
}

func ExampleParseCredits() {
	for _, s := range []string{"5", "0.5", "12.0000015", "0.0000000", "0.0000001", ".5", "1e3", "-1"} {
		c, err := core.ParseCredits(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(s, "=", c.Micro(), "micro-credits =", c, "credits")
	}
	// Output:
	// 5 = 5000000 micro-credits = 5 credits
	// 0.5 = 500000 micro-credits = 0.5 credits
	// 12.0000015 = 12000002 micro-credits = 12.000002 credits
	// 0.0000000 = 0 micro-credits = 0 credits
	// apibilling: invalid cost: "0.0000001" rounds to zero micro-credits; the smallest amount is 0.000001
	// apibilling: invalid cost: ".5" is not a decimal number of credits (such as 5 or 0.5)
	// apibilling: invalid cost: "1e3" is not a decimal number of credits (such as 5 or 0.5)
	// apibilling: invalid cost: "-1" is not a decimal number of credits (such as 5 or 0.5)
}

func ExampleCreditsFromFloat() {
	for _, f := range []float64{0.1, 2.5e-6, 5e-7, -1} {
		c, err := core.CreditsFromFloat(f)
		fmt.Println(f, c.Micro(), err)
	}
	// Output:
	// 0.1 100000 <nil>
	// 2.5e-06 3 <nil>
	// 5e-07 0 apibilling: invalid cost: 5e-07 rounds to zero micro-credits; the smallest amount is 0.000001
	// -1 0 apibilling: invalid cost: -1 is negative
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
	charge := func(label string, cost core.Credits) {
		if _, err := b.Charge(ctx, core.Charge{Client: "client1", Label: label, Cost: cost}); err != nil {
			panic(err)
		}
	}
	charge("/api/fetch-data", core.Whole(1))
	now = now.Add(time.Hour) // 00:30 the next day in Tokyo
	charge("/api/fetch-data", core.Whole(1))
	charge("/api/fetch-expensive-data", core.Whole(5))

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

// Usage is kept per hour, so the same charges can be reported in the days
// of any zone. Across a DST change a day is still one day: 23 hours long in
// Berlin on 2026-03-29.
func ExampleBilling_DailyUsageIn() {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 3, 28, 22, 0, 0, 0, time.UTC) // 23:00 in Berlin
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	if err := b.SetQuotas("client1", core.Quota{Period: core.Hour, Limit: core.Unlimited}); err != nil {
		panic(err)
	}
	ctx := context.Background()
	for range 26 { // one credit an hour
		if _, err := b.Track(ctx, "client1", core.Whole(1)); err != nil {
			panic(err)
		}
		now = now.Add(time.Hour)
	}
	from, to := time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	for _, loc := range []*time.Location{time.UTC, berlin} {
		days, err := b.DailyUsageIn(ctx, "client1", from, to, loc)
		if err != nil {
			panic(err)
		}
		for _, d := range days {
			fmt.Println(loc, d.Date, d.End.Sub(d.Start), d.Credits)
		}
	}
	// Output:
	// UTC 2026-03-28 24h0m0s 2
	// UTC 2026-03-29 24h0m0s 24
	// Europe/Berlin 2026-03-28 24h0m0s 1
	// Europe/Berlin 2026-03-29 23h0m0s 23
	// Europe/Berlin 2026-03-30 24h0m0s 2
}

// Alerts fire once per client, window and threshold, and a reset when a new
// window starts after alerts.
func ExampleWithAlerts() {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	notify := func(a core.Alert) {
		if a.Reset {
			fmt.Println("reset:", a.Client, a.Period, a.Start.Format(time.DateOnly))
			return
		}
		fmt.Printf("%s reached %d%% of its %s quota: %s of %s\n", a.Client, a.Percent, a.Period, a.Used, a.Limit)
	}
	b := core.New(memory.New(),
		core.WithClock(func() time.Time { return now }),
		core.WithAlerts(notify, core.Threshold{Period: core.Day, Percent: 80}, core.Threshold{Period: core.Day, Percent: 100}))
	if err := b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: core.Whole(10)}); err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, cost := range []int64{5, 3, 1, 1, 1} {
		b.Track(ctx, "client1", core.Whole(cost)) // the last is refused: no alert
	}
	now = now.Add(24 * time.Hour)
	b.Track(ctx, "client1", core.Whole(1))
	// Output:
	// client1 reached 80% of its day quota: 8 of 10
	// client1 reached 100% of its day quota: 10 of 10
	// reset: client1 day 2026-12-01
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
