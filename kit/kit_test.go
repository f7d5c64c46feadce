package kit_test

import (
	"flag"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/kit"
)

func TestOpenTheDemo(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	cfg := kit.Flags(fs)
	if err := fs.Parse([]string{"-db", filepath.Join(t.TempDir(), "k.db"), "-admin-token", "t"}); err != nil {
		t.Fatal(err)
	}
	k, err := kit.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Billing.Track(t.Context(), "client1", core.Whole(1)); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/billing/api/me", nil)
	req.Header.Set("Authorization", "Bearer demo-key-1")
	rec := httptest.NewRecorder()
	k.UsageAPI.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"used":1,`) {
		t.Errorf("usage API: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	k.MetricsHandler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "apibilling_credits_charged_total") {
		t.Errorf("metrics: %d", rec.Code)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigMistakes(t *testing.T) {
	for _, cfg := range []kit.Config{
		{Redis: "127.0.0.1:6379", Postgres: "postgres://x"},
		{DB: filepath.Join(t.TempDir(), "w.db"), WebhookURL: "http://127.0.0.1:1/hook"},
		{DB: filepath.Join(t.TempDir(), "c.db"), Clients: filepath.Join(t.TempDir(), "missing.json")},
	} {
		if k, err := kit.Open(t.Context(), &cfg); err == nil {
			k.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
}

func TestSide(t *testing.T) {
	for path, want := range map[string]bool{"/billing": true, "/billing/": true, "/billing/api/me": true,
		"/metrics": true, "/billingx": false, "/api/fetch-data": false, "/metrics/x": false} {
		if got := kit.Side(path); got != want {
			t.Errorf("Side(%q) = %v", path, got)
		}
	}
}
