package bolt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

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

// sameResult compares two results, the records they point to included.
func sameResult(a, b core.Result) bool {
	ra, rb := a.Record, b.Record
	a.Record, b.Record = nil, nil
	if a != b || (ra == nil) != (rb == nil) {
		return false
	}
	return ra == nil || *ra == *rb
}

// TestSameAsMemory runs one random sequence of operations on the memory
// store (the reference) and on the bolt store and requires every answer to
// be equal, and the exports at the end. The client IDs are chosen so that
// naive key encodings would collide (one ID a prefix of another, IDs
// holding the separator bytes). Along the way the bolt store checkpoints
// its log into the file and is closed and opened again, so that answers
// come from the cache, from the file and from a replayed log alike.
func TestSameAsMemory(t *testing.T) {
	clients := []string{"a", "a\x00", "a\x00\x03", "\x00\x01a", strings.Repeat("z", core.MaxClientIDLen), "ab", "b"}
	labels := []string{"", "x", "/route", "x\x00y"}
	keys := []string{"", "", "k1", "k2", "k3"}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			steps := 3000
			if m.opts == nil {
				steps = 1500
			}
			bs, path := openTest(t, m.opts)
			ms := memory.New()
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, 2))
			base := time.Now().Truncate(24 * time.Hour).UnixNano()
			var now int64
			for step := range steps {
				now = base + int64(step*30/steps)*day/4 + int64(step)*1e6 // time moves on: windows end
				op := &core.Op{Client: clients[rng.IntN(len(clients))], Label: labels[rng.IntN(len(labels))], At: now}
				op.Cost = int64(rng.IntN(4)) * credit / 2
				op.Bucket = core.Span{Start: now - now%hour, End: now - now%hour + hour}
				if k := keys[rng.IntN(len(keys))]; k != "" {
					op.Key, op.KeyExpires = k, now+2*hour
				}
				for _, p := range []core.Period{core.Hour, core.Day, core.Week} {
					if rng.IntN(4) == 0 {
						continue
					}
					length := map[core.Period]int64{core.Hour: hour, core.Day: day, core.Week: 7 * day}[p]
					start := now - now%length
					limit := int64(rng.IntN(20)) * credit
					if rng.IntN(5) == 0 {
						limit = -1
					}
					w := core.Window{Period: p, Start: start, End: start + length, Limit: limit}
					if rng.IntN(2) == 0 {
						w.Levels[0] = limit / 2
						w.Levels[1] = limit
					}
					op.List[op.N] = w
					op.N++
				}
				where := fmt.Sprintf("step %d, %q", step, op.Client)
				switch k := rng.IntN(40); {
				case k < 24:
					want, err1 := ms.Deduct(ctx, op)
					got, err2 := bs.Deduct(ctx, op)
					if err1 != nil || err2 != nil {
						t.Fatalf("%s: Deduct: %v, %v", where, err1, err2)
					}
					if !sameResult(got, want) {
						t.Fatalf("%s: Deduct = %+v, memory %+v", where, got, want)
					}
				case k < 30:
					err1 := ms.Refund(ctx, op)
					err2 := bs.Refund(ctx, op)
					if err1 != nil || err2 != nil {
						t.Fatalf("%s: Refund: %v, %v", where, err1, err2)
					}
				case k < 35:
					want, err1 := ms.Usage(ctx, op)
					got, err2 := bs.Usage(ctx, op)
					if err1 != nil || err2 != nil {
						t.Fatalf("%s: Usage: %v, %v", where, err1, err2)
					}
					if !sameResult(got, want) {
						t.Fatalf("%s: Usage = %+v, memory %+v", where, got, want)
					}
				case k < 37:
					q := core.ReportQuery{Client: op.Client, From: now - 3*day, To: now + day}
					want, err1 := ms.Report(ctx, q)
					got, err2 := bs.Report(ctx, q)
					if err1 != nil || err2 != nil {
						t.Fatalf("%s: Report: %v, %v", where, err1, err2)
					}
					if g, w := usageRecords(got), usageRecords(want); !slices.Equal(g, w) {
						t.Fatalf("%s: Report = %+v, memory %+v", where, g, w)
					}
				case k < 38:
					d := &core.DeleteOp{Client: op.Client, From: now - day, To: now + day, N: op.N, List: op.List}
					want, err1 := ms.Delete(ctx, d)
					got, err2 := bs.Delete(ctx, d)
					if err1 != nil || err2 != nil {
						t.Fatalf("%s: Delete: %v, %v", where, err1, err2)
					}
					if got != want {
						t.Fatalf("%s: Delete = %v, memory %v", where, got, want)
					}
				case k < 39:
					if err := bs.checkpoint(); err != nil {
						t.Fatalf("%s: checkpoint: %v", where, err)
					}
				default:
					if err := bs.Close(); err != nil {
						t.Fatalf("%s: Close: %v", where, err)
					}
					var err error
					if bs, err = Open(path, m.opts); err != nil {
						t.Fatalf("%s: Open: %v", where, err)
					}
				}
			}
			got, want := exportAll(t, bs, now), exportAll(t, ms, now)
			if !slices.Equal(got, want) {
				t.Errorf("exports differ:\nbolt   %v\nmemory %v", got, want)
			}
			t.Cleanup(func() { bs.Close() }) // the store last opened
		})
	}
}

// usageRecords sorts a report and drops aggregates at zero, which a store
// may keep or drop.
func usageRecords(r []core.UsageRecord) []core.UsageRecord {
	r = slices.DeleteFunc(slices.Clone(r), func(u core.UsageRecord) bool { return u.Credits == 0 })
	slices.SortFunc(r, func(a, b core.UsageRecord) int {
		return cmp.Or(cmp.Compare(a.Bucket.Start, b.Bucket.Start), strings.Compare(a.Label, b.Label))
	})
	return r
}

// exportAll returns a store's export as sorted strings, without usage
// aggregates at zero and keys expired at now.
func exportAll(t testing.TB, s core.Store, now int64) []string {
	t.Helper()
	var out []string
	err := s.Export(context.Background(), func(r *core.Record) error {
		switch {
		case r.Kind == core.RecordUsage && r.Used == 0:
		case r.Kind == core.RecordKey && r.Key.Expires <= now:
		default:
			out = append(out, fmt.Sprintf("%+v", *r))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	slices.Sort(out)
	return out
}

// TestContextAndClose checks that a done context and a closed store
// change nothing and return the right errors.
func TestContextAndClose(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s, _ := openTest(t, m.opts)
			op := dayOp("c", credit)
			op.List[0].Limit = 10 * credit
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := s.Deduct(ctx, op); !errors.Is(err, context.Canceled) {
				t.Errorf("Deduct with a canceled context: err = %v, want context.Canceled", err)
			}
			res, err := s.Usage(context.Background(), op)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := res.Used[0], int64(0); got != want {
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

// TestNoCommitWithoutChange checks that the durable mode writes the log
// (and waits for an fsync) only when something changes: a refused
// deduction and a zero cost are answered without a write, and still see
// the committed usage.
func TestNoCommitWithoutChange(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	op := dayOp("c", 2*credit)
	op.List[0].Limit = 3 * credit
	if res, err := s.Deduct(ctx, op); err != nil || !res.OK {
		t.Fatalf("first deduction: %v, %v", res.OK, err)
	}
	before := s.commits.Load()
	for _, tt := range []struct {
		name   string
		cost   int64
		wantOK bool
	}{{"refused", 2 * credit, false}, {"zero cost", 0, true}} {
		op.Cost = tt.cost
		res, err := s.Deduct(ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res.OK, tt.wantOK; got != want {
			t.Errorf("%s: OK = %v, want %v", tt.name, got, want)
		}
		if got, want := res.Used[0], 2*credit; got != want {
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
	tests := []struct {
		name   string
		client string
		label  string
		want   error
	}{
		{"empty client", "", "", core.ErrInvalidClient},
		{"client too long", strings.Repeat("x", core.MaxClientIDLen+1), "", core.ErrInvalidClient},
		{"label too long", "c", strings.Repeat("l", core.MaxLabelLen+1), core.ErrInvalidLabel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := dayOp(tt.client, credit)
			op.Label = tt.label
			if _, err := s.Deduct(context.Background(), op); !errors.Is(err, tt.want) {
				t.Errorf("Deduct: err = %v, want %v", err, tt.want)
			}
		})
	}
	// The longest client ID, label and key fit.
	op := dayOp(strings.Repeat("x", core.MaxClientIDLen), credit)
	op.Label = strings.Repeat("l", core.MaxLabelLen)
	op.Key, op.KeyExpires = strings.Repeat("k", core.MaxKeyLen), 1
	if res, err := s.Deduct(context.Background(), op); err != nil || !res.OK {
		t.Errorf("Deduct with the longest client ID, label and key: %v, %v", res.OK, err)
	}
}
