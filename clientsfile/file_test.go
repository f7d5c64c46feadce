package clientsfile_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/clientsfile"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "clients.json")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, []byte(demoFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(quota(`{"period":"dya","limit":1}`)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("good", func(t *testing.T) {
		f, err := clientsfile.Load(good)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(f.Clients), 2; got != want {
			t.Errorf("%d clients, want %d", got, want)
		}
	})
	t.Run("bad content names the path", func(t *testing.T) {
		_, err := clientsfile.Load(bad)
		want := `clientsfile: ` + bad + `: clients[0] "c1": quotas[0].period: unknown period "dya" (want second, minute, hour, day, week, month or year)`
		if err == nil || err.Error() != want {
			t.Errorf("error %v, want %s", err, want)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := clientsfile.Load(filepath.Join(dir, "none.json"))
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "none.json") {
			t.Errorf("error %v, want one that wraps fs.ErrNotExist and names the file", err)
		}
	})
}

func TestClientForKey(t *testing.T) {
	parsed, err := clientsfile.Parse([]byte(`{"clients":[
		{"id":"a","keys":["ka1","ka2"],"quotas":[{"period":"day","limit":1}]},
		{"id":"b","keys":["kb"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	byHand := &clientsfile.File{Clients: parsed.Clients}
	for name, f := range map[string]*clientsfile.File{"parsed": parsed, "by hand": byHand} {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				key, id string
				ok      bool
			}{
				{"ka1", "a", true},
				{"ka2", "a", true},
				{"kb", "b", true},
				{"a", "", false}, // an ID is not a key
				{"", "", false},
				{"KA1", "", false},
			} {
				id, ok := f.ClientForKey(tc.key)
				if id != tc.id || ok != tc.ok {
					t.Errorf("ClientForKey(%q) = %q, %v, want %q, %v", tc.key, id, ok, tc.id, tc.ok)
				}
			}
		})
	}
}

func TestApply(t *testing.T) {
	f, err := clientsfile.Parse([]byte(`{"clients":[
		{"id":"client1","keys":["k1"],"quotas":[{"period":"month","limit":10000,"start":"2022-01-15T00:00:00Z"},{"period":"day","limit":2.5}]},
		{"id":"client2","keys":["k2"],"quotas":[{"period":"day","limit":-1}]},
		{"id":"client3","keys":["k3"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	// client3 is in the file without quotas: Apply removes it.
	if err := b.SetQuotas("client3", core.Quota{Period: core.Day, Limit: core.Whole(1)}); err != nil {
		t.Fatal(err)
	}
	if err := f.Apply(b); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(b.Clients(), ","), "client1,client2"; got != want {
		t.Errorf("clients %s, want %s", got, want)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		client string
		cost   core.Credits
		err    error
	}{
		{"client1", core.Whole(2), nil},
		{"client1", core.MustParseCredits("0.5"), nil},
		{"client1", core.MustParseCredits("0.000001"), core.ErrQuotaExceeded}, // 2.5 a day
		{"client2", core.Whole(1000), nil},
		{"client3", core.Whole(1), core.ErrNoQuotas},
	} {
		_, err := b.Track(ctx, tc.client, tc.cost)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("Track(%s, %s): %v, want %v", tc.client, tc.cost, err, tc.err)
		}
	}
	o, err := b.Status(ctx, "client1")
	if err != nil {
		t.Fatal(err)
	}
	month := o.Quota(1) // shortest period first: day, month
	if got, want := month.Start.Format(time.RFC3339), "2026-11-15T00:00:00Z"; month.Period != core.Month || got != want {
		t.Errorf("month window starts %s (%v), want %s", got, month.Period, want)
	}
	if got, want := month.Used, core.MustParseCredits("2.5"); got != want {
		t.Errorf("month used %s, want %s", got, want)
	}

	t.Run("invalid file", func(t *testing.T) {
		bad := &clientsfile.File{Clients: []clientsfile.Client{{ID: "x", Keys: []string{"k"}, Quotas: []core.Quota{
			{Period: core.Day, Limit: core.Whole(1)}, {Period: core.Day, Limit: core.Whole(2)},
		}}}}
		err := bad.Apply(b)
		if err == nil || !strings.Contains(err.Error(), `clients[0] "x": quotas[1].period: a second "day" quota`) {
			t.Errorf("Apply of two day quotas: %v", err)
		}
		if b.Quotas("x") != nil {
			t.Errorf("Apply of an invalid file set quotas")
		}
	})
}

func TestValidate(t *testing.T) {
	valid := clientsfile.Client{ID: "a", Keys: []string{"k"}, Quotas: []core.Quota{{Period: core.Day, Limit: core.Whole(1)}}}
	withAnchor := func(a time.Time) clientsfile.Client {
		c := valid
		c.Quotas = []core.Quota{{Period: core.Day, Limit: core.Whole(1), Anchor: a}}
		return c
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		clients []clientsfile.Client
		err     string // "" when valid
	}{
		{"valid", []clientsfile.Client{valid}, ""},
		{"IANA zone", []clientsfile.Client{withAnchor(time.Date(2022, 1, 1, 0, 0, 0, 0, berlin))}, ""},
		{"unnamed fixed zone", []clientsfile.Client{withAnchor(time.Date(2022, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600)))}, ""},
		{"no clients", nil, `clientsfile: clients: no clients`},
		{"local zone", []clientsfile.Client{withAnchor(time.Date(2022, 1, 1, 0, 0, 0, 0, time.Local))},
			`clientsfile: clients[0] "a": quotas[0].tz: "Local" is not an IANA time zone name such as "Europe/Berlin"`},
		{"named fixed zone", []clientsfile.Client{withAnchor(time.Date(2022, 1, 1, 0, 0, 0, 0, time.FixedZone("XYZ", 3600)))},
			`clientsfile: clients[0] "a": quotas[0].tz: unknown time zone "XYZ"`},
		{"invalid UTF-8 key", []clientsfile.Client{{ID: "a", Keys: []string{"k\xff"}}},
			`clientsfile: clients[0] "a": keys[0]: not valid UTF-8, which JSON cannot hold`},
		{"invalid quota", []clientsfile.Client{{ID: "a", Keys: []string{"k"}, Quotas: []core.Quota{{Period: core.Period(9)}}}},
			`clientsfile: clients[0] "a": quotas[0]: apibilling: invalid quota: unknown period 9`},
		{"duplicate ID", []clientsfile.Client{valid, valid}, `clientsfile: clients[1] "a": id: the same ID as clients[0]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &clientsfile.File{Clients: tc.clients}
			err := f.Validate()
			if got := errString(err); got != tc.err {
				t.Errorf("Validate: %q, want %q", got, tc.err)
			}
			_, merr := f.MarshalJSON()
			if (merr == nil) != (tc.err == "") {
				t.Errorf("MarshalJSON error %v, Validate error %v: want both or neither", merr, err)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestMarshalJSON(t *testing.T) {
	f, err := clientsfile.Parse([]byte(`{"clients":[
		{"id":"client1","keys":["k1","k<&>"],"quotas":[{"period":"day","limit":500,"start":"2022-01-01T00:00:00Z"},{"period":"month","limit":0.000001,"start":"2022-01-31T08:30:00.5+05:30"}]},
		{"id":"client \"2\"","keys":["k2"],"quotas":[{"period":"minute","limit":-1,"start":"2022-03-27T00:00:00+01:00","tz":"Europe/Berlin"},{"period":"week","limit":7}]},
		{"id":"client3","keys":["k3"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"clients":[` +
		`{"id":"client1","keys":["k1","k\u003c\u0026\u003e"],"quotas":[{"period":"day","limit":500,"start":"2022-01-01T00:00:00Z"},{"period":"month","limit":0.000001,"start":"2022-01-31T08:30:00.5+05:30"}]},` +
		`{"id":"client \"2\"","keys":["k2"],"quotas":[{"period":"minute","limit":-1,"start":"2022-03-27T00:00:00+01:00","tz":"Europe/Berlin"},{"period":"week","limit":7,"start":"2001-01-01T00:00:00Z"}]},` +
		`{"id":"client3","keys":["k3"],"quotas":[]}]}`
	if string(out) != want {
		t.Errorf("MarshalJSON:\n got %s\nwant %s", out, want)
	}
	again, err := clientsfile.Parse(out)
	if err != nil {
		t.Fatalf("Parse of MarshalJSON's output: %v", err)
	}
	if diff := compareFiles(f, again); diff != "" {
		t.Error(diff)
	}
}

// compareFiles returns how a and b differ, or "".
func compareFiles(a, b *clientsfile.File) string {
	if len(a.Clients) != len(b.Clients) {
		return "different numbers of clients"
	}
	for i := range a.Clients {
		ca, cb := a.Clients[i], b.Clients[i]
		if ca.ID != cb.ID || strings.Join(ca.Keys, "\x00") != strings.Join(cb.Keys, "\x00") || len(ca.Quotas) != len(cb.Quotas) {
			return "clients[" + ca.ID + "] differ"
		}
		for k := range ca.Quotas {
			qa, qb := ca.Quotas[k], cb.Quotas[k]
			_, oa := qa.Anchor.Zone()
			_, ob := qb.Anchor.Zone()
			if qa.Period != qb.Period || qa.Limit != qb.Limit || !qa.Anchor.Equal(qb.Anchor) || oa != ob ||
				qa.Anchor.Location().String() != qb.Anchor.Location().String() {
				return "clients[" + ca.ID + "] quota " + qa.Period.String() + " differs: " +
					qa.Anchor.String() + " " + qb.Anchor.String()
			}
		}
	}
	return ""
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(demoFile))
	f.Add([]byte(quota(`{"period":"day","limit":0.5,"start":"2022-01-01T00:00:00+01:00","tz":"Europe/Berlin"}`)))
	f.Add([]byte(`{"clients":[{"id":"a","keys":["k"]},{"id":"b","keys":["l"],"quotas":[{"period":"year","limit":-1}]}]}`))
	f.Add([]byte(`{"clients":[{"id":"a","keys":["k","k"]}]}`))
	f.Add([]byte(quota(`{"period":"month","limit":12.0000001}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := clientsfile.Parse(data)
		if err != nil {
			if file != nil {
				t.Errorf("Parse returned a file with error %v", err)
			}
			if target := (*clientsfile.Error)(nil); !errors.As(err, &target) {
				t.Errorf("error %T %v is not a *clientsfile.Error", err, err)
			}
			return
		}
		if err := file.Validate(); err != nil {
			t.Fatalf("a parsed file does not validate: %v", err)
		}
		for _, c := range file.Clients {
			for _, k := range c.Keys {
				if id, ok := file.ClientForKey(k); !ok || id != c.ID {
					t.Errorf("ClientForKey(%q) = %q, %v, want %q", k, id, ok, c.ID)
				}
			}
		}
		out, err := file.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of a parsed file: %v", err)
		}
		again, err := clientsfile.Parse(out)
		if err != nil {
			t.Fatalf("Parse of MarshalJSON's output %s: %v", out, err)
		}
		if diff := compareFiles(file, again); diff != "" {
			t.Errorf("%s after a round trip through %s", diff, out)
		}
		if err := file.Apply(core.New(memory.New())); err != nil {
			t.Errorf("Apply of a parsed file: %v", err)
		}
	})
}
