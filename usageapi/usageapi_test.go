package usageapi_test

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
	"github.com/frappy-go/apibilling/usageapi"
)

const adminToken = "s3cret-admin-token"

// clock is a settable clock.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

var keys = map[string]string{"key-a": "alice", "key-b": "bob", "key-c": "carol"}

type fixture struct {
	t     *testing.T
	b     *core.Billing
	clk   *clock
	h     http.Handler
	berln *time.Location
}

func newFixture(t *testing.T, cfg usageapi.Config) *fixture {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	clk.Set(time.Date(2026, 3, 29, 20, 0, 0, 0, time.UTC)) // the day Berlin moves to summer time
	b := core.New(memory.New(), core.WithClock(clk.Now))
	must(t, b.SetQuotas("alice",
		core.Quota{Period: core.Day, Limit: core.Whole(100), Anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, berlin)},
		core.Quota{Period: core.Month, Limit: core.Unlimited, Anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, berlin)}))
	must(t, b.SetQuotas("bob", core.Quota{Period: core.Day, Limit: core.Whole(10)}))
	must(t, b.SetQuotas("carol", core.Quota{Period: core.Minute, Limit: core.Whole(5)}))
	cfg.Billing = b
	cfg.Identity = func(r *http.Request) (string, error) {
		id, ok := keys[r.Header.Get("X-API-Key")]
		if !ok {
			return "", errors.New("no key")
		}
		return id, nil
	}
	return &fixture{t: t, b: b, clk: clk, h: usageapi.New(cfg), berln: berlin}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// charge charges client cost under label at t.
func (f *fixture) charge(client, label string, cost core.Credits, at time.Time) {
	f.t.Helper()
	f.clk.Set(at)
	if _, err := f.b.Charge(f.t.Context(), core.Charge{Client: client, Label: label, Cost: cost}); err != nil {
		f.t.Fatalf("charge %s %s %v at %v: %v", client, label, cost, at, err)
	}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (f *fixture) do(method, path string, hdr map[string]string, body string) answer {
	f.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return answer{rec.Code, rec.Header(), rec.Body.String()}
}

func key(k string) map[string]string    { return map[string]string{"X-API-Key": k} }
func bearer(t string) map[string]string { return map[string]string{"Authorization": "Bearer " + t} }

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, a.body)
	}
	if err := json.Unmarshal([]byte(a.body), v); err != nil {
		t.Fatalf("body %s: %v", a.body, err)
	}
}

func (a answer) wantProblem(t *testing.T, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d; body %s", a.status, status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != usageapi.ProblemContentType {
		t.Errorf("Content-Type %q, want %q", ct, usageapi.ProblemContentType)
	}
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal([]byte(a.body), &p); err != nil || p.Status != status || p.Detail == "" {
		t.Errorf("problem body %s: %v", a.body, err)
	}
}

func TestMe(t *testing.T) {
	f := newFixture(t, usageapi.Config{})
	f.charge("alice", "/api/x", core.MustParseCredits("12.5"), time.Date(2026, 3, 29, 20, 0, 0, 0, time.UTC))
	f.do("GET", "/api/me", nil, "").wantProblem(t, 401)
	f.do("GET", "/api/me", key("nope"), "").wantProblem(t, 401)
	a := f.do("GET", "/api/me", key("key-a"), "")
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	want := `{"client":"alice","as_of":"2026-03-29T20:00:00Z","quotas":[` +
		`{"period":"day","limit":100,"used":12.5,"remaining":87.5,"window_start":"2026-03-29T00:00:00+01:00","resets_at":"2026-03-30T00:00:00+02:00"},` +
		`{"period":"month","limit":null,"used":12.5,"remaining":null,"window_start":"2026-03-01T00:00:00+01:00","resets_at":"2026-04-01T00:00:00+02:00"}]}` + "\n"
	if a.body != want {
		t.Errorf("api/me:\n got %s\nwant %s", a.body, want)
	}
}

func TestMeUsageDaysAcrossDST(t *testing.T) {
	f := newFixture(t, usageapi.Config{})
	// Berlin, 2026-03-29 is 23 hours long: 2026-03-28T23:00Z to 2026-03-29T22:00Z.
	f.charge("alice", "/a", core.Whole(1), time.Date(2026, 3, 28, 22, 30, 0, 0, time.UTC)) // 28th 23:30 Berlin
	f.charge("alice", "/a", core.Whole(2), time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC)) // 29th 00:30
	f.charge("alice", "/b", core.Whole(4), time.Date(2026, 3, 29, 21, 30, 0, 0, time.UTC)) // 29th 23:30 (CEST)
	f.charge("alice", "/a", core.Whole(8), time.Date(2026, 3, 29, 22, 30, 0, 0, time.UTC)) // 30th 00:30
	f.clk.Set(time.Date(2026, 3, 30, 12, 0, 0, 0, time.UTC))

	var u usageapi.UsageJSON
	a := f.do("GET", "/api/me/usage?from=2026-03-27&to=2026-03-30", key("key-a"), "")
	a.json(t, &u)
	if u.TZ != "Europe/Berlin" || u.From != "2026-03-27" || u.To != "2026-03-30" || u.Total.String() != "15" {
		t.Errorf("usage header: %+v", u)
	}
	got := []string{}
	for _, d := range u.Days {
		got = append(got, d.Date+"="+d.Total.String())
	}
	if want := "2026-03-27=0 2026-03-28=1 2026-03-29=6 2026-03-30=8"; strings.Join(got, " ") != want {
		t.Errorf("days %v, want %s", got, want)
	}
	if r := u.Days[2].Routes; r["/a"].String() != "2" || r["/b"].String() != "4" || len(r) != 2 {
		t.Errorf("routes of the 29th: %v", r)
	}

	// The same usage in UTC days.
	a = f.do("GET", "/api/me/usage?from=2026-03-28&to=2026-03-29&tz=UTC", key("key-a"), "")
	u = usageapi.UsageJSON{}
	a.json(t, &u)
	got = got[:0]
	for _, d := range u.Days {
		got = append(got, d.Date+"="+d.Total.String())
	}
	if want := "2026-03-28=3 2026-03-29=12"; strings.Join(got, " ") != want {
		t.Errorf("UTC days %v, want %s", got, want)
	}

	// group_by and route.
	a = f.do("GET", "/api/me/usage?from=2026-03-28&to=2026-03-30&group_by=route", key("key-a"), "")
	u = usageapi.UsageJSON{}
	a.json(t, &u)
	if u.Days != nil || u.Routes["/a"].String() != "11" || u.Routes["/b"].String() != "4" {
		t.Errorf("group_by=route: %+v", u)
	}
	a = f.do("GET", "/api/me/usage?from=2026-03-28&to=2026-03-30&group_by=day&route=/b", key("key-a"), "")
	u = usageapi.UsageJSON{}
	a.json(t, &u)
	if len(u.Days) != 3 || u.Days[1].Total.String() != "4" || u.Days[1].Routes != nil || u.Total.String() != "4" {
		t.Errorf("group_by=day&route=/b: %+v", u)
	}

	// CSV, asked both ways.
	for _, h := range []map[string]string{{"X-API-Key": "key-a", "Accept": "text/csv"}, key("key-a")} {
		path := "/api/me/usage?from=2026-03-28&to=2026-03-30"
		if h["Accept"] == "" {
			path += "&format=csv"
		}
		a = f.do("GET", path, h, "")
		want := "date,route,credits\n2026-03-28,/a,1\n2026-03-29,/a,2\n2026-03-29,/b,4\n2026-03-30,/a,8\n"
		if a.status != 200 || a.body != want || !strings.HasPrefix(a.header.Get("Content-Type"), "text/csv") {
			t.Errorf("CSV %d %q:\n%s\nwant\n%s", a.status, a.header.Get("Content-Type"), a.body, want)
		}
	}
}

func TestBadInputIs400(t *testing.T) {
	f := newFixture(t, usageapi.Config{MaxRange: 31 * 24 * time.Hour})
	for _, q := range []string{
		"from=2026-13-01", "to=yesterday", "from=2026-03-10&to=2026-03-01", "tz=Mars/Olympus",
		"tz=Local", "from=2026-01-01&to=2026-03-01", "group_by=week", "from=1600-01-01&to=1600-01-02",
		"from=%00", "tz=" + strings.Repeat("x", 300),
	} {
		f.do("GET", "/api/me/usage?"+q, key("key-a"), "").wantProblem(t, 400)
	}
}

func TestOperatorOff(t *testing.T) {
	f := newFixture(t, usageapi.Config{})
	for _, p := range []string{"/api/clients", "/api/usage", "/api/top"} {
		f.do("GET", p, bearer(""), "").wantProblem(t, 404)
		f.do("GET", p, bearer("anything"), "").wantProblem(t, 404)
	}
	f.do("DELETE", "/api/clients/alice/usage?from=2026-03-01&to=2026-03-02", nil, "").wantProblem(t, 404)
}

func TestOperator(t *testing.T) {
	f := newFixture(t, usageapi.Config{AdminToken: adminToken, ParseQuotas: parseQuotas})
	at := time.Date(2026, 3, 29, 20, 0, 0, 0, time.UTC)
	f.charge("alice", "/a", core.Whole(10), at)
	f.charge("bob", "/a", core.Whole(9), at)
	f.charge("bob", "/b", core.MustParseCredits("0.5"), at)
	adm := bearer(adminToken)

	f.do("GET", "/api/clients", bearer("wrong"), "").wantProblem(t, 401)
	f.do("GET", "/api/clients", key("key-a"), "").wantProblem(t, 401)

	var list struct {
		AsOf    string                `json:"as_of"`
		Clients []usageapi.StatusJSON `json:"clients"`
	}
	f.do("GET", "/api/clients", adm, "").json(t, &list)
	if len(list.Clients) != 3 || list.Clients[0].Client != "alice" {
		t.Errorf("clients: %+v", list)
	}
	f.do("GET", "/api/clients?near_limit=0.5", adm, "").json(t, &list)
	if len(list.Clients) != 1 || list.Clients[0].Client != "bob" || list.Clients[0].Quotas[0].Used.String() != "9.5" {
		t.Errorf("near_limit=0.5: %+v", list)
	}
	f.do("GET", "/api/clients?near_limit=x", adm, "").wantProblem(t, 400)
	f.do("GET", "/api/clients/nobody", adm, "").wantProblem(t, 404)

	a := f.do("GET", "/api/usage?from=2026-03-29&to=2026-03-29&format=csv", adm, "")
	if want := "client,date,route,credits\nalice,2026-03-29,/a,10\nbob,2026-03-29,/a,9\nbob,2026-03-29,/b,0.5\n"; a.body != want {
		t.Errorf("all usage CSV:\n%s\nwant\n%s", a.body, want)
	}
	if _, err := csv.NewReader(strings.NewReader(a.body)).ReadAll(); err != nil {
		t.Error(err)
	}

	var top struct {
		Clients []struct {
			Client string       `json:"client"`
			Total  core.Credits `json:"total"`
		} `json:"clients"`
	}
	f.do("GET", "/api/top?from=2026-03-29&to=2026-03-29&limit=2", adm, "").json(t, &top)
	if len(top.Clients) != 2 || top.Clients[0].Client != "alice" || top.Clients[1].Total.String() != "9.5" {
		t.Errorf("top: %+v", top)
	}

	// Deleting bob's day frees his live window.
	var del struct {
		Deleted core.Credits `json:"deleted"`
	}
	f.do("DELETE", "/api/clients/bob/usage?from=2026-03-29&to=2026-03-29&tz=UTC", adm, "").json(t, &del)
	if del.Deleted.String() != "9.5" {
		t.Errorf("deleted %v, want 9.5", del.Deleted)
	}
	var st usageapi.StatusJSON
	f.do("GET", "/api/clients/bob", adm, "").json(t, &st)
	if st.Quotas[0].Used.String() != "0" {
		t.Errorf("bob after delete: %+v", st)
	}
	f.do("DELETE", "/api/clients/bob/usage", adm, "").wantProblem(t, 400)

	// Replacing quotas keeps the usage counted.
	a = f.do("PUT", "/api/clients/alice/quotas", adm, `{"quotas":[{"period":"day","limit":"20"}]}`)
	a.json(t, &st)
	if len(st.Quotas) != 1 || st.Quotas[0].Limit.String() != "20" {
		t.Errorf("after PUT: %+v", st)
	}
	f.do("PUT", "/api/clients/alice/quotas", adm, `{"quotas":[]}`).wantProblem(t, 400)
	f.do("PUT", "/api/clients/alice/quotas", adm, `not json`).wantProblem(t, 400)
}

// parseQuotas reads {"quotas":[{"period":"day","limit":"20"}]} (a small
// stand-in for the clients file's parser).
func parseQuotas(b []byte) ([]core.Quota, error) {
	var req struct {
		Quotas []struct {
			Period core.Period  `json:"period"`
			Limit  core.Credits `json:"limit"`
		} `json:"quotas"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		return nil, err
	}
	var qs []core.Quota
	for _, q := range req.Quotas {
		qs = append(qs, core.Quota{Period: q.Period, Limit: q.Limit})
	}
	return qs, nil
}

func TestPortalTokens(t *testing.T) {
	f := newFixture(t, usageapi.Config{AdminToken: adminToken})
	f.charge("alice", "/a", core.Whole(3), time.Date(2026, 3, 29, 20, 0, 0, 0, time.UTC))
	f.charge("bob", "/a", core.Whole(4), time.Date(2026, 3, 29, 20, 0, 0, 0, time.UTC))
	adm := bearer(adminToken)

	f.do("POST", "/api/clients/alice/portal-tokens", key("key-a"), "").wantProblem(t, 401)
	f.do("POST", "/api/clients/nobody/portal-tokens", adm, "").wantProblem(t, 404)
	f.do("POST", "/api/clients/alice/portal-tokens", adm, `{"ttl":"25h"}`).wantProblem(t, 400)
	var tok struct {
		Client, Token string
		ExpiresAt     string `json:"expires_at"`
	}
	a := f.do("POST", "/api/clients/alice/portal-tokens", adm, `{"ttl":"1h"}`)
	if a.status != 201 {
		t.Fatalf("mint: %d %s", a.status, a.body)
	}
	a.json(t, &tok)
	if tok.Client != "alice" || tok.ExpiresAt != "2026-03-29T21:00:00Z" {
		t.Errorf("token %+v", tok)
	}
	pt := bearer(tok.Token)

	var st usageapi.StatusJSON
	f.do("GET", "/api/me", pt, "").json(t, &st)
	if st.Client != "alice" {
		t.Errorf("api/me with a portal token: %+v", st)
	}
	f.do("GET", "/api/clients/alice/usage", pt, "").json(t, new(usageapi.UsageJSON))

	// Cross-tenant: neither alice's key nor her portal token reads bob.
	for _, cred := range []map[string]string{pt, key("key-a")} {
		f.do("GET", "/api/clients/bob", cred, "").wantProblem(t, 404)
		f.do("GET", "/api/clients/bob/usage", cred, "").wantProblem(t, 404)
		f.do("GET", "/api/clients", cred, "").wantProblem(t, 401)
		f.do("GET", "/api/usage", cred, "").wantProblem(t, 401)
	}
	// A token with a changed client is invalid.
	f.do("GET", "/api/me", bearer(tok.Token[:len(tok.Token)-2]+"AA"), "").wantProblem(t, 401)

	// Expiry, then revocation of a second token.
	f.clk.Set(time.Date(2026, 3, 29, 21, 0, 0, 0, time.UTC))
	f.do("GET", "/api/me", pt, "").wantProblem(t, 401)
	a = f.do("POST", "/api/clients/bob/portal-tokens", adm, "")
	a.json(t, &tok)
	f.do("GET", "/api/me", bearer(tok.Token), "").json(t, &st)
	if st.Client != "bob" {
		t.Errorf("bob's token: %+v", st)
	}
	if a := f.do("DELETE", "/api/portal-tokens/"+tok.Token, adm, ""); a.status != 204 {
		t.Errorf("revoke: %d %s", a.status, a.body)
	}
	f.do("GET", "/api/me", bearer(tok.Token), "").wantProblem(t, 401)
	f.do("DELETE", "/api/portal-tokens/abp_garbage", adm, "").wantProblem(t, 404)
}

// TestNumbersEqualEnforcement: after 1,000 parallel charges, the quota's
// used credits and the sum of today's usage both equal what was charged.
func TestNumbersEqualEnforcement(t *testing.T) {
	f := newFixture(t, usageapi.Config{})
	f.clk.Set(time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC))
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			label := []string{"/a", "/b", "/c"}[i%3]
			if _, err := f.b.Charge(t.Context(), core.Charge{Client: "alice", Label: label, Cost: core.MustParseCredits("0.01")}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var st usageapi.StatusJSON
	f.do("GET", "/api/me", key("key-a"), "").json(t, &st)
	var u usageapi.UsageJSON
	f.do("GET", "/api/me/usage?from=2026-03-29&to=2026-03-29", key("key-a"), "").json(t, &u)
	sum := core.Whole(0)
	for _, c := range u.Days[0].Routes {
		sum = sum.Add(c)
	}
	if st.Quotas[0].Used.String() != "10" || u.Total.String() != "10" || sum.String() != "10" {
		t.Errorf("used %v, usage total %v, sum of routes %v; want 10 each", st.Quotas[0].Used, u.Total, sum)
	}
}

// TestNever500 sends malformed requests: none is answered 500.
func TestNever500(t *testing.T) {
	f := newFixture(t, usageapi.Config{AdminToken: adminToken, ParseQuotas: parseQuotas})
	paths := []string{"/api/me", "/api/me/usage", "/api/clients", "/api/clients/alice", "/api/clients/alice/usage",
		"/api/usage", "/api/top", "/api/clients/alice/quotas", "/api/clients/alice/portal-tokens", "/api/portal-tokens/x",
		"/api/nothing", "/api/clients/%00/usage"}
	queries := []string{"", "from=x", "to=2026-02-30", "tz=%ff", "limit=-1", "limit=99999999999999999999",
		"group_by=", "near_limit=NaN", "from=2026-01-01&to=2026-01-01&route=%ff%fe", "format=csv&from=0000-01-01"}
	creds := []map[string]string{nil, key("key-a"), bearer(adminToken), bearer("abp_x"), bearer("abp_" + strings.Repeat("A", 100))}
	for _, p := range paths {
		for _, q := range queries {
			for _, c := range creds {
				for _, m := range []string{"GET", "PUT", "POST", "DELETE"} {
					u := p
					if q != "" {
						u += "?" + q
					}
					if _, err := url.Parse(u); err != nil {
						continue
					}
					if a := f.do(m, u, c, "{"); a.status >= 500 {
						t.Errorf("%s %s: %d %s", m, u, a.status, a.body)
					}
				}
			}
		}
	}
}

func TestDashboard(t *testing.T) {
	f := newFixture(t, usageapi.Config{})
	a := f.do("GET", "/", nil, "")
	if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || !strings.Contains(a.body, "<html") {
		t.Errorf("dashboard: %d %q %.80s", a.status, a.header.Get("Content-Type"), a.body)
	}
	if a.header.Get("Content-Security-Policy") == "" {
		t.Error("no Content-Security-Policy")
	}
	if strings.Contains(a.body, "http://") || strings.Contains(a.body, "https://") {
		t.Error("the dashboard refers to another host")
	}
	// Mounted under /billing: /billing redirects to /billing/.
	mux := http.NewServeMux()
	mux.Handle("/billing/", http.StripPrefix("/billing", f.h))
	mux.Handle("/billing", http.StripPrefix("/billing", f.h))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(srv.URL + "/billing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/billing/" {
		t.Errorf("/billing: %d %q, want 301 to /billing/", resp.StatusCode, resp.Header.Get("Location"))
	}
	for path, ctype := range map[string]string{"/billing/": "text/html", "/billing/assets/dashboard.js": "text/javascript",
		"/billing/assets/dashboard.css": "text/css", "/billing/favicon.svg": "image/svg+xml"} {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(body) == 0 {
			t.Errorf("%s: %d %q, want 200 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), ctype)
		}
	}
}

// TestParseRangeNilZones: callers outside the package can pass only a nil
// zone cache; a tz must still load (it used to dereference nil).
func TestParseRangeNilZones(t *testing.T) {
	rg, err := usageapi.ParseRange(map[string][]string{"from": {"2026-03-28"}, "to": {"2026-03-30"}, "tz": {"Europe/Berlin"}},
		time.UTC, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), usageapi.DefaultMaxRange, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rg.Loc.String(), "Europe/Berlin"; got != want {
		t.Errorf("zone %s, want %s", got, want)
	}
	if _, err := usageapi.ParseRange(map[string][]string{"tz": {"Nowhere/Else"}}, time.UTC, time.Now(), usageapi.DefaultMaxRange, nil); err == nil {
		t.Error("an unknown zone was accepted")
	}
}
