package ginbilling_test

import (
	"context"
	"testing"

	"github.com/gin-gonic/gin"

	ginbilling "github.com/frappy-go/apibilling/adapters/gin"
	"github.com/frappy-go/apibilling/core"
)

// TestDefaultAndZeroCost checks that Handler bills 1 credit by default and
// nothing with WithCost(core.Whole(0)), and that an unset cost is refused
// at construction.
func TestDefaultAndZeroCost(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []ginbilling.Option
		want core.Credits
	}{
		{"default", nil, core.Whole(1)},
		{"zero", []ginbilling.Option{ginbilling.WithCost(core.Whole(0))}, core.Whole(0)},
		{"half", []ginbilling.Option{ginbilling.WithCost(core.MustParseCredits("0.5"))}, core.MustParseCredits("0.5")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, lookup := newBilling()
			r := gin.New()
			r.Use(ginbilling.New(b, ginbilling.MapKey(ginbilling.Header("X-API-Key"), lookup), tc.opts...))
			r.GET("/x", func(c *gin.Context) { c.String(200, "ok") })
			if rec := get(r, "/x", "demo-key-1"); rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
			o, err := b.Status(context.Background(), "client1")
			if err != nil {
				t.Fatal(err)
			}
			if got := o.Quota(0).Used; got != tc.want {
				t.Errorf("used %v, want %v", got, tc.want)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Error("WithCost(core.Credits{}) did not panic")
		}
	}()
	ginbilling.WithCost(core.Credits{})
}
