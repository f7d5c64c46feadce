package apps

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/frappy-go/apibilling/core"
)

// TestEchoFloor: the floor bills what apibilling's middleware bills (one
// credit per request to the key's client), refuses an unknown key, and
// with set leaves the charge where the handler finds it: the floor is
// the least that does the same work, not less.
func TestEchoFloor(t *testing.T) {
	for _, set := range []bool{false, true} {
		b := MemoryBilling()
		e := echo.New()
		var found int
		e.Use(EchoFloor(b, set))
		e.GET(Path, func(c echo.Context) error {
			if st, ok := c.Get(floorStateKey).(*floorState); ok && st.outcome.Allowed() {
				found++
			}
			return c.Blob(http.StatusOK, jsonType, Body)
		})
		const n = 7
		for range n {
			req := httptest.NewRequest(http.MethodGet, Path, nil)
			req.Header.Set(KeyHeader, Key)
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("set=%v: status %d", set, rec.Code)
			}
		}
		o, err := b.Status(context.Background(), ClientID)
		if err != nil {
			t.Fatal(err)
		}
		if used := Limit.Sub(o.Figures(0).Remaining); used.Cmp(core.Whole(n)) != 0 {
			t.Errorf("set=%v: %s credits used after %d requests, want %d", set, used, n, n)
		}
		if want := map[bool]int{false: 0, true: n}[set]; found != want {
			t.Errorf("set=%v: the handler found the charge %d times, want %d", set, found, want)
		}
		req := httptest.NewRequest(http.MethodGet, Path, nil)
		req.Header.Set(KeyHeader, "unknown")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("set=%v: unknown key answered %d, want 401", set, rec.Code)
		}
	}
}
