package clientsfile

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/frappy-go/apibilling/core"
)

// File is a parsed clients file. A File returned by [Parse] or [Load] is
// valid and safe for concurrent reads; it must not be changed afterwards,
// since [File.ClientForKey] uses an index built by Parse.
type File struct {
	// Clients are the clients in the order of the file.
	Clients []Client

	keys map[[sha256.Size]byte]string // SHA-256 of a key -> client ID; nil for a File built by hand
}

// Client is one client of a clients file.
type Client struct {
	// ID is the client ID that usage is billed and reported under.
	ID string
	// Keys are the API keys that identify the client.
	Keys []string
	// Quotas are the client's quotas in the order of the file. Each
	// Anchor's Location is the zone that the quota's calendar windows follow.
	Quotas []core.Quota
}

// ClientForKey returns the ID of the client that key identifies.
//
// A File from [Parse] or [Load] looks the key up by its SHA-256 digest, so
// the time a look-up takes depends on the digest of the key the caller
// sent, never on how many of its bytes match a real key: timing tells an
// attacker nothing about the keys (a map compared on the keys themselves
// would stop at the first differing byte). A File built by hand compares
// the key with every key in constant time.
func (f *File) ClientForKey(key string) (id string, ok bool) {
	if f.keys != nil {
		id, ok = f.keys[sha256.Sum256([]byte(key))]
		return id, ok
	}
	for _, c := range f.Clients {
		for _, k := range c.Keys {
			if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 && !ok {
				id, ok = c.ID, true
			}
		}
	}
	return id, ok
}

// Apply sets the quotas of every client of the file in b, with
// [core.Billing.SetQuotas]; a client without quotas is removed, so that it
// is refused with [core.ErrNoQuotas]. Clients that b knows and the file does
// not are left as they are.
func (f *File) Apply(b *core.Billing) error {
	if _, err := f.check(); err != nil {
		return err
	}
	for i, c := range f.Clients {
		if err := b.SetQuotas(c.ID, c.Quotas...); err != nil {
			return &Error{Index: i, ID: c.ID, Field: "quotas", Err: err}
		}
	}
	return nil
}

// Validate reports whether the file could have been read by [Parse]: valid
// and unique client IDs, valid and unique keys, valid quotas with at most
// one per period, and anchors whose zone the file format can name. Files
// returned by Parse are always valid; Validate is for files built by hand.
func (f *File) Validate() error {
	if _, err := f.check(); err != nil {
		return err
	}
	for i, c := range f.Clients {
		if !utf8.ValidString(c.ID) {
			return &Error{Index: i, ID: c.ID, Field: "id", Err: errors.New("not valid UTF-8, which JSON cannot hold")}
		}
		for k, key := range c.Keys {
			if !utf8.ValidString(key) {
				return &Error{Index: i, ID: c.ID, Field: fmt.Sprintf("keys[%d]", k), Err: errors.New("not valid UTF-8, which JSON cannot hold")}
			}
		}
		for k, q := range c.Quotas {
			if _, err := zoneName(q.Anchor.Location()); err != nil {
				return &Error{Index: i, ID: c.ID, Field: fmt.Sprintf("quotas[%d].tz", k), Err: err}
			}
		}
	}
	return nil
}

// check checks the file and returns its key index.
func (f *File) check() (map[[sha256.Size]byte]string, error) {
	if len(f.Clients) == 0 {
		return nil, &Error{Index: -1, Field: "clients", Err: errors.New("no clients")}
	}
	ids := make(map[string]int, len(f.Clients))
	type place struct{ client, key int }
	keys := make(map[string]place)
	for i, c := range f.Clients {
		if err := core.ValidateClientID(c.ID); err != nil {
			return nil, &Error{Index: i, Field: "id", Err: err}
		}
		if j, dup := ids[c.ID]; dup {
			return nil, &Error{Index: i, ID: c.ID, Field: "id", Err: fmt.Errorf("the same ID as clients[%d]", j)}
		}
		ids[c.ID] = i
		if len(c.Keys) == 0 {
			return nil, &Error{Index: i, ID: c.ID, Field: "keys", Err: errors.New("missing: a client needs at least one key")}
		}
		for k, key := range c.Keys {
			field := fmt.Sprintf("keys[%d]", k)
			if why := validKey(key); why != "" {
				return nil, &Error{Index: i, ID: c.ID, Field: field, Err: errors.New(why)}
			}
			// The key itself is a secret: name where it appears instead.
			if p, dup := keys[key]; dup {
				return nil, &Error{Index: i, ID: c.ID, Field: field, Err: fmt.Errorf("the same key as clients[%d] %s keys[%d]", p.client, quoteID(f.Clients[p.client].ID), p.key)}
			}
			keys[key] = place{i, k}
		}
		var seen [core.MaxQuotas]int
		for k, q := range c.Quotas {
			field := fmt.Sprintf("quotas[%d]", k)
			if err := q.Validate(); err != nil {
				return nil, &Error{Index: i, ID: c.ID, Field: field, Err: err}
			}
			if j := seen[q.Period]; j > 0 {
				return nil, &Error{Index: i, ID: c.ID, Field: field + ".period", Err: fmt.Errorf("a second %q quota (the first is quotas[%d]); a client has at most one quota per period", q.Period, j-1)}
			}
			seen[q.Period] = k + 1
		}
	}
	index := make(map[[sha256.Size]byte]string, len(keys))
	for key, p := range keys {
		index[sha256.Sum256([]byte(key))] = f.Clients[p.client].ID
	}
	return index, nil
}

// MarshalJSON writes the file in the format [Parse] reads: limits exactly,
// -1 for unlimited, each anchor as "start" in RFC 3339 with its offset and,
// when its zone is an IANA zone, "tz". It fails for a file that
// [File.Validate] refuses.
func (f *File) MarshalJSON() ([]byte, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(`{"clients":[`)
	for i, c := range f.Clients {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":`)
		writeString(&b, c.ID)
		b.WriteString(`,"keys":[`)
		for k, key := range c.Keys {
			if k > 0 {
				b.WriteByte(',')
			}
			writeString(&b, key)
		}
		b.WriteString(`],"quotas":[`)
		for k, q := range c.Quotas {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"period":"`)
			b.WriteString(q.Period.String())
			b.WriteString(`","limit":`)
			if q.Unlimited() {
				b.WriteString("-1")
			} else {
				lim, _ := q.Limit.AppendText(nil)
				b.Write(lim)
			}
			a := q.Anchor
			if a.IsZero() {
				a = core.DefaultAnchor
			}
			b.WriteString(`,"start":"`)
			b.WriteString(a.Format(time.RFC3339Nano))
			b.WriteByte('"')
			if tz, _ := zoneName(a.Location()); tz != "" {
				b.WriteString(`,"tz":`)
				writeString(&b, tz)
			}
			b.WriteByte('}')
		}
		b.WriteString("]}")
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}

// zoneName returns the "tz" that names loc, or "" for UTC and for a fixed
// offset without a name (as "start" gives it). Other locations must be
// IANA zones that [time.LoadLocation] finds by their name.
func zoneName(loc *time.Location) (string, error) {
	if loc == time.UTC || loc.String() == "" {
		return "", nil
	}
	if _, err := loadZone(loc.String()); err != nil {
		return "", err
	}
	return loc.String(), nil
}

func writeString(b *bytes.Buffer, s string) {
	j, _ := json.Marshal(s) // a string always encodes
	b.Write(j)
}
