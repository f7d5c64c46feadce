package mongo

import (
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestLayout: Auto picks Versions on FerretDB and Updates elsewhere; the
// layout is recorded in the database, and a store in the other layout is
// refused with an error that names the fix; the Versions layout checks its
// horizon against the timeout.
func TestLayout(t *testing.T) {
	c := newClient(t)
	s := newStore(t, c, nil)
	want := Updates
	if onFerretDB(t) {
		want = Versions
	}
	if s.Layout() != want {
		t.Errorf("Auto picked %s, want %s", s.Layout(), want)
	}
	other := Updates
	if want == Updates {
		other = Versions
	}
	_, err := New(t.Context(), c, &Options{Database: s.Database().Name(), Layout: other})
	if err == nil || !strings.Contains(err.Error(), "Options.Layout") {
		t.Errorf("New in the %s layout on a %s database: %v, want an error naming Options.Layout", other, want, err)
	}
	again, err := New(t.Context(), c, &Options{Database: s.Database().Name(), Layout: want})
	if err != nil {
		t.Errorf("New in the recorded layout: %v", err)
	} else {
		again.Close()
	}
	if _, err := New(t.Context(), c, &Options{Database: testDatabase(), Layout: Versions, Timeout: time.Minute, Horizon: time.Minute}); err == nil {
		t.Error("New with a horizon below four timeouts succeeded")
	}
}

// TestKeysPruned: key records (and refund marks) an hour past their expiry
// are deleted; live ones stay and still replay.
func TestKeysPruned(t *testing.T) {
	c := newClient(t)
	for _, l := range []Layout{Updates, Versions} {
		t.Run(l.String(), func(t *testing.T) {
			s := newStore(t, c, &Options{Layout: l, PruneEvery: -1})
			now := time.Now().UnixNano()
			h := core.Span{Start: now - now%int64(time.Hour), End: now - now%int64(time.Hour) + int64(time.Hour)}
			w := core.Window{Period: core.Day, Start: h.Start, End: h.Start + 24*int64(time.Hour), Limit: -1}
			charge := func(key string, expires int64) *core.Op {
				o := &core.Op{Client: "c", Label: "l", Cost: 1, Bucket: h, At: now, Key: key, KeyExpires: expires, N: 1}
				o.List[0] = w
				if res, err := s.Deduct(t.Context(), o); err != nil || !res.OK || res.Replayed {
					t.Fatalf("Deduct(%q): OK %v Replayed %v, %v", key, res.OK, res.Replayed, err)
				}
				return o
			}
			charge("old", now+int64(time.Minute))
			refunded := charge("refunded", now+int64(time.Minute))
			if err := s.Refund(t.Context(), refunded); err != nil {
				t.Fatal(err)
			}
			live := charge("live", now+3*int64(time.Hour))
			// One more change writes out what is pending.
			charge("another", now+3*int64(time.Hour))
			if err := s.pruneKeys(t.Context(), now+2*int64(time.Hour)); err != nil {
				t.Fatal(err)
			}
			var keys []string
			cur, err := s.keys.Find(t.Context(), bson.D{})
			if err != nil {
				t.Fatal(err)
			}
			for cur.Next(t.Context()) {
				k, _ := cur.Current.Lookup("k").StringValueOK()
				keys = append(keys, k)
			}
			for _, k := range keys {
				if k == "old" || k == "refunded" {
					t.Errorf("the record or mark of the expired key %q is still there", k)
				}
			}
			if res, err := s.Deduct(t.Context(), live); err != nil || !res.Replayed {
				t.Errorf("the live key after pruning: Replayed %v, %v", res.Replayed, err)
			}
		})
	}
}

// TestRetentionDeletes: usage facts of days past the retention are deleted
// from the usage collection as the client is charged, not only left out of
// reports.
func TestRetentionDeletes(t *testing.T) {
	c := newClient(t)
	for _, l := range []Layout{Updates, Versions} {
		t.Run(l.String(), func(t *testing.T) {
			s := newStore(t, c, &Options{Layout: l, Retention: 3 * 24 * time.Hour})
			day := int64(24 * time.Hour)
			base := time.Now().Truncate(24*time.Hour).UnixNano() + 2*day
			w := core.Window{Period: core.Year, Start: base - 400*day, End: base + 400*day, Limit: -1}
			for d := range int64(10) {
				o := &core.Op{Client: "c", Label: "l", Cost: 1, Bucket: core.Span{Start: base + d*day, End: base + d*day + int64(time.Hour)}, At: base + d*day, N: 1}
				o.List[0] = w
				if res, err := s.Deduct(t.Context(), o); err != nil || !res.OK {
					t.Fatalf("Deduct of day %d: %v %v", d, res.OK, err)
				}
			}
			var days []int64
			cur, err := s.usage.Find(t.Context(), bson.D{})
			if err != nil {
				t.Fatal(err)
			}
			for cur.Next(t.Context()) {
				d, _ := i64(cur.Current.Lookup("d"))
				days = append(days, d-dayOf(base))
			}
			// Days 0 to 8 were sealed; those more than 3 days before day 9 go.
			for _, d := range days {
				if d < 6 {
					t.Errorf("usage facts of day %d are still there with the latest charge on day 9: days %v", d, days)
					break
				}
			}
			recs, err := s.Report(t.Context(), core.ReportQuery{Client: "c", From: base - day, To: base + 20*day})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 4 {
				t.Errorf("Report after the retention: %d aggregates, want 4 (days 6 to 9): %v", len(recs), recs)
			}
		})
	}
}

// TestOpen: Open connects, takes the database from the URI's path, and
// Close disconnects the client it connected.
func TestOpen(t *testing.T) {
	requireServer(t)
	db := testDatabase()
	uri := mongoURI()
	if i := strings.Index(uri, "?"); i >= 0 {
		uri = uri[:i]
	}
	uri = strings.TrimSuffix(uri, "/") + "/" + db
	s, err := Open(t.Context(), uri, &Options{Timeout: testTimeout})
	if err != nil {
		t.Fatalf("Open(%s): %v", uri, err)
	}
	defer dropDatabase(t, newClient(t), db)
	if got := s.Database().Name(); got != db {
		t.Errorf("Open(%s) uses the database %q, want %q", uri, got, db)
	}
	b := core.New(s)
	if err := b.SetQuotas("c", core.Quota{Period: core.Day, Limit: core.Whole(10)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Track(t.Context(), "c", core.Whole(1)); err != nil {
		t.Errorf("Track: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.client.Ping(t.Context(), nil); err == nil {
		t.Error("the client Open connected still answers after Close")
	}
	if _, err := Open(t.Context(), "http://nope", nil); err == nil {
		t.Error("Open of a URI that is not MongoDB's succeeded")
	}
}
