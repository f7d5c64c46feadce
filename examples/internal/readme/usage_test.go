package readme

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// TestUsageSnippet: the README's usage API answers the caller's quotas to
// its API key, and 401 without one.
func TestUsageSnippet(t *testing.T) {
	b := core.New(memory.New())
	if err := b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: core.Whole(500)}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mountUsage(mux, b)
	req := httptest.NewRequest("GET", "/billing/api/me", nil)
	req.Header.Set("X-API-Key", "demo-key-1")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var me struct {
		Client string `json:"client"`
		Quotas []struct {
			Period string `json:"period"`
		} `json:"quotas"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &me); err != nil || rec.Code != 200 {
		t.Fatalf("api/me = %d %s (%v)", rec.Code, rec.Body, err)
	}
	if me.Client != "client1" || len(me.Quotas) != 1 || me.Quotas[0].Period != "day" {
		t.Errorf("api/me = %s, want client1's day quota", rec.Body)
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/billing/api/me", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("api/me without a key = %d, want 401", rec.Code)
	}
}

// TestMetricsSnippet: after one allowed and one unidentified request, the
// README's /metrics counts exactly those.
func TestMetricsSnippet(t *testing.T) {
	store := memory.New()
	reg := prometheus.NewRegistry()
	h := withMetrics(store, reg)
	// The snippet leaves quotas to the Quick start, so the client has
	// none: its request is 403, no_quota.
	req := httptest.NewRequest("GET", "/api/fetch-data", nil)
	req.Header.Set("X-API-Key", "demo-key-1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/fetch-data", nil))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`apibilling_requests_total{outcome="no_quota",route="/api/fetch-data"} 1`,
		`apibilling_requests_total{outcome="unidentified",route="/api/fetch-data"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
}
