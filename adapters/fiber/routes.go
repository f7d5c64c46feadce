package fiberbilling

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"
)

// maxPaths bounds the paths whose route a routeIndex remembers.
const maxPaths = 4096

// routeIndexes finds the route that serves a request, per app.
type routeIndexes struct {
	cur atomic.Pointer[routeIndex]
}

// routeIndex holds an app's routes (without app.Use's) and the route found
// for each path seen.
type routeIndex struct {
	app      *fiber.App
	handlers uint32 // app.HandlersCount() when built: it grows with every route
	cfg      fiber.Config
	patterns map[string][]string // method -> route patterns, in order

	mu   sync.RWMutex
	seen []seenPaths // per method: a few, searched in order
	n    int

	// last is the path found last: most requests repeat it, found here
	// without the lock and the map.
	last atomic.Pointer[seenPath]
}

// seenPaths are the paths seen with one method.
type seenPaths struct {
	method string
	paths  map[string]*seenPath
}

// seenPath is a path seen with a method, and the pattern of the route that
// serves it ("" none).
type seenPath struct {
	method, path, pattern string
}

// pathsOf returns the paths seen with method, or nil. ix.mu must be held.
func (ix *routeIndex) pathsOf(method string) map[string]*seenPath {
	for i := range ix.seen {
		if ix.seen[i].method == method {
			return ix.seen[i].paths
		}
	}
	return nil
}

// match returns the pattern of the first route of app for method whose
// pattern matches path, or false.
func (r *routeIndexes) match(app *fiber.App, method, path string) (string, bool) {
	ix := r.cur.Load()
	if ix == nil || ix.app != app || ix.handlers != app.HandlersCount() {
		ix = newRouteIndex(app)
		r.cur.Store(ix)
	}
	if l := ix.last.Load(); l != nil && l.path == path && l.method == method {
		return l.pattern, l.pattern != ""
	}
	ix.mu.RLock()
	e := ix.pathsOf(method)[path]
	ix.mu.RUnlock()
	if e != nil {
		ix.last.Store(e)
		return e.pattern, e.pattern != ""
	}
	p := ""
	detect := path
	if !ix.cfg.StrictRouting && len(detect) > 1 {
		detect = strings.TrimRight(detect, "/") // as Fiber routes
		if detect == "" {
			detect = "/"
		}
	}
	for _, pattern := range ix.patterns[method] {
		if fiber.RoutePatternMatch(detect, pattern, ix.cfg) {
			p = pattern
			break
		}
	}
	ix.mu.Lock()
	if ix.n < maxPaths {
		m := ix.pathsOf(method)
		if m == nil {
			m = map[string]*seenPath{}
			ix.seen = append(ix.seen, seenPaths{strings.Clone(method), m})
		}
		if _, dup := m[path]; !dup {
			// method and path point into Fiber's buffers
			e := &seenPath{strings.Clone(method), strings.Clone(path), p}
			m[e.path] = e
			ix.n++
			ix.last.Store(e)
		}
	}
	ix.mu.Unlock()
	return p, p != ""
}

func newRouteIndex(app *fiber.App) *routeIndex {
	cfg := app.Config()
	ix := &routeIndex{
		app:      app,
		handlers: app.HandlersCount(),
		cfg:      fiber.Config{CaseSensitive: cfg.CaseSensitive, StrictRouting: cfg.StrictRouting},
		patterns: map[string][]string{},
	}
	for _, rt := range app.GetRoutes(true) {
		ix.patterns[rt.Method] = append(ix.patterns[rt.Method], rt.Path)
	}
	return ix
}
