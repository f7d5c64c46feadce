// Package usageapi is the usage API and dashboard of apibilling: an
// [net/http.Handler] that lets clients see their quotas and usage, and
// operators see every client, export usage for invoicing, delete usage and
// replace quotas at runtime. It is the Go counterpart of the Python
// module's React frontend, and reads the very ledger that enforcement uses,
// so its numbers equal what is enforced at the moment of the read.
//
// Mount it under a prefix of your choice, with the identity your API uses:
//
//	api := usageapi.New(usageapi.Config{
//		Billing:    b,
//		Identity:   func(r *http.Request) (string, error) { ... the API's key lookup ... },
//		AdminToken: os.Getenv("APIBILLING_ADMIN_TOKEN"), // empty: operator endpoints answer 404
//	})
//	mux.Handle("/billing/", http.StripPrefix("/billing", api))
//
// Gin, Echo and Fiber mount it through their usual wrappers (gin.WrapH,
// echo.WrapHandler, fiber's adaptor.HTTPHandler); the README shows each.
//
// # Endpoints
//
// Paths are relative to the mount point. Answers are JSON, or CSV when
// asked with format=csv or Accept: text/csv; errors are
// application/problem+json. Credits are exact decimal numbers; times are
// RFC 3339; dates are YYYY-MM-DD.
//
// Self-service, identified exactly as API requests are (never billed), or
// with a portal token:
//
//	GET api/me                          the caller's quotas
//	GET api/me/usage?from&to&tz         the caller's usage per day and route
//
// Operator, with Authorization: Bearer ADMIN_TOKEN (compared in constant
// time):
//
//	GET    api/clients[?near_limit=0.8]          every client's quota status
//	GET    api/clients/{id}                      one client's quotas
//	GET    api/clients/{id}/usage?from&to&tz     one client's usage
//	GET    api/usage?from&to&tz                  every client's usage (CSV: client,date,route,credits)
//	GET    api/top?from&to&limit=N               clients ranked by credits used
//	DELETE api/clients/{id}/usage?from&to        delete usage, freeing live windows
//	PUT    api/clients/{id}/quotas               replace quotas (clients-file format)
//	POST   api/clients/{id}/portal-tokens        mint a read-only token for one client
//	DELETE api/portal-tokens/{token}             revoke it
//	GET    api/backup                            a consistent copy of the store, when configured
//
// Usage queries take from and to (inclusive dates; the last 30 days by
// default), tz (an IANA zone; the client's quota zone by default, UTC for
// every client at once), group_by (day, route, or day,route, the default)
// and route (one route only). Every day of the range is present, with zero
// usage where there was none, and each day follows tz's calendar: a day
// across a DST change is one day of 23 or 25 hours. Ranges longer than
// [Config].MaxRange are refused with 400.
//
// # Portal tokens
//
// The operator mints a token for one client (time to live at most 24
// hours) so that an application can embed the client's view in its own
// front end without handing an API key or the admin token to a browser. A
// portal token reads only its client's status and usage; for any other
// client the API answers 404, as it does for an API key. Tokens are
// HMAC-signed, so every instance that shares [Config].TokenSecret (by
// default derived from the admin token) accepts them; revocation is kept in
// memory by the instance that revoked the token, for the token's lifetime.
//
// # Dashboard
//
// The mount point itself serves a dashboard page from the binary (no CDN,
// works offline): an operator view (clients, each quota's use, a daily
// usage chart stacked by route, CSV download) and a client view. Its
// components also ship as a React package in the repository's web folder.
package usageapi
