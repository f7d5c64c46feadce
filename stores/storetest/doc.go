// Package storetest is the conformance suite every [core.Store] runs. A store
// adopts it in three lines:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) core.Store { return memory.New() })
//	}
//
// The suite checks the contract of [core.Store] as named subtests that each
// can fail on their own: deductions within and over a limit, all-or-nothing
// across windows, exact usage in [core.Result], window renewal, unlimited
// windows, zero costs, exact fractional credits, refunds, daily and per-label
// reports, deletion, reads that change nothing, isolation between clients
// (IDs of any bytes up to [core.MaxClientIDLen]), closed stores, cancelled
// contexts, exact admission under 64 concurrent goroutines, and the whole
// path through [core.Billing] with a fake clock.
//
// The subtests are WithinLimit, OverLimitChangesNothing,
// MultiWindowAllOrNothing, ExactUsed, WindowRenewal, Unlimited, ZeroCost,
// FractionalCredits, Refund, UsageReadsOnly, DailyReport, LabelReport,
// Delete, ClientIsolation, Closed, CancelledContext, Concurrency and Billing;
// run one with, for example, go test -run 'TestConformance/Concurrency'.
//
// Windows are placed a few days ahead of the wall clock, so a store that
// expires counters or prunes aggregates by the wall clock keeps everything a
// subtest writes while it runs. Subtests run in parallel, each on a store of
// its own; a store whose tests cannot run in parallel passes
// [Options.Sequential] to [RunWithOptions]. Parallel subtests run after Run
// returns, so release what the stores share (a network client, a server)
// with t.Cleanup, not with defer. Checks beside the suite (crash
// recovery, file formats, network failures) belong in the store's own tests.
package storetest
