package apps

import (
	"fmt"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/bolt"
	"github.com/frappy-go/apibilling/stores/memory"
)

// Limit is the limit of each of the benchmark client's quotas: high enough
// that no benchmark or load run ever exhausts it.
var Limit = core.Whole(1_000_000_000)

// Headers selects the rate-limit headers apibilling sends.
type Headers int

const (
	// AllHeaders sends the defaults: the X-RateLimit-* triple, and
	// RateLimit-Policy and RateLimit.
	AllHeaders Headers = iota
	// LegacyHeaders sends only X-RateLimit-Limit, -Remaining and -Reset, the
	// headers ulule/limiter and fiber's limiter send.
	LegacyHeaders
	// NoHeaders sends none, as echo's RateLimiter.
	NoHeaders
)

// String names h as the benchmarks do.
func (h Headers) String() string {
	switch h {
	case LegacyHeaders:
		return "legacy"
	case NoHeaders:
		return "noheaders"
	}
	return "all"
}

// ParseHeaders parses a name of [Headers.String].
func ParseHeaders(s string) (Headers, error) {
	for _, h := range []Headers{AllHeaders, LegacyHeaders, NoHeaders} {
		if h.String() == s {
			return h, nil
		}
	}
	return 0, fmt.Errorf("unknown headers %q (want all, legacy or noheaders)", s)
}

// Quotas are the benchmark client's quotas: a day and a month renewing on
// the 15th, both of [Limit] credits, as an API that sells a daily and a
// monthly allowance sets them.
func Quotas() []core.Quota {
	return []core.Quota{
		{Period: core.Day, Limit: Limit},
		{Period: core.Month, Limit: Limit, Anchor: time.Date(2022, 1, 15, 0, 0, 0, 0, time.UTC)},
	}
}

// NewBilling returns a billing on store with the client [ClientID] and its
// [Quotas].
func NewBilling(store core.Store) *core.Billing {
	b := core.New(store)
	if err := b.SetQuotas(ClientID, Quotas()...); err != nil {
		panic(err)
	}
	return b
}

// MemoryBilling returns a billing on a new memory store.
func MemoryBilling() *core.Billing { return NewBilling(memory.New()) }

// BoltBilling returns a billing on a bolt store in durable mode (the
// default: every deduction is fsynced before it returns) in the file path.
// The caller closes the store.
func BoltBilling(path string) (*core.Billing, error) {
	s, err := bolt.Open(path, nil)
	if err != nil {
		return nil, err
	}
	return NewBilling(s), nil
}

// lookup maps the API key to its client, as an application's key table.
func lookup(key string) (string, bool) {
	if key == Key {
		return ClientID, true
	}
	return "", false
}
