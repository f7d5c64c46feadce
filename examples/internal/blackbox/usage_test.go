package blackbox

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const adminToken = "blackbox-admin-token"

var admin = auth{"Authorization", "Bearer " + adminToken}

// TestExamplesUsageAPI charges each app, then reads its usage API under
// /billing/: the client's own quotas and usage (by API key), the
// operator's views (by the admin token), the invoicing CSV, a portal
// token, the dashboard; none of it is billed, and every app answers the
// same.
func TestExamplesUsageAPI(t *testing.T) {
	bins := buildApps(t)
	csvs := make([]string, len(apps))
	for i, name := range apps {
		t.Run(name, func(t *testing.T) {
			p := start(t, bins[i], "-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "u.db"), "-admin-token", adminToken)
			c := &client{t: t, base: "http://" + p.addr(t), http: &http.Client{Timeout: 10 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
			for _, path := range []string{"/api/fetch-data", "/api/fetch-data", "/api/fetch-expensive-data", "/api/compute?units=0.5"} {
				c.expect(path, c.get(path, apiKey1), 200, "application/json", "")
			}
			today := time.Now().UTC().Format(time.DateOnly)

			// Self-service, by API key or bearer token: not billed.
			c.expect("me without a key", c.get("/billing/api/me", anonymous), 401, "application/problem+json", "")
			me := c.get("/billing/api/me", apiKey1)
			c.expect("me", me, 200, "application/json", "")
			var st struct {
				Client string `json:"client"`
				Quotas []struct {
					Period string      `json:"period"`
					Used   json.Number `json:"used"`
				} `json:"quotas"`
			}
			if err := json.Unmarshal([]byte(me.body), &st); err != nil || st.Client != "client1" || st.Quotas[0].Used != "7.5" {
				t.Errorf("api/me: %s (%v), want client1 with 7.5 used", me.body, err)
			}
			q, _ := c.quota(bearer1, "client1", []string{"day", "month"}, []string{"500", "10000"})
			if u := used(t, q, "day"); u != "7.5" {
				t.Errorf("/api/quota after the usage API: %s used, want 7.5 (the usage API is not billed)", u)
			}
			usage := c.get("/billing/api/me/usage?format=csv&tz=UTC&from="+today+"&to="+today, apiKey1)
			wantMe := "date,route,credits\n" + today + ",/api/compute,0.5\n" + today + ",/api/fetch-data,2\n" + today + ",/api/fetch-expensive-data,5\n"
			if usage.status != 200 || usage.body != wantMe {
				t.Errorf("me/usage CSV: %d\n%s\nwant\n%s", usage.status, usage.body, wantMe)
			}

			// Operator.
			c.expect("clients without the token", c.get("/billing/api/clients", apiKey1), 401, "application/problem+json", "")
			c.expect("clients with a wrong token", c.get("/billing/api/clients", auth{"Authorization", "Bearer nope"}), 401, "application/problem+json", "")
			c.expect("clients", c.get("/billing/api/clients", admin), 200, "application/json", "")
			all := c.get("/billing/api/usage?format=csv&tz=UTC&from="+today+"&to="+today, admin)
			c.expect("usage CSV", all, 200, "text/csv; charset=utf-8", "")
			csvs[i] = all.body
			if !strings.Contains(all.body, "client1,"+today+",/api/fetch-expensive-data,5\n") {
				t.Errorf("usage CSV:\n%s", all.body)
			}
			c.expect("another client by key", c.get("/billing/api/clients/client2", apiKey1), 404, "application/problem+json", "")
			backup := c.get("/billing/api/backup", admin)
			if backup.status != 200 || len(backup.body) < 4096 {
				t.Errorf("backup: %d, %d bytes", backup.status, len(backup.body))
			}
			tok := c.do(http.MethodPost, "/billing/api/clients/client1/portal-tokens", admin, "")
			var minted struct{ Token string }
			if tok.status != 201 || json.Unmarshal([]byte(tok.body), &minted) != nil || minted.Token == "" {
				t.Fatalf("portal token: %d %s", tok.status, tok.body)
			}
			c.expect("me by portal token", c.get("/billing/api/me", auth{"Authorization", "Bearer " + minted.Token}), 200, "application/json", "")
			c.expect("client2 by client1's portal token", c.get("/billing/api/clients/client2", auth{"Authorization", "Bearer " + minted.Token}), 404, "application/problem+json", "")

			// The dashboard.
			redirect := c.get("/billing", anonymous)
			if redirect.status != 301 || redirect.header.Get("Location") != "/billing/" {
				t.Errorf("/billing: %d to %q, want 301 to /billing/", redirect.status, redirect.header.Get("Location"))
			}
			c.expect("dashboard", c.get("/billing/", anonymous), 200, "text/html; charset=utf-8", "")
			c.expect("dashboard script", c.get("/billing/assets/dashboard.js", anonymous), 200, "text/javascript; charset=utf-8", "")

			q, _ = c.quota(apiKey1, "client1", []string{"day", "month"}, []string{"500", "10000"})
			if u := used(t, q, "day"); u != "7.5" {
				t.Errorf("after the usage API: %s used, want 7.5: it must not be billed", u)
			}
			if code := p.stop(t); code != 0 {
				t.Errorf("exit code %d; stderr: %s", code, p.stderr.String())
			}
		})
	}
	for i := 1; i < len(apps); i++ {
		if csvs[i] != csvs[0] {
			t.Errorf("usage CSV of %s differs from %s's:\n%s\n%s", apps[i], apps[0], csvs[i], csvs[0])
		}
	}
}

// TestExamplesMetrics runs a scripted sequence of requests against each
// app and checks the counters scraped from /metrics exactly.
func TestExamplesMetrics(t *testing.T) {
	bins := buildApps(t)
	for i, name := range apps {
		t.Run(name, func(t *testing.T) {
			p := start(t, bins[i], "-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "m.db"))
			c := &client{t: t, base: "http://" + p.addr(t), http: &http.Client{Timeout: 10 * time.Second}}
			c.get("/api/fetch-data", apiKey1)
			c.get("/api/fetch-data", apiKey1)
			c.get("/api/fetch-expensive-data", apiKey1)
			c.get("/api/compute?units=0.25", apiKey1)
			c.get("/api/compute?units=nope", apiKey1) // 400, not charged
			c.get("/api/unstable", apiKey1)           // 503, refunded
			c.get("/api/quota", apiKey1)              // free
			c.get("/api/fetch-data", anonymous)       // 401
			c.get("/api/nowhere", apiKey1)            // 404, not charged
			for range 11 {                            // client2's minute quota is 10
				c.get("/api/fetch-data", apiKey2)
			}
			c.get("/billing/api/me", apiKey1) // not billed
			r := c.get("/metrics", anonymous)
			if r.status != 200 {
				t.Fatalf("/metrics: %d", r.status)
			}
			families, err := parseMetrics(r.body)
			if err != nil {
				t.Fatalf("parsing /metrics: %v\n%s", err, r.body)
			}
			want := map[string]float64{
				`apibilling_credits_charged_total{route="/api/fetch-data"}`:           12, // 2 + 10 of client2
				`apibilling_credits_charged_total{route="/api/fetch-expensive-data"}`: 5,
				// The first request of /api/compute is charged the global
				// middleware's 1 credit, which the route's own handler refunds
				// before it charges its cost; later ones go to it directly.
				`apibilling_credits_charged_total{route="/api/compute"}`:   1.25,
				`apibilling_credits_refunded_total{route="/api/compute"}`:  1,
				`apibilling_credits_charged_total{route="/api/unstable"}`:  1,
				`apibilling_credits_refunded_total{route="/api/unstable"}`: 1,
				`apibilling_store_errors_total{op="deduct"}`:               0,
			}
			for series, v := range want {
				if got, ok := families[series]; !ok || got != v {
					t.Errorf("%s = %v (present %v), want %v", series, got, ok, v)
				}
			}
			var requests float64
			for series, v := range families {
				if strings.HasPrefix(series, "apibilling_requests_total{") {
					requests += v
				}
			}
			if requests != 19 { // every request but /api/nowhere (no route), /billing and /metrics
				t.Errorf("apibilling_requests_total sums to %v, want 19", requests)
			}
			for series := range families {
				if strings.Contains(series, "client1") || strings.Contains(series, "demo-key") {
					t.Errorf("%s names a client or a key", series)
				}
			}
			// Deductions that reached the store: fetch-data twice, the
			// expensive route, compute twice (the global charge, then the
			// route's), unstable, the free quota route, and 11 of client2.
			if got := families["apibilling_store_duration_seconds_count{op=\"deduct\"}"]; got != 18 {
				t.Errorf("store deduct calls = %v, want 18", got)
			}
			if code := p.stop(t); code != 0 {
				t.Errorf("exit code %d; stderr: %s", code, p.stderr.String())
			}
		})
	}
}

// parseMetrics parses Prometheus text into series -> value, with
// histograms as _count and _sum.
func parseMetrics(text string) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		if !model.IsValidLegacyMetricName(name) {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := labelsOf(m)
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[name+labels] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name+labels] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"+labels] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum"+labels] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out, nil
}

func labelsOf(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"=\""+l.GetValue()+"\"")
	}
	return "{" + strings.Join(parts, ",") + "}"
}
