package nethttpbilling_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	nethttpbilling "github.com/frappy-go/apibilling/adapters/nethttp"
	"github.com/frappy-go/apibilling/core"
)

func used(t *testing.T, b *core.Billing) core.Credits {
	t.Helper()
	o, err := b.Status(context.Background(), "client1")
	if err != nil {
		t.Fatal(err)
	}
	return o.Quota(0).Used
}

// TestWithRouter checks a router that is not a ServeMux: WithRouter tells
// the middleware the route (its pattern labels and prices the request) and
// that nothing serves a path (not charged).
func TestWithRouter(t *testing.T) {
	b, lookup := newBilling()
	// A router of its own: /items/ID.
	router := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/items/") {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("item"))
	})
	route := func(r *http.Request) (string, bool) {
		if strings.HasPrefix(r.URL.Path, "/items/") {
			return "/items/{id}", true
		}
		return "", false
	}
	h := nethttpbilling.New(b, nethttpbilling.MapKey(nethttpbilling.Header("X-API-Key"), lookup),
		nethttpbilling.WithRouter(route),
		nethttpbilling.WithRoutes(map[string]core.Credits{"/items/{id}": core.Whole(2)}))(router)
	if rec := get(h, "/items/7", "demo-key-1"); rec.Code != 200 || used(t, b) != core.Whole(2) {
		t.Errorf("/items/7: %d, used %v; want 200, 2", rec.Code, used(t, b))
	}
	if rec := get(h, "/other", "demo-key-1"); rec.Code != 404 || used(t, b) != core.Whole(2) {
		t.Errorf("/other: %d, used %v; want 404, still 2", rec.Code, used(t, b))
	}
	days, err := b.DailyUsage(context.Background(), "client1", nowDay(), nowDay().AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 1 || days[0].ByLabel["/items/{id}"] != core.Whole(2) {
		t.Errorf("usage by label %v, want /items/{id}: 2", days)
	}
}

// TestWithoutRouter checks a plain handler: the middleware cannot tell a
// 404 from a served request, and bills every request without a label,
// while route-level handlers know their route.
func TestWithoutRouter(t *testing.T) {
	b, lookup := newBilling()
	h := nethttpbilling.New(b, nethttpbilling.MapKey(nethttpbilling.Header("X-API-Key"), lookup))(http.NotFoundHandler())
	if rec := get(h, "/anything", "demo-key-1"); rec.Code != 404 || used(t, b) != core.Whole(1) {
		t.Errorf("%d, used %v; want 404, 1 (charged: no router to ask)", rec.Code, used(t, b))
	}
}

// TestServeMuxRedirect checks that a ServeMux's redirect (a path without
// its trailing slash) is not charged, and the redirected request is.
func TestServeMuxRedirect(t *testing.T) {
	b, lookup := newBilling()
	mux := http.NewServeMux()
	mux.HandleFunc("/dir/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("dir")) })
	h := nethttpbilling.New(b, nethttpbilling.MapKey(nethttpbilling.Header("X-API-Key"), lookup))(mux)
	if rec := get(h, "/dir", "demo-key-1"); rec.Code != http.StatusTemporaryRedirect || !used(t, b).IsZero() {
		t.Errorf("/dir: %d, used %v; want 307, 0", rec.Code, used(t, b))
	}
	if rec := get(h, "/dir/", "demo-key-1"); rec.Code != 200 || used(t, b) != core.Whole(1) {
		t.Errorf("/dir/: %d, used %v; want 200, 1", rec.Code, used(t, b))
	}
}

func nowDay() time.Time { return time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC) }
