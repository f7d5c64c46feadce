package readme

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// TestRoutingDifferences pins down the README's "Routing differences"
// table: what each framework's router does with HEAD, a trailing slash,
// another case and an encoded slash on the per-route snippets' routes, and
// that whatever no route serves is not charged.
func TestRoutingDifferences(t *testing.T) {
	type probe struct{ method, path string }
	probes := []probe{
		{"HEAD", "/api/fetch-data"},
		{"GET", "/api/fetch-data/"},
		{"GET", "/API/FETCH-DATA"},
		{"GET", "/api%2Ffetch-data"},
		{"POST", "/api/fetch-data"},
	}
	for _, name := range []string{"gin", "echo", "fiber", "nethttp"} {
		t.Run(name, func(t *testing.T) {
			b, closeStore, err := openBilling(filepath.Join(t.TempDir(), "apibilling.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := closeStore(); err != nil {
					t.Error(err)
				}
			}()
			var serve func(*http.Request) (int, http.Header)
			switch name {
			case "gin":
				serve = serveHTTP(ginRoutes(b))
			case "echo":
				serve = serveHTTP(echoRoutes(b))
			case "fiber":
				serve = serveFiber(fiberRoutes(b))
			default:
				serve = serveHTTP(netHTTPRoutes(b))
			}
			for _, p := range probes {
				before := used(t, b)
				req := httptest.NewRequest(p.method, "http://api.example"+p.path, nil)
				req.Header.Set("X-API-Key", "demo-key-1")
				status, h := serve(req)
				charged := used(t, b).Sub(before)
				got := fmt.Sprintf("%d charged %v", status, charged)
				t.Logf("%s %s: %s", p.method, p.path, got)
				want := routing[name][p.method+" "+p.path]
				if got != want {
					t.Errorf("%s %s: %s, want %s", p.method, p.path, got, want)
				}
				if charged.IsZero() && h.Get("X-RateLimit-Remaining") != "" && status >= 300 {
					t.Errorf("%s %s: not charged, but rate-limit headers", p.method, p.path)
				}
			}
		})
	}
}

// routing is the README's table, as status and charge per request.
var routing = map[string]map[string]string{
	"gin": {
		"HEAD /api/fetch-data":  "404 charged 0",
		"GET /api/fetch-data/":  "301 charged 0",
		"GET /API/FETCH-DATA":   "404 charged 0",
		"GET /api%2Ffetch-data": "200 charged 1",
		"POST /api/fetch-data":  "404 charged 0",
	},
	"echo": {
		"HEAD /api/fetch-data":  "405 charged 0",
		"GET /api/fetch-data/":  "404 charged 0",
		"GET /API/FETCH-DATA":   "404 charged 0",
		"GET /api%2Ffetch-data": "404 charged 0",
		"POST /api/fetch-data":  "405 charged 0",
	},
	"fiber": {
		"HEAD /api/fetch-data":  "200 charged 1",
		"GET /api/fetch-data/":  "200 charged 1",
		"GET /API/FETCH-DATA":   "200 charged 1",
		"GET /api%2Ffetch-data": "404 charged 0",
		"POST /api/fetch-data":  "405 charged 0",
	},
	"nethttp": {
		"HEAD /api/fetch-data":  "200 charged 1",
		"GET /api/fetch-data/":  "404 charged 0",
		"GET /API/FETCH-DATA":   "404 charged 0",
		"GET /api%2Ffetch-data": "404 charged 0",
		"POST /api/fetch-data":  "405 charged 0",
	},
}
