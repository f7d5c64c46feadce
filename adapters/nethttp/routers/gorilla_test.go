package routers_test

import (
	"net/http"
	"path"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/frappy-go/apibilling/adapters/adaptertest"
	nethttpbilling "github.com/frappy-go/apibilling/adapters/nethttp"
	"github.com/frappy-go/apibilling/adapters/nethttp/internal/nethttptest"
)

// gorillaRoute finds a request's route on router as gorilla/mux routes it.
// Match reports true with a MatchErr when the router has a
// MethodNotAllowedHandler (405) or a NotFoundHandler (404): no route
// serves those. A path that is not clean (//, /./, /../) is redirected
// with 301 before matching, unless the router has SkipClean.
func gorillaRoute(router *mux.Router) nethttpbilling.Router {
	return func(r *http.Request) (string, bool) {
		if p := r.URL.Path; cleanPath(p) != p {
			return "", false
		}
		var m mux.RouteMatch
		if !router.Match(r, &m) || m.MatchErr != nil {
			return "", false
		}
		tpl, err := m.Route.GetPathTemplate()
		return tpl, err == nil
	}
}

// cleanPath is the path gorilla/mux redirects p to: path.Clean, keeping a
// trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}

// Gorilla builds the suite's app on a gorilla/mux router, whose 404 and
// 405 handlers are set (so that Match reports them with a MatchErr); the
// global middleware wraps the router (gorilla's Use runs only on a match).
// The Router serves every wiring: gorilla/mux sets no r.Pattern, so
// route-level handlers too need it to know their route.
func Gorilla(t *testing.T, env adaptertest.Env) adaptertest.App {
	router := mux.NewRouter()
	router.NotFoundHandler = http.NotFoundHandler()
	router.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
	bill := nethttptest.Middleware(env, gorillaRoute(router))
	for _, rt := range nethttptest.Routes(env, bill) {
		router.Handle(rt.Path, rt.H).Methods(http.MethodGet)
	}
	if env.Wiring == adaptertest.RouteLevel {
		return nethttptest.App(env, router)
	}
	return nethttptest.App(env, bill.Handler(router))
}

func TestGorilla(t *testing.T) { adaptertest.Run(t, Gorilla) }

// TestGorillaItems checks a pattern with a variable, and paths gorilla/mux
// redirects before matching (/items/.. to /) or does not serve.
func TestGorillaItems(t *testing.T) {
	router := mux.NewRouter()
	router.HandleFunc("/items/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("item")) }).Methods("GET")
	checkItems(t, router, gorillaRoute(router), "/items/..", "/items/.", "/items/7/", "/items")
}
