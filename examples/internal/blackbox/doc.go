// Package blackbox holds the black-box tests of the example applications.
// They build examples/gin, examples/echo, examples/fiber and
// examples/nethttp once, run them as separate processes on loopback, and
// check them from the outside:
//
//   - every route with both demo keys, the rate-limit headers, a 429, the
//     refund of a failed request, 400 and 401 answers, a 404 not charged,
//     Idempotency-Key replays (also after a restart), 422 and 400; a
//     restart on the same bbolt file that continues the usage exactly; a
//     second process on that file that exits with a clear error; and that
//     the four apps answer identically (TestExamples);
//
//   - the server limits: headers up to 8 KiB served, beyond 12 KiB 431
//     (TestExamplesHeaderLimit);
//
//   - a clients file of their own: a client without quotas (403) and a
//     malformed file refused at start-up (TestExamplesClientsFile);
//
//   - the four at once with -redis as instances of one API that share a
//     client's credits (TestExamplesShareRedis; skipped without a Redis
//     unless APIBILLING_REQUIRE_SERVICES=1).
//
//     go test ./examples/internal/blackbox
package blackbox
