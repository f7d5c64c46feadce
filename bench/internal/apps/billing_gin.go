package apps

import (
	"github.com/gin-gonic/gin"

	"github.com/frappy-go/apibilling/adapters/gin"
	"github.com/frappy-go/apibilling/core"
)

// GinBilling returns the apibilling gin middleware billing one credit per
// request to the client whose API key is in [KeyHeader], with headers h.
func GinBilling(b *core.Billing, h Headers) gin.HandlerFunc {
	opts := []ginbilling.Option{}
	switch h {
	case LegacyHeaders:
		opts = append(opts, ginbilling.WithoutDraftHeaders())
	case NoHeaders:
		opts = append(opts, ginbilling.WithoutDraftHeaders(), ginbilling.WithoutLegacyHeaders())
	}
	return ginbilling.New(b, ginbilling.MapKey(ginbilling.Header(KeyHeader), lookup), opts...)
}
