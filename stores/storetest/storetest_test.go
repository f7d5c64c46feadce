package storetest_test

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
	"github.com/frappy-go/apibilling/stores/storetest"
)

// TestOptions runs the suite on the memory store with every option set.
func TestOptions(t *testing.T) {
	storetest.RunWithOptions(t, func(t *testing.T) core.Store { return memory.New() },
		storetest.Options{Goroutines: 8, Calls: 100, Sequential: true})
}

// brokenStores are stores with one defect each, built on the memory store,
// and the subtests of the suite that must catch the defect.
var brokenStores = []struct {
	name     string
	subtests []string
	wrap     func(core.Store) core.Store
}{
	{"check then deduct", []string{"Concurrency"}, func(s core.Store) core.Store { return racy{s} }},
	{"partial deduction", []string{"MultiWindowAllOrNothing", "OverLimitChangesNothing"}, func(s core.Store) core.Store { return partial{s} }},
	{"whole credits only", []string{"FractionalCredits", "ExactUsed"}, func(s core.Store) core.Store { return wholeCredits{s} }},
	{"used by period", []string{"ExactUsed"}, func(s core.Store) core.Store { return usedByPeriod{s} }},
	{"zero cost checked", []string{"ZeroCost"}, func(s core.Store) core.Store { return zeroChecked{s} }},
	{"unlimited as zero", []string{"Unlimited"}, func(s core.Store) core.Store { return unlimitedAsZero{s} }},
	{"refund misses the day", []string{"Refund", "Billing"}, func(s core.Store) core.Store { return refundWindowsOnly{s} }},
	{"usage charges", []string{"UsageReadsOnly"}, func(s core.Store) core.Store { return usageCharges{s} }},
	{"fixed day length", []string{"DailyReport"}, func(s core.Store) core.Store { return fixedDays{s} }},
	{"delete keeps windows", []string{"Delete", "Billing"}, func(s core.Store) core.Store { return deleteKeepsWindows{s} }},
	{"C-string client IDs", []string{"ClientIsolation"}, func(s core.Store) core.Store { return cStringIDs{s} }},
	{"close ignored", []string{"Closed"}, func(s core.Store) core.Store { return closeIgnored{s} }},
	{"context ignored", []string{"CancelledContext"}, func(s core.Store) core.Store { return contextIgnored{s} }},
}

const brokenEnv = "STORETEST_BROKEN_STORE"

// TestBrokenStore runs the suite on the broken store named by the
// environment; it is the child process of TestSuiteCatchesDefects.
func TestBrokenStore(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("runs only as a child of TestSuiteCatchesDefects")
	}
	i := slices.IndexFunc(brokenStores, func(b struct {
		name     string
		subtests []string
		wrap     func(core.Store) core.Store
	}) bool {
		return b.name == name
	})
	if i < 0 {
		t.Fatalf("no broken store %q", name)
	}
	storetest.Run(t, func(t *testing.T) core.Store { return brokenStores[i].wrap(memory.New()) })
}

// TestSuiteCatchesDefects runs the suite on each broken store in a child
// process and checks that the subtests meant to catch its defect fail.
func TestSuiteCatchesDefects(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("child process")
	}
	if testing.Short() {
		t.Skip("starts a child process per broken store")
	}
	for _, b := range brokenStores {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			pattern := "^TestBrokenStore$/^(" + strings.Join(b.subtests, "|") + ")$"
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run="+pattern, "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+b.name)
			out, err := cmd.CombinedOutput()
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("the suite on a store with the defect %q: error %v, want a failing exit; output:\n%s", b.name, err, out)
			}
			for _, st := range b.subtests {
				if !strings.Contains(string(out), "--- FAIL: TestBrokenStore/"+st+" ") {
					t.Errorf("subtest %s passed on a store with the defect %q; output:\n%s", st, b.name, out)
				}
			}
		})
	}
}

// racy checks and deducts in two steps, as the Python module did.
type racy struct{ core.Store }

func (s racy) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	op := *opp
	res, err := s.Store.Usage(ctx, &op)
	if err != nil {
		return res, err
	}
	for i, w := range op.Windows() {
		if !w.Fits(res.Used[i], op.Cost) {
			return res, nil
		}
	}
	runtime.Gosched()
	for i := range op.N {
		op.List[i].Limit = -1
	}
	return s.Store.Deduct(ctx, &op)
}

// partial deducts from the windows that have room even when another has
// none.
type partial struct{ core.Store }

func (s partial) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	op := *opp
	res, err := s.Store.Deduct(ctx, &op)
	if err != nil || res.OK {
		return res, err
	}
	fit := op
	fit.N = 0
	for i, w := range op.Windows() {
		if w.Fits(res.Used[i], op.Cost) {
			fit.List[fit.N] = w
			fit.N++
		}
	}
	if fit.N > 0 {
		_, err = s.Store.Deduct(ctx, &fit)
	}
	return res, err
}

// wholeCredits rounds costs down to whole credits.
type wholeCredits struct{ core.Store }

func (s wholeCredits) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	op := *opp
	op.Cost = op.Cost / 1_000_000 * 1_000_000
	return s.Store.Deduct(ctx, &op)
}

// usedByPeriod reports usage in the order of the periods instead of the
// op's windows.
type usedByPeriod struct{ core.Store }

func (s usedByPeriod) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	op := *opp
	res, err := s.Store.Deduct(ctx, &op)
	idx := make([]int, op.N)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return int(op.List[a].Period) - int(op.List[b].Period) })
	var used [core.MaxQuotas]int64
	for i, j := range idx {
		used[i] = res.Used[j]
	}
	res.Used = used
	return res, err
}

// zeroChecked refuses a zero cost when a window is full.
type zeroChecked struct{ core.Store }

func (s zeroChecked) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	op := *opp
	res, err := s.Store.Deduct(ctx, &op)
	if err == nil && op.Cost == 0 {
		for i, w := range op.Windows() {
			if !w.Unlimited() && res.Used[i] >= w.Limit {
				res.OK = false
			}
		}
	}
	return res, err
}

// unlimitedAsZero takes an unlimited window for one of limit zero.
type unlimitedAsZero struct{ core.Store }

func (s unlimitedAsZero) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	op := *opp
	for i := range op.N {
		if op.List[i].Unlimited() {
			op.List[i].Limit = 0
		}
	}
	return s.Store.Deduct(ctx, &op)
}

// refundWindowsOnly refunds the windows but not the day aggregate.
type refundWindowsOnly struct{ core.Store }

func (s refundWindowsOnly) Refund(ctx context.Context, opp *core.Op) error {
	op := *opp
	op.Bucket.Start++
	return s.Store.Refund(ctx, &op)
}

// usageCharges reads usage by deducting the op's cost.
type usageCharges struct{ core.Store }

func (s usageCharges) Usage(ctx context.Context, opp *core.Op) (core.Result, error) {
	op := *opp
	return s.Store.Deduct(ctx, &op)
}

// fixedDays reports every day as 24 hours long.
type fixedDays struct{ core.Store }

func (s fixedDays) Report(ctx context.Context, q core.ReportQuery) ([]core.UsageRecord, error) {
	recs, err := s.Store.Report(ctx, q)
	for i := range recs {
		recs[i].Bucket.End = recs[i].Bucket.Start + 24*60*60*1e9
	}
	return recs, err
}

// deleteKeepsWindows deletes the day aggregates but leaves the windows.
type deleteKeepsWindows struct{ core.Store }

func (s deleteKeepsWindows) Delete(ctx context.Context, opp *core.DeleteOp) (int64, error) {
	op := *opp
	op.N = 0
	return s.Store.Delete(ctx, &op)
}

// cStringIDs cuts client IDs at the first NUL byte.
type cStringIDs struct{ core.Store }

func cut(id string) string {
	if i := strings.IndexByte(id, 0); i >= 0 {
		return id[:i]
	}
	return id
}

func (s cStringIDs) Deduct(ctx context.Context, opp *core.Op) (core.Result, error) {
	op := *opp
	op.Client = cut(op.Client)
	return s.Store.Deduct(ctx, &op)
}

func (s cStringIDs) Usage(ctx context.Context, opp *core.Op) (core.Result, error) {
	op := *opp
	op.Client = cut(op.Client)
	return s.Store.Usage(ctx, &op)
}

func (s cStringIDs) Report(ctx context.Context, q core.ReportQuery) ([]core.UsageRecord, error) {
	q.Client = cut(q.Client)
	return s.Store.Report(ctx, q)
}

// closeIgnored keeps working after Close.
type closeIgnored struct{ core.Store }

func (closeIgnored) Close() error { return nil }

// contextIgnored never looks at the context.
type contextIgnored struct{ core.Store }

func (s contextIgnored) Deduct(_ context.Context, opp *core.Op) (core.Result, error) {
	op := *opp
	return s.Store.Deduct(context.Background(), &op)
}

func (s contextIgnored) Usage(_ context.Context, opp *core.Op) (core.Result, error) {
	op := *opp
	return s.Store.Usage(context.Background(), &op)
}
