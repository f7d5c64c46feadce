package fiberbilling_test

import (
	"context"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	fiberbilling "github.com/frappy-go/apibilling/adapters/fiber"
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
			b := testBilling(t, "client-z")
			app := fiber.New(fiber.Config{DisableStartupMessage: true})
			app.Use(fiberbilling.New(fiberbilling.Config{Billing: b, Cost: tc.cost, Identity: fiberbilling.Header("X-API-Key")}))
			app.Get("/x", func(c *fiber.Ctx) error { return c.SendString("ok") })
			if got := serve(app.Handler(), &fasthttp.RequestCtx{}, "/x", "client-z"); got != 200 {
				t.Fatalf("status %d", got)
			}
			o, err := b.Status(context.Background(), "client-z")
			if err != nil {
				t.Fatal(err)
			}
			if got := o.Quota(0).Used; got != tc.want {
				t.Errorf("used %v, want %v", got, tc.want)
			}
		})
	}
}
