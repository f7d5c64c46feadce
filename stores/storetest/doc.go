// Package storetest is the conformance suite every [core.Store] runs. A store
// adopts it in three lines:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) core.Store { return memory.New() })
//	}
//
// The suite checks the contract of [core.Store] as named subtests that each
// can fail on their own; run one with, for example,
// go test -run 'TestConformance/KeyReplay'.
//
// Deductions, windows and reports: WithinLimit, OverLimitChangesNothing,
// MultiWindowAllOrNothing, ExactUsed, WindowRenewal, Unlimited, ZeroCost,
// FractionalCredits, Refund, UsageReadsOnly, DailyReport, LabelReport,
// ReportMatchesModel (random charges, refunds and deletions in any order of
// hours against a model), Delete, ClientIsolation (IDs of any bytes up to
// [core.MaxClientIDLen]), Closed, CancelledContext, Concurrency (exact
// admission under 64 goroutines), Billing and BillingKeysAndAlerts (the
// whole path through [core.Billing] with a fake clock).
//
// Idempotency keys: KeyReplay (same cost and label: OK, Replayed and the
// first charge's record, nothing changes), KeyConflict (another cost or
// label), KeyRefusedNotRecorded, KeyZeroCost, KeyClientIsolation (keys of
// different clients never collide), KeyExpiry (Expires <= op.At frees the
// key), KeyRefundOnce (also 16 refunds at once), KeyRefundUnknown,
// KeyConcurrentSameKey (64 goroutines, one key: charged once) and
// KeyConcurrentLimit (distinct keys against a limit: exactly the limit).
//
// Overflow at [core.MaxUsage]: OverflowWindow and OverflowHour (counters
// brought near it by Import) and OverflowByDeductions (1024 deductions of
// the largest cost; it needs [Options].Calls of at least 1025).
//
// Threshold bits: ThresholdFired, ThresholdReset, ThresholdConcurrent (each
// bit reported once among 64 goroutines) and ThresholdSurvivesImport.
//
// Export and import: ExportEmpty, ExportImportRoundTrip, ExportConcurrent,
// ExportStops, ImportNotEmpty, ImportMerge ([core.MergeWindow] and
// [core.MergeUsage]), ImportNilRecord (a nil record without an error
// fails the import instead of a panic) and ImportResume (an import with an
// ID that failed part way is refused to every other import and can be run
// again). AnyBytes
// checks labels and client IDs of any bytes through reports, export and
// import, ClientHashHint that a [core.Op.ClientHash] that is not the
// client's hash (any caller may pass one) finds the same client, charges,
// refunds and keys as the right one, and Retention the pruning of old usage aggregates, for a store
// that offers it through [Options].Retention (it is skipped otherwise).
//
// Some rules the subtests hold every store to, beyond the comments of
// [core.Store]:
//
//   - open is called more than once per subtest: the export and import
//     subtests copy state into new stores of the same kind.
//   - Export may leave out window counters that hold nothing (no usage, no
//     threshold bits) and usage aggregates of zero credits, but must export
//     everything else exactly once, and keys until they expire.
//   - A store holding the ID of an unfinished import is not empty: any
//     import but one with that ID is refused with [core.ErrNotEmpty].
//   - Refusals and zero costs create no window counters or aggregates.
//
// Windows are placed a few days ahead of the wall clock, and keys expire
// after them, so a store that expires counters, aggregates or keys by the
// wall clock keeps everything a subtest writes while it runs. Subtests run
// in parallel, each on stores of its own; a store whose tests cannot run in
// parallel passes [Options].Sequential to [RunWithOptions]. Parallel
// subtests run after Run returns, so release what the stores share (a
// network client, a server) with t.Cleanup, not with defer.
//
// Beside the suite, [Fill] and [RoundTrip] check migrations between stores:
// a store's tests fill the memory store, copy it into the store and back,
// and compare every observable. Checks of one store alone (crash recovery,
// file formats, network failures) belong in the store's own tests.
package storetest
