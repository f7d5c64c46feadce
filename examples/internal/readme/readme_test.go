package readme

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/frappy-go/apibilling/core"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// blocks returns the README blocks of the Go files of this package, by
// name: the lines between "// README:begin NAME" and "// README:end".
func blocks(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range []string{"readme.go", "routes.go"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var name string
		var b strings.Builder
		for _, line := range strings.SplitAfter(string(data), "\n") {
			switch {
			case strings.HasPrefix(line, "// README:begin "):
				name = strings.TrimSpace(strings.TrimPrefix(line, "// README:begin "))
				b.Reset()
			case strings.HasPrefix(line, "// README:end"):
				out[name] = strings.TrimSpace(b.String())
				name = ""
			case name != "":
				b.WriteString(line)
			}
		}
	}
	return out
}

// TestREADMEQuotesTheCode checks that the README holds every block of this
// package verbatim (in a Go code block), so that its Quick start and
// per-route snippets are the code compiled and tested here.
func TestREADMEQuotesTheCode(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	bs := blocks(t)
	if len(bs) < 9 {
		t.Fatalf("%d README blocks, want 9", len(bs))
	}
	for name, code := range bs {
		if !strings.Contains(string(readme), "```go\n"+code+"\n```") {
			t.Errorf("the README does not quote the block %s as a Go code block:\n%s", name, code)
		}
	}
}

// TestQuickStart runs each framework's Quick start on the setup's bbolt
// file: a request with the key is charged one credit, one without is 401.
func TestQuickStart(t *testing.T) {
	b, closeStore, err := openBilling(filepath.Join(t.TempDir(), "apibilling.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := closeStore(); err != nil {
			t.Error(err)
		}
	}()
	apps := map[string]func(*http.Request) (int, http.Header){
		"gin":     serveHTTP(ginApp(b)),
		"echo":    serveHTTP(echoApp(b)),
		"fiber":   serveFiber(fiberApp(b)),
		"nethttp": serveHTTP(netHTTPApp(b)),
	}
	left := 500
	for _, name := range []string{"gin", "echo", "fiber", "nethttp"} {
		req := httptest.NewRequest("GET", "/api/fetch-data", nil)
		req.Header.Set("X-API-Key", "demo-key-1")
		status, h := apps[name](req)
		left--
		if want := strconv.Itoa(left); status != 200 || h.Get("X-RateLimit-Remaining") != want {
			t.Errorf("%s: %d, X-RateLimit-Remaining %q, want 200 and %s", name, status, h.Get("X-RateLimit-Remaining"), want)
		}
		if status, _ := apps[name](httptest.NewRequest("GET", "/api/fetch-data", nil)); status != 401 {
			t.Errorf("%s without a key: %d, want 401", name, status)
		}
	}
}

// TestCombinedSnippetsChargeTheDocumentedCosts serves every request of
// documentedCosts through each framework's per-route snippet, which
// combines a global middleware, a cost table and route-level handlers, and
// checks that each is charged exactly its documented cost, once.
func TestCombinedSnippetsChargeTheDocumentedCosts(t *testing.T) {
	for name, build := range map[string]func(*core.Billing) func(*http.Request) (int, http.Header){
		"gin":     func(b *core.Billing) func(*http.Request) (int, http.Header) { return serveHTTP(ginRoutes(b)) },
		"echo":    func(b *core.Billing) func(*http.Request) (int, http.Header) { return serveHTTP(echoRoutes(b)) },
		"fiber":   func(b *core.Billing) func(*http.Request) (int, http.Header) { return serveFiber(fiberRoutes(b)) },
		"nethttp": func(b *core.Billing) func(*http.Request) (int, http.Header) { return serveHTTP(netHTTPRoutes(b)) },
	} {
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
			serve := build(b)
			for round := range 2 { // the second time, the middleware knows the routes
				for _, tc := range documentedCosts {
					before := used(t, b)
					req := httptest.NewRequest("GET", tc.path, nil)
					req.Header.Set("X-API-Key", "demo-key-1")
					status, _ := serve(req)
					if status != tc.status {
						t.Errorf("round %d %s: status %d, want %d", round, tc.path, status, tc.status)
					}
					if got := used(t, b).Sub(before); got != core.MustParseCredits(tc.cost) {
						t.Errorf("round %d %s: charged %v, want %s", round, tc.path, got, tc.cost)
					}
				}
			}
		})
	}
}

func used(t *testing.T, b *core.Billing) core.Credits {
	t.Helper()
	o, err := b.Status(t.Context(), "client1")
	if err != nil {
		t.Fatal(err)
	}
	return o.Quota(0).Used
}

func serveHTTP(h http.Handler) func(*http.Request) (int, http.Header) {
	return func(req *http.Request) (int, http.Header) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Header()
	}
}

func serveFiber(app interface {
	Test(*http.Request, ...int) (*http.Response, error)
}) func(*http.Request) (int, http.Header) {
	return func(req *http.Request) (int, http.Header) {
		resp, err := app.Test(req, -1)
		if err != nil {
			return 0, nil
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
}
