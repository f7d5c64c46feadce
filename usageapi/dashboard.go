package usageapi

import (
	"net/http"
	"strings"

	"github.com/frappy-go/apibilling/web"
)

// dashboardHandler serves the dashboard page and its assets, built from
// the React components in the repository's web folder and embedded in the
// binary (package web): no CDN, no request to another host.
func dashboardHandler() http.Handler {
	files := http.FileServerFS(web.Dashboard())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'self'")
		h.Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			problem(w, http.StatusNotFound, "No such endpoint.")
			return
		}
		// The file names carry no content hash: revalidate every time.
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
