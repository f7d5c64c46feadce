package apps

import (
	"github.com/gofiber/fiber/v2"

	"github.com/frappy-go/apibilling/adapters/fiber"
	"github.com/frappy-go/apibilling/core"
)

// FiberBilling returns the apibilling fiber middleware billing one credit
// per request to the client whose API key is in [KeyHeader], with headers h.
func FiberBilling(b *core.Billing, h Headers) fiber.Handler {
	cfg := fiberbilling.ConfigDefault
	cfg.Billing = b
	cfg.Identity = fiberbilling.MapKey(fiberbilling.Header(KeyHeader), lookup)
	cfg.DisableDraftHeaders = h != AllHeaders
	cfg.DisableLegacyHeaders = h == NoHeaders
	return fiberbilling.New(cfg)
}
