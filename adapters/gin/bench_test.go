package ginbilling_test

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"

	ginbilling "github.com/frappy-go/apibilling/adapters/gin"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// benchClients is the number of clients the parallel benchmarks spread
// their requests over.
const benchClients = 1024

// benchBilling returns a billing on the memory store whose clients
// "client0".. have a day and a month quota too large to run out, and the
// lookup of their keys "key0"...
func benchBilling(b *testing.B) (*core.Billing, func(string) (string, bool)) {
	bill := core.New(memory.New())
	keys := map[string]string{}
	for i := range benchClients {
		id := "client" + strconv.Itoa(i)
		keys["key"+strconv.Itoa(i)] = id
		if err := bill.SetQuotas(id,
			core.Quota{Period: core.Day, Limit: core.MaxCredits},
			core.Quota{Period: core.Month, Limit: core.MaxCredits}); err != nil {
			b.Fatal(err)
		}
	}
	return bill, func(k string) (string, bool) { id, ok := keys[k]; return id, ok }
}

// discard is a ResponseWriter that, like net/http's server, starts each
// request with a new header map.
type discard struct {
	h    http.Header
	code int
}

func (w *discard) Header() http.Header         { return w.h }
func (w *discard) Write(p []byte) (int, error) { return len(p), nil }
func (w *discard) WriteHeader(code int)        { w.code = code }

func benchEngine(b *testing.B, opts ...ginbilling.Option) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	if opts != nil {
		bill, lookup := benchBilling(b)
		r.Use(ginbilling.New(bill, ginbilling.MapKey(ginbilling.Header("X-API-Key"), lookup), opts[1:]...))
	}
	body := []byte(`{"data":"ok"}`)
	r.GET("/api/fetch-data", func(c *gin.Context) { c.Data(200, "application/json", body) })
	return r
}

func serial(b *testing.B, r *gin.Engine) {
	req, _ := http.NewRequest("GET", "/api/fetch-data", nil)
	req.Header.Set("X-API-Key", "key0")
	w := &discard{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.h, w.code = make(http.Header), 0
		r.ServeHTTP(w, req)
	}
	if w.code != 200 {
		b.Fatalf("status %d", w.code)
	}
}

func parallel(b *testing.B, r *gin.Engine) {
	var next atomic.Int64
	var failed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", "/api/fetch-data", nil)
		req.Header.Set("X-API-Key", "key"+strconv.Itoa(int(next.Add(1)%benchClients)))
		w := &discard{}
		for pb.Next() {
			w.h, w.code = make(http.Header), 0
			r.ServeHTTP(w, req)
			if w.code != 200 {
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
