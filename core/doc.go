// Package core is the framework-neutral heart of apibilling: per-client
// credit quotas over calendar windows, an atomic check-and-deduct on every
// request, refunds, and usage reports per day for invoicing.
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
// Credits are exact: they are counted in integer micro-credits, so charging
// 0.1 credits ten million times uses exactly 1,000,000 credits.
//
// # Charging
//
// [Billing.Track] charges a cost to every quota of a client at once, or to
// none: if any quota lacks room, nothing changes and the error is a
// [*QuotaExceededError] naming the most constrained quota, the credits left,
// the cost required and when it renews. The [Store] does the check and the
// deduction in one atomic step, so concurrent requests never overdraw a
// window, in one process or, on a shared store, in many.
//
//	b := core.New(memory.New())
//	err := b.SetQuotas("client1",
//		core.Quota{Period: core.Day, Limit: 500 * core.Credit},
//		core.Quota{Period: core.Month, Limit: 10_000 * core.Credit,
//			Anchor: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)}, // renews on the 15th
//	)
//	...
//	out, err := b.Track(ctx, "client1", 5*core.Credit)
//	if errors.Is(err, core.ErrQuotaExceeded) {
//		// 429: out.Lowest() says what is left and when it renews
//	}
//
// # Stores
//
// Usage lives in the store, never in the Billing: the package memory keeps
// it in memory (tests, single instances), bolt in an embedded file with
// durable group commits (the default for a single binary), and redis in a
// server shared by many instances. Setting a client's quotas therefore
// picks up the usage already recorded in the store for the current windows,
// after a restart too. Every store passes the conformance suite in package
// storetest.
//
// # Errors
//
// Being refused is the one expected failure: the error is a
// [*QuotaExceededError] (errors.Is(err, [ErrQuotaExceeded])) and the
// [Outcome] still describes every quota, for the response headers. The other
// errors are sentinels, checked with [errors.Is]: [ErrNoQuotas] (an unknown
// client, 403), [ErrInvalidCost] and [ErrInvalidClient] (bad input; nothing
// changes), [ErrInvalidQuota] (from [Billing.SetQuotas]) and
// [ErrStoreUnavailable] (the store failed, timed out or is closed; it wraps
// the store's own error). After any error the caller may treat the request
// as not charged; only a shared store whose reply was lost can have counted
// it (the redis store documents when).
//
// # Time
//
// Windows are computed from the billing's clock ([WithClock], [time.Now] by
// default) once per charge. Anchors lie between the years 1700 and 2200;
// clock readings are clamped to the years 1680 to 2260, so that every window
// fits in Unix nanoseconds.
//
// # Reports
//
// Each charge is also added to a per-day aggregate, by label (the route),
// in a report zone (UTC unless [WithReportLocation] says otherwise):
// [Billing.DailyUsage] and [Billing.TotalUsage] read them for invoicing, and
// [Billing.DeleteUsage] removes them and gives their credits back to the
// live windows.
package core
