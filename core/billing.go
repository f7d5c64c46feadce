package core

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Billing holds each client's quotas, computes their windows and charges
// costs through a [Store]. It is the counterpart of the Python ApiBilling.
// A Billing is safe for concurrent use; it keeps no usage itself, so any
// number of Billings, in one process or many, can share one store.
type Billing struct {
	store        Store
	clock        func() time.Time
	reportLoc    *time.Location
	keyRetention time.Duration
	alerts       func(Alert)
	thresholds   [MaxQuotas][]int // percents per period, ascending
	observer     Observer
	hour         atomic.Pointer[Span]
	clients      registry
}

// Option configures a [Billing].
type Option func(*Billing)

// WithClock sets the clock Billing reads the time from. The default is
// [time.Now]. Tests pass a fake clock to cross window boundaries.
func WithClock(now func() time.Time) Option {
	if now == nil {
		panic("apibilling/core: WithClock expects a non-nil clock")
	}
	return func(b *Billing) { b.clock = now }
}

// WithReportLocation sets the time zone whose calendar days
// [Billing.DailyUsage] reports by default. The default is UTC. Usage is kept
// per hour, so the zone can be changed at any time and
// [Billing.DailyUsageIn] reports in any zone.
func WithReportLocation(loc *time.Location) Option {
	if loc == nil {
		panic("apibilling/core: WithReportLocation expects a non-nil location")
	}
	return func(b *Billing) { b.reportLoc = loc }
}

// DefaultKeyRetention is how long an idempotency key is remembered after
// its charge, unless [WithKeyRetention] says otherwise.
const DefaultKeyRetention = 24 * time.Hour

// WithKeyRetention sets how long the store remembers a charge's idempotency
// key: a retry with the same key within it is not charged again. The
// default is [DefaultKeyRetention]. It panics if d is not positive.
func WithKeyRetention(d time.Duration) Option {
	if d <= 0 {
		panic("apibilling/core: WithKeyRetention expects a positive duration")
	}
	return func(b *Billing) { b.keyRetention = d }
}

// New returns a Billing that keeps usage in store. It panics if store is nil.
func New(store Store, opts ...Option) *Billing {
	if store == nil {
		panic("apibilling/core: New expects a non-nil Store")
	}
	b := &Billing{store: store, clock: time.Now, reportLoc: time.UTC, keyRetention: DefaultKeyRetention}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Store returns the store the billing charges.
func (b *Billing) Store() Store { return b.store }

// Now returns the billing clock's time.
func (b *Billing) Now() time.Time { return b.clock() }

// ReportLocation returns the zone of the daily usage reports.
func (b *Billing) ReportLocation() *time.Location { return b.reportLoc }

// SetQuotas sets or replaces the quotas of client, effective at once.
// Quotas of two equal periods are refused. Usage is kept by the store per
// window, so usage already recorded for the current windows, by this
// process or before a restart, counts against the new quotas; changing only
// a limit keeps the usage counted. Setting no quotas removes the client.
func (b *Billing) SetQuotas(client string, quotas ...Quota) error {
	if err := ValidateClientID(client); err != nil {
		return err
	}
	if len(quotas) == 0 {
		b.clients.remove(client)
		return nil
	}
	if len(quotas) > MaxQuotas {
		return fmt.Errorf("%w: client %s has %d quotas; at most one per period (%d)", ErrInvalidQuota, quoteClient(client), len(quotas), MaxQuotas)
	}
	c := &clientQuotas{id: strings.Clone(client), hash: HashClient(client), b: b}
	var seen PeriodSet
	for i, q := range quotas {
		if err := q.Validate(); err != nil {
			return fmt.Errorf("client %s, quota %d: %w", quoteClient(client), i, err)
		}
		if seen.Has(q.Period) {
			return fmt.Errorf("%w: client %s has two %s quotas", ErrInvalidQuota, quoteClient(client), q.Period)
		}
		seen = seen.Add(q.Period)
		r := newRule(q)
		b.setLevels(r)
		c.rules = append(c.rules, r)
	}
	slices.SortFunc(c.rules, func(x, y *rule) int { return int(x.Period) - int(y.Period) })
	b.clients.set(c)
	return nil
}

// RemoveClient removes the quotas of client; it is then refused with
// [ErrNoQuotas]. Its recorded usage stays in the store for reporting.
func (b *Billing) RemoveClient(client string) { b.clients.remove(client) }

// Quotas returns a copy of the quotas of client, shortest period first, or
// nil if it has none.
func (b *Billing) Quotas(client string) []Quota {
	c := b.clients.get(client)
	if c == nil {
		return nil
	}
	out := make([]Quota, len(c.rules))
	for i, r := range c.rules {
		out[i] = r.Quota
	}
	return out
}

// Clients returns the IDs of all clients that have quotas, sorted.
func (b *Billing) Clients() []string {
	out := b.clients.ids()
	slices.Sort(out)
	return out
}

// ValidateClientID reports whether id can be a client ID: non-empty and at
// most [MaxClientIDLen] bytes. Errors wrap [ErrInvalidClient].
func ValidateClientID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidClient)
	}
	if len(id) > MaxClientIDLen {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidClient, len(id), MaxClientIDLen)
	}
	return nil
}

// bucket returns the hour aggregate containing n (Unix nanoseconds).
func (b *Billing) bucket(n int64) Span {
	if h := b.hour.Load(); h != nil && h.Start <= n && n < h.End {
		return *h
	}
	h := hourOf(n)
	b.hour.Store(&h)
	return h
}

// hourOf returns the hour (of Unix time) containing n.
func hourOf(n int64) Span {
	s := floorDiv(n, int64(time.Hour)) * int64(time.Hour)
	return Span{Start: s, End: s + int64(time.Hour)}
}

// clientQuotas is one client's compiled quotas, sorted by period. It is
// immutable once published; SetQuotas replaces it whole.
type clientQuotas struct {
	id    string
	hash  uint64   // HashClient(id), for Op.ClientHash
	b     *Billing // whose registry holds it
	rules []*rule
	// stale is set once SetQuotas or RemoveClient has replaced it in the
	// registry: an Outcome that holds it looks the client up again.
	stale atomic.Bool
}

// registry maps client IDs to their quotas. It is read on every charge
// and written only when quotas change, so it is a [sync.Map]: a look-up
// takes no lock and writes no shared memory, and charges on many cores do
// not contend.
type registry struct {
	m sync.Map // string -> *clientQuotas
}

func (r *registry) get(id string) *clientQuotas {
	c, _ := r.m.Load(id)
	q, _ := c.(*clientQuotas)
	return q
}

func (r *registry) set(c *clientQuotas) {
	if old, ok := r.m.Swap(c.id, c); ok {
		old.(*clientQuotas).stale.Store(true)
	}
}

func (r *registry) remove(id string) {
	if old, ok := r.m.LoadAndDelete(id); ok {
		old.(*clientQuotas).stale.Store(true)
	}
}

// ids returns the IDs of every client.
func (r *registry) ids() []string {
	var out []string
	r.m.Range(func(id, _ any) bool {
		out = append(out, id.(string))
		return true
	})
	return out
}
