// Package snapshot writes a store's whole state to a file and reads it
// back into any store: live window counters, usage aggregates and
// idempotency keys, in one documented, versioned, store-neutral format. It
// moves usage exactly from one store to another (from the embedded bbolt
// file to Redis, PostgreSQL or MongoDB when an API outgrows one machine),
// and makes backups that restore anywhere.
//
//	n, err := snapshot.Write(ctx, f, boltStore)      // export
//	n, err := snapshot.Read(ctx, f, redisStore, nil) // import into an empty store
//
// Both stream: memory stays bounded whatever the state's size.
//
// # Format (version 1)
//
// JSON Lines, UTF-8, one object per line. The first line is the header;
// the last is the trailer, without which a file is incomplete and refused:
//
//	{"format":"apibilling-snapshot","version":1,"id":"8f1c...","created":"2026-12-03T10:00:00Z"}
//	{"kind":"window","client":"client1","period":"day","start":"2026-12-03T00:00:00Z","end":"2026-12-04T00:00:00Z","used":12.5,"fired":1}
//	{"kind":"usage","client":"client1","start":"2026-12-03T09:00:00Z","end":"2026-12-03T10:00:00Z","label":"/api/fetch-data","credits":7}
//	{"kind":"key","client":"client1","key":"order-42","label":"/api/fetch-data","cost":1,"at":"...","expires":"...",
//	 "bucket_start":"...","bucket_end":"...","windows":[{"period":"day","start":"...","end":"...","limit":500,"used":13}]}
//	{"kind":"end","records":3,"windows":1,"usage":1,"keys":1,"credits":7}
//
// Times are RFC 3339 with nanoseconds, in UTC. Amounts are exact decimal
// numbers of credits (up to six decimals); a limit of -1 is unlimited.
// Client IDs, labels and keys are JSON strings; one that is not valid
// UTF-8 is written base64-encoded under the same name with "_b64" appended
// ("client_b64"). "fired" holds the threshold bits of a window. The
// trailer counts the records of each kind and sums the usage aggregates'
// credits, so that a reader can check that it read everything. Readers
// refuse a version they do not know.
//
// The header's id names the export: importing the same file again into a
// store that an interrupted import of it left half-written resumes it
// (see [core.ImportOptions]).
package snapshot
