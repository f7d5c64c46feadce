// Command apibilling operates the usage store of an API billed with
// apibilling, without writing Go: it exports usage for invoicing, lists
// the clients' quota status, checks and backs up the embedded bbolt file,
// and copies a store's whole state to another store when an API outgrows
// one machine.
//
//	go install github.com/frappy-go/apibilling/cmd/apibilling@latest
//
// Usage:
//
//	apibilling <command> [flags]
//
// The commands:
//
//	usage    -store URL -from DATE -to DATE [-tz ZONE] [-client ID] [-format csv|json|table]
//	         usage per client, day and route: the usage API's invoicing CSV, byte for byte
//	clients  -store URL -clients FILE [-format table|json|csv]
//	         each client's quotas: limit, used, remaining, window start and renewal
//	check    [-format text|json] FILE...
//	         a bbolt file's integrity, format version and record counts
//	backup   -db FILE -o OUT | -api URL [-token T] -o OUT
//	         a checked copy of a bbolt file, offline or from a running app
//	export   -store URL -o FILE
//	         a store's whole state to a snapshot file (package snapshot)
//	import   -store URL -i FILE [-merge]
//	         a snapshot file into a store
//	migrate  -from URL -to URL [-merge] [-format table|csv|json] [-summary]
//	         a store's whole state into another, compared client by client
//
// "apibilling help <command>" and "apibilling <command> -h" describe each
// command and its flags in full.
//
// # Stores
//
// Stores are named by URL, as the package
// github.com/frappy-go/apibilling/storeurl reads them: a bbolt file path
// (or bolt:PATH), redis://HOST:PORT/DB, postgres://..., mysql://DSN and
// mongodb://... (when the build has the MongoDB store). -prefix (-from-prefix,
// -to-prefix) gives the key or table prefix of a Redis, PostgreSQL or MySQL
// store whose app sets one. A bbolt file that a command only reads must
// exist; a running app holds its file locked, so read a copy (backup -api).
// Passwords in URLs are never printed.
//
// # Output and exit status
//
// Results go to stdout, for people by default (aligned tables) and for
// scripts with -format json or csv; messages and progress go to stderr:
// a progress bar when stderr is a terminal, a plain line every 5 seconds
// otherwise (-progress auto|bar|log|none). The exit status is 0 when the
// command did its work, 1 when it failed (a damaged file, a migration whose
// totals differ, a store that failed), and 2 for a command line that cannot
// be run; every error says what to do about it.
//
// # Migrations
//
// migrate reads the source once to count its records and fingerprint its
// usage aggregates, streams the source's export into the target's import,
// then reads the target back and compares, per client, the live window
// counters (number and credits), the usage aggregates (number and credits)
// and the idempotency keys. It refuses a target that is not empty unless
// -merge is given. The import runs under an ID derived from both stores and
// the fingerprint, so running the same command after an interruption
// (Ctrl-C, a failure) resumes it exactly; if the source changed in between,
// the run is refused until the target is emptied. Stop the app before
// migrating (or point it at the target): usage charged in the source after
// it was read is not copied, and a source that changes during the
// migration fails it. An interrupted -merge cannot be finished exactly and
// is refused when run again: restore the target from its backup.
package main
