package storetest

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// state is a store's exported state as a set: each record once, holding
// only the fields its kind documents. Window counters that hold nothing
// (no usage, no threshold bits) and usage aggregates of zero credits are
// left out, since a store may keep or drop a counter that a refund or a
// deletion took back to zero.
type state map[core.Record]bool

// normalize returns the fields of r that its kind documents, and whether r
// is part of a state.
func normalize(r *core.Record) (core.Record, bool) {
	switch r.Kind {
	case core.RecordWindow:
		n := core.Record{Kind: r.Kind, Client: r.Client, Period: r.Period, Start: r.Start, End: r.End, Used: r.Used, Fired: r.Fired}
		return n, n.Used != 0 || n.Fired != 0
	case core.RecordUsage:
		n := core.Record{Kind: r.Kind, Client: r.Client, Start: r.Start, End: r.End, Label: r.Label, Used: r.Used}
		return n, n.Used != 0
	default:
		return core.Record{Kind: r.Kind, Client: r.Client, Key: r.Key}, true
	}
}

// recordID identifies a record within a store's state: a window counter by
// client and period, a usage aggregate by client, hour and label, a key by
// client and key.
type recordID struct {
	kind   core.RecordKind
	client string
	period core.Period
	start  int64
	label  string
}

func idOf(r *core.Record) recordID {
	switch r.Kind {
	case core.RecordWindow:
		return recordID{kind: r.Kind, client: r.Client, period: r.Period}
	case core.RecordUsage:
		return recordID{kind: r.Kind, client: r.Client, start: r.Start, label: r.Label}
	default:
		return recordID{kind: r.Kind, client: r.Client, label: r.Key.Key}
	}
}

// checkRecord returns what is wrong with an exported record, or "".
func checkRecord(r *core.Record) string {
	switch r.Kind {
	case core.RecordWindow:
		switch {
		case !r.Period.Valid():
			return "a window counter of no valid period"
		case r.Start >= r.End:
			return "a window counter that ends before it starts"
		case r.Used < 0:
			return "a window counter below zero"
		case r.Fired>>core.MaxLevels != 0:
			return "a window counter with threshold bits beyond MaxLevels"
		}
	case core.RecordUsage:
		switch {
		case r.Start >= r.End:
			return "a usage aggregate that ends before it starts"
		case r.Used < 0:
			return "a usage aggregate below zero"
		}
	case core.RecordKey:
		k := &r.Key
		switch {
		case k.Client != r.Client:
			return fmt.Sprintf("a key record of client %q in a record of client %q", k.Client, r.Client)
		case k.Key == "":
			return "a key record without a key"
		case k.N < 0 || k.N > core.MaxQuotas:
			return "a key record with a bad number of windows"
		case k.Cost < 0:
			return "a key record of a negative cost"
		}
	default:
		return fmt.Sprintf("a record of unknown kind %d", r.Kind)
	}
	return ""
}

// exportState exports s and returns its state. It fails the test on an
// error, on a record that is not valid and on two records of one window
// counter, aggregate or key.
func exportState(t testing.TB, s core.Store) state {
	t.Helper()
	return checkExport(t, exportRecords(t, s))
}

// checkExport returns the state of exported records. It fails the test on
// a record that is not valid and on two records of one window counter,
// aggregate or key.
func checkExport(t testing.TB, recs []core.Record) state {
	t.Helper()
	st := state{}
	seen := map[recordID]bool{}
	bad := 0
	fail := func(msg string, r *core.Record) {
		if bad++; bad <= 5 {
			t.Errorf("Export: %s: %s", msg, fmtRecord(r))
		}
	}
	for i := range recs {
		r := &recs[i]
		if msg := checkRecord(r); msg != "" {
			fail(msg, r)
		}
		id := idOf(r)
		if seen[id] {
			fail("two records of one counter, aggregate or key", r)
		}
		seen[id] = true
		if n, ok := normalize(r); ok {
			st[n] = true
		}
	}
	return st
}

// exportRecords exports s and returns its records as they came, in order.
func exportRecords(t testing.TB, s core.Store) []core.Record {
	t.Helper()
	var recs []core.Record
	if err := s.Export(t.Context(), func(r *core.Record) error {
		recs = append(recs, *r)
		return nil
	}); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return recs
}

// records returns the state's records in a stable order.
func (st state) records() []core.Record {
	out := make([]core.Record, 0, len(st))
	for r := range st {
		out = append(out, r)
	}
	slices.SortFunc(out, compareRecords)
	return out
}

func compareRecords(a, b core.Record) int {
	return cmp.Or(
		cmp.Compare(a.Kind, b.Kind),
		strings.Compare(a.Client, b.Client),
		cmp.Compare(a.Period, b.Period),
		cmp.Compare(a.Start, b.Start),
		strings.Compare(a.Label, b.Label),
		strings.Compare(a.Key.Key, b.Key.Key),
		cmp.Compare(a.Used, b.Used),
	)
}

// diff returns the records of want missing from got and those of got not
// in want, one per line, or "" when the states are equal.
func diff(got, want state) string {
	var b strings.Builder
	n := 0
	line := func(sign string, r *core.Record) {
		if n++; n <= 20 {
			fmt.Fprintf(&b, "\n\t%s %s", sign, fmtRecord(r))
		}
	}
	for _, r := range want.records() {
		if !got[r] {
			line("missing:", &r)
		}
	}
	for _, r := range got.records() {
		if !want[r] {
			line("extra:  ", &r)
		}
	}
	if n > 20 {
		fmt.Fprintf(&b, "\n\t... and %d more", n-20)
	}
	return b.String()
}

// wantState checks that s exports exactly want.
func wantState(t testing.TB, what string, s core.Store, want state) {
	t.Helper()
	if d := diff(exportState(t, s), want); d != "" {
		t.Errorf("%s: the exported state differs (-missing +extra):%s", what, d)
	}
}

// fmtTime formats Unix nanoseconds for messages.
func fmtTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.999999999Z")
}

// fmtRecord formats a record for messages.
func fmtRecord(r *core.Record) string {
	switch r.Kind {
	case core.RecordWindow:
		return fmt.Sprintf("window{%s %v %s..%s used %d fired %04b}", fmtLabel(r.Client), r.Period, fmtTime(r.Start), fmtTime(r.End), r.Used, r.Fired)
	case core.RecordUsage:
		return fmt.Sprintf("usage{%s %s..%s %s %d}", fmtLabel(r.Client), fmtTime(r.Start), fmtTime(r.End), fmtLabel(r.Label), r.Used)
	case core.RecordKey:
		return fmt.Sprintf("key{%s %s}", fmtLabel(r.Client), fmtKey(&r.Key))
	}
	return fmt.Sprintf("record{kind %d %s}", r.Kind, fmtLabel(r.Client))
}

// fmtKey formats a key record for messages.
func fmtKey(k *core.KeyRecord) string {
	if k == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "{client %s key %s label %s cost %d at %s expires %s bucket %s..%s windows [",
		fmtLabel(k.Client), fmtLabel(k.Key), fmtLabel(k.Label), k.Cost, fmtTime(k.At), fmtTime(k.Expires), fmtTime(k.Bucket.Start), fmtTime(k.Bucket.End))
	for i := range min(max(k.N, 0), core.MaxQuotas) {
		w := &k.List[i]
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%v %s..%s limit %d used %d", w.Period, fmtTime(w.Start), fmtTime(w.End), w.Limit, k.Used[i])
		if w.Levels != [core.MaxLevels]int64{} {
			fmt.Fprintf(&b, " levels %v", w.Levels)
		}
	}
	b.WriteString("]}")
	return b.String()
}

// importRecords imports recs into s with opts, in order, each as a copy.
func importRecords(ctx context.Context, s core.Store, recs []core.Record, opts core.ImportOptions) error {
	return s.Import(ctx, recordsThen(recs, io.EOF), opts)
}

// recordsThen returns a next function for Import that returns a copy of
// each of recs, then end for ever.
func recordsThen(recs []core.Record, end error) func() (*core.Record, error) {
	i := 0
	return func() (*core.Record, error) {
		if i >= len(recs) {
			return nil, end
		}
		r := recs[i]
		i++
		return &r, nil
	}
}

// windowRec returns a window counter record.
func windowRec(client string, w core.Window, used int64, fired uint8) core.Record {
	return core.Record{Kind: core.RecordWindow, Client: client, Period: w.Period, Start: w.Start, End: w.End, Used: used, Fired: fired}
}

// usageRec returns a usage aggregate record.
func usageRec(client string, h core.Span, label string, used int64) core.Record {
	return core.Record{Kind: core.RecordUsage, Client: client, Start: h.Start, End: h.End, Label: label, Used: used}
}

// keyRec returns a key record.
func keyRec(k core.KeyRecord) core.Record {
	return core.Record{Kind: core.RecordKey, Client: k.Client, Key: k}
}
