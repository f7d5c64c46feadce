package core

import (
	"errors"
	"strconv"
	"time"
)

// Errors returned by [Billing] and stores, checked with [errors.Is].
var (
	// ErrQuotaExceeded: a quota has too few credits left. The error is a
	// [*QuotaExceededError] with the details.
	ErrQuotaExceeded = errors.New("apibilling: quota exceeded")
	// ErrUsageOverflow: the charge would take a usage counter past
	// [MaxUsage] (about 9.2 trillion credits in one window or hour); it is
	// refused, like an exhausted quota, on every store alike.
	ErrUsageOverflow = errors.New("apibilling: usage counter full")
	// ErrNoQuotas: the client is unknown or has no quotas.
	ErrNoQuotas = errors.New("apibilling: client has no quotas")
	// ErrInvalidCost: a cost is not set, negative, NaN, infinite, above
	// MaxCredits, or not zero but rounds to zero micro-credits.
	ErrInvalidCost = errors.New("apibilling: invalid cost")
	// ErrInvalidClient: a client ID is empty or longer than MaxClientIDLen.
	ErrInvalidClient = errors.New("apibilling: invalid client ID")
	// ErrInvalidLabel: a label is longer than MaxLabelLen.
	ErrInvalidLabel = errors.New("apibilling: invalid label")
	// ErrInvalidKey: an idempotency key is not 1 to MaxKeyLen visible ASCII
	// characters.
	ErrInvalidKey = errors.New("apibilling: invalid idempotency key")
	// ErrInvalidQuota: a quota cannot be used (period, limit, anchor), or a
	// client was given two quotas of one period.
	ErrInvalidQuota = errors.New("apibilling: invalid quota")
	// ErrIdempotencyConflict: an idempotency key was reused for a charge of
	// another cost or label. The error is an [*IdempotencyConflictError].
	ErrIdempotencyConflict = errors.New("apibilling: idempotency key reused for another charge")
	// ErrStoreUnavailable: the store failed, timed out or is closed. Unless
	// the error also wraps ErrOutcomeUnknown, nothing was charged.
	ErrStoreUnavailable = errors.New("apibilling: store unavailable")
	// ErrOutcomeUnknown: the store received the call but its answer was
	// lost (a network store's timeout), so the charge may have been applied.
	// It comes wrapped together with ErrStoreUnavailable. A retry with the
	// same idempotency key is never charged twice.
	ErrOutcomeUnknown = errors.New("apibilling: the store may have applied the call")
	// ErrClosed: the store has been closed. Billing wraps it in
	// ErrStoreUnavailable.
	ErrClosed = errors.New("apibilling: store closed")
)

// Limits on what identifies a charge, in bytes.
const (
	// MaxClientIDLen is the longest client ID. Any bytes are allowed.
	MaxClientIDLen = 256
	// MaxLabelLen is the longest label (such as a route pattern). Any bytes
	// are allowed; a label may be empty.
	MaxLabelLen = 256
	// MaxKeyLen is the longest idempotency key: 1 to 255 visible ASCII
	// characters (0x21 to 0x7e).
	MaxKeyLen = 255
)

// QuotaExceededError is the error of a charge that a quota refused. It
// matches [ErrQuotaExceeded] with errors.Is.
type QuotaExceededError struct {
	// Quota is the most constrained quota (fewest credits left, then the
	// earliest renewal); it is always among those that refused.
	Quota Period
	// Limit, Remaining and RenewsAt describe that quota.
	Limit     Credits
	Remaining Credits
	RenewsAt  time.Time
	// Required is the cost that was refused.
	Required Credits
	// Violated holds every quota that refused.
	Violated PeriodSet
	// RetryAt is the latest renewal among the quotas that refused: before
	// it, the same charge is refused again.
	RetryAt time.Time
}

// Error returns "apibilling: quota exceeded: " followed by [QuotaExceededError.Detail].
func (e *QuotaExceededError) Error() string { return "apibilling: quota exceeded: " + e.Detail() }

// Detail returns a sentence for the client, without a prefix, such as "You
// have only 3 credits remaining, but 5 are required. They will renew at
// 2026-12-01T00:00:00Z."; it is the detail of a 429 response.
func (e *QuotaExceededError) Detail() string {
	b := make([]byte, 0, 128)
	b = append(b, "You have only "...)
	b = appendCredits(b, e.Remaining.micro)
	b = append(b, " credits remaining, but "...)
	b = appendCredits(b, e.Required.micro)
	b = append(b, " are required. They will renew at "...)
	b = e.RenewsAt.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, '.')
	return string(b)
}

// Is reports whether target is ErrQuotaExceeded.
func (e *QuotaExceededError) Is(target error) bool { return target == ErrQuotaExceeded }

// IdempotencyConflictError is the error of a charge whose idempotency key
// was recorded for a charge of another cost or label. Nothing was charged.
// It matches [ErrIdempotencyConflict] with errors.Is.
type IdempotencyConflictError struct {
	Key string
	// Cost and Label are those of the recorded charge.
	Cost  Credits
	Label string
}

// Error describes the conflict without the client ID.
func (e *IdempotencyConflictError) Error() string {
	return "apibilling: idempotency key " + strconv.Quote(e.Key) + " was used for a charge of " +
		e.Cost.String() + " credits under " + strconv.Quote(e.Label)
}

// Is reports whether target is ErrIdempotencyConflict.
func (e *IdempotencyConflictError) Is(target error) bool { return target == ErrIdempotencyConflict }

// PeriodSet is a set of periods.
type PeriodSet uint8

// Add returns s with p added.
func (s PeriodSet) Add(p Period) PeriodSet { return s | 1<<p }

// Has reports whether p is in s.
func (s PeriodSet) Has(p Period) bool { return p.Valid() && s&(1<<p) != 0 }

// Periods returns the periods in s, shortest first.
func (s PeriodSet) Periods() []Period {
	var out []Period
	for p := Period(0); p < MaxQuotas; p++ {
		if s.Has(p) {
			out = append(out, p)
		}
	}
	return out
}

// String lists the periods, such as "day,month".
func (s PeriodSet) String() string {
	var b []byte
	for _, p := range s.Periods() {
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(b, p.String()...)
	}
	return string(b)
}

func quoteClient(id string) string {
	if len(id) > 64 {
		id = id[:64] + "..."
	}
	return strconv.Quote(id)
}
