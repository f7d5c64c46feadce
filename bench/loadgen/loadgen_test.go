package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		if r.Header.Get("X-API-Key") != "k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
			w.Write([]byte(strings.Repeat("b", 100)))
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		default:
			w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	for _, path := range []string{"/plain", "/chunked", "/close"} {
		t.Run(path, func(t *testing.T) {
			res, err := Run(context.Background(), Config{
				Addr: addr, Path: path, Header: [][2]string{{"X-API-Key", "k"}},
				Clients: 4, Warmup: 20 * time.Millisecond, Duration: 100 * time.Millisecond, MaxRequests: 2000,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests == 0 || res.Errors != 0 || res.NotOK != 0 {
				t.Fatalf("got %+v", res)
			}
			if res.Requests > 2000+4 {
				t.Errorf("requests = %d, want at most about MaxRequests", res.Requests)
			}
			if res.Status[200] != res.Requests {
				t.Errorf("status = %v, want only 200", res.Status)
			}
			if !(res.P50 > 0 && res.P50 <= res.P99 && res.P99 <= res.Max) {
				t.Errorf("percentiles p50 %v p99 %v max %v", res.P50, res.P99, res.Max)
			}
		})
	}

	t.Run("status", func(t *testing.T) {
		res, err := Run(context.Background(), Config{Addr: addr, Path: "/", Duration: 50 * time.Millisecond, MaxRequests: 100})
		if err != nil {
			t.Fatal(err)
		}
		if res.NotOK == 0 || res.NotOK != res.Status[401] {
			t.Errorf("got %+v, want only 401s counted as not OK", res)
		}
	})
}

func TestRunNoServer(t *testing.T) {
	t.Parallel()
	if _, err := Run(context.Background(), Config{Addr: "127.0.0.1:1", Path: "/", Duration: time.Millisecond}); err == nil {
		t.Fatal("Run without a server succeeded")
	}
}

func TestHistogram(t *testing.T) {
	t.Parallel()
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		got := h.quantile(tc.q)
		if d := float64(got-tc.want) / float64(tc.want); d < -0.02 || d > 0.02 {
			t.Errorf("quantile(%v) = %v, want %v within 2%%", tc.q, got, tc.want)
		}
	}
	for i := range len(h.counts) - 1 {
		if lo, hi := lowerBound(i), lowerBound(i+1); hi <= lo {
			t.Fatalf("bucket %d: bounds %v, %v not increasing", i, lo, hi)
		}
		if got := bucketOf(lowerBound(i)); got != i {
			t.Fatalf("bucketOf(lowerBound(%d)) = %d", i, got)
		}
	}
	if got := bucketOf(time.Hour); got != len(h.counts)-1 {
		t.Errorf("bucketOf(1h) = %d, want the overflow bucket", got)
	}
}
