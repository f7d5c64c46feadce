package storetest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
	"github.com/frappy-go/apibilling/stores/storetest"
)

// TestOptions runs the suite on the memory store with every option set.
func TestOptions(t *testing.T) {
	storetest.RunWithOptions(t, func(t *testing.T) core.Store { return memory.New() },
		storetest.Options{Goroutines: 8, Calls: 100, Sequential: true,
			Retention: func(t *testing.T, d time.Duration) core.Store { return memory.New(memory.WithRetention(d)) }})
}

// TestMigration copies a filled memory store into another and back, as a
// store's tests do to check migrations from and to the memory store.
func TestMigration(t *testing.T) {
	from := memory.New()
	storetest.Fill(t, from)
	to := memory.New()
	storetest.RoundTrip(t, from, to)
	storetest.RoundTrip(t, to, memory.New())
}

// brokenStore is a store with one defect, built on the memory store, and
// the subtests of the suite that must catch the defect.
type brokenStore struct {
	name     string
	subtests []string
	wrap     func(core.Store) core.Store
	// keepsAggregates opens the store for the subtest Retention without
	// a retention.
	keepsAggregates bool
}

// brokenStores are the stores the suite must find defective.
var brokenStores = []brokenStore{
	{name: "check then deduct", subtests: []string{"Concurrency"}, wrap: func(s core.Store) core.Store { return racy{s} }},
	{name: "partial deduction", subtests: []string{"MultiWindowAllOrNothing", "OverLimitChangesNothing"}, wrap: func(s core.Store) core.Store { return partial{s} }},
	{name: "whole credits only", subtests: []string{"FractionalCredits", "ExactUsed"}, wrap: func(s core.Store) core.Store { return wholeCredits{s} }},
	{name: "used by period", subtests: []string{"ExactUsed"}, wrap: func(s core.Store) core.Store { return usedByPeriod{s} }},
	{name: "zero cost checked", subtests: []string{"ZeroCost"}, wrap: func(s core.Store) core.Store { return zeroChecked{s} }},
	{name: "unlimited as zero", subtests: []string{"Unlimited"}, wrap: func(s core.Store) core.Store { return unlimitedAsZero{s} }},
	{name: "refund misses the day", subtests: []string{"Refund", "Billing"}, wrap: func(s core.Store) core.Store { return refundWindowsOnly{s} }},
	{name: "usage charges", subtests: []string{"UsageReadsOnly"}, wrap: func(s core.Store) core.Store { return usageCharges{s} }},
	{name: "fixed day length", subtests: []string{"DailyReport"}, wrap: func(s core.Store) core.Store { return fixedDays{s} }},
	{name: "report drops its latest hour", subtests: []string{"ReportMatchesModel", "DailyReport"}, wrap: func(s core.Store) core.Store { return reportDropsLatest{s} }},
	{name: "delete keeps windows", subtests: []string{"Delete", "Billing"}, wrap: func(s core.Store) core.Store { return deleteKeepsWindows{s} }},
	{name: "C-string client IDs", subtests: []string{"ClientIsolation", "KeyClientIsolation"}, wrap: func(s core.Store) core.Store { return cStringIDs{s} }},
	{name: "close ignored", subtests: []string{"Closed"}, wrap: func(s core.Store) core.Store { return closeIgnored{s} }},
	{name: "context ignored", subtests: []string{"CancelledContext"}, wrap: func(s core.Store) core.Store { return contextIgnored{s} }},

	// Idempotency keys.
	{name: "replay charges again", subtests: []string{"KeyReplay", "KeyConcurrentSameKey", "BillingKeysAndAlerts"}, wrap: func(s core.Store) core.Store { return replayCharges{s} }},
	{name: "conflict charges", subtests: []string{"KeyConflict", "BillingKeysAndAlerts"}, wrap: func(s core.Store) core.Store { return conflictCharges{s} }},
	{name: "zero cost records no key", subtests: []string{"KeyZeroCost"}, wrap: func(s core.Store) core.Store { return zeroCostNoKey{s} }},
	{name: "refused charge records its key", subtests: []string{"KeyRefusedNotRecorded"}, wrap: func(s core.Store) core.Store { return newOwnKeys(s, ownKeys{recordRefused: true}) }},
	{name: "keys shared by clients", subtests: []string{"KeyClientIsolation", "KeyReplay"}, wrap: func(s core.Store) core.Store { return newOwnKeys(s, ownKeys{byKeyOnly: true}) }},
	{name: "keys never expire", subtests: []string{"KeyExpiry"}, wrap: func(s core.Store) core.Store { return newOwnKeys(s, ownKeys{noExpiry: true}) }},
	{name: "key check then charge", subtests: []string{"KeyConcurrentSameKey"}, wrap: func(s core.Store) core.Store { return newOwnKeys(s, ownKeys{racy: true}) }},
	{name: "refund by key refunds the op", subtests: []string{"KeyRefundOnce", "KeyRefundUnknown"}, wrap: func(s core.Store) core.Store { return refundByKeyRefundsOp{s} }},
	{name: "refund by key twice", subtests: []string{"KeyRefundOnce", "BillingKeysAndAlerts"}, wrap: func(s core.Store) core.Store { return newRefundTwice(s) }},

	// Overflow.
	{name: "overflow unchecked", subtests: []string{"OverflowWindow", "OverflowHour", "OverflowByDeductions"}, wrap: func(s core.Store) core.Store { return overflowUnchecked{s} }},

	// Threshold bits.
	{name: "fired bits reported again", subtests: []string{"ThresholdFired", "ThresholdConcurrent", "ThresholdSurvivesImport", "BillingKeysAndAlerts"}, wrap: func(s core.Store) core.Store { return firedAgain{s} }},
	{name: "reset not reported", subtests: []string{"ThresholdReset", "ThresholdSurvivesImport", "ExportImportRoundTrip", "BillingKeysAndAlerts"}, wrap: func(s core.Store) core.Store { return noReset{s} }},

	// Export and import.
	{name: "export drops threshold bits", subtests: []string{"ThresholdSurvivesImport", "ExportImportRoundTrip"}, wrap: func(s core.Store) core.Store { return exportDropsFired{s} }},
	{name: "export misses keys", subtests: []string{"ExportImportRoundTrip", "AnyBytes"}, wrap: func(s core.Store) core.Store { return exportMissesKeys{s} }},
	{name: "export ignores fn's error", subtests: []string{"ExportStops"}, wrap: func(s core.Store) core.Store { return exportIgnoresError{s} }},
	{name: "import into a non-empty store", subtests: []string{"ImportNotEmpty", "ImportResume"}, wrap: func(s core.Store) core.Store { return importAlwaysMerges{s} }},
	{name: "import ignores Merge", subtests: []string{"ImportMerge"}, wrap: func(s core.Store) core.Store { return mergeOverwrites{s} }},
	{name: "import cannot resume", subtests: []string{"ImportResume"}, wrap: func(s core.Store) core.Store { return noResume{s} }},
	{name: "resumed import merges", subtests: []string{"ImportResume"}, wrap: func(s core.Store) core.Store { return resumeMerges{s} }},

	// Input and retention.
	{name: "labels cut at NUL", subtests: []string{"AnyBytes", "LabelReport"}, wrap: func(s core.Store) core.Store { return labelsCut{s} }},
	{name: "client hash trusted", subtests: []string{"ClientHashHint"}, wrap: func(s core.Store) core.Store { return hintTrusted{s} }},
	{name: "retention ignored", subtests: []string{"Retention"}, wrap: func(s core.Store) core.Store { return s }, keepsAggregates: true},
}

const brokenEnv = "STORETEST_BROKEN_STORE"

// TestBrokenStore runs the suite on the broken store named by the
// environment; it is the child process of TestSuiteCatchesDefects.
func TestBrokenStore(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("runs only as a child of TestSuiteCatchesDefects")
	}
	i := slices.IndexFunc(brokenStores, func(b brokenStore) bool { return b.name == name })
	if i < 0 {
		t.Fatalf("no broken store %q", name)
	}
	b := brokenStores[i]
	storetest.RunWithOptions(t, func(t *testing.T) core.Store { return b.wrap(memory.New()) }, storetest.Options{
		Retention: func(t *testing.T, d time.Duration) core.Store {
			if b.keepsAggregates {
				d = -1
			}
			return b.wrap(memory.New(memory.WithRetention(d)))
		},
	})
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

// hintTrusted keeps a client's data where a wrong Op.ClientHash points:
// under another ID.
type hintTrusted struct{ core.Store }

func hinted(opp *core.Op) *core.Op {
	if opp.ClientHash == 0 || opp.ClientHash == core.HashClient(opp.Client) {
		return opp
	}
	op := *opp
	op.Client += fmt.Sprintf("\x00%x", op.ClientHash)
	return &op
}

func (s hintTrusted) Deduct(ctx context.Context, op *core.Op) (core.Result, error) {
	return s.Store.Deduct(ctx, hinted(op))
}

func (s hintTrusted) Refund(ctx context.Context, op *core.Op) error {
	return s.Store.Refund(ctx, hinted(op))
}

func (s hintTrusted) Usage(ctx context.Context, op *core.Op) (core.Result, error) {
	return s.Store.Usage(ctx, hinted(op))
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
