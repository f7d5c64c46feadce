package e2e_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
	"github.com/frappy-go/apibilling/usageapi"
)

// TestDashboardInProcess serves the usage API on loopback from this
// process, charges client1 on two routes and drives the dashboard.
func TestDashboardInProcess(t *testing.T) {
	const admin = "e2e-admin-token"
	b := core.New(memory.New())
	if err := b.SetQuotas("client1",
		core.Quota{Period: core.Day, Limit: core.Whole(500)},
		core.Quota{Period: core.Month, Limit: core.Whole(10000)}); err != nil {
		t.Fatal(err)
	}
	for i, route := range []string{"/api/fetch-data", "/api/fetch-data", "/api/fetch-expensive-data", "/api/compute"} {
		cost := []core.Credits{core.Whole(1), core.Whole(1), core.Whole(5), core.MustParseCredits("0.5")}[i]
		if _, err := b.Charge(t.Context(), core.Charge{Client: "client1", Label: route, Cost: cost}); err != nil {
			t.Fatal(err)
		}
	}
	api := usageapi.New(usageapi.Config{
		Billing:    b,
		AdminToken: admin,
		Identity: func(r *http.Request) (string, error) {
			if r.Header.Get("X-API-Key") == "demo-key-1" {
				return "client1", nil
			}
			return "", errors.New("unknown key")
		},
	})
	mux := http.NewServeMux()
	mux.Handle("/billing/", http.StripPrefix("/billing", api))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := srv.URL + "/billing/"

	req, _ := http.NewRequest("POST", base+"api/clients/client1/portal-tokens", strings.NewReader(`{"ttl":"1h"}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.Token == "" {
		t.Fatalf("no portal token: %d", resp.StatusCode)
	}
	_ = time.Second
	dashboardCase(t, base, tok.Token, admin)
}
