package inprocess

import (
	"net"
	"net/http"
	"runtime"
	"testing"

	"github.com/frappy-go/apibilling/bench/internal/apps"
	"github.com/valyala/fasthttp"
)

// recorder is a ResponseWriter that keeps the status and discards the body.
// Its header map is cleared, not replaced, between requests.
type recorder struct {
	h    http.Header
	code int
	n    int
}

func (r *recorder) Header() http.Header { return r.h }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	r.n += len(p)
	return len(p), nil
}

func (r *recorder) reset() {
	clear(r.h)
	r.code = 0
	r.n = 0
}

func newRequest() *http.Request {
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1"+apps.Path, nil)
	if err != nil {
		panic(err)
	}
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set(apps.KeyHeader, apps.Key)
	return req
}

// serveHTTP runs h once per iteration, serially when goroutines is 0, else
// from that many goroutines, each with its own request and recorder, and
// fails on a status other than 200.
func serveHTTP(b *testing.B, h http.Handler, goroutines int) {
	b.ReportAllocs()
	check := func(r *recorder) bool { return r.code == http.StatusOK && r.n > 0 }
	if goroutines == 0 {
		req, w := newRequest(), &recorder{h: http.Header{}}
		for b.Loop() {
			w.reset()
			h.ServeHTTP(w, req)
			if !check(w) {
				b.Fatalf("status %d, %d bytes, headers %v", w.code, w.n, w.h)
			}
		}
		return
	}
	setGoroutines(b, goroutines)
	b.RunParallel(func(pb *testing.PB) {
		req, w := newRequest(), &recorder{h: http.Header{}}
		for pb.Next() {
			w.reset()
			h.ServeHTTP(w, req)
			if !check(w) {
				b.Errorf("status %d, %d bytes, headers %v", w.code, w.n, w.h)
				return
			}
		}
	})
}

var remote = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}

func newRequestCtx() *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod(fasthttp.MethodGet)
	req.SetRequestURI(apps.Path)
	req.Header.SetHost("127.0.0.1")
	req.Header.Set(apps.KeyHeader, apps.Key)
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&req, remote, nil)
	return ctx
}

// serveFast runs h once per iteration on a reused RequestCtx whose response
// is reset between requests, serially when goroutines is 0, else from that
// many goroutines, each with its own RequestCtx.
func serveFast(b *testing.B, h fasthttp.RequestHandler, goroutines int) {
	b.ReportAllocs()
	check := func(ctx *fasthttp.RequestCtx) bool {
		return ctx.Response.StatusCode() == http.StatusOK && len(ctx.Response.Body()) > 0
	}
	if goroutines == 0 {
		ctx := newRequestCtx()
		for b.Loop() {
			ctx.Response.Reset()
			h(ctx)
			if !check(ctx) {
				b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
		return
	}
	setGoroutines(b, goroutines)
	b.RunParallel(func(pb *testing.PB) {
		ctx := newRequestCtx()
		for pb.Next() {
			ctx.Response.Reset()
			h(ctx)
			if !check(ctx) {
				b.Errorf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				return
			}
		}
	})
}

// setGoroutines makes RunParallel use at least n goroutines: a multiple of
// GOMAXPROCS.
func setGoroutines(b *testing.B, n int) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((n + procs - 1) / procs)
}

// modes runs bench serially ("serial", goroutines 0), from one goroutine
// per GOMAXPROCS ("parallel") and, with g64, from 64 goroutines ("g64"), as
// sub-benchmarks.
func modes(b *testing.B, g64 bool, bench func(b *testing.B, goroutines int)) {
	b.Run("serial", func(b *testing.B) { bench(b, 0) })
	b.Run("parallel", func(b *testing.B) { bench(b, runtime.GOMAXPROCS(0)) })
	if g64 {
		b.Run("g64", func(b *testing.B) { bench(b, 64) })
	}
}
