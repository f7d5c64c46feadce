package bolt

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// TestRestart charges through a Billing, closes the store, opens the file
// again under a new Billing and checks that every window continues exactly:
// the usage shows, the limit refuses at the same point, and a window that
// has ended since starts empty while the longer one keeps counting.
func TestRestart(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			quotas := []core.Quota{
				{Period: core.Day, Limit: core.Whole(10)},
				{Period: core.Month, Limit: core.Whole(15)},
			}
			s, path := openTest(t, m.opts)
			t.Cleanup(func() { s.Close() }) // the last store opened; runs before openTest's check
			// open closes s and starts a new store and Billing on the file.
			open := func() *core.Billing {
				t.Helper()
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				var err error
				if s, err = Open(path, m.opts); err != nil {
					t.Fatal(err)
				}
				b := core.New(s, core.WithClock(clock))
				if err := b.SetQuotas("client1", quotas...); err != nil {
					t.Fatal(err)
				}
				return b
			}
			used := func(b *core.Billing) (day, month int64) {
				t.Helper()
				o, err := b.Status(ctx, "client1")
				if err != nil {
					t.Fatal(err)
				}
				return o.Quota(0).Used.Micro() / credit, o.Quota(1).Used.Micro() / credit
			}

			b := open()
			for range 7 {
				if _, err := b.Charge(ctx, core.Charge{Client: "client1", Label: "/api/fetch-data", Cost: core.Whole(1)}); err != nil {
					t.Fatal(err)
				}
			}
			b = open()
			if d, m := used(b); d != 7 || m != 7 {
				t.Errorf("after a restart: used %v today and %v this month, want 7 and 7", d, m)
			}
			if _, err := b.Track(ctx, "client1", core.Whole(3)); err != nil {
				t.Fatalf("charging up to the limit: %v", err)
			}
			b = open()
			_, err := b.Track(ctx, "client1", core.MustParseCredits("0.000001"))
			if !errors.Is(err, core.ErrQuotaExceeded) {
				t.Errorf("charging past the day limit after a restart: err = %v, want ErrQuotaExceeded", err)
			}

			now = now.Add(24 * time.Hour) // a new day, the same month
			b = open()
			if d, m := used(b); d != 0 || m != 10 {
				t.Errorf("the next day: used %v today and %v this month, want 0 and 10", d, m)
			}
			if _, err := b.Track(ctx, "client1", core.Whole(5)); err != nil {
				t.Fatal(err)
			}
			b = open()
			var qe *core.QuotaExceededError
			if _, err := b.Track(ctx, "client1", core.MustParseCredits("0.000001")); !errors.As(err, &qe) || qe.Quota != core.Month {
				t.Errorf("charging past the month limit after a restart: err = %v, want the month quota exceeded", err)
			}
			total, err := b.TotalUsage(ctx, "client1", now.AddDate(0, -1, 0), now.AddDate(0, 1, 0))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := total, core.Whole(15); got != want {
				t.Errorf("total usage after restarts = %v, want %v", got, want)
			}
		})
	}
}

// TestFileStaysSmall makes a million deductions for one client over
// seventeen minutes of (fake) time, so that the second and minute windows
// are replaced many times, and checks that the file stays small: it holds
// one record per client and one aggregate per hour and label, not one
// record per request. The interval mode makes the million quick; the
// durable mode writes the same records.
func TestFileStaysSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("a million deductions")
	}
	s, path := openTest(t, &Options{CommitInterval: 10 * time.Millisecond})
	ctx := context.Background()
	const n = 1_000_000
	periods := []struct {
		p      core.Period
		length int64
	}{{core.Second, 1e9}, {core.Minute, 60e9}, {core.Hour, 3600e9}, {core.Day, 86400e9}}
	op := &core.Op{Client: "client1", Label: "/api/fetch-data", Cost: credit, N: len(periods)}
	for i := range n {
		now := int64(i) * 1e6 // a millisecond apart
		op.At = now
		op.Bucket = core.Span{Start: now - now%hour, End: now - now%hour + hour}
		for j, p := range periods {
			start := now - now%p.length
			op.List[j] = core.Window{Period: p.p, Start: start, End: start + p.length, Limit: -1}
		}
		res, err := s.Deduct(ctx, op)
		if err != nil || !res.OK {
			t.Fatalf("deduction %d: %v, %v", i, res.OK, err)
		}
	}
	res, err := s.Usage(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Used[3], int64(n)*credit; got != want {
		t.Errorf("day window used %v, want %v", got, want)
	}
	if got, want := res.Used[0], 1000*credit; got != want {
		t.Errorf("last second window used %v, want %v", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, limit := fi.Size(), int64(1<<20); got >= limit {
		t.Errorf("file is %d bytes after %d deductions, want less than %d", got, n, limit)
	}
	t.Logf("file is %d bytes after %d deductions", fi.Size(), n)
}
