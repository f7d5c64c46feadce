package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// isolationIDs are client IDs that a store keying its data by string
// concatenation, a separator, a hash tag or a C string could confuse:
// shared prefixes and suffixes, separators, braces, NUL, bytes that are not
// UTF-8, and IDs of the longest length.
func isolationIDs() []string {
	long := strings.Repeat("x", core.MaxClientIDLen)
	return []string{
		"a", "A", "ab", "a ", " a", "a:", ":a", "a:b", "a:b:c", "a::b",
		"{a}", "{a", "a}", "{a}:b", "{a}{b}", "a*", "a?", "a%", "a/b", "a\\b", "a\nb",
		"\x00", "a\x00", "a\x00b", "\x00a",
		"\xff", "\xff\xfe\xfd", "a\xc3", "\xc3\xa4", "a\u0308", // "ä" composed and decomposed
		"apibilling:a:minute", "a:minute", "a:day:0",
		long, long[:core.MaxClientIDLen-1], long[:core.MaxClientIDLen-1] + "y", "y" + long[1:],
		long[:core.MaxClientIDLen-1] + "\x00", long[:core.MaxClientIDLen-1] + "\xff",
	}
}

// testIsolation: each client's windows and aggregates are its own, however
// alike the IDs: deductions, refunds and deletions of one client leave every
// other client as it was.
func testIsolation(t *testing.T, e *env) {
	ids := isolationIDs()
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("storetest: client ID %q listed twice", id)
		}
		seen[id] = true
	}
	ws := []core.Window{e.window(core.Minute, 0, 1000*credit), e.window(core.Day, 0, unlimited)}
	cost := func(i int) int64 { return int64(i+1) * credit }
	for i, id := range ids {
		e.mustDeduct(t, op(id, "l", cost(i), e.day(0), ws...))
	}
	check := func(what string, skip map[int]bool) {
		t.Helper()
		for i, id := range ids {
			if skip[i] {
				continue
			}
			name := fmt.Sprintf("%s, client %d %q", what, i, id)
			e.wantUsage(t, name, id, ws, cost(i), cost(i))
			e.wantReportAll(t, name, id, records{rec(e.day(0), "l"): cost(i)})
		}
	}
	check("after deducting", nil)
	if t.Failed() {
		return
	}

	// Refund the first client and delete the usage of the second.
	if err := e.store.Refund(t.Context(), op(ids[0], "l", cost(0), e.day(0), ws...)); err != nil {
		t.Fatalf("Refund: %v", err)
	}
	n, err := e.store.Delete(t.Context(), deleteOp(ids[1], e.day(0).Start, e.day(1).Start, ws...))
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got, want := n, cost(1); got != want {
		t.Errorf("Delete(%q) = %v, want %v", ids[1], got, want)
	}
	for i := range 2 {
		e.wantUsage(t, "the refunded or deleted client", ids[i], ws, 0, 0)
		e.wantReportAll(t, "the refunded or deleted client", ids[i], records{})
	}
	check("after a refund and a deletion of others", map[int]bool{0: true, 1: true})

	// A full client does not refuse another.
	full := []core.Window{e.window(core.Hour, 0, credit)}
	for _, id := range ids {
		e.mustDeduct(t, op(id, "", credit, e.day(0), full...))
	}
}
