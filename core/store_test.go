package core_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// The rules every store implements, written once in the core.

func TestWindowRules(t *testing.T) {
	t.Parallel()
	w := core.Window{Limit: 10, Levels: [core.MaxLevels]int64{5, 10}}
	fits := []struct {
		used, cost int64
		want       bool
	}{
		{0, 10, true}, {0, 11, false}, {9, 1, true}, {10, 1, false}, {10, 0, true}, {50, 0, true}, {50, 1, false},
	}
	for _, tt := range fits {
		if got := w.Fits(tt.used, tt.cost); got != tt.want {
			t.Errorf("Fits(%d, %d) = %v, want %v", tt.used, tt.cost, got, tt.want)
		}
	}
	unlimited := core.Window{Limit: -1}
	if !unlimited.Unlimited() || !unlimited.Fits(core.MaxUsage, maxMicro) || w.Unlimited() {
		t.Error("an unlimited window refuses, or a limited one is unlimited")
	}
	max := core.Window{Limit: maxMicro}
	if !max.Fits(0, maxMicro) || max.Fits(1, maxMicro) {
		t.Error("Fits at MaxCredits is wrong")
	}
	reached := []struct {
		used  int64
		fired uint8
		want  uint8
	}{
		{4, 0, 0}, {5, 0, 1}, {9, 0, 1}, {10, 0, 3}, {10, 1, 2}, {10, 3, 0}, {100, 2, 1},
	}
	for _, tt := range reached {
		if got := w.Reached(tt.used, tt.fired); got != tt.want {
			t.Errorf("Reached(%d, %b) = %b, want %b", tt.used, tt.fired, got, tt.want)
		}
	}
	for _, tt := range []struct {
		used, cost int64
		want       bool
	}{{0, maxMicro, false}, {core.MaxUsage - 5, 5, false}, {core.MaxUsage - 5, 6, true}, {core.MaxUsage, 0, false}, {core.MaxUsage, 1, true}} {
		if got := core.Overflows(tt.used, tt.cost); got != tt.want {
			t.Errorf("Overflows(%d, %d) = %v, want %v", tt.used, tt.cost, got, tt.want)
		}
	}
}

func TestMergeRules(t *testing.T) {
	t.Parallel()
	held := core.WindowState{Start: 100, End: 200, Used: 7, Fired: 1, Held: true}
	rec := func(start, used int64, fired uint8) *core.Record {
		return &core.Record{Kind: core.RecordWindow, Client: "c", Period: core.Day, Start: start, End: start + 100, Used: used, Fired: fired}
	}
	tests := []struct {
		name  string
		cur   core.WindowState
		rec   *core.Record
		merge bool
		want  core.WindowState
	}{
		{"into nothing", core.WindowState{}, rec(100, 3, 2), true, core.WindowState{Start: 100, End: 200, Used: 3, Fired: 2, Held: true}},
		{"same window adds", held, rec(100, 3, 2), true, core.WindowState{Start: 100, End: 200, Used: 10, Fired: 3, Held: true}},
		{"same window capped", held, rec(100, core.MaxUsage, 0), true, core.WindowState{Start: 100, End: 200, Used: core.MaxUsage, Fired: 1, Held: true}},
		{"later window replaces", held, rec(200, 3, 0), true, core.WindowState{Start: 200, End: 300, Used: 3, Held: true}},
		{"earlier window dropped", held, rec(0, 3, 2), true, held},
		{"without merge replaces", held, rec(0, 3, 2), false, core.WindowState{Start: 0, End: 100, Used: 3, Fired: 2, Held: true}},
	}
	for _, tt := range tests {
		if got := core.MergeWindow(tt.cur, tt.rec, tt.merge); got != tt.want {
			t.Errorf("%s: MergeWindow = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if got := core.MergeUsage(5, 7, true); got != 12 {
		t.Errorf("MergeUsage(5, 7, merge) = %d, want 12", got)
	}
	if got := core.MergeUsage(5, 7, false); got != 7 {
		t.Errorf("MergeUsage(5, 7) = %d, want 7", got)
	}
	if got := core.MergeUsage(core.MaxUsage-1, 7, true); got != core.MaxUsage {
		t.Errorf("MergeUsage near MaxUsage = %d, want MaxUsage", got)
	}
}

// sampleRecord is the record of a keyed charge of three windows.
func sampleRecord() core.KeyRecord {
	op := core.Op{Client: "client\x00é", Label: "/api/{id}", Cost: 2_500_000, Bucket: core.Span{Start: -3600e9, End: 0},
		At: -1, Key: "order-7f3a", KeyExpires: math.MaxInt64, N: 3}
	op.List[0] = core.Window{Period: core.Second, Start: -1e9, End: 0, Limit: 5, Levels: [core.MaxLevels]int64{1, 2}}
	op.List[1] = core.Window{Period: core.Day, Start: math.MinInt64, End: math.MaxInt64, Limit: -1}
	op.List[2] = core.Window{Period: core.Year, Start: 1, End: 2, Limit: maxMicro}
	return op.Record(&[core.MaxQuotas]int64{3, core.MaxUsage, 0})
}

func TestKeyRecord(t *testing.T) {
	t.Parallel()
	r := sampleRecord()
	if r.Client != "client\x00é" || r.Key != "order-7f3a" || r.Cost != 2_500_000 || r.Expires != math.MaxInt64 || r.N != 3 || r.Used[1] != core.MaxUsage {
		t.Errorf("Op.Record = %+v", r)
	}
	if r.List[0].Levels != ([core.MaxLevels]int64{}) {
		t.Errorf("a record keeps alert levels: %+v", r.List[0])
	}
	if got := len(r.Windows()); got != 3 {
		t.Errorf("Windows() has %d windows, want 3", got)
	}
	op := r.Op()
	if op.Client != r.Client || op.Key != r.Key || op.Cost != r.Cost || op.Label != r.Label || op.Bucket != r.Bucket || op.At != r.At ||
		op.KeyExpires != r.Expires || op.N != 3 || op.List[2] != r.List[2] || len(op.Windows()) != 3 {
		t.Errorf("KeyRecord.Op = %+v", op)
	}
	if !r.Matches(&op) {
		t.Error("a record does not match its own op")
	}
	for _, other := range []core.Op{{Cost: op.Cost + 1, Label: op.Label}, {Cost: op.Cost, Label: op.Label + "x"}} {
		if r.Matches(&other) {
			t.Errorf("record matches %+v", other)
		}
	}

	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	prefixed, _ := r.AppendBinary([]byte("xyz"))
	if !bytes.Equal(prefixed[3:], b) || string(prefixed[:3]) != "xyz" {
		t.Error("AppendBinary does not append what MarshalBinary returns")
	}
	var back core.KeyRecord
	if err := back.UnmarshalBinary(b); err != nil || back != r {
		t.Fatalf("UnmarshalBinary = %+v, %v; want %+v", back, err, r)
	}
	// Every truncation, a trailing byte, another version or a bad period is refused.
	for i := range len(b) {
		var x core.KeyRecord
		if err := x.UnmarshalBinary(b[:i]); err == nil {
			t.Errorf("UnmarshalBinary of %d of %d bytes succeeded", i, len(b))
		}
	}
	for _, bad := range [][]byte{append(bytes.Clone(b), 0), append([]byte{2}, b[1:]...), nil} {
		x := core.KeyRecord{Key: "kept"}
		if err := x.UnmarshalBinary(bad); err == nil || x.Key != "kept" {
			t.Errorf("UnmarshalBinary(% x) = %v, record %+v", bad, err, x)
		}
	}
	r.List[0].Period = core.Period(9)
	if bb, _ := r.MarshalBinary(); new(core.KeyRecord).UnmarshalBinary(bb) == nil {
		t.Error("UnmarshalBinary accepted an unknown period")
	}
}

// FuzzKeyRecordUnmarshal: decoding stored bytes never panics, and what it
// decodes encodes and decodes back to the same record.
func FuzzKeyRecordUnmarshal(f *testing.F) {
	r := sampleRecord()
	b, _ := r.MarshalBinary()
	f.Add(b)
	f.Add([]byte{1})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 8})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r core.KeyRecord
		if err := r.UnmarshalBinary(b); err != nil {
			return
		}
		if r.N < 0 || r.N > core.MaxQuotas {
			t.Fatalf("decoded %d windows", r.N)
		}
		again, _ := r.MarshalBinary()
		var back core.KeyRecord
		if err := back.UnmarshalBinary(again); err != nil || back != r {
			t.Fatalf("re-encoded record decodes as %+v, %v; want %+v", back, err, r)
		}
	})
}

func TestPeriodText(t *testing.T) {
	t.Parallel()
	for p := core.Second; p <= core.Year; p++ {
		text, err := p.MarshalText()
		if err != nil || string(text) != p.String() {
			t.Errorf("%v.MarshalText() = %q, %v", p, text, err)
		}
		for _, s := range []string{p.String(), strings.ToUpper(p.String())} {
			var q core.Period
			if err := q.UnmarshalText([]byte(s)); err != nil || q != p {
				t.Errorf("UnmarshalText(%q) = %v, %v; want %v", s, q, err, p)
			}
		}
		if !p.Valid() || p.Nominal() <= 0 {
			t.Errorf("%v: Valid %v, Nominal %v", p, p.Valid(), p.Nominal())
		}
	}
	bad := core.Period(core.MaxQuotas)
	if _, err := bad.MarshalText(); err == nil || bad.Valid() || bad.String() != "Period(7)" || bad.Nominal() != 0 {
		t.Errorf("Period(7): MarshalText error %v, Valid %v, String %q", err, bad.Valid(), bad.String())
	}
	for _, s := range []string{"", "days", "fortnight", " day"} {
		q := core.Week
		if err := q.UnmarshalText([]byte(s)); err == nil || q != core.Week {
			t.Errorf("UnmarshalText(%q) = %v, %v; want an error and no change", s, q, err)
		}
	}
	var set core.PeriodSet
	set = set.Add(core.Month).Add(core.Second).Add(core.Month)
	if got := set.String(); got != "second,month" || !set.Has(core.Month) || set.Has(core.Day) || set.Has(core.Period(9)) {
		t.Errorf("PeriodSet = %s", got)
	}
	if got := core.PeriodSet(0).String(); got != "" {
		t.Errorf("empty PeriodSet = %q", got)
	}
}

// TestStoreErrorWrapping: a store error that already wraps
// ErrStoreUnavailable (and ErrOutcomeUnknown) is returned as it is.
func TestStoreErrorWrapping(t *testing.T) {
	t.Parallel()
	lost := errors.Join(core.ErrStoreUnavailable, core.ErrOutcomeUnknown, context.DeadlineExceeded)
	b := core.New(&failingStore{err: lost}, core.WithClock(newFakeClock(testStart).Now))
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(1)})
	_, err := b.Charge(context.Background(), core.Charge{Client: "c", Cost: core.Whole(1), IdempotencyKey: "k"})
	if err != lost {
		t.Errorf("Charge = %v, want the store's error as it is", err)
	}
	if !errors.Is(err, core.ErrOutcomeUnknown) || !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Charge = %v, want ErrOutcomeUnknown within ErrStoreUnavailable", err)
	}
	if got := b.Store(); got == nil {
		t.Error("Store() = nil")
	}
	if got := b.Now(); !got.Equal(testStart) {
		t.Errorf("Now() = %s, want the clock's %s", got, testStart)
	}
}
