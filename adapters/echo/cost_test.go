package echobilling_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	echobilling "github.com/frappy-go/apibilling/adapters/echo"
	"github.com/frappy-go/apibilling/core"
)

// TestDefaultAndZeroCost checks that an unset Config.Cost bills 1 credit
// and core.Whole(0) bills nothing.
func TestDefaultAndZeroCost(t *testing.T) {
	for _, tc := range []struct {
		name string
		cost core.Credits
		want core.Credits
	}{
		{"unset", core.Credits{}, core.Whole(1)},
		{"zero", core.Whole(0), core.Whole(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, lookup := newBilling()
			e := echo.New()
			e.Use(echobilling.NewWithConfig(echobilling.Config{Billing: b, Cost: tc.cost,
				Identity: echobilling.MapKey(echobilling.Header("X-API-Key"), lookup)}))
			e.GET("/x", func(c echo.Context) error { return c.String(200, "ok") })
			req := httptest.NewRequest("GET", "/x", nil)
			req.Header.Set("X-API-Key", "demo-key-1")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			o, err := b.Status(context.Background(), "client1")
			if err != nil {
				t.Fatal(err)
			}
			if got := o.Quota(0).Used; rec.Code != 200 || got != tc.want {
				t.Errorf("status %d, used %v, want 200, %v", rec.Code, got, tc.want)
			}
		})
	}
}
