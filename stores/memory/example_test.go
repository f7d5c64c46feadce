package memory_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// A Billing on the memory store: a client with a daily and a monthly quota
// is charged until the daily quota refuses.
func Example() {
	now := time.Date(2026, time.March, 14, 9, 30, 0, 0, time.UTC)
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	err := b.SetQuotas("client1",
		core.Quota{Period: core.Day, Limit: core.Whole(10)},
		core.Quota{Period: core.Month, Limit: core.Whole(100),
			Anchor: time.Date(2026, time.January, 15, 0, 0, 0, 0, time.UTC)}, // renews on the 15th
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	for _, cost := range []core.Credits{core.Whole(5), core.MustParseCredits("2.5"), core.Whole(5)} {
		out, err := b.Track(ctx, "client1", cost)
		if errors.Is(err, core.ErrQuotaExceeded) {
			fmt.Println("refused:", err)
			continue
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		low, _ := out.Lowest()
		fmt.Printf("charged %v: %v of the %s quota left, renews %s\n", cost, low.Remaining, low.Period, low.End.Format(time.RFC3339))
	}
	status, _ := b.Status(ctx, "client1")
	for _, q := range status.Quotas() {
		fmt.Printf("%s: used %v of %v\n", q.Period, q.Used, q.Limit)
	}
	// Output:
	// charged 5: 5 of the day quota left, renews 2026-03-15T00:00:00Z
	// charged 2.5: 2.5 of the day quota left, renews 2026-03-15T00:00:00Z
	// refused: apibilling: quota exceeded: You have only 2.5 credits remaining, but 5 are required. They will renew at 2026-03-15T00:00:00Z.
	// day: used 7.5 of 10
	// month: used 7.5 of 100
}
