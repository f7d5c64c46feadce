package memory

import (
	"strings"

	"github.com/frappy-go/apibilling/core"
)

// keyID identifies an idempotency key record: a key is its client's own.
type keyID struct{ client, key string }

// keyAt returns the record of the key of op's client, if it has not expired
// at op.At.
func (sh *shard) keyAt(op *core.Op) *core.KeyRecord {
	if r := sh.keys[keyID{op.Client, op.Key}]; r != nil && r.Expires > op.At {
		return r
	}
	return nil
}

// record keeps the key record of op, whose windows' usage is now used, and
// drops the records that have expired at op.At.
func (sh *shard) record(op *core.Op, used *[core.MaxQuotas]int64) {
	sh.prune(op.At)
	r := op.Record(used)
	r.Client, r.Key, r.Label = strings.Clone(r.Client), strings.Clone(r.Key), strings.Clone(r.Label)
	sh.keep(&r)
}

// keep holds r, replacing a record of the same key.
func (sh *shard) keep(r *core.KeyRecord) {
	k := keyID{r.Client, r.Key}
	if _, ok := sh.keys[k]; !ok {
		sh.expiry = append(sh.expiry, k)
	}
	sh.keys[k] = r
}

// prune drops the records, oldest first, that have expired at now, up to
// the first that has not. A key refunded (or replaced) since it was
// listed in expiry is skipped or found again under its new record.
func (sh *shard) prune(now int64) {
	for len(sh.expiry) > 0 {
		k := sh.expiry[0]
		if r := sh.keys[k]; r != nil {
			if r.Expires > now {
				return
			}
			delete(sh.keys, k)
		}
		sh.expiry[0] = keyID{}
		sh.expiry = sh.expiry[1:]
	}
}
