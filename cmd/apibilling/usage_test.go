package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/usageapi"
)

const adminToken = "test-admin-token"

// lastDSTChange returns the latest day before now whose length in loc is
// not 24 hours.
func lastDSTChange(t testing.TB, loc *time.Location) time.Time {
	y, m, d := time.Now().In(loc).Date()
	for i := 1; i < 400; i++ {
		a := time.Date(y, m, d-i, 0, 0, 0, 0, loc)
		b := time.Date(y, m, d-i+1, 0, 0, 0, 0, loc)
		if b.Sub(a) != 24*time.Hour {
			return a
		}
	}
	t.Fatal("no DST change in the last 400 days")
	return time.Time{}
}

// usageClients are the clients the usage tests charge.
var usageClients = []string{"acme", "beta, inc.", "client \"3\"", "zeta"}

// chargeUsage charges the clients on the days around a DST change of
// Europe/Berlin, at hours that fall on other days in Berlin than in UTC,
// under several routes and fractional costs. It returns the first and last
// day charged (in Berlin).
func chargeUsage(t testing.TB, s core.Store) (first, last time.Time) {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	change := lastDSTChange(t, berlin)
	first, last = change.AddDate(0, 0, -2), change.AddDate(0, 0, 2)
	var now time.Time
	b := core.New(s, core.WithClock(func() time.Time { return now }))
	setUsageQuotas(t, b)
	routes := []string{"/api/fetch-data", "/api/fetch-expensive-data", "/api/compute"}
	for day := first.AddDate(0, 0, -1); !day.After(last.AddDate(0, 0, 1)); day = day.AddDate(0, 0, 1) {
		for k, hour := range []int{0, 1, 2, 9, 21, 22, 23} {
			for j, client := range usageClients {
				if (k+j)%3 == 2 {
					continue
				}
				now = time.Date(day.Year(), day.Month(), day.Day(), hour, 17, 0, 0, time.UTC)
				cost := core.MustParseCredits(fmt.Sprintf("%d.%d", 1+j, (k*7+day.Day())%10))
				if _, err := b.Charge(context.Background(), core.Charge{Client: client, Cost: cost, Label: routes[(k+j+day.Day())%len(routes)]}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return first, last
}

func setUsageQuotas(t testing.TB, b *core.Billing) {
	t.Helper()
	for _, c := range usageClients {
		if err := b.SetQuotas(c, core.Quota{Period: core.Day, Limit: core.Unlimited}); err != nil {
			t.Fatal(err)
		}
	}
}

// usageAPI serves the usage API on s, with the clients' quotas set.
func usageAPI(t testing.TB, s core.Store, backup func(context.Context, io.Writer) (int64, error)) *httptest.Server {
	t.Helper()
	b := core.New(s)
	setUsageQuotas(t, b)
	h := usageapi.New(usageapi.Config{Billing: b, AdminToken: adminToken, Backup: backup,
		Identity: func(*http.Request) (string, error) { return "", errors.New("no identity") }})
	return httptestServer(t, h)
}

// httptestServer serves the usage API h under /billing/.
func httptestServer(t testing.TB, h http.Handler) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("/billing/", http.StripPrefix("/billing", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// get answers GET url with the admin token.
func get(t testing.TB, url string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return body
}

// allUsageJSON is the JSON of GET api/usage and of usage -format json.
type allUsageJSON struct {
	From    string               `json:"from"`
	To      string               `json:"to"`
	TZ      string               `json:"tz"`
	AsOf    string               `json:"as_of"`
	Clients []usageapi.UsageJSON `json:"clients"`
}

func decodeUsage(t testing.TB, b []byte) allUsageJSON {
	t.Helper()
	var v allUsageJSON
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	v.AsOf = ""
	for i := range v.Clients {
		v.Clients[i].AsOf = ""
	}
	return v
}

// TestUsageMatchesAPI checks, on every kind of store, that usage writes
// the very bytes of the usage API's invoicing CSV (GET api/usage?format=csv)
// on the same data, in UTC and in a zone across a DST change, and JSON of
// the same shape and numbers.
func TestUsageMatchesAPI(t *testing.T) {
	for _, kind := range []string{"bolt", "redis", "postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			svc := serviceOf(t, kind)
			s := svc.open(t)
			first, last := chargeUsage(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			from, to := first.Format(time.DateOnly), last.Format(time.DateOnly)
			type query struct{ from, to, tz, client string }
			queries := []query{
				{from, to, "", ""},
				{from, to, "Europe/Berlin", ""},
				{from, from, "America/St_Johns", ""}, // a zone whose offset is not whole hours
				{from, to, "Europe/Berlin", "beta, inc."},
				{"2001-01-01", "2001-01-31", "", ""}, // no usage: the header only
			}
			var cli []result
			for _, q := range queries {
				args := append([]string{"usage"}, svc.args("store", "prefix")...)
				args = append(args, "-from", q.from, "-to", q.to)
				if q.tz != "" {
					args = append(args, "-tz", q.tz)
				}
				if q.client != "" {
					args = append(args, "-client", q.client)
				}
				csvOut := mustRun(t, args...)
				jsonOut := mustRun(t, append(args, "-format", "json")...)
				cli = append(cli, csvOut, jsonOut)
			}
			s = svc.open(t)
			defer s.Close()
			srv := usageAPI(t, s, nil)
			for i, q := range queries {
				url := srv.URL + "/billing/api/usage?from=" + q.from + "&to=" + q.to
				if q.tz != "" {
					url += "&tz=" + q.tz
				}
				apiCSV := string(get(t, url+"&format=csv"))
				gotCSV := cli[2*i].stdout
				if q.client != "" {
					// The API exports every client: keep the client's rows.
					var keep []string
					for j, line := range strings.SplitAfter(apiCSV, "\n") {
						if j == 0 || strings.HasPrefix(line, `"`+q.client+`",`) || strings.HasPrefix(line, q.client+",") {
							keep = append(keep, line)
						}
					}
					apiCSV = strings.Join(keep, "")
				}
				if gotCSV != apiCSV {
					t.Errorf("query %+v: the CSV differs from the API's:\n--- usage:\n%s\n--- API:\n%s", q, gotCSV, apiCSV)
				}
				if strings.Count(gotCSV, "\n") < 2 && q.from != "2001-01-01" {
					t.Errorf("query %+v: no rows:\n%s", q, gotCSV)
				}
				api := decodeUsage(t, get(t, url))
				got := decodeUsage(t, []byte(cli[2*i+1].stdout))
				if q.client != "" {
					api.Clients = filterUsage(api.Clients, q.client)
				}
				if q.from == "2001-01-01" {
					api.Clients = nil // the API lists every client with quotas, usage lists those with usage
					got.Clients = nil
				}
				if !reflect.DeepEqual(got, api) {
					t.Errorf("query %+v: the JSON differs from the API's:\n--- usage:\n%s\n--- API:\n%+v", q, cli[2*i+1].stdout, api)
				}
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("CSV in Berlin:\n%s", cli[2].stdout)
			}
		})
	}
}

func filterUsage(list []usageapi.UsageJSON, client string) []usageapi.UsageJSON {
	var out []usageapi.UsageJSON
	for _, u := range list {
		if u.Client == client {
			out = append(out, u)
		}
	}
	return out
}

// serviceOf returns an empty store of kind for the test. (MongoDB: a
// mongoService beside redisService, a case here, and "mongo" in the tests'
// lists of kinds, once storeurl opens the MongoDB store.)
func serviceOf(t testing.TB, kind string) service {
	switch kind {
	case "redis":
		return redisService(t)
	case "postgres":
		return postgresService(t)
	case "mysql":
		return mysqlService(t)
	}
	return boltService(t, "apibilling.db")
}

// TestUsageErrors checks the usage errors: exit status 2 with a message
// that names the fix.
func TestUsageErrors(t *testing.T) {
	db := boltService(t, "x.db")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"usage", "-store", db.url, "-from", "2026-01-01"}, 2, "-from and -to are required"},
		{[]string{"usage", "-store", db.url, "-from", "2026-01-02", "-to", "2026-01-01"}, 2, "is after to"},
		{[]string{"usage", "-store", db.url, "-from", "2026-1-1", "-to", "2026-01-01"}, 2, "YYYY-MM-DD"},
		{[]string{"usage", "-store", db.url, "-from", "2026-01-01", "-to", "2026-01-01", "-tz", "Mars/Olympus"}, 2, "IANA"},
		{[]string{"usage", "-store", db.url, "-from", "2026-01-01", "-to", "2026-01-01", "-format", "xml"}, 2, "want csv, json, table"},
		{[]string{"usage", "-from", "2026-01-01", "-to", "2026-01-01"}, 2, "-store is required"},
		{[]string{"usage", "-store", db.url, "-from", "2026-01-01", "-to", "2026-01-01"}, 1, "no bbolt file at"},
		{[]string{"usage", "-store", "ftp://x", "-from", "2026-01-01", "-to", "2026-01-01"}, 2, "unknown store URL scheme"},
		{[]string{"usage", "extra"}, 2, "unexpected argument"},
	} {
		wantFail(t, tc.code, []string{tc.want}, tc.args...)
	}
}
