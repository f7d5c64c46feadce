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
	// ErrNoQuotas: the client is unknown or has no quotas.
	ErrNoQuotas = errors.New("apibilling: client has no quotas")
	// ErrInvalidCost: a cost is negative, NaN, infinite or above MaxCredits.
	ErrInvalidCost = errors.New("apibilling: invalid cost")
	// ErrInvalidClient: a client ID is empty or longer than MaxClientIDLen.
	ErrInvalidClient = errors.New("apibilling: invalid client ID")
	// ErrInvalidQuota: a quota cannot be used (period, limit, anchor), or a
	// client was given two quotas of one period.
	ErrInvalidQuota = errors.New("apibilling: invalid quota")
	// ErrStoreUnavailable: the store failed, timed out or is closed; nothing
	// is known to have been charged.
	ErrStoreUnavailable = errors.New("apibilling: store unavailable")
	// ErrClosed: the store has been closed. Billing wraps it in
	// ErrStoreUnavailable.
	ErrClosed = errors.New("apibilling: store closed")
)

// MaxClientIDLen is the longest client ID accepted, in bytes. Any bytes are
// allowed otherwise.
const MaxClientIDLen = 256

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

// Error returns the message also used as the detail of a 429 response.
func (e *QuotaExceededError) Error() string { return "apibilling: quota exceeded: " + e.Detail() }

// Detail returns a sentence for the client, such as "You have only 3 credits
// remaining, but 5 are required. They will renew at 2026-12-01T00:00:00Z."
func (e *QuotaExceededError) Detail() string {
	b := make([]byte, 0, 128)
	b = append(b, "You have only "...)
	b = e.Remaining.AppendText(b)
	b = append(b, " credits remaining, but "...)
	b = e.Required.AppendText(b)
	b = append(b, " are required. They will renew at "...)
	b = e.RenewsAt.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, '.')
	return string(b)
}

// Is reports whether target is ErrQuotaExceeded.
func (e *QuotaExceededError) Is(target error) bool { return target == ErrQuotaExceeded }

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
