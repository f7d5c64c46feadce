package nethttpbilling

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/frappy-go/apibilling/httpbilling"
)

// request is one request passing one billing handler.
type request struct {
	h  *handler
	r  *http.Request
	w  http.ResponseWriter
	sw statusWriter
}

var requests = sync.Pool{New: func() any { return new(request) }}

// nethttpIO is the framework I/O of net/http for the shared layer.
type nethttpIO struct{}

func (nethttpIO) Context(c *request) context.Context { return c.r.Context() }

func (nethttpIO) Header(c *request, name string) string {
	if vs := c.r.Header[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// redirect is the type of the handlers a ServeMux redirects with.
var redirect = reflect.TypeOf(http.RedirectHandler("/", http.StatusTemporaryRedirect))

func (nethttpIO) Route(c *request) httpbilling.Route {
	r := c.r
	switch {
	case c.h.router != nil:
		pattern, ok := c.h.router(r)
		return httpbilling.Route{Method: r.Method, Pattern: pattern, Matched: ok}
	case c.h.mux != nil: // the wrapped ServeMux, even if mounted in another (whose r.Pattern is a prefix)
		h, pattern := c.h.mux.Handler(r)
		matched := pattern != "" && reflect.TypeOf(h) != redirect
		return httpbilling.Route{Method: r.Method, Pattern: pathPattern(pattern), Matched: matched}
	case r.Pattern != "": // routed by a ServeMux already: a route-level handler
		return httpbilling.Route{Method: r.Method, Pattern: pathPattern(r.Pattern), Matched: true}
	}
	return httpbilling.Route{Method: r.Method, Matched: true}
}

// pathPattern returns a ServeMux pattern without its method: "GET /x/{id}"
// is "/x/{id}".
func pathPattern(p string) string {
	if p == "" || p[0] == '/' {
		return p // no method
	}
	if i := strings.IndexByte(p, ' '); i >= 0 && i+1 < len(p) && p[i+1] == '/' {
		return p[i+1:] // the usual "GET /x"
	}
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		return strings.TrimLeft(p[i:], " \t")
	}
	return p
}

func (nethttpIO) SetHeaders(c *request, hs *httpbilling.Headers) { hs.SetIn(c.w.Header()) }
func (nethttpIO) DelHeaders(c *request, hs *httpbilling.Headers) { hs.DelIn(c.w.Header()) }

func (nethttpIO) Write(c *request, status int, body []byte) error {
	c.w.Header().Set("Content-Type", httpbilling.ProblemContentType)
	c.w.WriteHeader(status)
	_, err := c.w.Write(body)
	return err
}

func (nethttpIO) Next(c *request) (int, error) {
	c.h.next.ServeHTTP(c.w, c.r)
	if c.sw.status == 0 {
		return http.StatusOK, nil
	}
	return c.sw.status, nil
}

func (nethttpIO) Load(c *request) *httpbilling.State { return httpbilling.StateFrom(c.r) }

func (nethttpIO) Store(c *request, st *httpbilling.State) { c.r = httpbilling.WithState(c.r, st) }

func (nethttpIO) Restore(c *request, _, _ *httpbilling.State) { c.r = httpbilling.WithoutState(c.r) }

func (nethttpIO) Fail(c *request, a httpbilling.Answer, err error) error {
	if a.Report {
		logFailure(c, c.h.meter, a, err)
	}
	return nil
}

// logFailure logs a failure the middleware answered.
func logFailure(c *request, m *httpbilling.Meter, a httpbilling.Answer, err error) {
	m.Logger().LogAttrs(c.r.Context(), slog.LevelError, "apibilling: request not billed",
		slog.Int("status", a.Status), slog.String("method", c.r.Method), slog.Any("error", err))
}

// statusWriter records the status a handler answers.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap returns the underlying writer, for [http.ResponseController].
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush flushes the underlying writer if it can.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
