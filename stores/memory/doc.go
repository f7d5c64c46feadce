// Package memory is an in-memory [core.Store]: fast, safe for concurrent
// use, and built on the standard library only. Use it in tests and in single
// instances that may lose usage on restart; use the bolt store to keep it.
//
// Each client holds one counter per period; a counter is replaced when its
// window ends, so the counters never grow with time. Day aggregates for
// reports are kept until deleted with [core.Billing.DeleteUsage].
//
//	b := core.New(memory.New())
package memory
