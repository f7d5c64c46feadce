// Package sqlbench compares the PostgreSQL and MySQL stores of apibilling
// with a naive transaction against the same tables of the same server, in
// one run: deductions per second and the 99th percentile latency, at 1, 16
// and 64 concurrent goroutines, each charging a client of its own (own) or
// all charging one client (one).
//
//	go test -run '^$' -bench . -benchtime 2000x ./sqlbench/
//
// apibilling is core.Billing on the store: one round trip, one call of
// the store's function or procedure, which charges a day and an unlimited
// month window and the hour aggregate; on PostgreSQL, concurrent charges
// are sent together, one call of the batch function and one commit (the
// store's group commit), and apibilling-nogroup is the store with
// Options.NoGroupCommit, one call and one commit per charge. naive does the same work the way an
// application might write it by hand: BEGIN; SELECT the client's window
// rows FOR UPDATE; check the limit; UPDATE them; upsert the hour
// aggregate; COMMIT: five round trips, holding the row locks over four.
// Its statements are prepared (pgx caches them by itself; on MySQL they
// are prepared once); on MySQL, naive-unprepared sends them as
// database/sql does a query with arguments by default, each prepared,
// executed and closed.
//
// The servers come from APIBILLING_POSTGRES_URL (default
// postgres://postgres@127.0.0.1:5432/test) and APIBILLING_MYSQL_DSN
// (default root@tcp(127.0.0.1:3306)/test); without a reachable server the
// benchmarks skip, unless APIBILLING_REQUIRE_SERVICES=1. Tables are
// created in a fresh schema (PostgreSQL) or under a fresh prefix (MySQL)
// and dropped afterwards. Each variant opens a pool of as many
// connections as goroutines.
package sqlbench
