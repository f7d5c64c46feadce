package readme

import (
	"errors"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	nethttpbilling "github.com/frappy-go/apibilling/adapters/nethttp"
	"github.com/frappy-go/apibilling/core"
	prombilling "github.com/frappy-go/apibilling/metrics/prometheus"
	"github.com/frappy-go/apibilling/usageapi"
)

// README:begin usageapi
// mountUsage serves the usage API and the dashboard under /billing/.
func mountUsage(mux *http.ServeMux, b *core.Billing) {
	api := usageapi.New(usageapi.Config{
		Billing: b,
		Identity: func(r *http.Request) (string, error) { // as the API identifies its clients
			if client, ok := lookup(r.Header.Get("X-API-Key")); ok {
				return client, nil
			}
			return "", errors.New("no valid API key")
		},
		AdminToken: os.Getenv("APIBILLING_ADMIN_TOKEN"), // empty: the operator endpoints answer 404
	})
	mux.Handle("/billing/", http.StripPrefix("/billing", api))
}

// README:end

// README:begin metrics
// withMetrics returns an API whose requests, credits and store calls are
// counted, and serves them at /metrics (not billed).
func withMetrics(store core.Store, reg *prometheus.Registry) http.Handler {
	metrics := prombilling.New(nil)
	reg.MustRegister(metrics)
	b := core.New(store, core.WithObserver(metrics))
	// ... SetQuotas as in the Quick start ...
	bill := nethttpbilling.NewMiddleware(b, nethttpbilling.MapKey(nethttpbilling.Header("X-API-Key"), lookup),
		nethttpbilling.WithObserver(metrics)) // gin: ginbilling.WithObserver; echo, fiber: Config.Observer
	api := http.NewServeMux()
	api.HandleFunc("GET /api/fetch-data", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) })
	mux := http.NewServeMux()
	mux.Handle("/api/", bill.Handler(api))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// README:end
