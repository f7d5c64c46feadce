package blackbox

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The demo keys of the built-in clients file.
const (
	key1 = "demo-key-1" // client1: 500 a day, 10,000 a month
	key2 = "demo-key-2" // client2: 10 a minute, unlimited a day at UTC+10
)

// The fixed bodies of the example applications.
const (
	fetchDataBody     = `{"data":{"id":1,"name":"Sample record","tags":["demo","apibilling"]},"cost":1}`
	expensiveDataBody = `{"data":{"report":"Detailed analytics","rows":[{"day":"mon","calls":120},{"day":"tue","calls":98}]},"cost":5}`
	unstableBody      = `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"The upstream service failed. This request is not charged."}`
	noIdentityBody    = `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"The request does not identify a client."}`
	unknownKeyBody    = `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"The client identity is not recognized."}`
	badUnitsBody      = `{"type":"about:blank","title":"Bad Request","status":400,"detail":"The units query parameter must be a non-negative decimal number such as 0.5, with at most 9007199254 credits."}`
	missingUnitsBody  = `{"type":"about:blank","title":"Bad Request","status":400,"detail":"The units query parameter is required: a non-negative decimal number such as 0.5."}`
)

// TestExamples runs the same black-box scenario against the four example
// applications, then checks that their transcripts are identical.
func TestExamples(t *testing.T) {
	bins := buildApps(t)
	transcripts := make([][]string, len(apps))
	t.Run("apps", func(t *testing.T) {
		for i, name := range apps {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				transcripts[i] = scenario(t, bins[i])
			})
		}
	})
	t.Run("identical", func(t *testing.T) {
		for i := 1; i < len(apps); i++ {
			a, b := transcripts[0], transcripts[i]
			if len(a) == 0 || len(b) == 0 {
				t.Fatalf("no transcript to compare (%s: %d lines, %s: %d lines)", apps[0], len(a), apps[i], len(b))
			}
			for k := range max(len(a), len(b)) {
				var la, lb string
				if k < len(a) {
					la = a[k]
				}
				if k < len(b) {
					lb = b[k]
				}
				if la != lb {
					t.Errorf("%s and %s differ at exchange %d:\n%s: %s\n%s: %s", apps[0], apps[i], k, apps[0], la, apps[i], lb)
					break
				}
			}
		}
	})
}

// client calls one running application and keeps a transcript of the
// exchanges, with what varies with the time left out.
type client struct {
	t          *testing.T
	base       string
	http       *http.Client
	transcript []string
}

// response is one answer.
type response struct {
	status int
	header http.Header
	body   string
	date   time.Time // the server's Date header
}

// auth is how a request identifies its client: a header name and value,
// or none.
type auth struct{ name, value string }

var (
	anonymous = auth{}
	apiKey1   = auth{"X-API-Key", key1}
	bearer1   = auth{"Authorization", "Bearer " + key1}
	bearer2   = auth{"Authorization", "Bearer " + key2}
	apiKey2   = auth{"X-API-Key", key2}
)

// The headers kept in the transcript; of those, the ones whose values
// depend on the time are kept by name only.
var (
	transcriptHeaders = []string{"Content-Type", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit", "Retry-After"}
	timeHeaders       = map[string]bool{"X-RateLimit-Reset": true, "Retry-After": true}
	rfc3339           = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	secondsLeft       = regexp.MustCompile(`;t=\d+`)
)

func (c *client) get(path string, a auth) response { return c.do(http.MethodGet, path, a, "") }

// do sends a request with the auth a and, unless it is "", the
// Idempotency-Key key.
func (c *client) do(method, path string, a auth, key string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if a.name != "" {
		req.Header.Set(a.name, a.value)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: string(body)}
	if r.date, err = http.ParseTime(resp.Header.Get("Date")); err != nil {
		c.t.Errorf("GET %s: Date header %q: %v", path, resp.Header.Get("Date"), err)
	}
	// A client ID is never written into a header.
	for name, vals := range resp.Header {
		for _, v := range vals {
			if strings.Contains(v, "client1") || strings.Contains(v, "client2") {
				c.t.Errorf("GET %s: header %s: %q holds a client ID", path, name, v)
			}
		}
	}
	line := fmt.Sprintf("%s %s [%s %s] -> %d", method, path, a.name, key, r.status)
	routerAnswer := r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed
	for _, h := range transcriptHeaders {
		if routerAnswer && h == "Content-Type" {
			continue // each framework has its own 404 and 405
		}
		if v := resp.Header.Values(h); len(v) > 0 {
			val := strings.Join(v, ", ")
			if timeHeaders[h] {
				val = "*"
			}
			line += fmt.Sprintf(" | %s: %s", h, secondsLeft.ReplaceAllString(val, ";t=*"))
		}
	}
	if routerAnswer {
		line += " | <the router's own body>"
	} else {
		line += " | " + rfc3339.ReplaceAllString(r.body, "<time>")
	}
	c.transcript = append(c.transcript, line)
	return r
}

// expect checks the status, the content type and, unless body is "", the
// body of r.
func (c *client) expect(what string, r response, status int, contentType, body string) {
	c.t.Helper()
	if r.status != status {
		c.t.Errorf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
	if got := r.header.Get("Content-Type"); got != contentType {
		c.t.Errorf("%s: Content-Type %q, want %q", what, got, contentType)
	}
	if body != "" && r.body != body {
		c.t.Errorf("%s: body\n got %s\nwant %s", what, r.body, body)
	}
}

// noRateLimitHeaders checks that r carries none of the rate-limit headers.
func (c *client) noRateLimitHeaders(what string, r response) {
	c.t.Helper()
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit", "Retry-After"} {
		if v := r.header.Get(h); v != "" {
			c.t.Errorf("%s: unexpected %s: %s", what, h, v)
		}
	}
}

// quotaJSON is the body of /api/quota.
type quotaJSON struct {
	Client string `json:"client"`
	AsOf   string `json:"as_of"`
	Quotas []struct {
		Period      string       `json:"period"`
		Limit       *json.Number `json:"limit"`
		Used        json.Number  `json:"used"`
		Remaining   *json.Number `json:"remaining"`
		WindowStart string       `json:"window_start"`
		ResetsAt    string       `json:"resets_at"`
	} `json:"quotas"`
}

// quota reads /api/quota and checks its shape: the client, the periods
// in order, the limits, and that used+remaining is the limit.
func (c *client) quota(a auth, wantClient string, wantPeriods []string, wantLimits []string) (quotaJSON, response) {
	c.t.Helper()
	r := c.get("/api/quota", a)
	c.expect("quota of "+wantClient, r, 200, "application/json", "")
	var q quotaJSON
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		c.t.Fatalf("quota body %s: %v", r.body, err)
	}
	if _, err := time.Parse(time.RFC3339, q.AsOf); err != nil {
		c.t.Errorf("quota body %s: as_of: %v", r.body, err)
	}
	if q.Client != wantClient || len(q.Quotas) != len(wantPeriods) {
		c.t.Fatalf("quota body %s: want client %s with %v", r.body, wantClient, wantPeriods)
	}
	for i, e := range q.Quotas {
		if e.Period != wantPeriods[i] {
			c.t.Errorf("quota %d: period %s, want %s", i, e.Period, wantPeriods[i])
		}
		limit := "null"
		if e.Limit != nil {
			limit = e.Limit.String()
		}
		if limit != wantLimits[i] {
			c.t.Errorf("quota %s: limit %s, want %s", e.Period, limit, wantLimits[i])
		}
		if (e.Limit == nil) != (e.Remaining == nil) {
			c.t.Errorf("quota %s: limit %v and remaining %v: both or neither null", e.Period, e.Limit, e.Remaining)
		}
		if e.Limit != nil {
			l, _ := e.Limit.Float64()
			u, _ := e.Used.Float64()
			rem, _ := e.Remaining.Float64()
			if u+rem != l {
				c.t.Errorf("quota %s: used %s + remaining %s != limit %s", e.Period, e.Used, e.Remaining, e.Limit)
			}
		}
		start, err1 := time.Parse(time.RFC3339, e.WindowStart)
		end, err2 := time.Parse(time.RFC3339, e.ResetsAt)
		if err1 != nil || err2 != nil || !end.After(start) {
			c.t.Errorf("quota %s: window %q to %q is not two RFC 3339 times in order", e.Period, e.WindowStart, e.ResetsAt)
		}
	}
	return q, r
}

// used returns the used credits of the quota of period in q.
func used(t *testing.T, q quotaJSON, period string) string {
	t.Helper()
	for _, e := range q.Quotas {
		if e.Period == period {
			return e.Used.String()
		}
	}
	t.Fatalf("no %s quota in %+v", period, q)
	return ""
}

// resetsAt returns the renewal time of the quota of period in q.
func resetsAt(t *testing.T, q quotaJSON, period string) time.Time {
	t.Helper()
	for _, e := range q.Quotas {
		if e.Period == period {
			at, err := time.Parse(time.RFC3339, e.ResetsAt)
			if err != nil {
				t.Fatal(err)
			}
			return at
		}
	}
	t.Fatalf("no %s quota in %+v", period, q)
	return time.Time{}
}

// rateLimit checks the rate-limit headers of a billed answer: the legacy
// triple of the most constrained quota (limit, remaining, reset), the
// policy, and the draft RateLimit items (remaining and seconds to reset,
// consistent with reset and the Date header).
func (c *client) rateLimit(what string, r response, limit, remaining int, reset time.Time, policy, items string) {
	c.t.Helper()
	h := r.header
	if got := h.Get("X-RateLimit-Limit"); got != strconv.Itoa(limit) {
		c.t.Errorf("%s: X-RateLimit-Limit %q, want %d", what, got, limit)
	}
	if got := h.Get("X-RateLimit-Remaining"); got != strconv.Itoa(remaining) {
		c.t.Errorf("%s: X-RateLimit-Remaining %q, want %d", what, got, remaining)
	}
	if got := h.Get("X-RateLimit-Reset"); got != strconv.FormatInt(reset.Unix(), 10) {
		c.t.Errorf("%s: X-RateLimit-Reset %q, want %d (%s)", what, got, reset.Unix(), reset.UTC().Format(time.RFC3339))
	}
	if got := h.Get("RateLimit-Policy"); got != policy {
		c.t.Errorf("%s: RateLimit-Policy %q, want %q", what, got, policy)
	}
	got := h.Get("RateLimit")
	if norm := secondsLeft.ReplaceAllString(got, ";t=*"); norm != items {
		c.t.Errorf("%s: RateLimit %q, want %q", what, got, items)
	}
	// The first item is the most constrained quota: its t is the seconds to
	// its renewal, give or take the second the request took (a retry with an
	// idempotency key gets the first charge's headers, t included).
	if m := regexp.MustCompile(`;t=(\d+)`).FindStringSubmatch(got); m != nil && !strings.Contains(what, "retried") {
		secs, _ := strconv.ParseInt(m[1], 10, 64)
		if left := reset.Unix() - r.date.Unix(); secs < left-2 || secs > left+2 {
			c.t.Errorf("%s: RateLimit t=%d, but the renewal is %d s after the Date header", what, secs, left)
		}
	}
}

// scenario exercises every route of the application bin and returns the
// transcript.
func scenario(t *testing.T, bin string) []string {
	db := filepath.Join(t.TempDir(), "usage.db")
	args := []string{"-addr", "127.0.0.1:0", "-db", db}
	p := start(t, bin, args...)
	c := &client{t: t, base: "http://" + p.addr(t), http: &http.Client{Timeout: 10 * time.Second}}
	defer c.http.CloseIdleConnections()

	const (
		policy1 = `"day";q=500;w=86400, "month";q=10000;w=2678400`
		policy2 = `"minute";q=10;w=60`
	)
	periods1, limits1 := []string{"day", "month"}, []string{"500", "10000"}
	periods2, limits2 := []string{"minute", "day"}, []string{"10", "null"}

	// client1: every route, by X-API-Key and by bearer token. The checks
	// of client1 assume one day window (midnight UTC to midnight UTC)
	// throughout: a run that would cross midnight waits for it first.
	q, _ := c.quota(apiKey1, "client1", periods1, limits1)
	if left := time.Until(resetsAt(t, q, "day")); left < 90*time.Second {
		t.Logf("waiting %v for midnight UTC", left)
		time.Sleep(left + 100*time.Millisecond)
	}
	q, r := c.quota(apiKey1, "client1", periods1, limits1)
	day := resetsAt(t, q, "day")
	if got := used(t, q, "day") + "/" + used(t, q, "month"); got != "0/0" {
		t.Errorf("fresh store: client1 used %s, want 0/0", got)
	}
	c.rateLimit("quota (costs 0)", r, 500, 500, day, policy1, `"day";r=500;t=*, "month";r=10000;t=*`)

	r = c.get("/api/fetch-data", apiKey1)
	c.expect("fetch-data", r, 200, "application/json", fetchDataBody)
	c.rateLimit("fetch-data", r, 500, 499, day, policy1, `"day";r=499;t=*, "month";r=9999;t=*`)

	r = c.get("/api/fetch-expensive-data", apiKey1)
	c.expect("fetch-expensive-data", r, 200, "application/json", expensiveDataBody)
	c.rateLimit("fetch-expensive-data", r, 500, 494, day, policy1, `"day";r=494;t=*, "month";r=9994;t=*`)

	r = c.get("/api/compute?units=0.5", apiKey1)
	c.expect("compute 0.5", r, 200, "application/json", `{"units":0.5,"cost":0.5}`)
	c.rateLimit("compute 0.5", r, 500, 493, day, policy1, `"day";r=493;t=*, "month";r=9993;t=*`) // 493.5, rounded down

	r = c.get("/api/compute?units=0", apiKey1)
	c.expect("compute 0", r, 200, "application/json", `{"units":0,"cost":0}`)

	for _, units := range []string{"abc", "-1", "1e3", "0x10", "99999999999", "0.0000001", ".5"} {
		r = c.get("/api/compute?units="+units, apiKey1)
		c.expect("compute "+units, r, 400, "application/problem+json", badUnitsBody)
		c.noRateLimitHeaders("compute "+units, r)
	}
	r = c.get("/api/compute", apiKey1)
	c.expect("compute without units", r, 400, "application/problem+json", missingUnitsBody)

	r = c.get("/api/unstable", apiKey1)
	c.expect("unstable", r, 503, "application/problem+json", unstableBody)
	if r.header.Get("X-RateLimit-Limit") != "500" {
		t.Errorf("unstable: X-RateLimit-Limit %q, want 500: the route is billed, then refunded", r.header.Get("X-RateLimit-Limit"))
	}

	r = c.get("/api/fetch-data", bearer1)
	c.expect("fetch-data by bearer token", r, 200, "application/json", fetchDataBody)
	c.rateLimit("fetch-data by bearer token", r, 500, 492, day, policy1, `"day";r=492;t=*, "month";r=9992;t=*`)

	// Requests no route serves are not charged, whoever sends them.
	for _, tc := range []struct {
		method, path string
		a            auth
	}{
		{"GET", "/api/nope", apiKey1},
		{"GET", "/api/nope", anonymous},
		{"GET", "/nope", apiKey1},
		{"POST", "/api/nope", apiKey1},
	} {
		r = c.do(tc.method, tc.path, tc.a, "")
		if r.status != http.StatusNotFound {
			t.Errorf("%s %s: status %d, want 404", tc.method, tc.path, r.status)
		}
		c.noRateLimitHeaders(tc.method+" "+tc.path, r)
	}
	r = c.do("POST", "/api/fetch-data", apiKey1, "")
	if r.status != http.StatusMethodNotAllowed && r.status != http.StatusNotFound {
		t.Errorf("POST /api/fetch-data: status %d, want 405 or 404", r.status)
	}
	c.noRateLimitHeaders("POST /api/fetch-data", r)

	// Idempotency keys: a retry with the key is not charged again and gets
	// the first charge's headers; the key on another route is 422; a
	// malformed key is 400.
	r = c.do("GET", "/api/fetch-expensive-data", apiKey1, "blackbox-key-1")
	c.expect("fetch-expensive-data with a key", r, 200, "application/json", expensiveDataBody)
	c.rateLimit("fetch-expensive-data with a key", r, 500, 487, day, policy1, `"day";r=487;t=*, "month";r=9987;t=*`)
	r = c.do("GET", "/api/fetch-expensive-data", apiKey1, "blackbox-key-1")
	c.expect("fetch-expensive-data retried", r, 200, "application/json", expensiveDataBody)
	c.rateLimit("fetch-expensive-data retried", r, 500, 487, day, policy1, `"day";r=487;t=*, "month";r=9987;t=*`)
	r = c.do("GET", "/api/fetch-data", apiKey1, "blackbox-key-1")
	c.expect("a key reused on another route", r, 422, "application/problem+json",
		`{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"This Idempotency-Key was already used for a request of another cost or route."}`)
	r = c.do("GET", "/api/compute?units=2", apiKey1, "blackbox-key-2")
	c.expect("compute 2 with a key", r, 200, "application/json", `{"units":2,"cost":2}`)
	r = c.do("GET", "/api/compute?units=2", apiKey1, "blackbox-key-2")
	c.expect("compute 2 retried", r, 200, "application/json", `{"units":2,"cost":2}`)
	c.rateLimit("compute 2 retried", r, 500, 485, day, policy1, `"day";r=485;t=*, "month";r=9985;t=*`)
	r = c.do("GET", "/api/compute?units=3", apiKey1, "blackbox-key-2")
	c.expect("a key reused for another cost", r, 422, "application/problem+json", "")
	r = c.do("GET", "/api/fetch-data", apiKey1, "not a valid key")
	c.expect("a malformed key", r, 400, "application/problem+json",
		`{"type":"about:blank","title":"Bad Request","status":400,"detail":"The Idempotency-Key must be 1 to 255 visible ASCII characters."}`)

	// 1 + 5 + 0.5 + 0 + 1 + 5 + 2: the bad units, 404s, the retries and the
	// refused keys charged nothing; unstable was refunded.
	q, _ = c.quota(apiKey1, "client1", periods1, limits1)
	if got := used(t, q, "day") + "/" + used(t, q, "month"); got != "14.5/14.5" {
		t.Errorf("client1 used %s, want 14.5/14.5", got)
	}
	quota1 := q

	// Identity.
	for _, tc := range []struct {
		name string
		a    auth
		body string
	}{
		{"no key", anonymous, noIdentityBody},
		{"unknown key", auth{"X-API-Key", "no-such-key"}, unknownKeyBody},
		{"unknown bearer token", auth{"Authorization", "Bearer no-such-key"}, unknownKeyBody},
		{"basic credentials", auth{"Authorization", "Basic ZGVtbzprZXk="}, noIdentityBody},
		{"client ID as key", auth{"X-API-Key", "client1"}, unknownKeyBody},
	} {
		for _, path := range []string{"/api/fetch-data", "/api/quota"} {
			r = c.get(path, tc.a)
			c.expect(tc.name+" "+path, r, 401, "application/problem+json", tc.body)
			c.noRateLimitHeaders(tc.name, r)
		}
	}

	// client2: 10 credits a minute. Start the burst at least 10 s before
	// the minute renews, so that all of it falls in one window.
	q, _ = c.quota(bearer2, "client2", periods2, limits2)
	if left := time.Until(resetsAt(t, q, "minute")); left < 10*time.Second {
		time.Sleep(left + 100*time.Millisecond)
	}
	q, _ = c.quota(bearer2, "client2", periods2, limits2)
	minute := resetsAt(t, q, "minute")
	if got := used(t, q, "minute") + "/" + used(t, q, "day"); got != "0/0" {
		t.Errorf("client2 used %s, want 0/0", got)
	}
	if ws := q.Quotas[1].WindowStart; !strings.HasSuffix(ws, "T00:00:00+10:00") {
		t.Errorf("client2 day window starts %s, want midnight at +10:00", ws)
	}
	for i := range 10 {
		a := bearer2
		if i%2 == 1 {
			a = apiKey2
		}
		r = c.get("/api/fetch-data", a)
		c.expect(fmt.Sprintf("client2 request %d", i+1), r, 200, "application/json", fetchDataBody)
		c.rateLimit(fmt.Sprintf("client2 request %d", i+1), r, 10, 9-i, minute, policy2, fmt.Sprintf(`"minute";r=%d;t=*`, 9-i))
	}
	for _, tc := range []struct {
		path     string
		required string
	}{{"/api/fetch-data", "1"}, {"/api/fetch-expensive-data", "5"}, {"/api/compute?units=0.5", "0.5"}} {
		r = c.get(tc.path, bearer2)
		renews := minute.UTC().Format(time.RFC3339)
		want := `{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded","title":"Quota exceeded","status":429,` +
			`"detail":"You have only 0 credits remaining, but ` + tc.required + ` are required. They will renew at ` + renews + `.",` +
			`"violated-policies":["minute"],"remaining":0,"required":` + tc.required + `,"renews_at":"` + renews + `"}`
		c.expect("client2 over its minute quota "+tc.path, r, 429, "application/problem+json", want)
		c.rateLimit("429 "+tc.path, r, 10, 0, minute, policy2, `"minute";r=0;t=*`)
		// Retry-After is the seconds to the renewal, give or take the
		// second of the Date header (which some servers cache for a second).
		ra, err := strconv.ParseInt(r.header.Get("Retry-After"), 10, 64)
		if left := minute.Unix() - r.date.Unix(); err != nil || ra < left-1 || ra > left+1 || ra < 1 || ra > 60 {
			t.Errorf("429: Retry-After %q, want the %d s to the renewal at %s", r.header.Get("Retry-After"), left, renews)
		}
	}
	q, r = c.quota(bearer2, "client2", periods2, limits2)
	if got := used(t, q, "minute") + "/" + used(t, q, "day"); got != "10/10" {
		t.Errorf("client2 used %s after the refused requests, want 10/10", got)
	}
	c.rateLimit("quota at the limit", r, 10, 0, minute, policy2, `"minute";r=0;t=*`)
	quota2 := q

	// SIGTERM: a clean exit, having printed one line.
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0; stderr: %s", code, p.stderr.String())
	}
	if out := p.stdout.String(); strings.Count(out, "\n") != 1 {
		t.Errorf("stdout %q, want one line", out)
	}

	// A restart on the same file continues the usage exactly.
	p = start(t, bin, args...)
	c.http.CloseIdleConnections()
	c.base = "http://" + p.addr(t)
	q, _ = c.quota(apiKey1, "client1", periods1, limits1)
	q.AsOf = quota1.AsOf // the time of the read
	if got, want := fmt.Sprint(q), fmt.Sprint(quota1); got != want {
		t.Errorf("client1 after a restart:\n got %s\nwant %s", got, want)
	}
	q, _ = c.quota(apiKey2, "client2", periods2, limits2)
	if got, want := used(t, q, "day"), used(t, quota2, "day"); got != want || q.Quotas[1].WindowStart != quota2.Quotas[1].WindowStart {
		t.Errorf("client2 day after a restart: used %s in the window from %s, want %s from %s", got, q.Quotas[1].WindowStart, want, quota2.Quotas[1].WindowStart)
	}
	if !time.Now().Before(minute) {
		// The minute renewed in between: nothing to compare.
	} else if got := used(t, q, "minute"); got != "10" {
		t.Errorf("client2 minute after a restart: used %s, want 10", got)
	}
	// Keys outlive a restart: the retries are still not charged.
	r = c.do("GET", "/api/fetch-expensive-data", apiKey1, "blackbox-key-1")
	c.expect("fetch-expensive-data retried after a restart", r, 200, "application/json", expensiveDataBody)
	c.rateLimit("fetch-expensive-data retried after a restart", r, 500, 487, day, policy1, `"day";r=487;t=*, "month";r=9987;t=*`)
	r = c.do("GET", "/api/compute?units=2", apiKey1, "blackbox-key-2")
	c.expect("compute 2 retried after a restart", r, 200, "application/json", `{"units":2,"cost":2}`)
	c.rateLimit("compute 2 retried after a restart", r, 500, 485, day, policy1, `"day";r=485;t=*, "month";r=9985;t=*`)
	r = c.get("/api/fetch-data", apiKey1)
	c.rateLimit("fetch-data after a restart", r, 500, 484, day, policy1, `"day";r=484;t=*, "month";r=9984;t=*`)

	// A second process on the same file is refused, and quickly.
	second := start(t, bin, "-addr", "127.0.0.1:0", "-db", db)
	if code := second.wait(t); code == 0 {
		t.Errorf("a second process on the same file exited with 0")
	}
	if msg := second.stderr.String(); !strings.Contains(msg, db) || !strings.Contains(msg, "in use") {
		t.Errorf("the second process's error %q does not say that %s is in use", msg, db)
	}
	if out := second.stdout.String(); out != "" {
		t.Errorf("the second process printed %q", out)
	}
	// The first one goes on serving.
	r = c.get("/api/fetch-data", apiKey1)
	c.rateLimit("fetch-data beside a second process", r, 500, 483, day, policy1, `"day";r=483;t=*, "month";r=9983;t=*`)

	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0; stderr: %s", code, p.stderr.String())
	}
	if msg := p.stderr.String(); msg != "" {
		t.Errorf("stderr: %s", msg)
	}
	return c.transcript
}

// TestExamplesHeaderLimit checks the one header-size behaviour of the four
// applications: request headers of 8 KiB are read (here answered 401, the
// key being unknown), headers beyond 12 KiB are answered 431.
func TestExamplesHeaderLimit(t *testing.T) {
	bins := buildApps(t)
	dir := t.TempDir()
	for i, name := range apps {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := start(t, bins[i], "-addr", "127.0.0.1:0", "-db", filepath.Join(dir, name+".db"))
			addr := p.addr(t)
			for _, tc := range []struct {
				size   int
				status int
			}{{8 << 10, 401}, {16 << 10, 431}} {
				status, err := rawStatus(addr, tc.size)
				if err != nil || status != tc.status {
					t.Errorf("a %d-byte header: status %d (%v), want %d", tc.size, status, err, tc.status)
				}
			}
			if code := p.stop(t); code != 0 {
				t.Errorf("exit code %d after SIGTERM; stderr: %s", code, p.stderr.String())
			}
		})
	}
}

// rawStatus sends a GET of /api/fetch-data with an X-API-Key header of
// size bytes (name, value and line end) on a connection of its own, and
// returns the status of the answer. Write errors are ignored: a server may
// answer 431 and close before reading the whole request.
func rawStatus(addr string, size int) (int, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return 0, err
	}
	req := "GET /api/fetch-data HTTP/1.1\r\nHost: " + addr + "\r\nX-API-Key: " +
		strings.Repeat("k", size-len("X-API-Key: \r\n")) + "\r\nConnection: close\r\n\r\n"
	_, _ = conn.Write([]byte(req))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
