package apps

import (
	"github.com/labstack/echo/v4"

	"github.com/frappy-go/apibilling/adapters/echo"
	"github.com/frappy-go/apibilling/core"
)

// EchoBilling returns the apibilling echo middleware billing one credit
// per request to the client whose API key is in [KeyHeader], with headers h.
func EchoBilling(b *core.Billing, h Headers) echo.MiddlewareFunc {
	cfg := echobilling.DefaultConfig
	cfg.Billing = b
	cfg.Identity = echobilling.MapKey(echobilling.Header(KeyHeader), lookup)
	cfg.DisableDraftHeaders = h != AllHeaders
	cfg.DisableLegacyHeaders = h == NoHeaders
	return echobilling.NewWithConfig(cfg)
}
