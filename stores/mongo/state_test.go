package mongo

import (
	"reflect"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestStateCodec: a state written as a document reads back equal, every
// field and odd bytes included.
func TestStateCodec(t *testing.T) {
	rec := core.KeyRecord{Client: "a\x00b", Key: "k|1", Label: "l.$", Cost: 3, At: 10, Expires: 20,
		Bucket: core.Span{Start: 0, End: 3600}, N: 1}
	rec.List[0] = core.Window{Period: core.Day, Start: -5, End: 100, Limit: -1}
	rec.Used[0] = 7
	st := &state{
		hours: []bucket{
			{start: -7200, end: -3600, labels: []labelCount{{"", 1}, {"\xff.$|", core.MaxUsage}}},
			{start: 0, end: 3600, labels: []labelCount{{"/a", 2}}},
		},
		lh: 0, hasLH: true, lo: -3, hi: -1, arch: true,
		facts: []fact{
			{id: 1, day: -1, kind: factAdd, entries: []factEntry{{-90000, -86400, "x\x00", 5}}},
			{id: 2, day: -2, kind: factClear, from: -200000, to: -100000},
		},
		keys: []keyEntry{{id: 3, gen: 2, rec: rec}, {id: 4, gen: 1, dead: true, rec: core.KeyRecord{Client: "a\x00b", Key: "k|1", Expires: 20}}},
		ck:   []checkpoint{{8, 100}, {16, 200}},
	}
	st.win[core.Minute] = slot{start: 60, end: 120, used: 5, fired: 0b101, held: true}
	st.win[core.Year] = slot{start: -1 << 62, end: 1 << 62, used: core.MaxUsage, held: true}
	b, err := bson.Marshal(appendState(bson.D{{Key: "_id", Value: "x"}}, st))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Errorf("decoded\n\t%+v\nwant\n\t%+v", got, st)
	}
	if !reflect.DeepEqual(st.clone(), st) {
		t.Error("clone differs")
	}
}

// TestFold: the facts of a day fold in order: adds cap at MaxUsage,
// subtractions floor at zero, sets replace, clears remove a range.
func TestFold(t *testing.T) {
	e := func(start int64, label string, n int64) []factEntry { return []factEntry{{start, start + 1, label, n}} }
	a := dayAgg{}
	for _, f := range []fact{
		{kind: factAdd, entries: e(1, "a", 5)},
		{kind: factAdd, entries: e(1, "a", core.MaxUsage)},
		{kind: factAdd, entries: e(2, "b", 3)},
		{kind: factSub, entries: e(2, "b", 10)},
		{kind: factAdd, entries: e(3, "c", 4)},
		{kind: factSet, entries: e(3, "c", 9)},
		{kind: factAdd, entries: e(5, "d", 1)},
		{kind: factClear, from: 3, to: 5},
	} {
		a.apply(&f)
	}
	want := dayAgg{{1, "a"}: {2, core.MaxUsage}, {2, "b"}: {3, 0}, {5, "d"}: {6, 1}}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("fold = %v, want %v", a, want)
	}
}

// TestDayOf: days are UTC days, before 1970 too.
func TestDayOf(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want int64
	}{
		{time.Unix(0, 0), 0},
		{time.Unix(0, 0).Add(-1), -1},
		{time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC), 1},
		{time.Date(1969, 12, 30, 23, 0, 0, 0, time.UTC), -2},
	} {
		if got := dayOf(c.t.UnixNano()); got != c.want {
			t.Errorf("dayOf(%v) = %d, want %d", c.t, got, c.want)
		}
	}
}
