package prombilling_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/frappy-go/apibilling/core"
	prombilling "github.com/frappy-go/apibilling/metrics/prometheus"
	"github.com/frappy-go/apibilling/stores/memory"
)

// TestCountsAChargeSequence charges, refuses, refunds and replays through a
// Billing observed by the collector, and compares every series exactly.
func TestCountsAChargeSequence(t *testing.T) {
	m := prombilling.New(nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	b := core.New(memory.New(), core.WithObserver(m))
	if err := b.SetQuotas("c", core.Quota{Period: core.Day, Limit: core.Whole(10)}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	charge := func(label, cost, key string) (core.Outcome, error) {
		return b.Charge(ctx, core.Charge{Client: "c", Label: label, Cost: core.MustParseCredits(cost), IdempotencyKey: key})
	}
	charge("/a", "2.5", "")
	charge("/a", "2.5", "k1")
	charge("/a", "2.5", "k1") // replay: not charged
	out, _ := charge("/b", "4", "")
	if _, err := charge("/b", "4", ""); !errors.Is(err, core.ErrQuotaExceeded) {
		t.Fatalf("want a refusal, got %v", err)
	}
	if err := b.Refund(ctx, &out); err != nil {
		t.Fatal(err)
	}
	m.Request(prombilling.OutcomeAllowed, "/a")
	m.Request(prombilling.OutcomeDenied, "/b")
	m.Request("nonsense", "/b") // ignored
	m.Commit(12, 3*time.Millisecond)
	m.CountOutcomeUnknown(func() uint64 { return 7 })
	m.Alert(core.Alert{Period: core.Day, Percent: 80})
	m.Alert(core.Alert{Period: core.Day, Reset: true})

	want := `
# HELP apibilling_credits_charged_total Credits charged, by route pattern (label); replays charge nothing.
# TYPE apibilling_credits_charged_total counter
apibilling_credits_charged_total{route="/a"} 5
apibilling_credits_charged_total{route="/b"} 4
# HELP apibilling_credits_refunded_total Credits refunded, by route pattern (label).
# TYPE apibilling_credits_refunded_total counter
apibilling_credits_refunded_total{route="/a"} 0
apibilling_credits_refunded_total{route="/b"} 4
# HELP apibilling_store_outcome_unknown_total Store calls whose reply was lost after they were sent, so that they may have been applied.
# TYPE apibilling_store_outcome_unknown_total counter
apibilling_store_outcome_unknown_total 7
# HELP apibilling_alerts_total Threshold alerts raised, by period and type (threshold or reset).
# TYPE apibilling_alerts_total counter
apibilling_alerts_total{period="day",type="reset"} 1
apibilling_alerts_total{period="day",type="threshold"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "apibilling_credits_charged_total",
		"apibilling_credits_refunded_total", "apibilling_store_outcome_unknown_total", "apibilling_alerts_total"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(counter(t, reg, "apibilling_requests_total", "outcome", "allowed", "route", "/a")); got != 1 {
		t.Errorf("allowed /a = %v, want 1", got)
	}
	// Five deductions and one refund reached the store.
	if n := histogramCount(t, reg, "apibilling_store_duration_seconds", "op", "deduct"); n != 5 {
		t.Errorf("deduct calls observed %d, want 5", n)
	}
	if n := histogramCount(t, reg, "apibilling_store_duration_seconds", "op", "refund"); n != 1 {
		t.Errorf("refund calls observed %d, want 1", n)
	}
	if n := histogramCount(t, reg, "apibilling_commit_batch_size"); n != 1 {
		t.Errorf("commits observed %d, want 1", n)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestStoreErrors counts failed store calls by operation.
func TestStoreErrors(t *testing.T) {
	m := prombilling.New(nil)
	m.StoreCall(core.OpDeduct, time.Millisecond, errors.New("down"))
	m.StoreCall(core.OpDeduct, time.Millisecond, nil)
	m.StoreCall(core.OpReport, time.Millisecond, errors.New("down"))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	want := `
# HELP apibilling_store_errors_total Store calls that failed, by operation.
# TYPE apibilling_store_errors_total counter
apibilling_store_errors_total{op="delete"} 0
apibilling_store_errors_total{op="deduct"} 1
apibilling_store_errors_total{op="refund"} 0
apibilling_store_errors_total{op="report"} 1
apibilling_store_errors_total{op="usage"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "apibilling_store_errors_total"); err != nil {
		t.Error(err)
	}
}

// TestNoAllocations: a request and a charge on a route already seen
// allocate nothing.
func TestNoAllocations(t *testing.T) {
	m := prombilling.New(nil)
	m.Request(prombilling.OutcomeAllowed, "/a")
	cost := core.Whole(1)
	if n := testing.AllocsPerRun(1000, func() {
		m.Request(prombilling.OutcomeAllowed, "/a")
		m.Charged("c", "/a", cost, true, false)
		m.StoreCall(core.OpDeduct, time.Microsecond, nil)
	}); n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
}

func counter(t *testing.T, g prometheus.Gatherer, name string, labels ...string) prometheus.Collector {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"}, func() float64 { return m.GetCounter().GetValue() })
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return nil
}

func histogramCount(t *testing.T, g prometheus.Gatherer, name string, labels ...string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			return m.GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}
