package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/frappy-go/apibilling/clientsfile"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/usageapi"
)

const clientsJSON = `{"clients": [
  {"id": "client1", "keys": ["demo-key-1"],
   "quotas": [{"period": "day", "limit": 500, "start": "2022-01-01T00:00:00Z"},
              {"period": "month", "limit": 10000, "start": "2022-01-31T00:00:00Z"}]},
  {"id": "client2", "keys": ["demo-key-2"],
   "quotas": [{"period": "hour", "limit": 10, "start": "2022-01-01T00:00:00Z"},
              {"period": "day", "limit": -1, "start": "2022-01-01T00:00:00+10:00"}]},
  {"id": "client3", "keys": ["demo-key-3"],
   "quotas": [{"period": "week", "limit": 0.5, "start": "2022-01-03T00:00:00+01:00", "tz": "Europe/Berlin"}]},
  {"id": "idle", "keys": ["demo-key-4"], "quotas": []}]}`

// statusList is the JSON of GET api/clients and of clients -format json.
type statusList struct {
	AsOf    string                `json:"as_of"`
	Clients []usageapi.StatusJSON `json:"clients"`
}

func decodeStatus(t testing.TB, b []byte) statusList {
	t.Helper()
	var v statusList
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	v.AsOf = ""
	for i := range v.Clients {
		v.Clients[i].AsOf = ""
	}
	return v
}

// TestClients checks on every kind of store that clients reports the
// quota status that the usage API's GET api/clients answers, as a table, as
// JSON of the same shape and as CSV.
func TestClients(t *testing.T) {
	file := filepath.Join(t.TempDir(), "clients.json")
	if err := os.WriteFile(file, []byte(clientsJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := clientsfile.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"bolt", "redis", "postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			svc := serviceOf(t, kind)
			s := svc.open(t)
			b := core.New(s)
			if err := f.Apply(b); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				client, cost string
				times        int
			}{{"client1", "2.5", 5}, {"client2", "1", 3}, {"client3", "0.25", 1}} {
				for range c.times {
					if _, err := b.Track(context.Background(), c.client, core.MustParseCredits(c.cost)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			args := append(append([]string{"clients"}, svc.args("store", "prefix")...), "-clients", file)
			table := mustRun(t, args...).stdout
			cs := mustRun(t, append(args, "-format", "csv")...).stdout
			var js string
			var got, api statusList
			// Twice at most: an hour's window may end between the two reads.
			for range 2 {
				js = mustRun(t, append(args, "-format", "json")...).stdout
				s = svc.open(t)
				b = core.New(s)
				if err := f.Apply(b); err != nil {
					t.Fatal(err)
				}
				h := usageapi.New(usageapi.Config{Billing: b, AdminToken: adminToken,
					Identity: func(*http.Request) (string, error) { return "", errors.New("none") }})
				srv := httptestServer(t, h)
				api = decodeStatus(t, get(t, srv.URL+"/billing/api/clients"))
				srv.Close()
				s.Close()
				if got = decodeStatus(t, []byte(js)); reflect.DeepEqual(got, api) {
					break
				}
			}
			if !reflect.DeepEqual(got, api) {
				t.Errorf("the JSON differs from the API's:\n--- clients:\n%s\n--- API:\n%+v", js, api)
			}
			if len(got.Clients) != 3 || got.Clients[0].Quotas[0].Used.String() != "12.5" {
				t.Errorf("unexpected status:\n%s", js)
			}

			for _, want := range []string{"CLIENT", "client1", "day", "500", "12.5", "487.5", "2%", "unlimited", "0.25", "50%"} {
				if !strings.Contains(table, want) {
					t.Errorf("the table lacks %q:\n%s", want, table)
				}
			}
			rows, err := csv.NewReader(strings.NewReader(cs)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1+5 || strings.Join(rows[0], ",") != "client,period,limit,used,remaining,window_start,resets_at" {
				t.Fatalf("CSV:\n%s", cs)
			}
			if r := rows[4]; r[0] != "client2" || r[1] != "day" || r[2] != "" || r[3] != "3" || r[4] != "" {
				t.Errorf("the unlimited quota's row is %q", r)
			}
			if testing.Verbose() {
				t.Logf("table:\n%s", table)
			}
		})
	}
}

// TestClientsErrors checks the errors of clients.
func TestClientsErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"clients": [{"id": "c", "keys": ["k"], "quotas": [{"period": "dya", "limit": 5}]}]}`), 0o600)
	db := filepath.Join(dir, "x.db")
	wantFail(t, 2, []string{"-clients is required"}, "clients", "-store", db)
	wantFail(t, 1, []string{`clients[0] "c": quotas[0].period: unknown period "dya"`}, "clients", "-store", db, "-clients", bad)
	wantFail(t, 2, []string{"-format \"yaml\""}, "clients", "-store", db, "-clients", bad, "-format", "yaml")
}
