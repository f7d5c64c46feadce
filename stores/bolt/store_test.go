package bolt

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

var modes = []struct {
	name string
	opts *Options
}{
	{"durable", nil},
	{"interval", &Options{CommitInterval: 5e6}},
}

// TestSameAsMemory runs one random sequence of operations on the memory
// store (the reference) and on the bolt store and requires every answer to
// be equal. The client IDs are chosen so that naive key encodings would
// collide (one ID a prefix of another, IDs holding the separator bytes).
func TestSameAsMemory(t *testing.T) {
	clients := []string{"a", "a\x00", "a\x00\x03", "\x00\x01a", strings.Repeat("z", core.MaxClientIDLen), "ab", "b"}
	labels := []string{"", "x", "/route", "x\x00y"}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			steps := 3000
			if m.opts == nil {
				steps = 800 // one fsync each
			}
			bs, _ := openTest(t, m.opts)
			ms := memory.New()
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, 2))
			const day = int64(86_400e9)
			for step := range steps {
				now := int64(step*30/steps) * day / 4 // time moves on: windows end
				op := core.Op{Client: clients[rng.IntN(len(clients))], Label: labels[rng.IntN(len(labels))]}
				op.Cost = core.Credits(rng.IntN(4)) * core.Credit / 2
				op.Day = core.DaySpan{Start: now - now%day, End: now - now%day + day}
				for _, p := range []core.Period{core.Hour, core.Day, core.Week} {
					if rng.IntN(4) == 0 {
						continue
					}
					length := map[core.Period]int64{core.Hour: day / 24, core.Day: day, core.Week: 7 * day}[p]
					start := now - now%length
					limit := core.Credits(rng.IntN(20)) * core.Credit
					if rng.IntN(5) == 0 {
						limit = core.Unlimited
					}
					op.List[op.N] = core.Window{Period: p, Start: start, End: start + length, Limit: limit}
					op.N++
				}
				where := fmt.Sprintf("step %d, %q", step, op.Client)
				switch k := rng.IntN(20); {
				case k < 12:
					want, err1 := ms.Deduct(ctx, op)
					got, err2 := bs.Deduct(ctx, op)
					if err1 != nil || err2 != nil {
						t.Fatalf("%s: Deduct: %v, %v", where, err1, err2)
					}
					if got != want {
						t.Fatalf("%s: Deduct = %+v, memory %+v", where, got, want)
					}
				case k < 15:
					err1 := ms.Refund(ctx, op)
					err2 := bs.Refund(ctx, op)
					if err1 != nil || err2 != nil {
						t.Fatalf("%s: Refund: %v, %v", where, err1, err2)
					}
				case k < 18:
					want, err1 := ms.Usage(ctx, op)
					got, err2 := bs.Usage(ctx, op)
					if err1 != nil || err2 != nil {
						t.Fatalf("%s: Usage: %v, %v", where, err1, err2)
					}
					if got != want {
						t.Fatalf("%s: Usage = %+v, memory %+v", where, got, want)
					}
				case k < 19:
					q := core.ReportQuery{Client: op.Client, From: now - 3*day, To: now + day}
					want, err1 := ms.Report(ctx, q)
					got, err2 := bs.Report(ctx, q)
					if err1 != nil || err2 != nil {
						t.Fatalf("%s: Report: %v, %v", where, err1, err2)
					}
					sortRecords(want)
					sortRecords(got)
					if !slices.Equal(got, want) {
						t.Fatalf("%s: Report = %+v, memory %+v", where, got, want)
					}
				default:
					d := core.DeleteOp{Client: op.Client, From: now - day, To: now + day, N: op.N, List: op.List}
					want, err1 := ms.Delete(ctx, d)
					got, err2 := bs.Delete(ctx, d)
					if err1 != nil || err2 != nil {
						t.Fatalf("%s: Delete: %v, %v", where, err1, err2)
					}
					if got != want {
						t.Fatalf("%s: Delete = %v, memory %v", where, got, want)
					}
				}
			}
		})
	}
}

func sortRecords(r []core.DayRecord) {
	slices.SortFunc(r, func(a, b core.DayRecord) int {
		if a.Day.Start != b.Day.Start {
			return int(a.Day.Start>>32 - b.Day.Start>>32)
		}
		return strings.Compare(a.Label, b.Label)
	})
}

// TestContextAndClose checks that a done context and a closed store
// change nothing and return the right errors.
func TestContextAndClose(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s, _ := openTest(t, m.opts)
			op := core.Op{Client: "c", Cost: core.Credit, N: 1, List: [core.MaxQuotas]core.Window{{Period: core.Day, Start: 0, End: 100, Limit: 10 * core.Credit}}}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := s.Deduct(ctx, op); !errors.Is(err, context.Canceled) {
				t.Errorf("Deduct with a canceled context: err = %v, want context.Canceled", err)
			}
			res, err := s.Usage(context.Background(), op)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := res.Used[0], core.Credits(0); got != want {
				t.Errorf("used after a canceled Deduct = %v, want %v", got, want)
			}
			if _, err := s.Deduct(context.Background(), op); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if _, err := s.Deduct(context.Background(), op); !errors.Is(err, core.ErrClosed) {
				t.Errorf("Deduct after Close: err = %v, want ErrClosed", err)
			}
			if _, err := s.Usage(context.Background(), op); !errors.Is(err, core.ErrClosed) {
				t.Errorf("Usage after Close: err = %v, want ErrClosed", err)
			}
		})
	}
}

// TestNoCommitWithoutChange checks that the durable mode commits (and
// waits for an fsync) only when something changes: a refused deduction and
// a zero cost are answered without a commit, and still see the committed
// usage.
func TestNoCommitWithoutChange(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	op := core.Op{Client: "c", Cost: 2 * core.Credit, N: 1, List: [core.MaxQuotas]core.Window{{Period: core.Day, End: 100, Limit: 3 * core.Credit}}}
	if res, err := s.Deduct(ctx, op); err != nil || !res.OK {
		t.Fatalf("first deduction: %v, %v", res.OK, err)
	}
	before := s.commits.Load()
	for _, tt := range []struct {
		name   string
		cost   core.Credits
		wantOK bool
	}{{"refused", 2 * core.Credit, false}, {"zero cost", 0, true}} {
		op.Cost = tt.cost
		res, err := s.Deduct(ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res.OK, tt.wantOK; got != want {
			t.Errorf("%s: OK = %v, want %v", tt.name, got, want)
		}
		if got, want := res.Used[0], 2*core.Credit; got != want {
			t.Errorf("%s: used = %v, want %v", tt.name, got, want)
		}
	}
	if got, want := s.commits.Load(), before; got != want {
		t.Errorf("commits = %d after a refusal and a zero cost, want %d", got, want)
	}
}

// TestBadArguments checks the arguments the store refuses itself.
func TestBadArguments(t *testing.T) {
	s, _ := openTest(t, nil)
	base := core.Op{Client: "c", Cost: core.Credit, N: 1, List: [core.MaxQuotas]core.Window{{Period: core.Day, End: 1, Limit: core.Unlimited}}}
	tests := []struct {
		name   string
		client string
		label  string
		want   error
	}{
		{"empty client", "", "", core.ErrInvalidClient},
		{"client too long", strings.Repeat("x", core.MaxClientIDLen+1), "", core.ErrInvalidClient},
		{"label too long", "c", strings.Repeat("l", maxLabelLen+1), ErrLabelTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := base
			op.Client, op.Label = tt.client, tt.label
			if _, err := s.Deduct(context.Background(), op); !errors.Is(err, tt.want) {
				t.Errorf("Deduct: err = %v, want %v", err, tt.want)
			}
		})
	}
	// The longest label fits.
	op := base
	op.Client, op.Label = strings.Repeat("x", core.MaxClientIDLen), strings.Repeat("l", maxLabelLen)
	if res, err := s.Deduct(context.Background(), op); err != nil || !res.OK {
		t.Errorf("Deduct with the longest client ID and label: %v, %v", res.OK, err)
	}
}
