package ginbilling_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/frappy-go/apibilling/adapters/adaptertest"
	ginbilling "github.com/frappy-go/apibilling/adapters/gin"
)

func benchEngine(b *testing.B, opts ...ginbilling.Option) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	if opts != nil {
		bill, lookup := adaptertest.BenchBilling(b)
		r.Use(ginbilling.New(bill, ginbilling.MapKey(ginbilling.Header("X-API-Key"), lookup), opts[1:]...))
	}
	body := []byte(`{"data":"ok"}`)
	r.GET("/api/fetch-data", func(c *gin.Context) { c.Data(200, "application/json", body) })
	return r
}

func serial(b *testing.B, r *gin.Engine) {
	req, _ := http.NewRequest("GET", "/api/fetch-data", nil)
	req.Header.Set("X-API-Key", "key0")
	w := &adaptertest.Discard{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.H, w.Code = make(http.Header), 0
		r.ServeHTTP(w, req)
	}
	if w.Code != 200 {
		b.Fatalf("status %d", w.Code)
	}
}

func parallel(b *testing.B, r *gin.Engine) {
	var next atomic.Int64
	var failed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", "/api/fetch-data", nil)
		req.Header.Set("X-API-Key", adaptertest.BenchKey(int(next.Add(1))))
		w := &adaptertest.Discard{}
		for pb.Next() {
			w.H, w.Code = make(http.Header), 0
			r.ServeHTTP(w, req)
			if w.Code != 200 {
				failed.Add(1)
			}
		}
	})
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
}

// none marks the bare engine; any other slice of options, even empty,
// installs the middleware (its first element is ignored).
var none []ginbilling.Option

func billed(opts ...ginbilling.Option) []ginbilling.Option {
	return append([]ginbilling.Option{nil}, opts...)
}

func BenchmarkBare(b *testing.B)   { serial(b, benchEngine(b, none...)) }
func BenchmarkBilled(b *testing.B) { serial(b, benchEngine(b, billed()...)) }
func BenchmarkBilledNoHeaders(b *testing.B) {
	serial(b, benchEngine(b, billed(ginbilling.WithoutLegacyHeaders(), ginbilling.WithoutDraftHeaders())...))
}
func BenchmarkBilledLegacyHeaders(b *testing.B) {
	serial(b, benchEngine(b, billed(ginbilling.WithoutDraftHeaders())...))
}
func BenchmarkBareParallel(b *testing.B)   { parallel(b, benchEngine(b, none...)) }
func BenchmarkBilledParallel(b *testing.B) { parallel(b, benchEngine(b, billed()...)) }
