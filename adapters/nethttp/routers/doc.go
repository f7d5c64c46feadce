// Package routers tests the net/http adapter (adapters/nethttp) on the
// routers its documentation names besides [net/http.ServeMux]: chi
// (github.com/go-chi/chi/v5) and gorilla/mux (github.com/gorilla/mux). Each
// builds the conformance suite's app (adapters/adaptertest) on its router,
// with route-level billing handlers and a global middleware that finds the
// route with nethttpbilling.WithRouter, and runs the whole table.
//
// It is a module of its own, and holds only tests, so that the root module,
// which holds nethttpbilling and needs only the standard library, never
// lists chi or gorilla/mux in its go.mod or go.sum: a user of the adapter
// pulls neither. Nothing imports this package.
package routers
