package main

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/redis"
)

func redisOptions(prefix string) *redis.Options {
	return &redis.Options{Prefix: prefix, Timeout: 10 * time.Second, AdminTimeout: time.Minute}
}

// state generates the state of n clients at a time now, record by record,
// as a store's export would stream it, and knows each client's totals, so
// that a test checks a store against it without keeping the records.
//
// Client i has a day window (live at now) holding i%500+0.25 credits (none
// for every eleventh client), a
// month window for every third client, two usage aggregates in the hours
// before now (three for every fifth client, one of them under a label
// that is not valid UTF-8), and an idempotency key for every tenth
// client. A few clients have IDs that are awkward to carry: spaces,
// quotes, commas, newlines, bytes that are not UTF-8, and the longest ID
// allowed.
type state struct {
	n   int
	now time.Time
}

// ids returns client i's ID.
func (s state) id(i int) string {
	switch i {
	case 0:
		return "client, with \"quotes\"\nand a newline"
	case 1:
		return "\xff\xfe not utf-8"
	case 2:
		b := make([]byte, core.MaxClientIDLen)
		for j := range b {
			b[j] = 'a' + byte(j%26)
		}
		return string(b)
	}
	return fmt.Sprintf("client-%06d", i)
}

func (s state) day() (start, end int64) {
	d := s.now.UTC().Truncate(24 * time.Hour)
	return d.UnixNano(), d.Add(24 * time.Hour).UnixNano()
}

func (s state) month() (start, end int64) {
	y, m, _ := s.now.UTC().Date()
	a := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	return a.UnixNano(), a.AddDate(0, 1, 0).UnixNano()
}

func (s state) hour(k int) core.Span {
	h := s.now.UTC().Truncate(time.Hour).Add(-time.Duration(k) * time.Hour)
	return core.Span{Start: h.UnixNano(), End: h.Add(time.Hour).UnixNano()}
}

// records calls fn with every record of client i.
func (s state) records(i int, fn func(*core.Record)) {
	id := s.id(i)
	var rec core.Record
	ds, de := s.day()
	dayUsed := int64(i%500)*1_000_000 + 250_000
	if i%11 == 4 {
		dayUsed = 0 // a window refunded to nothing, or charged only zero costs
	}
	rec = core.Record{Kind: core.RecordWindow, Client: id, Period: core.Day, Start: ds, End: de, Used: dayUsed, Fired: uint8(i % 4)}
	fn(&rec)
	if i%3 == 0 {
		ms, me := s.month()
		rec = core.Record{Kind: core.RecordWindow, Client: id, Period: core.Month, Start: ms, End: me, Used: dayUsed * 7}
		fn(&rec)
	}
	labels := []string{"/api/fetch-data", "/api/fetch-expensive-data", "\xc3 bad label"}
	n := 2
	if i%5 == 0 {
		n = 3
	}
	for k := range n {
		h := s.hour(1 + k*7 + i%5)
		rec = core.Record{Kind: core.RecordUsage, Client: id, Start: h.Start, End: h.End, Label: labels[k], Used: int64(k+1)*1_000_000 + int64(i%7)*100_000}
		fn(&rec)
	}
	if i%10 == 0 {
		h := s.hour(1)
		kr := core.KeyRecord{Client: id, Key: fmt.Sprintf("order-%d", i), Label: labels[0], Cost: 1_000_000,
			At: h.Start, Expires: s.now.Add(23 * time.Hour).UnixNano(), Bucket: h, N: 1}
		kr.List[0] = core.Window{Period: core.Day, Start: ds, End: de, Limit: 1_000_000_000}
		kr.Used[0] = dayUsed
		rec = core.Record{Kind: core.RecordKey, Client: id, Key: kr}
		fn(&rec)
	}
}

// totals returns client i's totals (all windows live and keys unexpired
// until a day after now).
func (s state) totals(i int) totals {
	var t totals
	s.records(i, func(rec *core.Record) {
		switch rec.Kind {
		case core.RecordWindow:
			t.Windows++
			t.WindowUsed += creditsJSON(rec.Used)
		case core.RecordUsage:
			t.Usage++
			t.Credits += creditsJSON(rec.Used)
		case core.RecordKey:
			t.Keys++
		}
	})
	return t
}

// count returns the number of records.
func (s state) count() int64 {
	var n int64
	for i := range s.n {
		s.records(i, func(*core.Record) { n++ })
	}
	return n
}

// next returns a function that yields every record, then io.EOF.
func (s state) next() func() (*core.Record, error) {
	i := 0
	var buf []core.Record
	return func() (*core.Record, error) {
		for len(buf) == 0 {
			if i == s.n {
				return nil, io.EOF
			}
			s.records(i, func(rec *core.Record) { buf = append(buf, *rec) })
			i++
		}
		rec := &buf[0]
		buf = buf[1:]
		return rec, nil
	}
}

// fill imports the state into st, which must be empty.
func (s state) fill(t testing.TB, st core.Store) {
	t.Helper()
	if err := st.Import(context.Background(), s.next(), core.ImportOptions{}); err != nil {
		t.Fatalf("filling the store: %v", err)
	}
}

// check exports st and compares each client's totals with the state's,
// counting windows and keys live at the state's time.
func (s state) check(t testing.TB, st core.Store) {
	t.Helper()
	got := newTally(false)
	if err := st.Export(context.Background(), func(rec *core.Record) error { got.add(rec); return nil }); err != nil {
		t.Fatalf("exporting: %v", err)
	}
	if len(got.clients) != s.n {
		t.Errorf("the store holds %d clients, want %d", len(got.clients), s.n)
	}
	bad := 0
	for i := range s.n {
		want := s.totals(i)
		if g := got.clients[s.id(i)].totals(s.now.UnixNano()); g != want {
			if bad++; bad <= 5 {
				t.Errorf("client %q: totals %+v, want %+v", s.id(i), g, want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d clients differ", bad, s.n)
	}
}
