package ginbilling_test

import (
	"testing"

	"github.com/gin-gonic/gin"

	ginbilling "github.com/frappy-go/apibilling/adapters/gin"
)

// TestOutcomeFromAfterRequest checks that OutcomeFrom finds the outcome
// while the request is handled, also on a c.Copy(), and reports false on
// that copy once the middleware is done (the state is reused then), as
// it does for a middleware in front of the billing one.
func TestOutcomeFromAfterRequest(t *testing.T) {
	b, lookup := newBilling()
	r := gin.New()
	var kept *gin.Context
	var after bool
	r.Use(func(c *gin.Context) {
		c.Next()
		_, after = ginbilling.OutcomeFrom(c) // in front of the billing middleware
	})
	r.Use(ginbilling.New(b, ginbilling.MapKey(ginbilling.Header("X-API-Key"), lookup)))
	r.GET("/x", func(c *gin.Context) {
		kept = c.Copy()
		o, ok := ginbilling.OutcomeFrom(kept)
		if !ok || o.Client() != "client1" {
			t.Errorf("OutcomeFrom(c.Copy()) in the handler = %v, %v", o.Client(), ok)
		}
		c.String(200, "ok")
	})
	if rec := get(r, "/x", "demo-key-1"); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	if after {
		t.Error("OutcomeFrom in a middleware in front of the billing one found the outcome after it was done")
	}
	if o, ok := ginbilling.OutcomeFrom(kept); ok {
		t.Errorf("OutcomeFrom(c.Copy()) after the request = %v, true; want false", o.Client())
	}
}
