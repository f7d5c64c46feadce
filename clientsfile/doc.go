// Package clientsfile reads a JSON file of API clients, their keys and their
// quotas, and applies it to a [core.Billing]:
//
//	{"clients": [
//	  {"id": "client1", "keys": ["demo-key-1"],
//	   "quotas": [{"period": "day", "limit": 500, "start": "2022-01-01T00:00:00Z"},
//	              {"period": "month", "limit": 10000, "start": "2022-01-01T00:00:00Z"}]},
//	  {"id": "client2", "keys": ["demo-key-2"],
//	   "quotas": [{"period": "minute", "limit": 10, "start": "2022-01-01T00:00:00Z"},
//	              {"period": "day", "limit": -1, "start": "2022-01-01T00:00:00+10:00"}]}]}
//
// # Fields
//
// Each client has an "id" (a client ID as [core.ValidateClientID] accepts
// it), one or more "keys" (the API keys that identify it; a key belongs to
// one client only, and holds no spaces or control characters, since HTTP
// headers could not carry them) and "quotas", at most one per period. A
// client with no quotas is known but refused with [core.ErrNoQuotas].
//
// Each quota has:
//
//   - "period": second, minute, hour, day, week, month or year.
//   - "limit": credits per window, a JSON number written as a plain
//     decimal (500, 0.5); it is read exactly with [core.ParseCredits], the
//     one decimal rule of apibilling (digits past the sixth decimal are
//     rounded once, halves up; an amount that is not zero but rounds to
//     zero is refused), never as a float. -1 means unlimited.
//   - "start": optional, an RFC 3339 time at which one window starts: the
//     quota's anchor. Without "tz", the anchor's time zone is the fixed
//     offset written in "start" ("+10:00" makes day windows run from
//     midnight to midnight at UTC+10). Without "start", the anchor is
//     2001-01-01T00:00:00 (a Monday) in the quota's zone.
//   - "tz": optional, an IANA zone name such as "Europe/Berlin". The anchor
//     is then the instant "start" names, seen in that zone: calendar windows
//     (day, week, month, year) keep the anchor's wall-clock time in tz and
//     follow its DST changes. "start" still names an instant, so to anchor at
//     midnight in Berlin write the offset Berlin has on that date:
//     {"start": "2022-01-01T00:00:00+01:00", "tz": "Europe/Berlin"}.
//
// # Errors
//
// Anything unexpected is refused rather than guessed: unknown fields, a
// member given twice in one object ({"limit":5,"limit":-1}, which JSON
// decoders would silently read as its last value), trailing data, unknown
// periods, negative limits other than -1, limits in exponent notation, two
// quotas of one period, empty or duplicate keys, duplicate client IDs. A
// UTF-8 byte-order mark at the start of the file is skipped. Every error is an [*Error] that names the client
// (its index and, when known, its ID) and the field, for example:
//
//	clientsfile: clients[1] "client2": quotas[0].period: unknown period "dya" (want second, minute, hour, day, week, month or year)
//
// # Use
//
//	f, err := clientsfile.Load("clients.json")
//	if err != nil {
//		log.Fatal(err)
//	}
//	if err := f.Apply(billing); err != nil {
//		log.Fatal(err)
//	}
//	...
//	client, ok := f.ClientForKey(r.Header.Get("X-API-Key"))
//
// [LoadOrDemo] reads a file, or returns the demo file of the example
// applications ([Demo]) for an empty path. Keys are looked up by their
// SHA-256 digest, so that the time a look-up takes tells nothing about the
// keys; each IANA zone is loaded once per file, however many quotas name
// it.
package clientsfile
