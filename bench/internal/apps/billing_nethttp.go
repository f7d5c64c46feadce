package apps

import (
	"net/http"

	"github.com/frappy-go/apibilling/adapters/nethttp"
	"github.com/frappy-go/apibilling/core"
)

// NetHTTPBilling returns the apibilling net/http middleware billing one
// credit per request to the client whose API key is in [KeyHeader], with
// headers h.
func NetHTTPBilling(b *core.Billing, h Headers) func(http.Handler) http.Handler {
	opts := []nethttpbilling.Option{}
	switch h {
	case LegacyHeaders:
		opts = append(opts, nethttpbilling.WithoutDraftHeaders())
	case NoHeaders:
		opts = append(opts, nethttpbilling.WithoutDraftHeaders(), nethttpbilling.WithoutLegacyHeaders())
	}
	return nethttpbilling.New(b, nethttpbilling.MapKey(nethttpbilling.Header(KeyHeader), lookup), opts...)
}
