package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// anyLabels are labels of any bytes up to core.MaxLabelLen: empty, NUL,
// bytes that are not UTF-8, separators, and the longest, of every byte
// value.
func anyLabels() []string {
	var every strings.Builder
	for b := range 256 {
		every.WriteByte(byte(b))
	}
	all := every.String()
	return []string{
		"", "\x00", "\x00\x00", "a\x00", "\x00a", "\xff", "\xc3\x28", "\xed\xa0\x80", "a:b", "{a}", "%s", "\n", " ",
		all[:core.MaxLabelLen], strings.Repeat("\x00", core.MaxLabelLen), strings.Repeat("\xff", core.MaxLabelLen),
		strings.Repeat("l", core.MaxLabelLen-1) + "\x00",
	}
}

// anyKey is the longest idempotency key, of every visible ASCII character.
func anyKey() string {
	var b strings.Builder
	for b.Len() < core.MaxKeyLen {
		b.WriteByte(byte(0x21 + b.Len()%(0x7f-0x21)))
	}
	return b.String()
}

// testAnyBytes: labels of any bytes up to core.MaxLabelLen and client IDs
// of any bytes up to core.MaxClientIDLen (those of ClientIsolation) are
// kept exactly: each label has its own aggregate, Report returns the bytes
// as charged, Export writes them, and Import into a new store reproduces
// the reports, counters and keys (the longest key of every visible ASCII
// character included).
func testAnyBytes(t *testing.T, e *env) {
	labels := anyLabels()
	ids := isolationIDs()
	w := e.window(core.Day, 0, unlimited)
	h := e.hourOf(0)
	key := anyKey()
	want := map[string]records{}
	charge := func(client, label string, cost int64, k string) {
		t.Helper()
		o := op(client, label, cost, h, w)
		if k != "" {
			keyed(o, k)
		}
		wantCharged(t, fmt.Sprintf("Deduct(%q, %q)", client, label), e.mustDeduct(t, o))
		if want[client] == nil {
			want[client] = records{}
		}
		want[client][rec(h, label)] += cost
	}
	for i, l := range labels {
		charge("labels", l, int64(i+1)*credit, "")
	}
	for i, id := range ids {
		charge(id, labels[i%len(labels)], int64(i+1), key)
		charge(id, labels[(i+7)%len(labels)], int64(i+1)*10, "")
	}
	for client, recs := range want {
		e.wantReport(t, "as charged", client, h.Start, h.End, recs)
	}
	if t.Failed() {
		return
	}
	st := exportState(t, e.store)
	for client, recs := range want {
		for k, v := range recs {
			if r := usageRec(client, h, k.Label, v); !st[r] {
				t.Errorf("the export lacks %s", fmtRecord(&r))
			}
		}
	}
	for _, id := range ids {
		found := false
		for r := range st {
			found = found || r.Kind == core.RecordKey && r.Client == id && r.Key.Key == key
		}
		if !found {
			t.Errorf("the export lacks the key of client %q", id)
		}
	}
	RoundTrip(t, e.store, e.fresh(t))
}
