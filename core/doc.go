// Package core is the framework-neutral heart of apibilling: per-client
// credit quotas over calendar windows, an atomic check-and-deduct on every
// request, idempotent charges, refunds, alerts, and usage reports per day
// for invoicing.
//
// # Model
//
// A client (an API key, a customer, a tenant) has at most one [Quota] per
// [Period]: second, minute, hour, day, week, month or year. A quota admits
// at most its Limit of [Credits] in each of its windows, or is [Unlimited].
// Windows tile time from the quota's Anchor in the anchor's time zone: day
// and week windows follow the calendar across DST changes (23 or 25 hours),
// month and year windows are clamped at month ends without drift (an anchor
// on Jan 31 renews on Feb 28 or 29, then Mar 31). See [Quota].
//
// # Credits
//
// [Credits] are exact: they are counted in integer micro-credits, so
// charging 0.1 credits ten million times uses exactly 1,000,000 credits.
// Credits is opaque, so a plain number is never taken for an amount
// (Limit: 500 does not compile). Write amounts in code with [Whole]
// (core.Whole(500)) or [MustParseCredits] ("0.5"), parse input with
// [ParseCredits] (one decimal rule everywhere: "5" or "0.5", rounded once at
// the sixth decimal, and an amount that is not zero but rounds to zero is
// refused, never free), convert a float64 once with [CreditsFromFloat], and
// write an unlimited quota's limit as [Unlimited]. The zero Credits means
// "not set": a quota without a Limit is refused by [Billing.SetQuotas] and a
// charge without a Cost by [Billing.Charge]; core.Whole(0) is a free charge.
//
// # Charging
//
// [Billing.Charge] charges a cost to every quota of a client at once, or to
// none: if any quota lacks room, nothing changes and the error is a
// [*QuotaExceededError] naming the most constrained quota, the credits left,
// the cost required and when it renews. The [Store] does the check and the
// deduction in one atomic step, so concurrent requests never overdraw a
// window, in one process or, on a shared store, in many. [Billing.Track] is
// the short form without a label or key; [Billing.ChargeInto] writes the
// outcome into memory the caller owns (middleware with pooled state).
//
//	b := core.New(memory.New())
//	err := b.SetQuotas("client1",
//		core.Quota{Period: core.Day, Limit: core.Whole(500)},
//		core.Quota{Period: core.Month, Limit: core.Whole(10_000),
//			Anchor: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)}, // renews on the 15th
//	)
//	...
//	out, err := b.Charge(ctx, core.Charge{
//		Client:         "client1",
//		Cost:           core.Whole(5),
//		Label:          "/api/fetch-expensive-data", // reported per route
//		IdempotencyKey: r.Header.Get("Idempotency-Key"),
//	})
//	if errors.Is(err, core.ErrQuotaExceeded) {
//		// 429: out.Lowest() says what is left and when it renews
//	}
//
// A charge with an IdempotencyKey happens once: a retry of the same client
// with the same key, within the key retention ([WithKeyRetention], 24 hours
// by default), charges nothing and returns the first charge's outcome
// ([Outcome.Replayed]), from any process on a shared store; the key is
// recorded in the same atomic step as the charge. Reusing a key for another
// cost or label fails with an [*IdempotencyConflictError]. Only admitted
// charges record their key.
//
// [Billing.Refund] gives a charge back (an adapter calls it when the
// handler fails); a charge with a key is refunded at most once, however
// many copies of its outcome are refunded, and a retry with the key is then
// charged anew.
//
// # Alerts
//
// [WithAlerts] raises an [Alert] when a client's usage reaches a threshold
// of a quota (such as 80% and 100% of the day), once per client, window and
// threshold, also under concurrency and across restarts (the store keeps
// the bits with the window's counter), and a reset alert when a new window
// starts after alerts.
//
// # Stores
//
// Usage lives in the store, never in the Billing: the package memory keeps
// it in memory (tests, single instances), bolt in an embedded file with
// durable group commits (the default for a single binary), and redis in a
// server shared by many instances. Setting a client's quotas therefore
// picks up the usage already recorded in the store for the current windows,
// after a restart too. Every store passes the conformance suite in package
// storetest, exports and imports its whole state ([Store.Export],
// [Store.Import]), and refuses a charge that would take a counter past
// [MaxUsage] ([ErrUsageOverflow]) instead of wrapping around.
//
// # Errors
//
// Being refused is the one expected failure: the error is a
// [*QuotaExceededError] (errors.Is(err, [ErrQuotaExceeded])) and the
// [Outcome] still describes every quota, for the response headers. The other
// errors are sentinels, checked with [errors.Is]: [ErrNoQuotas] (an unknown
// client, 403), [ErrInvalidCost], [ErrInvalidClient], [ErrInvalidLabel] and
// [ErrInvalidKey] (bad input; the store is not asked),
// [ErrIdempotencyConflict], [ErrUsageOverflow], [ErrInvalidQuota] (from
// [Billing.SetQuotas]) and [ErrStoreUnavailable] (the store failed, timed
// out or is closed; it wraps the store's own error). After any error nothing
// was charged, except when it also wraps [ErrOutcomeUnknown]: a shared store
// received the call but its reply was lost. A retry with the same
// idempotency key is then charged at most once.
//
// # Time
//
// Windows are computed from the billing's clock ([WithClock], [time.Now] by
// default) once per charge. Anchors lie between the years 1700 and 2200;
// clock readings are clamped to the years 1680 to 2260, so that every window
// fits in Unix nanoseconds, however far the clock is from the anchor.
//
// # Reports
//
// Each charge is also added to an hourly aggregate, by label (the route).
// [Billing.TotalUsage] sums the hours that overlap a range;
// [Billing.DailyUsage] assembles them into the days of the report zone (UTC
// unless [WithReportLocation] says otherwise) and [Billing.DailyUsageIn]
// into the days of any zone, each day from midnight to midnight on that
// zone's calendar (23 or 25 hours across a DST change);
// [Billing.DeleteUsage] removes hours and gives their credits back to the
// live windows. An empty range is zero usage.
//
// # Metrics
//
// [WithObserver] reports every store call with its duration and error, and
// every charge and refund, to an [Observer] (a metrics collector). A
// Billing without one pays nothing for it: a charge on the memory store
// makes no allocation.
package core
