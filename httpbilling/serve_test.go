package httpbilling

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

var now = time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)

// fakeReq is a request of a framework made for these tests: next is the
// rest of its handler chain.
type fakeReq struct {
	method, pattern string
	matched         bool
	header          http.Header // request
	resp            http.Header // response
	status          int
	body            string
	st              *State
	next            func(r *fakeReq) int
	req             *http.Request // for ctxIO
}

type fakeIO struct{}

func (fakeIO) Context(*fakeReq) context.Context { return context.Background() }
func (fakeIO) Header(r *fakeReq, name string) string {
	if vs := r.header[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}
func (fakeIO) Route(r *fakeReq) Route {
	return Route{Method: r.method, Pattern: r.pattern, Matched: r.matched}
}
func (fakeIO) SetHeaders(r *fakeReq, hs *Headers) { hs.SetIn(r.resp) }
func (fakeIO) DelHeaders(r *fakeReq, hs *Headers) { hs.DelIn(r.resp) }
func (fakeIO) Write(r *fakeReq, status int, body []byte) error {
	r.status, r.body = status, string(body)
	return nil
}
func (fakeIO) Next(r *fakeReq) (int, error) {
	if r.next == nil {
		r.status = 200
		return 200, nil
	}
	r.status = r.next(r)
	return r.status, nil
}
func (fakeIO) Load(r *fakeReq) *State             { return r.st }
func (fakeIO) Store(r *fakeReq, st *State)        { r.st = st }
func (fakeIO) Restore(r *fakeReq, _, prev *State) { r.st = prev }
func (fakeIO) Fail(*fakeReq, Answer, error) error { return nil }

func newBilling(t testing.TB, client string, limit int64) *core.Billing {
	t.Helper()
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	if err := b.SetQuotas(client, core.Quota{Period: core.Day, Limit: core.Whole(limit)}); err != nil {
		t.Fatal(err)
	}
	return b
}

func handler(b *core.Billing, cost core.Credits) *Handler[*fakeReq] {
	return &Handler[*fakeReq]{
		Meter:    NewMeter(Config{Billing: b}),
		Identity: func(*fakeReq) (string, error) { return "c", nil },
		Cost:     cost,
	}
}

func used(t *testing.T, b *core.Billing) core.Credits {
	t.Helper()
	o, err := b.Status(context.Background(), "c")
	if err != nil {
		t.Fatal(err)
	}
	return o.Quota(0).Used
}

func newReq() *fakeReq {
	return &fakeReq{method: "GET", pattern: "/x", matched: true, header: http.Header{}, resp: http.Header{}}
}

// TestNestedBillings checks that billing handlers of two Billings charge
// each its own, and that the outer one's state is back in the request
// after the inner one is done.
func TestNestedBillings(t *testing.T) {
	a, b := newBilling(t, "c", 10), newBilling(t, "c", 10)
	outer, inner := handler(a, core.Whole(2)), handler(b, core.Whole(3))
	var seen core.Outcome
	r := newReq()
	r.next = func(r *fakeReq) int {
		r.next = nil // the inner handler's next is the route's handler
		if err := inner.Serve(fakeIO{}, r); err != nil {
			t.Error(err)
		}
		seen, _ = r.st.Outcome()
		return 200
	}
	if err := outer.Serve(fakeIO{}, r); err != nil {
		t.Fatal(err)
	}
	if got := used(t, a); got != core.Whole(2) {
		t.Errorf("billing a used %v, want 2", got)
	}
	if got := used(t, b); got != core.Whole(3) {
		t.Errorf("billing b used %v, want 3", got)
	}
	if seen.Cost() != core.Whole(2) {
		t.Errorf("after the inner billing, the request holds the outcome of cost %v, want the outer 2", seen.Cost())
	}
	if r.st != nil {
		t.Errorf("the state is still stored after the request")
	}
}

// TestPanicRefunds checks that a handler's panic refunds the charge, keeps
// panicking, and releases the state.
func TestPanicRefunds(t *testing.T) {
	b := newBilling(t, "c", 10)
	h := handler(b, core.Whole(4))
	r := newReq()
	r.next = func(*fakeReq) int { panic("boom") }
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want the handler's panic", v)
			}
		}()
		_ = h.Serve(fakeIO{}, r)
	}()
	if got := used(t, b); !got.IsZero() {
		t.Errorf("used %v after a panic, want 0", got)
	}
	if r.st != nil {
		t.Errorf("the state is still stored after a panic")
	}
}

// TestInnerCostFuncErrorRefundsOuter checks that an inner cost function's
// error refunds the outer charge and answers the error: nothing charged.
func TestInnerCostFuncErrorRefundsOuter(t *testing.T) {
	b := newBilling(t, "c", 10)
	outer := handler(b, core.Credits{})
	inner := handler(b, core.Credits{})
	inner.Meter = outer.Meter
	inner.CostFunc = func(*fakeReq) (core.Credits, error) {
		return core.Credits{}, &CostError{Status: 400, Detail: "bad units"}
	}
	ran := false
	r := newReq()
	r.next = func(r *fakeReq) int {
		r.next = func(*fakeReq) int { ran = true; return 200 }
		_ = inner.Serve(fakeIO{}, r)
		return r.status
	}
	_ = outer.Serve(fakeIO{}, r)
	if ran || r.status != 400 || !strings.Contains(r.body, "bad units") {
		t.Errorf("handler ran %v, answer %d %s; want 400 bad units", ran, r.status, r.body)
	}
	if got := used(t, b); !got.IsZero() {
		t.Errorf("used %v, want 0", got)
	}
	if v := r.resp.Get("X-RateLimit-Remaining"); v != "" {
		t.Errorf("X-RateLimit-Remaining %q on the 400, want none", v)
	}
	if !outer.Meter.deferred(Route{Method: "GET", Pattern: "/x"}) {
		t.Errorf("the outer meter did not learn that /x has a billing handler of its own")
	}
}

// TestUnmatchedNotCharged checks that a request no route serves is neither
// identified nor charged.
func TestUnmatchedNotCharged(t *testing.T) {
	b := newBilling(t, "c", 10)
	h := handler(b, core.Whole(1))
	h.Identity = func(*fakeReq) (string, error) { t.Error("identified"); return "c", nil }
	r := newReq()
	r.matched = false
	r.next = func(*fakeReq) int { return 404 }
	_ = h.Serve(fakeIO{}, r)
	if got := used(t, b); !got.IsZero() || r.status != 404 || len(r.resp) != 0 {
		t.Errorf("used %v, status %d, headers %v; want 0, 404, none", got, r.status, r.resp)
	}
}

// TestAllPeriods checks the headers of a client with the most quotas and
// the largest limits.
func TestAllPeriods(t *testing.T) {
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	var qs []core.Quota
	for p := core.Period(0); p < core.MaxQuotas; p++ {
		qs = append(qs, core.Quota{Period: p, Limit: core.MaxCredits})
	}
	if err := b.SetQuotas("c", qs...); err != nil {
		t.Fatal(err)
	}
	h := handler(b, core.Whole(1))
	r := newReq()
	_ = h.Serve(fakeIO{}, r)
	want := `"second";q=9007199254;w=1, "minute";q=9007199254;w=60, "hour";q=9007199254;w=3600, "day";q=9007199254;w=86400, ` +
		`"week";q=9007199254;w=604800, "month";q=9007199254;w=2678400, "year";q=9007199254;w=31536000`
	if got := r.resp.Get("RateLimit-Policy"); got != want {
		t.Errorf("RateLimit-Policy\n got %s\nwant %s", got, want)
	}
	if got := r.resp.Get("X-RateLimit-Remaining"); got != "9007199253" {
		t.Errorf("X-RateLimit-Remaining %s", got)
	}
}

// TestServeAllocs checks that the shared flow allocates nothing per
// request on its own (adapters add what their framework's storage and
// header maps need).
func TestServeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under the race detector")
	}
	b := newBilling(t, "c", 1_000_000)
	h := handler(b, core.Whole(1))
	h.Meter = NewMeter(Config{Billing: b, NoDraftHeaders: true})
	io := nopIO{}
	r := &fakeReq{method: "GET", pattern: "/x", matched: true}
	if n := testing.AllocsPerRun(1000, func() { _ = h.Serve(io, r) }); n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
}

// nopIO is fakeIO without header maps.
type nopIO struct{ fakeIO }

func (nopIO) SetHeaders(*fakeReq, *Headers)  {}
func (nopIO) Header(*fakeReq, string) string { return "" }
func (nopIO) Next(*fakeReq) (int, error)     { return 200, nil }

func TestRouteTable(t *testing.T) {
	m := NewMeter(Config{Billing: newBilling(t, "c", 1), Routes: map[string]core.Credits{
		"/a":      core.Whole(2),
		"GET /a":  core.Whole(3),
		"post /b": core.Whole(4),
		"/c/:id":  core.Whole(0),
	}})
	for _, tc := range []struct {
		method, pattern string
		cost            core.Credits
		ok              bool
	}{
		{"GET", "/a", core.Whole(3), true},
		{"POST", "/a", core.Whole(2), true},
		{"POST", "/b", core.Whole(4), true},
		{"GET", "/b", core.Credits{}, false},
		{"GET", "/c/:id", core.Whole(0), true},
		{"GET", "/d", core.Credits{}, false},
	} {
		if cost, ok := m.RouteCost(tc.method, tc.pattern); cost != tc.cost || ok != tc.ok {
			t.Errorf("%s %s: %v %v, want %v %v", tc.method, tc.pattern, cost, ok, tc.cost, tc.ok)
		}
	}
	for name, routes := range map[string]map[string]core.Credits{
		"unset":     {"/a": {}},
		"unlimited": {"/a": core.Unlimited},
		"no path":   {"GET ": core.Whole(1)},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			CheckRoutes("test", routes)
		}()
	}
}
